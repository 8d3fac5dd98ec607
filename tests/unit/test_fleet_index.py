"""Fleet indexing: the configuration, indexed documents and aggregations (pure core), and the
handlers on an in-process lab (no broker): OFF, REGISTRY vs REGISTRY_AND_SHADOW, pagination,
connectivity, thing groups and statistics."""

from __future__ import annotations

import json
import math

import pytest
from moto.iot.models import iot_backends

from localcore.aws import moto_patches
from localcore.aws.handlers import fleet_indexing as fx
from localcore.config import LabConfig
from localcore.errors import InvalidRequestException, ResourceNotFoundException
from localcore.iot import fleet_index as fi
from localcore.iot.index_query import InvalidQueryException
from localcore.mqtt.shadow_service import update_document
from localcore.server import build_lab

# -- configuration ----------------------------------------------------------------------------------


def configured(**things) -> fi.IndexingConfiguration:
    return fi.IndexingConfiguration().updated({"thingIndexingConfiguration": things})


SCHEMAS = [
    ({"thingIndexingMode": "REGISTRY"}, "REGISTRY"),
    ({"thingIndexingMode": "REGISTRY_AND_SHADOW"}, "REGISTRY_AND_SHADOW"),
    ({"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS"}, "REGISTRY_AND_CONNECTIVITY_STATUS"),
    ({"thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"},
     "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"),
    ({"thingIndexingMode": "REGISTRY_AND_SHADOW", "namedShadowIndexingMode": "ON"}, "MULTI_INDEXING_MODE"),
]


@pytest.mark.parametrize("request_, schema", SCHEMAS, ids=[s for _, s in SCHEMAS])
def test_describe_index_schema_names_the_indexed_sources(request_, schema):
    assert configured(**request_).schema() == schema


INVALID_CONFIGURATIONS = [
    ("unknown mode", {"thingIndexingMode": "EVERYTHING"}),
    ("missing mode", {"thingConnectivityIndexingMode": "STATUS"}),
    ("connectivity while OFF", {"thingIndexingMode": "OFF", "thingConnectivityIndexingMode": "STATUS"}),
    ("shadow custom field with REGISTRY", {"thingIndexingMode": "REGISTRY",
                                           "customFields": [{"name": "shadow.reported.t", "type": "Number"}]}),
    ("managed field as custom", {"thingIndexingMode": "REGISTRY",
                                 "customFields": [{"name": "thingName", "type": "String"}]}),
    ("unknown field type", {"thingIndexingMode": "REGISTRY",
                            "customFields": [{"name": "attributes.a", "type": "Date"}]}),
    ("named shadow field without named shadows", {
        "thingIndexingMode": "REGISTRY_AND_SHADOW",
        "customFields": [{"name": "shadow.name.cfg.reported.t", "type": "Number"}]}),
]


@pytest.mark.parametrize("things", [c for _, c in INVALID_CONFIGURATIONS], ids=[i for i, _ in INVALID_CONFIGURATIONS])
def test_invalid_configuration_is_refused(things):
    with pytest.raises(InvalidRequestException):
        configured(**things)


def test_update_replaces_the_thing_configuration_and_keeps_the_group_one():
    first = fi.IndexingConfiguration().updated({
        "thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS"},
        "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "ON"},
    })
    second = first.updated({"thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY_AND_SHADOW"}})
    assert (second.connectivity_mode, second.group_mode) == ("OFF", "ON")


MANAGED = [
    ({"thingIndexingMode": "OFF"}, set()),
    ({"thingIndexingMode": "REGISTRY"}, set(fi.REGISTRY_FIELDS)),
    ({"thingIndexingMode": "REGISTRY_AND_SHADOW"}, set(fi.REGISTRY_FIELDS) | set(fi.SHADOW_FIELDS)),
    ({"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS"},
     set(fi.REGISTRY_FIELDS) | set(fi.CONNECTIVITY_FIELDS)),
]


