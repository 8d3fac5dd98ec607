"""AWS IoT Core's MQTT limits as pure decisions: given a packet's fields, which limit it breaks and
what the broker does about it (no sockets)."""

from __future__ import annotations


import pytest

from localcore.iot import events as registry_events
from localcore.iot.jobs import job_topic
from localcore.iot.shadow import response_topic
from localcore.mqtt import lifecycle_events
from localcore.mqtt import limits
from localcore.mqtt.limits import (
    CLIENT_ID_SIZE,
    CONNACK_REFUSAL,
    DISCONNECT,
    DROP_CONNECTION,
    FILTERS_PER_SUBSCRIBE,
    PAYLOAD_SIZE,
    QOS_2,
    TOPIC_DEPTH,
    TOPIC_SIZE,
    WILL_QOS_2,
    WILL_TOPIC_DEPTH,
    WILL_TOPIC_SIZE,
    Timeouts,
    Violation,
    connect_violation,
    keep_alive_deadline_s,
    keep_alive_s,
    publish_violation,
    subscribe_violation,
)

KB128 = 128 * 1024
DEEP = "a/b/c/d/e/f/g/h/i"  # 8 slashes
SEVEN = "a/b/c/d/e/f/g/h"  # 7 slashes
THING = "t" * 128  # the longest thing name
SHADOW = "s" * 64  # the longest shadow name
JOB = "j" * 64  # the longest job id


@pytest.mark.parametrize(
    ("topic", "payload_size", "qos", "expected"),
    [
        ("telemetry/t1", 10, 1, None),
        ("telemetry/t1", KB128, 0, None),
        ("telemetry/t1", KB128 + 1, 0, PAYLOAD_SIZE),
        ("telemetry/t1", 10 * 1024 * 1024, 1, PAYLOAD_SIZE),
        ("telemetry/t1", 10, 2, QOS_2),
        ("telemetry/t1", KB128 + 1, 2, QOS_2),  # QoS is decided first
        (SEVEN, 1, 0, None),
        (DEEP, 1, 0, TOPIC_DEPTH),
        ("x" * 256, 1, 0, None),
        ("x" * 257, 1, 0, TOPIC_SIZE),
        ("é" * 128, 1, 0, None),  # 256 bytes of UTF-8
        ("é" * 129, 1, 0, TOPIC_SIZE),  # 258 bytes, 129 characters
        ("/" * 8, 1, 0, TOPIC_DEPTH),
        # basic ingest: the $aws/rules/<rule>/ prefix counts toward neither depth nor size
        (f"$aws/rules/my_rule/{SEVEN}", 1, 1, None),
        (f"$aws/rules/my_rule/{DEEP}", 1, 1, TOPIC_DEPTH),
        ("$aws/rules/" + "r" * 128 + "/" + "x" * 256, 1, 1, None),
        ("$aws/rules/r/" + "x" * 257, 1, 1, TOPIC_SIZE),
        ("$aws/rules//a/b/c/d/e/f", 1, 1, TOPIC_DEPTH),  # no rule name, no prefix: 8 slashes count
    ],
)
def test_publish_violation(topic, payload_size, qos, expected):
    violation = publish_violation(topic, payload_size, qos)

    assert (violation.limit if violation else None) == expected
    if violation is not None:
        assert violation.topic == topic


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("a/#", 1)], None),
        ([(f"f{i}/#", 1) for i in range(8)], None),
        ([(f"f{i}/#", 1) for i in range(9)], Violation(FILTERS_PER_SUBSCRIBE, "f8/#")),
        ([("a/+", 0), ("b/#", 2)], Violation(QOS_2, "b/#")),
        ([("a/+", 0), (SEVEN, 1)], None),
        ([("a/+", 0), (DEEP, 1)], Violation(TOPIC_DEPTH, DEEP)),
        ([("a/b/c/d/e/f/g/#", 1)], None),
        ([("a/b/c/d/e/f/g/h/#", 1)], Violation(TOPIC_DEPTH, "a/b/c/d/e/f/g/h/#")),
        ([("x" * 300, 1)], None),  # the size limit is the publish topic's only
        ([(f"$aws/rules/r/{DEEP}", 1)], Violation(TOPIC_DEPTH, f"$aws/rules/r/{DEEP}")),
        ([(f"$aws/rules/r/{SEVEN}", 1)], None),
    ],
)
def test_subscribe_violation(filters, expected):
    assert subscribe_violation(filters) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"client_id": "c" * 128}, None),
        ({"client_id": "c" * 129}, CLIENT_ID_SIZE),
        ({"client_id": "c" * 200}, CLIENT_ID_SIZE),
        ({"client_id": "ü" * 64}, None),  # 128 bytes
        ({"client_id": "ü" * 65}, CLIENT_ID_SIZE),
        ({"client_id": "d", "will_flag": True, "will_qos": 1, "will_topic": "w/t"}, None),
        ({"client_id": "d", "will_flag": True, "will_qos": 2, "will_topic": "w/t"}, WILL_QOS_2),
        ({"client_id": "d", "will_flag": True, "will_qos": 0, "will_topic": DEEP}, WILL_TOPIC_DEPTH),
        ({"client_id": "d", "will_flag": True, "will_qos": 0, "will_topic": "x" * 257}, WILL_TOPIC_SIZE),
        ({"client_id": "d", "will_flag": True, "will_qos": 0, "will_topic": "x" * 256}, None),
        # without the will flag, will fields are ignored
        ({"client_id": "d", "will_flag": False, "will_qos": 2, "will_topic": DEEP}, None),
    ],
)
def test_connect_violation(fields, expected):
    violation = connect_violation(**fields)

    assert (violation.limit if violation else None) == expected


