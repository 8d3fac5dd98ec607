"""Chapter 07: fleet indexing: things found by a query, kept in a group, seen online."""

from __future__ import annotations

import json
import math
from typing import Any

from botocore.exceptions import ClientError


def search_all(ws: Any, query: str, index: str = "AWS_Things") -> list[dict]:
    """Every document of ``index`` that matches ``query`` (all pages of SearchIndex)."""
    things, token = [], None
    while True:
        page = ws.iot.search_index(indexName=index, queryString=query, maxResults=100,
                                   **({"nextToken": token} if token else {}))
        things += page.get("things", [])
        token = page.get("nextToken")
        if not token:
            return things


def own_things(ws: Any, documents: list[dict]) -> list[dict]:
    """The index documents of ``ws``'s own things: names starting with the trainee's prefix."""
    prefix = getattr(ws, "prefix", "") or ""
    return [d for d in documents if str(d.get("thingName", "")).startswith(prefix)]


def groups_of(ws: Any, thing: str) -> list[str]:
    """The names of the thing groups ``thing`` is in directly ([] when the thing does not exist)."""
    try:
        return [g["groupName"] for page in ws.iot.get_paginator("list_thing_groups_for_thing").paginate(thingName=thing)
                for g in page.get("thingGroups", [])]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise


def things_in(ws: Any, group: str) -> set[str]:
    """The things directly in ``group``."""
    return {name for page in ws.iot.get_paginator("list_things_in_thing_group").paginate(thingGroupName=group)
            for name in page.get("things", [])}


def group_of_exactly_problem(ws: Any, wanted: Any, what: str) -> str:
    """Chapter 07's first exercise: some thing group holds exactly the things ``wanted`` (``what``
    says what they are: "rooms from 18 to 22 °C"), whatever the group is called."""
    wanted = set(wanted)
    if not wanted:
        return f"none of your devices is among the {what}: nothing to put in a group (another seed gives some)"
    closest = None  # (how far off, group, missing, extra)
    for group in groups_of(ws, min(wanted)):  # a group that holds them all holds this one
        held = things_in(ws, group)
        if held == wanted:
            return ""
        missing, extra = wanted - held, held - wanted
        if closest is None or len(missing) + len(extra) < closest[0]:
            closest = (len(missing) + len(extra), group, missing, extra)
    if closest is None:
        return f"no thing group holds the {len(wanted)} {what} yet"
    _, group, missing, extra = closest
    wrong = ([f"lacks {len(missing)} of them ({_some(missing)})"] if missing else []) + \
            ([f"also holds {len(extra)} other thing(s) ({_some(extra)})"] if extra else [])
    return f"no thing group holds exactly the {len(wanted)} {what} yet (closest: {group}, which " + " and ".join(wrong) + ")"


def _some(names: Any, shown: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def seen_online_problem(ws: Any, query: str, at_least: int, *, after_reported: str | None = None) -> str:
    """Chapter 07's second exercise: at least ``at_least`` of the things ``query`` matches have
    connected since connectivity was indexed (their document has ``connectivity`` with a timestamp).

    With ``after_reported`` (a key of the shadow's ``reported`` state, such as ``temperature``), a
    connection counts only if it came at or after the time the shadow last reported that key: the
    chapter's own work, not a connectivity test of an earlier chapter. Shadow metadata has whole
    seconds, so a connection in the same second as the report counts too.

    Only the trainee's own things count (names starting with ``ws.prefix``): in an account shared
    by a class, another trainee's devices never make the exercise pass."""
    found = own_things(ws, search_all(ws, query))
    seen = [t["thingName"] for t in found if (t.get("connectivity") or {}).get("timestamp") is not None
            and (after_reported is None or t["connectivity"]["timestamp"] >= _reported_at_ms(ws, t["thingName"], after_reported))]
    if len(seen) >= at_least:
        return ""
    since = f" since their {after_reported} was set" if after_reported else ""
    return (f"the index has seen {len(seen)} of the {len(found)} things of {query} connect{since}"
            f"{' (' + _some(seen) + ')' if seen else ''}; connect {at_least} of them")


def _reported_at_ms(ws: Any, thing: str, key: str) -> float:
    """When the classic shadow of ``thing`` last reported ``key`` (ms; infinity if it never did)."""
    try:
        shadow = json.loads(ws.iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return math.inf
        raise
    seconds = shadow.get("metadata", {}).get("reported", {}).get(key, {}).get("timestamp")
    return math.inf if not isinstance(seconds, (int, float)) else seconds * 1000
