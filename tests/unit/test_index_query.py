"""The fleet-index query language: AWS's syntax parsed with luqum, matched against documents."""

from __future__ import annotations

import pytest

from localcore.iot.index_query import (
    MAX_TERMS,
    InvalidQueryException,
    lucene_syntax,
    parse_query,
)

# A small fleet of indexed documents (field -> values), as `fleet_index` builds them.
FLEET = {
    "bulky1": {
        "thingName": ("bulky1",), "thingId": ("id-1",), "thingTypeName": ("bulk-type",),
        "thingGroupNames": ("bulk-group", "floor-1"),
        "attributes.room_number": ("102",), "attributes.serialNumber": ("abce",), "attributes.model": ("Legacy",),
        "shadow.reported.temperature": (24,), "shadow.reported.location": ("New York",),
        "shadow.reported.myvalues": (1, 2, 3), "shadow.reported.stats.battery": (78,),
        "shadow.reported.offset": (-3.5,), "shadow.desired.temperature": (20,), "shadow.hasDelta": (True,),
        "connectivity.connected": (True,), "connectivity.timestamp": (1557651600500,),
    },
    "bulky2": {
        "thingName": ("bulky2",), "thingId": ("id-2",), "thingGroupNames": ("bulk-group",),
        "attributes.room_number": ("101",), "attributes.serialNumber": ("abcg",),
        "shadow.reported.temperature": (18,), "shadow.hasDelta": (False,),
        "connectivity.connected": (False,), "connectivity.timestamp": (1557651500000,),
        "connectivity.disconnectReason": ("CONNECTION_LOST",),
    },
    "bulky3": {
        "thingName": ("bulky3",), "thingId": ("id-3",),
        "shadow.reported.temperature": (21.5,), "shadow.hasDelta": (False,),
    },
    "tv-plasma": {"thingName": ("tv-plasma",), "thingId": ("id-4",), "attributes.model": ("plasma",)},
    "tv-led": {
        "thingName": ("tv-led",), "thingId": ("id-5",), "attributes.model": ("LED",),
        "shadow.reported.location": ("living room",), "shadow.reported.myvalues": (2, 5),
    },
}
ALL = set(FLEET)
BULKY = {"bulky1", "bulky2", "bulky3"}

CASES = [
    # the workshop's two queries
    ("thingName:bulky*", BULKY),
    ("shadow.reported.temperature>20 AND attributes.room_number:*", {"bulky1"}),
    # terms and wildcards
    ("thingName:bulky1", {"bulky1"}),
    ("thingName:BULKY1", {"bulky1"}),
    ("ThingName:bulky1", set()),
    ("thingName:bulky?", BULKY),
    ("thingName:bulk?", set()),
    ("thingName:b*1", {"bulky1"}),
    ("thingName:*1", {"bulky1"}),
    ("thingName:bulky\\*", set()),
    ("*", ALL),
    ("attributes.room_number:*", {"bulky1", "bulky2"}),
    ("shadow.reported.location:*", {"bulky1", "tv-led"}),
    ("shadow.reported.nothing:*", set()),
    ("attributes.model:legacy", {"bulky1"}),
    ("attributes.model:LED", {"tv-led"}),
    ("attributes.model:l*", {"bulky1", "tv-led"}),
    ("attributes.model:p*a", {"tv-plasma"}),
    ("thingTypeName:bulk-type", {"bulky1"}),
    ("thingGroupNames:bulk-group", {"bulky1", "bulky2"}),
    ("thingGroupNames:floor-1", {"bulky1"}),
    # numbers compare as numbers
    ("shadow.reported.temperature:24", {"bulky1"}),
    ("shadow.reported.temperature:24.0", {"bulky1"}),
    ("shadow.reported.temperature:2*", {"bulky1", "bulky3"}),
    ("shadow.reported.temperature:true", set()),
    ("shadow.desired.temperature:20", {"bulky1"}),
    ("attributes.room_number:102", {"bulky1"}),
    # ranges and comparisons
    ("shadow.reported.temperature:[18 TO 21.5]", {"bulky2", "bulky3"}),
    ("shadow.reported.temperature:{18 TO 24]", {"bulky1", "bulky3"}),
    ("shadow.reported.temperature:[18 TO 24}", {"bulky2", "bulky3"}),
    ("shadow.reported.temperature:[* TO 20]", {"bulky2"}),
    ("shadow.reported.temperature>=21.5", {"bulky1", "bulky3"}),
    ("shadow.reported.temperature<21.5", {"bulky2"}),
    ("shadow.reported.temperature <= 18", {"bulky2"}),
    ("shadow.reported.temperature > 100", set()),
    ("shadow.reported.stats.battery:{70 TO 100}", {"bulky1"}),
    ("attributes.room_number:[100 TO 101]", {"bulky2"}),
    ("attributes.room_number>101", {"bulky1"}),
    ('attributes.serialNumber:["abcd" TO "abcf"]', {"bulky1"}),
    ("attributes.serialNumber:[abcd TO abcf]", {"bulky1"}),
    ("attributes.serialNumber:{abce TO abcg]", {"bulky2"}),
    ("shadow.reported.offset<0", {"bulky1"}),
    ("shadow.reported.offset>-4", {"bulky1"}),
    ("shadow.reported.offset:[-5 TO -1]", {"bulky1"}),
    # arrays, phrases and bare terms
    ("shadow.reported.myvalues:2", {"bulky1", "tv-led"}),
    ("shadow.reported.myvalues:5", {"tv-led"}),
    ('shadow.reported.location:"new york"', {"bulky1"}),
    ("shadow.reported.location:york", {"bulky1"}),
    ('shadow.reported.location:"york new"', set()),
    ('"living room"', {"tv-led"}),
    ("bulky2", {"bulky2"}),
    ("plasma", {"tv-plasma"}),
    # connectivity
    ("connectivity.connected:true", {"bulky1"}),
    ("connectivity.connected:false", {"bulky2"}),
    ("connectivity.connected:*", {"bulky1", "bulky2"}),
    ("connectivity.connected:true AND connectivity.timestamp > 1557651600000", {"bulky1"}),
    ("connectivity.timestamp : [1557651500000 TO 1557651600500]", {"bulky1", "bulky2"}),
    ("connectivity.disconnectReason:CONNECTION_LOST", {"bulky2"}),
    ("shadow.hasDelta:true", {"bulky1"}),
    # boolean operators and grouping
    ("NOT attributes.model:legacy", ALL - {"bulky1"}),
    ("-attributes.model:legacy", ALL - {"bulky1"}),
    ("+thingName:bulky1", {"bulky1"}),
    ("attributes.model:(l* AND -legacy)", {"tv-led"}),
    ("thingName:bulky1 OR thingName:tv-led", {"bulky1", "tv-led"}),
    ("thingName:bulky* thingGroupNames:floor-1", {"bulky1"}),
    ("thingName:bulky* NOT shadow.reported.temperature>20", {"bulky2"}),
    ("(thingName:bulky1 OR thingName:bulky2) AND attributes.room_number:101", {"bulky2"}),
    ("thingName:bulky* AND NOT (attributes.room_number:101 OR attributes.room_number:102)", {"bulky3"}),
]