@pytest.mark.parametrize(
    ("limit", "consequence", "disconnect_reason", "connack_code"),
    [
        (CLIENT_ID_SIZE, CONNACK_REFUSAL, None, 2),
        (PAYLOAD_SIZE, DISCONNECT, "CLIENT_ERROR", None),
        (QOS_2, DISCONNECT, "CLIENT_ERROR", None),
        (TOPIC_SIZE, DISCONNECT, "CLIENT_ERROR", None),
        (TOPIC_DEPTH, DISCONNECT, "CLIENT_ERROR", None),
        (FILTERS_PER_SUBSCRIBE, DISCONNECT, "CLIENT_ERROR", None),
        (WILL_QOS_2, DROP_CONNECTION, None, None),
        (WILL_TOPIC_SIZE, DROP_CONNECTION, None, None),
        (WILL_TOPIC_DEPTH, DROP_CONNECTION, None, None),
    ],
)
def test_what_happens_to_each_violation(limit, consequence, disconnect_reason, connack_code):
    assert (limit.consequence, limit.disconnect_reason, limit.connack_code) == (
        consequence, disconnect_reason, connack_code,
    )
    assert limit.source.startswith("https://") and limit.log_reason and limit.details


def test_every_limit_is_in_the_table_and_a_payload_over_the_limit_logs_aws_documented_reason():
    assert {limit.name for limit in limits.LIMITS} == {
        "client id size", "payload size", "QoS 2", "topic size", "topic depth", "subscriptions per SUBSCRIBE",
        "will QoS 2", "will topic size", "will topic depth",
    }
    assert (PAYLOAD_SIZE.log_reason, PAYLOAD_SIZE.details) == (
        "PAYLOAD_LIMIT_EXCEEDED", "Message payload exceeds size limit for message type.",
    )


@pytest.mark.parametrize(
    ("requested", "minimum", "applied"),
    [
        (0, 30, 1200),  # no keep-alive asked: AWS's default
        (1201, 30, 1200),
        (65535, 30, 1200),
        (1200, 30, 1200),
        (60, 30, 60),
        (30, 30, 30),
        (5, 30, 30),  # the 5 s client: AWS treats it as 30 s
        (1, 30, 30),
        (5, 1, 5),  # tests shrink the minimum
        (2, 1, 2),
    ],
)
def test_keep_alive_as_aws_applies_it(requested, minimum, applied):
    assert keep_alive_s(requested, minimum) == applied
    assert keep_alive_deadline_s(requested, minimum) == 1.5 * applied


