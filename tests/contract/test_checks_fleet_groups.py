"""Chapters 07 and 08's checks against the lab: things kept in a group, sensors online, a newcomer below the building."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from helpers.checks import child_group_member_problem, group_of_exactly_problem, seen_online_problem
from helpers.checks.fleet import search_all
from helpers.device import Device
from labfixture import connect_to
from test_helpers_lab import provision


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


def things(ws, count: int) -> list[str]:
    prefix = f"room{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, count + 1)]
    for name in names:
        ws.iot.create_thing(thingName=name)
    return names


def group_holding(ws, names) -> str:
    group = f"comfy-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing_group(thingGroupName=group)
    for name in names:
        ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return group


def test_a_group_of_exactly_the_wanted_things_is_found_whatever_its_name(ws):
    a, b, c = things(ws, 3)
    assert "no thing group holds" in group_of_exactly_problem(ws, {a, b}, "rooms")
    group_holding(ws, [a, b, c])  # too many
    problem = group_of_exactly_problem(ws, {a, b}, "rooms")
    assert "also holds 1 other" in problem and c in problem
    group_holding(ws, [a])  # too few
    assert group_of_exactly_problem(ws, {a, b}, "rooms") != ""
    group_holding(ws, [b, a])
    assert group_of_exactly_problem(ws, {a, b}, "rooms") == ""
    assert "nothing to put in a group" in group_of_exactly_problem(ws, set(), "rooms")


def test_sensors_count_as_seen_online_once_their_connections_reached_the_index(ws):
    ws.iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"})
    prefix = f"sensor{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, 5)]
    for name in names:
        provision(ws, name, [("iot:Connect", f"client/{name}")])
    assert "seen 0 of the 4" in seen_online_problem(ws, f"thingName:{prefix}*", 3)
    for name in names[:3]:
        with Device.from_workshop(ws, name):
            pass  # connected, then disconnected: the index keeps the time of the last event
    assert seen_online_problem(ws, f"thingName:{prefix}*", 3) == ""
    assert "seen 3 of the 4" in seen_online_problem(ws, f"thingName:{prefix}*", 4)


@pytest.fixture(scope="module")
def building(ws):
    """A parent group whose policy lets each member connect as itself and publish on its own topic,
    a child group below it, and a group outside it without a policy."""
    parent = f"building-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/${{iot:ClientId}}"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{arn}:topic/b/${{iot:ClientId}}"}]}
    ws.iot.create_policy(policyName=f"{parent}-p", policyDocument=json.dumps(document))
    parent_arn = ws.iot.create_thing_group(thingGroupName=parent)["thingGroupArn"]
    ws.iot.attach_policy(policyName=f"{parent}-p", target=parent_arn)
    ws.iot.create_thing_group(thingGroupName=f"{parent}-floor", parentGroupName=parent)
    ws.iot.create_thing_group(thingGroupName=f"{parent}-shed")
    return parent


def newcomer(ws, groups, *, own_policy=False, active=True) -> str:
    name = f"newcomer-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing(thingName=name)
    certificate = ws.iot.create_keys_and_certificate(setAsActive=active)
    ws.iot.attach_thing_principal(thingName=name, principal=certificate["certificateArn"])
    if own_policy:
        arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
        ws.iot.create_policy(policyName=f"{name}-own", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": f"{arn}:*"}]}))
        ws.iot.attach_policy(policyName=f"{name}-own", target=certificate["certificateArn"])
    for group in groups:
        ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return name


@pytest.mark.parametrize("groups, own_policy, active, expected", [
    (["{parent}-floor"], False, True, ""),
    (["{parent}"], False, True, "itself"),
    (["{parent}-floor", "{parent}"], False, True, "itself"),
    ([], False, True, "in no group below"),
    (["{parent}-shed"], False, True, "in no group below"),
    (["{parent}-floor"], True, True, "policy of its own"),
    (["{parent}-floor"], False, False, "ACTIVE"),
])
def test_the_newcomer_exercise_is_done_only_in_a_group_below_the_building(ws, building, groups, own_policy,
                                                                           active, expected):
    name = newcomer(ws, [g.format(parent=building) for g in groups], own_policy=own_policy, active=active)
    problem = child_group_member_problem(ws, name, building, f"b/{name}")
    assert (problem == "") if expected == "" else (expected in problem), problem


def test_the_inherited_policy_must_allow_the_newcomer_topic(ws, building):
    name = newcomer(ws, [f"{building}-floor"])
    assert "do not let it" in child_group_member_problem(ws, name, building, f"elsewhere/{name}")
    assert "does not exist yet" in child_group_member_problem(ws, "no-such-newcomer", building, "b/x")


def test_with_after_reported_only_connections_since_the_shadow_reported_the_key_count(ws):
    """A connectivity test of an earlier chapter does not solve chapter 07's exercise: connections
    count once the chapter set the temperature (shadow metadata in seconds, connectivity in ms)."""
    ws.iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"})
    prefix = f"early{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, 4)]
    for name in names:
        provision(ws, name, [("iot:Connect", f"client/{name}")])
        with Device.from_workshop(ws, name):
            pass  # an earlier chapter's connectivity test
    query = f"thingName:{prefix}*"
    assert seen_online_problem(ws, query, 3) == ""
    assert "seen 0 of the 3 things" in seen_online_problem(ws, query, 3, after_reported="temperature")
    # Shadow metadata has whole seconds, and a connection in the same second counts: set the
    # temperatures in a later second than the last connection.
    last = max(t["connectivity"]["timestamp"] for t in search_all(ws, query))
    while time.time() * 1000 < (last // 1000 + 1) * 1000:
        time.sleep(0.02)
    for name in names:
        ws.iot_data.update_thing_shadow(thingName=name, payload=json.dumps({"state": {"reported": {"temperature": 21}}}))
    assert "since their temperature was set" in seen_online_problem(ws, query, 3, after_reported="temperature")
    for name in names[:2]:
        with Device.from_workshop(ws, name):
            pass
    assert "seen 2 of the 3" in seen_online_problem(ws, query, 3, after_reported="temperature")
    with Device.from_workshop(ws, names[2]):
        pass
    assert seen_online_problem(ws, query, 3, after_reported="temperature") == ""
