"""Fine-grained logging: level resolution, entry shapes (pure), and the lab's logger over a stub lab."""

from __future__ import annotations

import json
import queue
import threading
from types import SimpleNamespace

import pytest

from localcore.aws.iot_logging import REVISION, IotLogging
from localcore.iot import iot_logs
from localcore.iot.iot_logs import (
    CLIENT_ID,
    DEBUG,
    DISABLED,
    ERROR,
    INFO,
    PRINCIPAL_ID,
    SOURCE_IP,
    THING_GROUP,
    WARN,
    LogSubject,
    resolve_level,
    wanted,
)

ROLE = "arn:aws:iam::123456789012:role/iot-logging"
WARN_OPTIONS = {"roleArn": ROLE, "defaultLogLevel": WARN, "disableAllLogs": False}
ACCOUNT = "123456789012"

# Groups used below: building-one > floor-1 > room-a, and an unrelated group "sensors".
IN_ROOM_A = (("room-a", "floor-1", "building-one"),)
IN_FLOOR_1 = (("floor-1", "building-one"),)
DEVICE = LogSubject("device-1", "cert-1", "10.0.0.5", IN_ROOM_A)
LONER = LogSubject("loner", "cert-9", "10.0.0.9", ())

RESOLUTION_CASES = [
    # id, options, levels, subject, event type, expected
    ("no options: nothing is logged", None, {}, DEVICE, None, DISABLED),
    ("options without a role: nothing is logged", {"defaultLogLevel": DEBUG}, {}, DEVICE, None, DISABLED),
    ("disableAllLogs beats every target", {**WARN_OPTIONS, "disableAllLogs": True},
     {(CLIENT_ID, "device-1"): DEBUG}, DEVICE, None, DISABLED),
    ("no target: the default level", WARN_OPTIONS, {}, DEVICE, None, WARN),
    ("options without a default level: ERROR", {"roleArn": ROLE}, {}, DEVICE, None, ERROR),
    ("client id target", WARN_OPTIONS, {(CLIENT_ID, "device-1"): DEBUG}, DEVICE, None, DEBUG),
    ("another client's target does not apply", WARN_OPTIONS, {(CLIENT_ID, "device-2"): DEBUG}, DEVICE, None, WARN),
    ("principal target", WARN_OPTIONS, {(PRINCIPAL_ID, "cert-1"): INFO}, DEVICE, None, INFO),
    ("source IP target", WARN_OPTIONS, {(SOURCE_IP, "10.0.0.5"): ERROR}, DEVICE, None, ERROR),
    ("the thing's own group", WARN_OPTIONS, {(THING_GROUP, "room-a"): DEBUG}, DEVICE, None, DEBUG),
    ("a parent group's level reaches the child's things", WARN_OPTIONS,
     {(THING_GROUP, "floor-1"): INFO}, DEVICE, None, INFO),
    ("a grandparent group's level reaches them too", WARN_OPTIONS,
     {(THING_GROUP, "building-one"): DEBUG}, DEVICE, None, DEBUG),
    ("a child group overrides its parent", WARN_OPTIONS,
     {(THING_GROUP, "floor-1"): DEBUG, (THING_GROUP, "room-a"): ERROR}, DEVICE, None, ERROR),
    ("the nearest ancestor with a level wins", WARN_OPTIONS,
     {(THING_GROUP, "building-one"): ERROR, (THING_GROUP, "floor-1"): DEBUG}, DEVICE, None, DEBUG),
    ("in a group and in its parent directly: the child still wins", WARN_OPTIONS,
     {(THING_GROUP, "floor-1"): DEBUG, (THING_GROUP, "room-a"): ERROR},
     LogSubject("device-1", None, None, IN_ROOM_A + IN_FLOOR_1), None, ERROR),
    ("two unrelated groups: the more verbose", WARN_OPTIONS,
     {(THING_GROUP, "room-a"): ERROR, (THING_GROUP, "sensors"): INFO},
     LogSubject("device-1", None, None, IN_ROOM_A + (("sensors",),)), None, INFO),
    ("a DISABLED group silences its things", WARN_OPTIONS, {(THING_GROUP, "room-a"): DISABLED}, DEVICE, None, DISABLED),
    ("a thing in no group gets the default", WARN_OPTIONS, {(THING_GROUP, "room-a"): DEBUG}, LONER, None, WARN),
    ("client id beats thing group", WARN_OPTIONS,
     {(CLIENT_ID, "device-1"): ERROR, (THING_GROUP, "room-a"): DEBUG}, DEVICE, None, ERROR),
    ("client id beats principal", WARN_OPTIONS,
     {(CLIENT_ID, "device-1"): INFO, (PRINCIPAL_ID, "cert-1"): DEBUG}, DEVICE, None, INFO),
    ("principal beats source IP", WARN_OPTIONS,
     {(PRINCIPAL_ID, "cert-1"): ERROR, (SOURCE_IP, "10.0.0.5"): DEBUG}, DEVICE, None, ERROR),
    ("source IP beats thing group", WARN_OPTIONS,
     {(SOURCE_IP, "10.0.0.5"): INFO, (THING_GROUP, "room-a"): DEBUG}, DEVICE, None, INFO),
    ("an event configuration overrides the default for its event type",
     {**WARN_OPTIONS, "eventConfigurations": [{"eventType": "Publish-In", "logLevel": DEBUG}]},
     {}, DEVICE, "Publish-In", DEBUG),
    ("an event configuration leaves other event types alone",
     {**WARN_OPTIONS, "eventConfigurations": [{"eventType": "Publish-In", "logLevel": DEBUG}]},
     {}, DEVICE, "Connect", WARN),
    ("a target beats an event configuration",
     {**WARN_OPTIONS, "eventConfigurations": [{"eventType": "Publish-In", "logLevel": DEBUG}]},
     {(CLIENT_ID, "device-1"): ERROR}, DEVICE, "Publish-In", ERROR),
    ("no client id: only the default applies", WARN_OPTIONS,
     {(CLIENT_ID, "device-1"): DEBUG}, LogSubject(None, None, None, ()), None, WARN),
]


