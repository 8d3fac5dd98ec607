"""Fine-grained logging as the workshop drives it: options at WARN with a role, DEBUG for one thing
group, devices inside and outside the group publishing allowed and refused messages, and the
entries found in AWSIotLogsV2 with the AWS CLI's filter patterns. Every wait polls a condition
against a deadline."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from devices import write_secret
from labfixture import unique

AWS = Path(sys.executable).with_name("aws")
pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv (pip install awscli)")

GROUP_LOG = "AWSIotLogsV2"
WAIT_S = 15.0
POLL_S = 0.1
ROLE = "arn:aws:iam::123456789012:role/iot-dm-logging"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\Z")


class Device:
    """A paho client over mutual TLS; waits are on queues and events with a timeout."""

    def __init__(self, lab, client_id: str, cert: Path, key: Path) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
        self.lab = lab
        self.connacks: queue.Queue = queue.Queue()
        self.published: queue.Queue = queue.Queue()
        self.gone = threading.Event()
        self.client.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc.value)
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.gone.set()
        self.client.on_publish = lambda c, u, mid, rc, props: self.published.put(mid)

    def connect(self) -> int:
        self.client.connect(self.lab.mqtt_host, self.lab.mqtt_port, keepalive=30)
        self.client.loop_start()
        return self.connacks.get(timeout=WAIT_S)

    def publish_acknowledged(self, topic: str) -> None:
        """A QoS 1 publish the broker accepts (PUBACK received)."""
        mid = self.client.publish(topic, b'{"temperature": 21}', qos=1).mid
        assert self.published.get(timeout=WAIT_S) == mid

    def publish_refused(self, topic: str) -> None:
        """A publish the policy refuses: AWS IoT closes the connection."""
        self.client.publish(topic, b"{}", qos=1)
        assert self.gone.wait(WAIT_S), "the broker did not disconnect the client"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def aws(lab):
    def run(*args: str) -> dict:
        result = subprocess.run([str(AWS), *args, "--output", "json"], check=False, env=lab.env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}
    return run


@pytest.fixture
def iot(lab):
    return lab.client("iot")


@pytest.fixture
def logs(lab):
    return lab.client("logs")


@pytest.fixture
def workshop_logging(aws, iot):
    """WARN by default with a role, DEBUG for a new thing group (as the workshop's chapter does);
    afterwards the level is deleted and all logs disabled, so other tests write none."""
    group = unique("building-one")
    iot.create_thing_group(thingGroupName=group)
    aws("iot", "set-v2-logging-options", "--role-arn", ROLE, "--default-log-level", "WARN")
    aws("iot", "set-v2-logging-level", "--log-level", "DEBUG",
        "--log-target", json.dumps({"targetType": "THING_GROUP", "targetName": group}))
    yield group
    iot.delete_v2_logging_level(targetType="THING_GROUP", targetName=group)
    iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=True)


@pytest.fixture
def make_device(lab, iot, tmp_path):
    """A thing named like its client id, with a certificate whose policy allows connecting,
    publishing to telemetry/<client id> and nothing else."""
    made: list[Device] = []
    policy = unique("log-policy")
    iot.create_policy(policyName=policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:ClientId}"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/telemetry/${iot:ClientId}"},
    ]}))

    def make(name: str, group: str | None = None) -> tuple[Device, str]:
        keys = iot.create_keys_and_certificate(setAsActive=True)
        iot.create_thing(thingName=name)
        iot.attach_thing_principal(thingName=name, principal=keys["certificateArn"])
        iot.attach_policy(policyName=policy, target=keys["certificateArn"])
        if group is not None:
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
        cert = write_secret(tmp_path / f"{name}.crt", keys["certificatePem"])
        key = write_secret(tmp_path / f"{name}.key", keys["keyPair"]["PrivateKey"])
        device = Device(lab, name, cert, key)
        made.append(device)
        return device, keys["certificateId"]

    yield make
    for device in made:
        device.close()


def entries(logs, pattern: str, start_ms: int, **params) -> list[dict]:
    found, token = [], None
    params = {name: value for name, value in {"logGroupName": GROUP_LOG, **params}.items() if value is not None}
    while True:
        page = logs.filter_log_events(startTime=start_ms, filterPattern=pattern, **params,
                                      **({"nextToken": token} if token else {}))
        found += [json.loads(event["message"]) for event in page["events"]]
        token = page.get("nextToken")
        if not token:
            return found


def wait_for(logs, pattern: str, start_ms: int, condition) -> list[dict]:
    """Poll FilterLogEvents until ``condition(entries)`` holds; return the entries."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = entries(logs, pattern, start_ms) if _group_exists(logs) else []
        if condition(found):
            return found
        assert time.monotonic() < deadline, f"no log entries for {pattern!r} met the condition: {found}"
        time.sleep(POLL_S)


def _group_exists(logs) -> bool:
    return any(g["logGroupName"] == GROUP_LOG for g in logs.describe_log_groups(logGroupNamePrefix=GROUP_LOG)["logGroups"])


def refused_publish(client_id: str):
    return lambda found: any(e["clientId"] == client_id and e["eventType"] == "Publish-In" for e in found)


def test_a_thing_group_at_debug_logs_its_members_info_and_only_errors_of_others(
        lab, aws, logs, workshop_logging, make_device):
    start_ms = int(time.time() * 1000) - 1000
    member_id, outsider_id = unique("group-member"), unique("outsider")
    member, member_cert = make_device(member_id, group=workshop_logging)
    outsider, _ = make_device(outsider_id)
    for client_id, device in ((member_id, member), (outsider_id, outsider)):
        assert device.connect() == 0
        device.publish_acknowledged(f"telemetry/{client_id}")
        device.publish_refused(f"telemetry/{client_id}_foo")

    # ERROR entries: the refused publish of both (ERROR is within WARN and within DEBUG).
    errors = wait_for(logs, "{$.logLevel = ERROR}", start_ms,
                      lambda found: refused_publish(member_id)(found) and refused_publish(outsider_id)(found))
    for client_id in (member_id, outsider_id):
        refusal = next(e for e in errors if e["clientId"] == client_id and e["eventType"] == "Publish-In")
        assert refusal["status"] == "Failure" and refusal["reason"] == "AUTHORIZATION_FAILURE"
        assert refusal["topicName"] == f"telemetry/{client_id}_foo" and refusal["details"]

    # INFO entries, with the workshop's own command: the member's connect and publish, nothing of the outsider.
    # The outsider's refusal is already written, and entries are written in order, so its INFO would be too.
    found = aws("logs", "filter-log-events", "--log-group-name", GROUP_LOG, "--start-time", str(start_ms),
                "--filter-pattern", "{$.logLevel = INFO}")
    info = [json.loads(event["message"]) for event in found["events"]]
    member_info = {e["eventType"] for e in info if e["clientId"] == member_id}
    assert {"Connect", "Publish-In"} <= member_info
    assert not [e for e in info if e.get("clientId") == outsider_id]
    publish = next(e for e in info if e["clientId"] == member_id and e["eventType"] == "Publish-In")
    assert publish["topicName"] == f"telemetry/{member_id}" and publish["principalId"] == member_cert
    assert publish["status"] == "Success" and publish["protocol"] == "MQTT" and publish["accountId"] == lab.config.account_id
    assert TIMESTAMP.match(publish["timestamp"]) and publish["sourceIp"] and isinstance(publish["sourcePort"], int)
    assert str(uuid.UUID(publish["traceId"])) == publish["traceId"]

    # The workshop's third search: every entry of one client, and only that client's.
    by_client = aws("logs", "filter-log-events", "--log-group-name", GROUP_LOG, "--start-time", str(start_ms),
                    "--filter-pattern", f"{{$.clientId = {member_id}}}")
    mine = [json.loads(event["message"]) for event in by_client["events"]]
    assert mine and {e["clientId"] for e in mine} == {member_id}
    assert {"Connect", "Publish-In", "Disconnect"} <= {e["eventType"] for e in mine}


def test_levels_round_trip_through_the_cli(aws, workshop_logging):
    assert aws("iot", "get-v2-logging-options") == {"roleArn": ROLE, "defaultLogLevel": "WARN", "disableAllLogs": False}
    aws("iot", "set-v2-logging-level", "--log-level", "ERROR",
        "--log-target", '{"targetType": "CLIENT_ID", "targetName": "noisy-device"}')

    levels = aws("iot", "list-v2-logging-levels")["logTargetConfigurations"]

    assert levels[0] == {"logTarget": {"targetType": "DEFAULT"}, "logLevel": "WARN"}
    assert {"logTarget": {"targetType": "THING_GROUP", "targetName": workshop_logging}, "logLevel": "DEBUG"} in levels
    assert {"logTarget": {"targetType": "CLIENT_ID", "targetName": "noisy-device"}, "logLevel": "ERROR"} in levels
    aws("iot", "delete-v2-logging-level", "--target-type", "CLIENT_ID", "--target-name", "noisy-device")
    groups_only = aws("iot", "list-v2-logging-levels", "--target-type", "THING_GROUP")["logTargetConfigurations"]
    assert {"targetType": "THING_GROUP", "targetName": workshop_logging} in [c["logTarget"] for c in groups_only]
    assert all(c["logTarget"]["targetType"] == "THING_GROUP" for c in groups_only)


def test_deleting_the_group_level_stops_the_members_info_entries(aws, logs, workshop_logging, make_device):
    start_ms = int(time.time() * 1000) - 1000
    member_id = unique("group-member")
    member, _ = make_device(member_id, group=workshop_logging)
    assert member.connect() == 0
    member.publish_acknowledged(f"telemetry/{member_id}")
    wait_for(logs, f"{{$.clientId = {member_id} && $.logLevel = INFO}}", start_ms, bool)

    aws("iot", "delete-v2-logging-level", "--target-type", "THING_GROUP", "--target-name", workshop_logging)
    member.client.publish(f"telemetry/{member_id}", b"after", qos=1)  # now at WARN: not logged
    member.publish_refused(f"telemetry/{member_id}_foo")  # logged at ERROR, after the one above

    wait_for(logs, "{$.logLevel = ERROR}", start_ms, refused_publish(member_id))
    info = entries(logs, f"{{ $.clientId = {member_id} && $.logLevel = INFO && $.eventType = Publish-In }}", start_ms)
    assert len(info) == 1  # the publish before the level was deleted


def test_filter_log_events_refuses_a_bad_pattern(lab, logs, workshop_logging, make_device):
    client_id = unique("pattern")
    device, _ = make_device(client_id)
    assert device.connect() == 0  # its refused publish makes sure the log group exists
    device.publish_refused("not/allowed")
    wait_for(logs, f'"{client_id}"', 0, bool)

    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=GROUP_LOG, filterPattern="{ $.logLevel = }")


def test_pages_and_group_identifiers_give_the_same_entries(lab, logs, workshop_logging, make_device):
    start_ms = int(time.time() * 1000) - 1000
    member_id = unique("group-member")
    member, _ = make_device(member_id, group=workshop_logging)
    assert member.connect() == 0
    for n in range(3):
        member.publish_acknowledged(f"telemetry/{member_id}")
    member.publish_refused(f"telemetry/{member_id}_foo")
    pattern = f"{{$.clientId = {member_id}}}"
    whole = wait_for(logs, pattern, start_ms, lambda found: any(e["eventType"] == "Disconnect" for e in found))
    group_arn = f"arn:aws:logs:{lab.config.region}:{lab.config.account_id}:log-group:{GROUP_LOG}"

    assert entries(logs, pattern, start_ms, limit=1) == whole
    assert entries(logs, pattern, start_ms, logGroupName=None, logGroupIdentifier=group_arn) == whole
    assert [e["eventType"] for e in whole].count("Publish-In") == 4
