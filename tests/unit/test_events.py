"""Registry event builders: topics and payloads as reference section 1 shows them."""

from __future__ import annotations

import json

import pytest

from localcore.iot.events import (
    ADDED, CREATED, DELETED, REMOVED, UPDATED, GroupRef, Stamp, ThingGroupRecord, ThingRecord,
    ThingTypeRecord, thing_event, thing_group_event, thing_group_hierarchy_event,
    thing_group_membership_event, thing_type_association_event, thing_type_event,
)

ACCOUNT = "111122223333"
STAMP = Stamp(ACCOUNT, 1700000000123, "evt-1")
ARN = f"arn:aws:iot:eu-central-1:{ACCOUNT}"
HEAD = {"eventId": "evt-1", "timestamp": 1700000000123, "accountId": ACCOUNT}

PLAIN = ThingRecord("bulky1", "thing-id-1", f"{ARN}:thing/bulky1", 1, None, {"serialNumber": "1"})
TYPED = ThingRecord("bulky2", "thing-id-2", f"{ARN}:thing/bulky2", 3, "bulk-type", {"version": "v1"})
ODD_NAME = ThingRecord("site:a_b-1", "thing-id-3", f"{ARN}:thing/site:a_b-1", 1)

BULB = ThingTypeRecord("bulk-type", "type-id", False, None, ("serialNumber",), "workshop type")
RETIRED = ThingTypeRecord("bulk-type", "type-id", True, 1700000000456, ("serialNumber",), "workshop type")
BARE_TYPE = ThingTypeRecord("bare", "bare-id")

ROOT = GroupRef("root", "root-id", f"{ARN}:thinggroup/root")
MIDDLE = GroupRef("middle", "middle-id", f"{ARN}:thinggroup/middle")
LEAF = GroupRef("leaf", "leaf-id", f"{ARN}:thinggroup/leaf")
ROOT_RECORD = ThingGroupRecord(ROOT, 1)
LEAF_RECORD = ThingGroupRecord(LEAF, 2, "new description", {"site": "berlin"}, (ROOT, MIDDLE))