@pytest.mark.parametrize("options, levels, subject, event_type, expected",
                         [case[1:] for case in RESOLUTION_CASES], ids=[case[0] for case in RESOLUTION_CASES])
def test_level_resolution(options, levels, subject, event_type, expected):
    assert resolve_level(options, levels, subject, event_type) == expected


@pytest.mark.parametrize("client_level, entry_level, expected", [
    (WARN, ERROR, True), (WARN, WARN, True), (WARN, INFO, False), (INFO, WARN, True), (INFO, DEBUG, False),
    (DEBUG, DEBUG, True), (ERROR, ERROR, True), (ERROR, WARN, False), (DISABLED, ERROR, False),
    (DEBUG, DISABLED, False),
], ids=lambda value: str(value))
def test_which_entries_a_level_wants(client_level, entry_level, expected):
    assert wanted(client_level, entry_level) is expected


@pytest.mark.parametrize("event_type, failed, expected", [
    ("Publish-In", False, INFO), ("Publish-In", True, ERROR), ("StartingRuleExecution", False, DEBUG),
    ("RuleExecution", True, ERROR),
], ids=["success is INFO", "failure is ERROR", "starting a rule is DEBUG", "a failed rule is ERROR"])
def test_entry_levels(event_type, failed, expected):
    assert iot_logs.entry_level(event_type, failed) == expected


@pytest.mark.parametrize("epoch_s, text", [
    (0.0, "1970-01-01 00:00:00.000"),
    (1714558502.123, "2024-05-01 10:15:02.123"),
    (1714558502.9996, "2024-05-01 10:15:02.999"),
], ids=["epoch", "milliseconds", "truncated, never rounded up"])
def test_timestamp_format(epoch_s, text):
    assert iot_logs.timestamp_text(epoch_s) == text


MQTT_CLIENT = {"protocol": "MQTT", "clientId": "group-member", "principalId": "ab12", "sourceIp": "203.0.113.10",
               "sourcePort": 50514}