def test_timeouts_come_from_the_environment_with_aws_like_defaults():
    assert Timeouts.from_env({}) == Timeouts(connect_s=10.0, tls_handshake_s=10.0, keep_alive_min_s=30)
    assert Timeouts.from_env({
        "LOCALCORE_MQTT_CONNECT_TIMEOUT_S": "0.5", "LOCALCORE_MQTT_TLS_TIMEOUT_S": "2",
        "LOCALCORE_MQTT_MIN_KEEP_ALIVE_S": "1",
    }) == Timeouts(connect_s=0.5, tls_handshake_s=2.0, keep_alive_min_s=1.0)


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "1e9"])
def test_a_bad_timeout_setting_stops_the_lab_with_a_clear_message(raw):
    with pytest.raises(SystemExit, match="LOCALCORE_MQTT_CONNECT_TIMEOUT_S"):
        Timeouts.from_env({"LOCALCORE_MQTT_CONNECT_TIMEOUT_S": raw})


# -- the lab's own topics stay within the limits ---------------------------------------------------


def _lab_topics() -> list[str]:
    """Every reserved topic the lab publishes or a device uses, with the longest names AWS allows."""
    topics = []
    for name in (None, SHADOW):
        for op in ("update", "get", "delete"):
            for suffix in ("accepted", "rejected"):
                topics.append(response_topic(THING, name, op, suffix))
        topics += [response_topic(THING, name, "update", "delta"), response_topic(THING, name, "update", "documents")]
    for suffix in ("notify", "notify-next", "get", "get/accepted", "start-next/accepted",
                   f"{JOB}/get/accepted", f"{JOB}/update/accepted", f"{JOB}/update/rejected"):
        topics.append(job_topic(THING, suffix))
    stamp = registry_events.Stamp("123456789012", 0, "id")
    thing = registry_events.ThingRecord(THING, "id", "arn", 1)
    group = registry_events.GroupRef(THING, "id", "arn")
    job = registry_events.JobRecord(JOB, "SNAPSHOT", ("arn",), None, 0, 0)
    events = [
        registry_events.thing_event("CREATED", thing, stamp),
        registry_events.thing_type_event("UPDATED", registry_events.ThingTypeRecord(THING, "id"), stamp),
        registry_events.thing_type_association_event("ADDED", thing, THING, stamp),
        registry_events.thing_group_event("DELETED", registry_events.ThingGroupRecord(group, 1), stamp),
        registry_events.thing_group_membership_event("REMOVED", group, thing, "m", stamp),
        registry_events.thing_group_hierarchy_event("ADDED", group, group, stamp),
        registry_events.certificate_registered_event("c" * 64, "c" * 64, "PENDING_ACTIVATION", 0, stamp),
        registry_events.job_event("deletion_in_progress", job, stamp),
        registry_events.job_execution_event("timed_out", JOB, "arn:aws:iot:r:1:thing/" + THING, "TIMED_OUT", {}, stamp),
    ]
    topics += [topic for topic, _payload in events]
    topics += [t.format(client_id="c" * 128) for t in (
        lifecycle_events.CONNECTED_TOPIC, lifecycle_events.DISCONNECTED_TOPIC,
        lifecycle_events.SUBSCRIBED_TOPIC, lifecycle_events.UNSUBSCRIBED_TOPIC,
    )]
    return topics


@pytest.mark.parametrize("topic", _lab_topics())
def test_a_subscriber_may_name_any_topic_of_the_lab_exactly(topic):
    assert subscribe_violation([(topic, 1)]) is None


@pytest.mark.parametrize("topic", [
    t for t in _lab_topics() if t.startswith("$aws/things/") and not t.endswith(("accepted", "rejected"))
] + [f"$aws/things/{THING}/shadow/name/{SHADOW}/update", f"$aws/things/{THING}/jobs/{JOB}/update"])
def test_a_device_may_publish_to_its_reserved_topics_with_the_longest_names(topic):
    assert publish_violation(topic, 10, 1) is None