CASES = [
    pytest.param(
        thing_event(CREATED, PLAIN, STAMP),
        "$aws/events/thing/bulky1/created",
        {"eventType": "THING_EVENT", **HEAD, "operation": "CREATED", "thingId": "thing-id-1", "thingName": "bulky1",
         "versionNumber": 1, "thingTypeName": None, "attributes": {"serialNumber": "1"}},
        id="thing-created-without-type-has-null-type",
    ),
    pytest.param(
        thing_event(UPDATED, TYPED, STAMP),
        "$aws/events/thing/bulky2/updated",
        {"eventType": "THING_EVENT", **HEAD, "operation": "UPDATED", "thingId": "thing-id-2", "thingName": "bulky2",
         "versionNumber": 3, "thingTypeName": "bulk-type", "attributes": {"version": "v1"}},
        id="thing-updated-carries-version-and-type",
    ),
    pytest.param(
        thing_event(DELETED, PLAIN, STAMP),
        "$aws/events/thing/bulky1/deleted",
        {"eventType": "THING_EVENT", **HEAD, "operation": "DELETED", "thingId": "thing-id-1", "thingName": "bulky1",
         "versionNumber": 1, "thingTypeName": None, "attributes": {"serialNumber": "1"}},
        id="thing-deleted",
    ),
    pytest.param(
        thing_event(CREATED, ODD_NAME, STAMP),
        "$aws/events/thing/site:a_b-1/created",
        {"eventType": "THING_EVENT", **HEAD, "operation": "CREATED", "thingId": "thing-id-3",
         "thingName": "site:a_b-1", "versionNumber": 1, "thingTypeName": None, "attributes": {}},
        id="thing-name-with-colon-kept-verbatim-in-topic",
    ),
    pytest.param(
        thing_type_event(CREATED, BULB, STAMP),
        "$aws/events/thingType/bulk-type/created",
        {"eventType": "THING_TYPE_EVENT", **HEAD, "operation": "CREATED", "thingTypeId": "type-id",
         "thingTypeName": "bulk-type", "isDeprecated": False, "deprecationDate": None,
         "searchableAttributes": ["serialNumber"], "description": "workshop type"},
        id="thing-type-created-not-deprecated",
    ),
    pytest.param(
        thing_type_event(UPDATED, RETIRED, STAMP),
        "$aws/events/thingType/bulk-type/updated",
        {"eventType": "THING_TYPE_EVENT", **HEAD, "operation": "UPDATED", "thingTypeId": "type-id",
         "thingTypeName": "bulk-type", "isDeprecated": True, "deprecationDate": 1700000000456,
         "searchableAttributes": ["serialNumber"], "description": "workshop type"},
        id="thing-type-deprecated-is-updated-with-date",
    ),
    pytest.param(
        thing_type_event(DELETED, BARE_TYPE, STAMP),
        "$aws/events/thingType/bare/deleted",
        {"eventType": "THING_TYPE_EVENT", **HEAD, "operation": "DELETED", "thingTypeId": "bare-id",
         "thingTypeName": "bare", "isDeprecated": False, "deprecationDate": None,
         "searchableAttributes": [], "description": None},
        id="thing-type-deleted-without-properties",
    ),
    pytest.param(
        thing_type_association_event(ADDED, TYPED, "bulk-type", STAMP),
        "$aws/events/thingTypeAssociation/thing/bulky2/thingType/bulk-type/added",
        {"eventId": "evt-1", "eventType": "THING_TYPE_ASSOCIATION_EVENT", "operation": "ADDED",
         "thingId": "thing-id-2", "thingName": "bulky2", "thingTypeName": "bulk-type", "timestamp": 1700000000123},
        id="type-association-added-has-no-account",
    ),
    pytest.param(
        thing_type_association_event(REMOVED, PLAIN, "old-type", STAMP),
        "$aws/events/thingTypeAssociation/thing/bulky1/thingType/old-type/removed",
        {"eventId": "evt-1", "eventType": "THING_TYPE_ASSOCIATION_EVENT", "operation": "REMOVED",
         "thingId": "thing-id-1", "thingName": "bulky1", "thingTypeName": "old-type", "timestamp": 1700000000123},
        id="type-association-removed-names-the-old-type",
    ),
    pytest.param(
        thing_group_event(CREATED, ROOT_RECORD, STAMP),
        "$aws/events/thingGroup/root/created",
        {"eventType": "THING_GROUP_EVENT", **HEAD, "operation": "CREATED", "thingGroupId": "root-id",
         "thingGroupName": "root", "versionNumber": 1, "parentGroupName": None, "parentGroupId": None,
         "description": None, "rootToParentThingGroups": [], "attributes": {}, "dynamicGroupMappingId": None},
        id="root-group-created-has-no-parent",
    ),
    pytest.param(
        thing_group_event(UPDATED, LEAF_RECORD, STAMP),
        "$aws/events/thingGroup/leaf/updated",
        {"eventType": "THING_GROUP_EVENT", **HEAD, "operation": "UPDATED", "thingGroupId": "leaf-id",
         "thingGroupName": "leaf", "versionNumber": 2, "parentGroupName": "middle", "parentGroupId": "middle-id",
         "description": "new description",
         "rootToParentThingGroups": [{"groupArn": ROOT.arn, "groupId": "root-id"},
                                     {"groupArn": MIDDLE.arn, "groupId": "middle-id"}],
         "attributes": {"site": "berlin"}, "dynamicGroupMappingId": None},
        id="nested-group-updated-lists-root-to-parent",
    ),
    pytest.param(
        thing_group_event(DELETED, LEAF_RECORD, STAMP),
        "$aws/events/thingGroup/leaf/deleted",
        {"eventType": "THING_GROUP_EVENT", **HEAD, "operation": "DELETED", "thingGroupId": "leaf-id",
         "thingGroupName": "leaf", "versionNumber": 2, "parentGroupName": "middle", "parentGroupId": "middle-id",
         "description": "new description",
         "rootToParentThingGroups": [{"groupArn": ROOT.arn, "groupId": "root-id"},
                                     {"groupArn": MIDDLE.arn, "groupId": "middle-id"}],
         "attributes": {"site": "berlin"}, "dynamicGroupMappingId": None},
        id="group-deleted",
    ),
    pytest.param(
        thing_group_membership_event(ADDED, LEAF, PLAIN, "member-1", STAMP),
        "$aws/events/thingGroupMembership/thingGroup/leaf/thing/bulky1/added",
        {"eventType": "THING_GROUP_MEMBERSHIP_EVENT", **HEAD, "operation": "ADDED", "groupArn": LEAF.arn,
         "groupId": "leaf-id", "thingArn": PLAIN.arn, "thingId": "thing-id-1", "membershipId": "member-1"},
        id="membership-added-carries-arns-not-names",
    ),
    pytest.param(
        thing_group_membership_event(REMOVED, ROOT, TYPED, "member-2", STAMP),
        "$aws/events/thingGroupMembership/thingGroup/root/thing/bulky2/removed",
        {"eventType": "THING_GROUP_MEMBERSHIP_EVENT", **HEAD, "operation": "REMOVED", "groupArn": ROOT.arn,
         "groupId": "root-id", "thingArn": TYPED.arn, "thingId": "thing-id-2", "membershipId": "member-2"},
        id="membership-removed",
    ),
    pytest.param(
        thing_group_hierarchy_event(ADDED, ROOT, MIDDLE, STAMP),
        "$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/middle/added",
        {"eventType": "THING_GROUP_HIERARCHY_EVENT", **HEAD, "operation": "ADDED", "thingGroupId": "root-id",
         "thingGroupName": "root", "childGroupId": "middle-id", "childGroupName": "middle"},
        id="hierarchy-added-parent-first",
    ),
    pytest.param(
        thing_group_hierarchy_event(REMOVED, MIDDLE, LEAF, STAMP),
        "$aws/events/thingGroupHierarchy/thingGroup/middle/childThingGroup/leaf/removed",
        {"eventType": "THING_GROUP_HIERARCHY_EVENT", **HEAD, "operation": "REMOVED", "thingGroupId": "middle-id",
         "thingGroupName": "middle", "childGroupId": "leaf-id", "childGroupName": "leaf"},
        id="hierarchy-removed",
    ),
]