@pytest.mark.parametrize("things, names", MANAGED, ids=["OFF", "REGISTRY", "SHADOW", "CONNECTIVITY"])
def test_get_indexing_configuration_lists_the_managed_fields_of_the_mode(things, names):
    output = configured(**things).to_output()["thingIndexingConfiguration"]
    assert {f["name"] for f in output.get("managedFields", [])} == names


# -- documents --------------------------------------------------------------------------------------
SHADOW_DOCUMENT = {
    "state": {
        "desired": {"temperature": 20, "mode": "eco"},
        "reported": {
            "temperature": 24, "mode": "eco", "colors": ["RED", "BLUE"],
            "palette": [{"name": "RED"}], "stats": {"battery": 78},
        },
    },
    "metadata": {
        "desired": {"temperature": {"timestamp": 10}, "mode": {"timestamp": 10}},
        "reported": {"temperature": {"timestamp": 12}, "mode": {"timestamp": 11},
                     "colors": [{"timestamp": 12}, {"timestamp": 12}], "palette": [{"name": {"timestamp": 12}}],
                     "stats": {"battery": {"timestamp": 12}}},
    },
    "version": 3,
}

SHADOW_FIELDS = [
    ("shadow.reported.temperature", (24,)),
    ("shadow.reported.stats.battery", (78,)),
    ("shadow.reported.colors", ("RED", "BLUE")),
    ("shadow.reported.palette", None),
    ("shadow.desired.mode", ("eco",)),
    ("shadow.delta.temperature", (20,)),
    ("shadow.delta.mode", None),
    ("shadow.hasDelta", (True,)),
    ("shadow.metadata.reported.stats.battery.timestamp", (12,)),
    ("shadow.metadata.reported.colors.timestamp", None),
    ("shadow.version", None),
]


@pytest.mark.parametrize("name, values", SHADOW_FIELDS, ids=[n for n, _ in SHADOW_FIELDS])
def test_shadow_fields_are_flattened_as_aws_indexes_them(name, values):
    assert fi.IndexedShadow.from_document(SHADOW_DOCUMENT).fields.get(name) == values


def test_named_shadow_fields_carry_the_shadow_name():
    fields = fi.IndexedShadow.from_document(SHADOW_DOCUMENT, "config").fields
    assert fields["shadow.name.config.reported.temperature"] == (24,)
    assert "shadow.reported.temperature" not in fields


def test_search_result_shadow_is_a_json_string_without_state_wrapper():
    entry = fi.ThingEntry("t1", "id-1", None, {}, (), 1)
    view = fi.ThingView(entry, {None: fi.IndexedShadow.from_document(SHADOW_DOCUMENT)}, None)
    shadow = json.loads(view.output()["shadow"])
    assert shadow["reported"]["temperature"] == 24 and shadow["version"] == 3 and shadow["timestamp"] == 12
    assert "state" not in shadow and shadow["metadata"]["desired"]["mode"] == {"timestamp": 10}


CHANGED_TOPICS = [
    ("$aws/things/t1/shadow/update/documents", ("t1", None)),
    ("$aws/things/t1/shadow/name/cfg/update/documents", ("t1", "cfg")),
    ("$aws/things/t1/shadow/delete/accepted", ("t1", None)),
    ("$aws/things/t1/shadow/update/accepted", None),
    ("$aws/things/t1/shadow/update/delta", None),
    ("$aws/events/presence/connected/t1", None),
]


@pytest.mark.parametrize("topic, changed", CHANGED_TOPICS, ids=[t for t, _ in CHANGED_TOPICS])
def test_shadow_changes_are_recognised_from_the_service_topics(topic, changed):
    assert fi.changed_shadow(topic) == changed


def test_connectivity_log_keeps_the_last_lifecycle_event():
    log = fi.ConnectivityLog()
    log.observe("$aws/events/presence/connected/t1", json.dumps(
        {"clientId": "t1", "eventType": "connected", "timestamp": 1000, "versionNumber": 1}).encode())
    log.observe("$aws/events/presence/disconnected/t1", json.dumps(
        {"clientId": "t1", "eventType": "disconnected", "timestamp": 2000, "versionNumber": 1,
         "disconnectReason": "CLIENT_INITIATED_DISCONNECT"}).encode())
    assert log.get("t1").output() == {"connected": False, "timestamp": 2000,
                                      "disconnectReason": "CLIENT_INITIATED_DISCONNECT"}
    assert log.get("never-seen") is None