@pytest.mark.parametrize("query, expected", CASES, ids=[q for q, _ in CASES])
def test_query_matches_the_documents_aws_would_return(query, expected):
    parsed = parse_query(query)
    assert {name for name, document in FLEET.items() if parsed.matches(document)} == expected


INVALID = [
    ("empty", ""),
    ("blank", "   "),
    ("field without value", "thingName:"),
    ("unclosed group", "thingName:(bulky1"),
    ("operator alone", "AND"),
    ("fuzzy", "thingName:bulky~2"),
    ("proximity", '"new york"~3'),
    ("boost", "thingName:bulky^2"),
    ("regex", "thingName:/bulk.*/"),
    ("field inside a field", "thingName:(attributes.model:led)"),
    ("too many terms", " OR ".join(f"thingName:t{i}" for i in range(MAX_TERMS + 1))),
    ("two leading wildcards", "thingName:*1 OR attributes.model:*a"),
    ("leading wildcard in a long query", "thingName:*1 AND attributes.model:" + "x" * 100),
]


@pytest.mark.parametrize("query", [q for _, q in INVALID], ids=[i for i, _ in INVALID])
def test_invalid_query_raises_invalid_query_exception(query):
    with pytest.raises(InvalidQueryException) as raised:
        parse_query(query)
    assert raised.value.code == "InvalidQueryException" and raised.value.status == 400


def test_the_term_limit_itself_is_allowed():
    query = " OR ".join(f"thingName:t{i}" for i in range(MAX_TERMS))
    assert parse_query(query).matches({"thingName": (f"t{MAX_TERMS - 1}",)})


REWRITES = [
    ("a>5", "a:>5"),
    ("a >= 5", "a:>=5"),
    ("a<=5 AND b<2", "a:<=5 AND b:<2"),
    ("a:>5", "a:>5"),
    ('a:"x>5"', 'a:"x>5"'),
    ("a:-5", "a:\\-5"),
    ("a>-5", "a:>\\-5"),
    ("a:[-5 TO -1]", "a:[\\-5 TO \\-1]"),
    ("-a:b", "-a:b"),
    ("thingGroupNames:floor-1", "thingGroupNames:floor-1"),
]


@pytest.mark.parametrize("aws, lucene", REWRITES, ids=[a for a, _ in REWRITES])
def test_aws_comparisons_and_negative_numbers_are_rewritten_for_luqum(aws, lucene):
    assert lucene_syntax(aws) == lucene