def entry(event_type, level, **fields):
    return iot_logs.log_entry(event_type, level, account_id=ACCOUNT, epoch_s=1714558502.123, trace_id="t-1", **fields)


def test_publish_in_entry_has_aws_shape_and_order():
    built = entry("Publish-In", INFO, **MQTT_CLIENT, **iot_logs.publish_in_fields("telemetry/one", False))
    assert list(built.items()) == [
        ("timestamp", "2024-05-01 10:15:02.123"), ("logLevel", INFO), ("traceId", "t-1"), ("accountId", ACCOUNT),
        ("status", "Success"), ("eventType", "Publish-In"), ("protocol", "MQTT"), ("topicName", "telemetry/one"),
        ("clientId", "group-member"), ("principalId", "ab12"), ("sourceIp", "203.0.113.10"), ("sourcePort", 50514),
    ]


def test_refused_publish_is_an_authorisation_failure_with_reason_and_details_last():
    built = entry("Publish-In", ERROR, **MQTT_CLIENT, **iot_logs.publish_in_fields("not/mine", False, "AUTH_ERROR"))
    assert built["status"] == "Failure"
    assert list(built)[-2:] == ["reason", "details"]
    assert (built["reason"], built["details"]) == ("AUTHORIZATION_FAILURE", "Authorization Failure")


@pytest.mark.parametrize("fields, expected", [
    (iot_logs.publish_in_fields("t", True), {"topicName": "t", "retain": "True"}),
    (iot_logs.publish_in_fields("$aws/x", False, "CLIENT_ERROR"), {"topicName": "$aws/x", "reason": "CLIENT_ERROR"}),
    (iot_logs.disconnect_fields("CLIENT_INITIATED_DISCONNECT")[1], {"disconnectReason": "CLIENT_INITIATED_DISCONNECT"}),
    (iot_logs.disconnect_fields("DUPLICATE_CLIENTID")[1],
     {"disconnectReason": "DUPLICATE_CLIENTID", "reason": "DUPLICATE_CLIENT_ID"}),
], ids=["retained publish", "forbidden $ topic", "client disconnect", "duplicate client id"])
def test_event_fields(fields, expected):
    assert fields == expected


@pytest.mark.parametrize("reason, level", [("CLIENT_INITIATED_DISCONNECT", INFO), ("DUPLICATE_CLIENTID", ERROR)])
def test_disconnect_levels(reason, level):
    assert iot_logs.disconnect_fields(reason)[0] == level


def test_none_fields_are_left_out():
    built = entry("Connect", ERROR, **{**MQTT_CLIENT, "principalId": None}, reason="AUTHENTICATION_FAILURE")
    assert "principalId" not in built and built["details"] == "Authentication Failure"


def test_rule_execution_entry():
    fields = iot_logs.rule_fields("to_lambda", "telemetry/one", "group-member", "ab12", action="LambdaAction",
                                  resources={"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"})
    built = entry("RuleExecution", INFO, **fields)
    assert list(built)[5:] == ["eventType", "topicName", "clientId", "principalId", "ruleName", "ruleAction", "resources"]
    assert built["resources"] == {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}


def test_failed_rule_execution_carries_the_error():
    built = entry("RuleExecution", ERROR, **iot_logs.rule_fields("r", "t", None, None, action="RepublishAction",
                                                                  error="ResourceNotFoundException: no topic"))
    assert (built["status"], built["reason"], built["details"]) == (
        "Failure", "RULE_ACTION_FAILURE", "ResourceNotFoundException: no topic")
    assert "clientId" not in built


# -- the lab's logger, over a stub lab (no moto, no broker) -------------------------------------------