# -- aggregations -----------------------------------------------------------------------------------
def test_statistics_of_numbers():
    stats = fi.statistics([18.0, 20.0, 22.0, 24.0], "Number")
    assert stats["count"] == 4 and stats["sum"] == 84 and stats["average"] == 21
    assert (stats["minimum"], stats["maximum"], stats["sumOfSquares"]) == (18, 24, 1784)
    assert stats["variance"] == 5 and math.isclose(stats["stdDeviation"], math.sqrt(5))


AGGREGATE_TYPES = [
    ("Number", ["1", 2, "x", True], [1.0, 2.0]),
    ("Boolean", [True, "false", "x", 1], [True, False]),
    ("String", ["a", 2, "b"], ["a", "b"]),
]


@pytest.mark.parametrize("kind, values, usable", AGGREGATE_TYPES, ids=[k for k, _, _ in AGGREGATE_TYPES])
def test_values_of_another_type_are_ignored_by_aggregations(kind, values, usable):
    assert fi.typed_values(values, kind) == usable


def test_boolean_statistics_count_the_true_values():
    stats = fi.statistics([True, False, True, True], "Boolean")
    assert (stats["count"], stats["sum"], stats["average"], stats["minimum"], stats["maximum"]) == (4, 3, 0.75, 0, 1)


def test_string_statistics_only_count():
    assert fi.statistics(["a", "b"], "String") == {"count": 2}


PERCENTILES = [(0, 10.0), (50, 25.0), (100, 40.0), (25, 17.5)]


@pytest.mark.parametrize("percent, value", PERCENTILES, ids=[str(p) for p, _ in PERCENTILES])
def test_percentiles_interpolate_between_ranks(percent, value):
    assert fi.percentiles([40.0, 10.0, 20.0, 30.0], [percent]) == [{"percent": float(percent), "value": value}]


def test_cardinality_counts_distinct_values():
    assert fi.cardinality(["a", "b", "a", True, 1]) == 4


# -- handlers on an in-process lab ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory):
    yield tmp_path_factory.mktemp("lab")
    moto_patches.reset()


@pytest.fixture
def lab(home):
    lab = build_lab(LabConfig(home=home))
    iot_backends[lab.config.account_id].reset()
    return lab


def enable(lab, mode="REGISTRY_AND_SHADOW", **extra) -> None:
    fx.update_indexing_configuration(lab, {"thingIndexingConfiguration": {"thingIndexingMode": mode, **extra}})


def things(lab, n: int, prefix: str = "bulky") -> None:
    for i in range(n):
        lab.iot.create_thing(f"{prefix}{i}", None, {"attributes": {"room_number": str(100 + i)}})


def report(lab, thing: str, **reported) -> None:
    update_document(lab, thing, None, json.dumps({"state": {"reported": reported}}).encode())


def names(output: dict) -> list[str]:
    return [t["thingName"] for t in output["things"]]


def test_a_new_account_has_indexing_off(lab):
    configuration = fx.get_indexing_configuration(lab, {})
    assert configuration["thingIndexingConfiguration"]["thingIndexingMode"] == "OFF"
    assert fx.list_indices(lab, {}) == {"indexNames": []}


OFF_CALLS = [
    ("SearchIndex", lambda lab: fx.search_index(lab, {"queryString": "*"})),
    ("DescribeIndex", lambda lab: fx.describe_index(lab, {"indexName": "AWS_Things"})),
    ("GetStatistics", lambda lab: fx.get_statistics(lab, {"queryString": "*"})),
]