@pytest.mark.parametrize(("event", "topic", "payload"), CASES)
def test_builder_topic_and_payload(event, topic, payload):
    built_topic, built_payload = event
    assert built_topic == topic
    assert built_payload == payload
    assert json.loads(json.dumps(built_payload)) == built_payload  # plain JSON, nothing to convert


@pytest.mark.parametrize(
    ("clock", "expected_ms"),
    [
        pytest.param(lambda: 1700000000.1234, 1700000000123, id="fraction-truncated-to-ms"),
        pytest.param(lambda: 0.0, 0, id="epoch"),
        pytest.param(lambda: 1.999, 1999, id="milliseconds-not-seconds"),
    ],
)
def test_stamp_now_uses_injected_clock_and_id(clock, expected_ms):
    stamp = Stamp.now(ACCOUNT, clock=clock, new_id=lambda: "fixed-id")
    assert stamp == Stamp(ACCOUNT, expected_ms, "fixed-id")


def test_stamp_now_default_ids_are_unique():
    assert Stamp.now(ACCOUNT).event_id != Stamp.now(ACCOUNT).event_id


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: thing_event(CREATED, PLAIN, STAMP)[1], id="thing"),
        pytest.param(lambda: thing_group_event(UPDATED, LEAF_RECORD, STAMP)[1], id="thing-group"),
    ],
)
def test_payload_attributes_are_a_copy(build):
    payload = build()
    payload["attributes"]["injected"] = "x"
    assert "injected" not in build()["attributes"]
