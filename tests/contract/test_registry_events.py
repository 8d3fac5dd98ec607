"""Registry events arrive on `$aws/events/...` over MQTT, only for the event types enabled."""

from __future__ import annotations

import uuid

import pytest

from labfixture import console_device

ALL_TYPES = ("THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY",
             "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY", "CERTIFICATE", "CA_CERTIFICATE")


@pytest.fixture
def console(lab):
    with console_device(lab, "$aws/events/#", name="events") as device:
        yield device


def set_events(iot, enabled: bool, types=ALL_TYPES) -> None:
    iot.update_event_configurations(eventConfigurations={t: {"Enabled": enabled} for t in types})


def test_thing_created_and_updated_events_carry_aws_fields(lab, console):
    iot = lab.client("iot")
    set_events(iot, True)
    name = f"evt-{uuid.uuid4().hex[:6]}"
    mark = console.messages.mark()
    iot.create_thing(thingName=name)
    created = console.wait_for(f"$aws/events/thing/{name}/created", timeout=10, after=mark).json
    iot.update_thing(thingName=name, attributePayload={"attributes": {"type": "ws-device"}})
    updated = console.wait_for(f"$aws/events/thing/{name}/updated", timeout=10, after=mark).json

    assert created["eventType"] == "THING_EVENT" and created["operation"] == "CREATED"
    assert created["thingName"] == name and created["versionNumber"] == 1 and created["thingTypeName"] is None
    assert created["accountId"] == "123456789012" and created["timestamp"] > 10**12  # milliseconds
    assert updated["operation"] == "UPDATED" and updated["attributes"] == {"type": "ws-device"}
    assert updated["versionNumber"] == 2 == iot.describe_thing(thingName=name)["version"]


def test_group_membership_events_name_group_and_thing_in_the_topic(lab, console):
    iot = lab.client("iot")
    set_events(iot, True)
    group, thing = f"grp-{uuid.uuid4().hex[:6]}", f"mem-{uuid.uuid4().hex[:6]}"
    mark = console.messages.mark()
    iot.create_thing_group(thingGroupName=group)
    iot.create_thing(thingName=thing)
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    console.wait_for(f"$aws/events/thingGroup/{group}/created", timeout=10, after=mark)
    added = console.wait_for(f"$aws/events/thingGroupMembership/thingGroup/{group}/thing/{thing}/added",
                             timeout=10, after=mark).json
    assert added["eventType"] == "THING_GROUP_MEMBERSHIP_EVENT" and added["operation"] == "ADDED"
    assert added["thingArn"].endswith(f":thing/{thing}") and added["groupArn"].endswith(f":thinggroup/{group}")


def test_disabled_event_types_publish_nothing(lab, console):
    iot = lab.client("iot")
    set_events(iot, False, ["THING"])
    set_events(iot, True, ["THING_TYPE"])
    name = f"quiet-{uuid.uuid4().hex[:6]}"
    mark = console.messages.mark()
    iot.create_thing(thingName=name)
    iot.create_thing_type(thingTypeName=f"type-{name}")
    # The thing-type event comes after the thing event in the broker's queue: once it is here, a
    # thing event (had one been published) would have arrived too.
    console.wait_for(f"$aws/events/thingType/type-{name}/created", timeout=10, after=mark)
    assert not [m for m in console.messages.messages(after=mark) if m.topic.startswith("$aws/events/thing/")]
    set_events(iot, True)