@pytest.mark.parametrize("call", [c for _, c in OFF_CALLS], ids=[i for i, _ in OFF_CALLS])
def test_while_indexing_is_off_the_index_does_not_exist(lab, call):
    with pytest.raises(ResourceNotFoundException) as raised:
        call(lab)
    assert raised.value.message == fi.INDEX_MISSING.format(index="AWS_Things")


def test_an_unknown_index_is_not_found(lab):
    enable(lab)
    with pytest.raises(ResourceNotFoundException):
        fx.search_index(lab, {"indexName": "Other", "queryString": "*"})


def test_enabled_index_is_active_at_once(lab):
    enable(lab, thingConnectivityIndexingMode="STATUS")
    assert fx.describe_index(lab, {"indexName": "AWS_Things"}) == {
        "indexName": "AWS_Things", "indexStatus": "ACTIVE", "schema": "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"}


def test_workshop_queries_find_warm_rooms(lab):
    things(lab, 3)
    lab.iot.create_thing("no-room", None, {})
    enable(lab)
    for name, temperature in (("bulky0", 19), ("bulky1", 24), ("bulky2", 21), ("no-room", 30)):
        report(lab, name, temperature=temperature)
    assert names(fx.search_index(lab, {"queryString": "thingName:bulky*"})) == ["bulky0", "bulky1", "bulky2"]
    query = "shadow.reported.temperature>20 AND attributes.room_number:*"
    assert names(fx.search_index(lab, {"queryString": query})) == ["bulky1", "bulky2"]


@pytest.mark.parametrize("mode, matched", [("REGISTRY", []), ("REGISTRY_AND_SHADOW", ["bulky0"])])
def test_shadow_fields_are_searchable_only_with_shadow_indexing(lab, mode, matched):
    things(lab, 1)
    report(lab, "bulky0", temperature=24)
    enable(lab, mode)
    assert names(fx.search_index(lab, {"queryString": "shadow.reported.temperature:24"})) == matched
    listed = fx.search_index(lab, {"queryString": "thingName:bulky0"})["things"][0]
    assert ("shadow" in listed) is (mode == "REGISTRY_AND_SHADOW")


def test_shadows_written_before_indexing_was_enabled_are_indexed(lab):
    things(lab, 1)
    fx.get_indexing_configuration(lab, {})  # the lab starts observing here
    report(lab, "bulky0", temperature=24)
    enable(lab)
    report(lab, "bulky0", humidity=40)
    found = fx.search_index(lab, {"queryString": "shadow.reported.humidity:40 AND shadow.reported.temperature:24"})
    assert names(found) == ["bulky0"]


def test_registry_changes_show_in_the_next_query(lab):
    things(lab, 1)
    enable(lab, "REGISTRY")
    assert names(fx.search_index(lab, {"queryString": "attributes.room_number:100"})) == ["bulky0"]
    lab.iot.update_thing("bulky0", None, {"attributes": {"room_number": "200"}}, False)
    lab.iot.create_thing_group("floor-2", None, {})
    lab.iot.add_thing_to_thing_group("floor-2", None, "bulky0", None)
    found = fx.search_index(lab, {"queryString": "attributes.room_number:200 AND thingGroupNames:floor-2"})
    assert found["things"][0]["thingGroupNames"] == ["floor-2"]
    lab.iot.create_thing("bulky1", None, {"attributes": {"room_number": "200"}})
    assert names(fx.search_index(lab, {"queryString": "attributes.room_number:200"})) == ["bulky0", "bulky1"]
    lab.iot.delete_thing("bulky0")
    assert names(fx.search_index(lab, {"queryString": "attributes.room_number:200"})) == ["bulky1"]


def test_pages_of_results_cover_every_thing_once(lab):
    things(lab, 25)
    enable(lab, "REGISTRY")
    seen, token, pages = [], None, 0
    while True:
        params = {"queryString": "thingName:bulky*", "maxResults": 10, **({"nextToken": token} if token else {})}
        output = fx.search_index(lab, params)
        seen += names(output)
        pages += 1
        token = output.get("nextToken")
        if token is None:
            break
    assert pages == 3 and sorted(seen) == sorted(f"bulky{i}" for i in range(25)) and len(seen) == 25