class StubLab:
    def __init__(self) -> None:
        self.generation = 0
        self.logging = {"options": None, "levels": {}}
        self.lock = threading.RLock()
        self.config = SimpleNamespace(account_id=ACCOUNT)
        thing = SimpleNamespace(arn=self.arn("thing", "member"))
        self.iot = SimpleNamespace(
            things={thing.arn: thing},
            thing_groups={"g": SimpleNamespace(thing_group_name="building-one", parent_group_name=None,
                                               things={thing.arn: thing})},
        )

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:us-east-1:{ACCOUNT}:{kind}/{name}"

    def configure(self, options=None, levels=None) -> None:
        """What the settings handlers do: replace the settings and bump the revision."""
        if options is not None:
            self.logging["options"] = options
        if levels is not None:
            self.logging["levels"] = levels
        self.logging[REVISION] = self.logging.get(REVISION, 0) + 1


@pytest.fixture
def stub():
    lab = StubLab()
    logger = IotLogging(lab)
    written: queue.Queue = queue.Queue()
    logger.write = lambda batch: [written.put(json.loads(message)) for _ms, message in batch]  # type: ignore[method-assign]
    return lab, logger, written


def test_logger_writes_only_wanted_entries(stub):
    lab, logger, written = stub
    lab.configure(WARN_OPTIONS, {(THING_GROUP, "building-one"): DEBUG})
    logger.log("Publish-In", INFO, clientId="outsider", topicName="a")  # WARN: dropped
    logger.log("Publish-In", INFO, clientId="member", topicName="b", traceId="given")  # DEBUG: written
    got = written.get(timeout=5)
    assert (got["clientId"], got["topicName"], got["traceId"], got["accountId"]) == ("member", "b", "given", ACCOUNT)
    assert written.empty()


def test_logger_sees_level_changes_and_registry_changes(stub):
    lab, logger, _written = stub
    lab.configure(WARN_OPTIONS)
    assert logger.level_for("member", None, None) == WARN
    lab.configure(levels={(THING_GROUP, "building-one"): DEBUG})
    assert logger.level_for("member", None, None) == DEBUG
    lab.iot.thing_groups["g"].things.clear()  # the member leaves the group...
    lab.generation += 1  # ...and the registry hooks bump the generation
    assert logger.level_for("member", None, None) == WARN


def test_logger_writes_nothing_without_a_role(stub):
    lab, logger, written = stub
    lab.configure({"defaultLogLevel": DEBUG})
    logger.log("Connect", ERROR, clientId="member")
    lab.configure({**WARN_OPTIONS})
    logger.log("Connect", ERROR, clientId="member", topicName="second")
    assert written.get(timeout=5)["topicName"] == "second"


def test_the_lab_keeps_the_newest_entries_of_its_log_stream(tmp_path, monkeypatch):
    """A busy fleet logging at INFO must not grow the lab's memory without bound: the stream keeps
    the newest KEEP_ENTRIES entries (a lab limit; AWS keeps a log group's entries for its retention)."""
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from labfixture import in_process_lab

    from localcore.aws import iot_logging

    monkeypatch.setattr(iot_logging, "KEEP_ENTRIES", 5)
    with in_process_lab(tmp_path / "home") as lab:
        logger = iot_logging.IotLogging(lab)
        now_ms = int(time.time() * 1000)
        logger.write([(now_ms + i, f"entry {i}") for i in range(4)])
        logger.write([(now_ms + 10 + i, f"entry {4 + i}") for i in range(4)])
        stream = lab.backend("logs").groups[iot_logs.LOG_GROUP].streams[logger.stream]
        assert [event.message for event in stream.events] == [f"entry {i}" for i in range(3, 8)]


def test_entries_beyond_the_waiting_limit_are_dropped_and_counted(stub, monkeypatch):
    from localcore.aws import iot_logging

    lab, logger, written = stub
    monkeypatch.setattr(iot_logging, "QUEUE_LIMIT", 3)
    logger._start_writer = lambda: None  # no writer: entries stay waiting
    lab.configure(WARN_OPTIONS, {(THING_GROUP, "building-one"): DEBUG})
    for n in range(5):
        logger.log("Publish-In", INFO, clientId="member", topicName=f"t/{n}")
    assert logger._queue.qsize() == 3 and logger.dropped == 2