BAD_PAGES = [
    ("maxResults too large", {"maxResults": 101}),
    ("maxResults zero", {"maxResults": 0}),
    ("forged token", {"nextToken": "not-a-token"}),
]


@pytest.mark.parametrize("extra", [e for _, e in BAD_PAGES], ids=[i for i, _ in BAD_PAGES])
def test_bad_paging_parameters_are_invalid_requests(lab, extra):
    enable(lab, "REGISTRY")
    with pytest.raises(InvalidRequestException):
        fx.search_index(lab, {"queryString": "*", **extra})


def test_a_query_that_does_not_parse_is_an_invalid_query(lab):
    enable(lab, "REGISTRY")
    with pytest.raises(InvalidQueryException):
        fx.search_index(lab, {"queryString": "thingName:(bulky"})


def test_connectivity_comes_from_lifecycle_events(lab):
    things(lab, 2)
    enable(lab, "REGISTRY", thingConnectivityIndexingMode="STATUS")
    lab.publish("$aws/events/presence/connected/bulky0",
                {"clientId": "bulky0", "eventType": "connected", "timestamp": 1700000000123, "versionNumber": 1})
    found = fx.search_index(lab, {"queryString": "connectivity.connected:true"})
    assert found["things"][0]["connectivity"] == {"connected": True, "timestamp": 1700000000123}
    assert "connectivity" not in fx.search_index(lab, {"queryString": "thingName:bulky1"})["things"][0]


def test_statistics_need_a_declared_field(lab):
    things(lab, 4)
    enable(lab, customFields=[{"name": "shadow.reported.temperature", "type": "Number"}])
    for i, temperature in enumerate((18, 20, 22, 24)):
        report(lab, f"bulky{i}", temperature=temperature)
    params = {"queryString": "thingName:bulky*", "aggregationField": "shadow.reported.temperature"}
    assert fx.get_statistics(lab, params)["statistics"]["average"] == 21
    assert fx.get_percentiles(lab, {**params, "percents": [50]})["percentiles"] == [{"percent": 50.0, "value": 21.0}]
    assert fx.get_cardinality(lab, params) == {"cardinality": 4}
    with pytest.raises(fi.InvalidAggregationException):
        fx.get_statistics(lab, {**params, "aggregationField": "shadow.reported.humidity"})


def test_default_statistics_are_over_the_registry_version(lab):
    things(lab, 2)
    enable(lab, "REGISTRY")
    lab.iot.update_thing("bulky0", None, {"attributes": {"room_number": "1"}}, False)
    assert fx.get_statistics(lab, {"queryString": "*"})["statistics"]["sum"] == 3  # versions 2 and 1


def test_buckets_count_things_per_value(lab):
    things(lab, 3)
    lab.iot.create_thing_group("floor-1", None, {})
    for name in ("bulky0", "bulky1"):
        lab.iot.add_thing_to_thing_group("floor-1", None, name, None)
    enable(lab, "REGISTRY")
    output = fx.get_buckets_aggregation(lab, {
        "queryString": "*", "aggregationField": "registry.thingGroupNames",
        "bucketsAggregationType": {"termsAggregation": {"maxBuckets": 5}}})
    assert output == {"totalCount": 3, "buckets": [{"keyValue": "floor-1", "count": 2}]}


def test_thing_group_index_searches_groups(lab):
    lab.iot.create_thing_group("building", None, {"thingGroupDescription": "HQ"})
    lab.iot.create_thing_group("floor-1", "building", {"attributePayload": {"attributes": {"level": "1"}}})
    fx.update_indexing_configuration(lab, {"thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "ON"}})
    found = fx.search_index(lab, {"indexName": "AWS_ThingGroups", "queryString": "parentGroupNames:building"})
    assert [g["thingGroupName"] for g in found["thingGroups"]] == ["floor-1"]
    assert found["thingGroups"][0]["attributes"] == {"level": "1"} and found["things"] == []
