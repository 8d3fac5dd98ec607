"""The lab keeps what it holds across a clean stop, `kill -9` and a damaged state file; `reset` empties it.

Each test runs its own lab process (it is stopped and killed on purpose), driven with boto3, the AWS
CLI and paho as a trainee would.
"""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices import write_secret
from labfixture import RunningLab, free_port, unique
from localcore import lifecycle
from localcore.config import LabConfig

WAIT_S = 10
NOT_AUTHORIZED = 135
# What the lab promises: a change acknowledged this long before a kill -9 is back after the restart.
SAVED_WITHIN_S = 1.0


class RestartableLab(RunningLab):
    def start(self) -> None:
        self.info = lifecycle.start(self.config, quiet=True)

    def stop(self) -> None:
        assert lifecycle.stop(self.config, quiet=True)

    def kill9(self) -> None:
        pid = self.info.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + WAIT_S
        while lifecycle._pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not lifecycle._pid_alive(pid)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], env=self.env, capture_output=True, text=True, timeout=120)

    def status(self) -> dict:
        return lifecycle.status(self.config)


@pytest.fixture
def lab(tmp_path):
    config = LabConfig(home=tmp_path / "lab", http_port=free_port(), mqtt_port=free_port())
    running = RestartableLab(config, lifecycle.start(config, quiet=True))
    yield running
    lifecycle.stop(config, quiet=True)


def round_trip(lab: RunningLab, client_id: str, cert: Path, key: Path, topic: str) -> int | bytes:
    """Connect with these files, subscribe and publish to ``topic``; the payload received back, or
    the CONNACK code when the connection is refused."""
    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
    client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
    client.on_connect = lambda c, u, flags, rc, props: got.put(("connack", rc.value))
    client.on_disconnect = lambda c, u, flags, rc, props: got.put(("gone", rc.value))
    client.on_subscribe = lambda c, u, mid, codes, props: got.put(("suback", [x.value for x in codes]))
    client.on_message = lambda c, u, message: got.put(("message", message.payload))
    client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        kind, code = got.get(timeout=WAIT_S)
        if kind != "connack" or code != 0:
            return code if kind == "connack" else -1
        client.subscribe(topic, qos=1)
        assert got.get(timeout=WAIT_S) == ("suback", [1])
        client.publish(topic, b"still here", qos=1)
        kind, payload = got.get(timeout=WAIT_S)
        assert kind == "message", (kind, payload)
        return payload
    finally:
        client.disconnect()
        client.loop_stop()


def make_workshop_state(lab: RunningLab, tmp_path: Path) -> dict:
    """What a few chapters leave: types, things, groups, policies, a device, shadows, a job, S3, IAM,
    settings. Returns what to compare after the restart."""
    iot, s3, iam, data = lab.client("iot"), lab.client("s3"), lab.client("iam"), lab.client("iot-data")
    name = unique("kept")
    iot.create_thing_type(thingTypeName=f"{name}-type")
    thing = iot.create_thing(thingName=name, thingTypeName=f"{name}-type",
                             attributePayload={"attributes": {"room": "7"}})
    iot.create_thing_group(thingGroupName=f"{name}-group")
    iot.add_thing_to_thing_group(thingGroupName=f"{name}-group", thingName=name)
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive",
                                       "iot:RetainPublish"], "Resource": "*"}]}
    iot.create_policy(policyName=f"{name}-policy", policyDocument=json.dumps(document))
    keys = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=f"{name}-policy", target=keys["certificateArn"])
    iot.attach_thing_principal(thingName=name, principal=keys["certificateArn"])
    cert = write_secret(tmp_path / "devices" / f"{name}.crt", keys["certificatePem"])
    key = write_secret(tmp_path / "devices" / f"{name}.key", keys["keyPair"]["PrivateKey"])
    data.update_thing_shadow(thingName=name, payload=json.dumps({"state": {"reported": {"temp": 21}}}))
    s3.create_bucket(Bucket=f"{name}-bucket")
    s3.put_object(Bucket=f"{name}-bucket", Key="job.json", Body=b'{"operation": "reboot"}')
    iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]}))
    iot.create_job(jobId=f"{name}-job", targets=[thing["thingArn"]], document='{"operation": "reboot"}')
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return {'echo': event}\n")
    function = lab.client("lambda").create_function(
        FunctionName=f"{name}-fn", Runtime="python3.12", Role=f"arn:aws:iam::123456789012:role/{name}-role",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": archive.getvalue()})
    lab.client("lambda").add_permission(FunctionName=f"{name}-fn", StatementId="iot", Action="lambda:InvokeFunction",
                                        Principal="iot.amazonaws.com")
    iot.create_topic_rule(ruleName=name.replace("-", "_"), topicRulePayload={
        "sql": "SELECT * FROM 'kept/#'", "actions": [{"lambda": {"functionArn": function["FunctionArn"]}}]})
    iot.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})
    iot.set_v2_logging_options(roleArn=f"arn:aws:iam::123456789012:role/{name}-role", defaultLogLevel="WARN")
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY_AND_SHADOW"})
    return {"name": name, "cert": cert, "key": key, "certificateId": keys["certificateId"],
            "view": workshop_view(lab, name)}


def workshop_view(lab: RunningLab, name: str) -> dict:
    """Everything `make_workshop_state` made, as the APIs show it."""
    iot, s3, iam, data = lab.client("iot"), lab.client("s3"), lab.client("iam"), lab.client("iot-data")
    lam = lab.client("lambda")
    thing = iot.describe_thing(thingName=name)
    principals = iot.list_thing_principals(thingName=name)["principals"]
    shadow = json.loads(data.get_thing_shadow(thingName=name)["payload"].read())
    return {
        "thing": {k: thing[k] for k in ("thingId", "thingArn", "thingTypeName", "attributes", "version")},
        "groups": iot.list_thing_groups_for_thing(thingName=name)["thingGroups"],
        "principals": principals,
        "policies": [p["policyName"] for p in iot.list_attached_policies(target=principals[0])["policies"]],
        "certificate": iot.describe_certificate(certificateId=principals[0].rsplit("/", 1)[1])
        ["certificateDescription"]["status"],
        "shadow": (shadow["state"], shadow["version"]),
        "object": s3.get_object(Bucket=f"{name}-bucket", Key="job.json")["Body"].read(),
        "role": iam.get_role(RoleName=f"{name}-role")["Role"]["Arn"],
        "job": iot.describe_job(jobId=f"{name}-job")["job"]["status"],
        "execution": iot.describe_job_execution(jobId=f"{name}-job", thingName=name)["execution"]["status"],
        "events": iot.describe_event_configurations()["eventConfigurations"]["THING"],
        "logging": iot.get_v2_logging_options()["defaultLogLevel"],
        "indexing": iot.get_indexing_configuration()["thingIndexingConfiguration"]["thingIndexingMode"],
        "search": [t["thingName"] for t in iot.search_index(queryString=f"thingName:{name}")["things"]],
        "function": lam.get_function(FunctionName=f"{name}-fn")["Configuration"]["CodeSha256"],
        "invoked": json.loads(lam.invoke(FunctionName=f"{name}-fn", Payload=b'{"n": 1}')["Payload"].read()),
        "permission": [st["Sid"] for st in json.loads(lam.get_policy(FunctionName=f"{name}-fn")["Policy"])["Statement"]],
        "rule": iot.get_topic_rule(ruleName=name.replace("-", "_"))["rule"]["sql"],
    }


def test_a_clean_stop_and_start_keep_everything_and_devices_reconnect_with_their_old_files(lab, tmp_path):
    made = make_workshop_state(lab, tmp_path)
    assert round_trip(lab, made["name"], made["cert"], made["key"], "iot/ws") == b"still here"
    lab.stop()
    lab.start()
    assert workshop_view(lab, made["name"]) == made["view"]
    assert round_trip(lab, made["name"], made["cert"], made["key"], "iot/ws") == b"still here"
    status = lab.cli("localcore", "status")
    assert "restored at start" in status.stdout and "state         saved" in status.stdout, status.stdout


def test_kill_9_keeps_what_was_acknowledged_a_second_before(lab, tmp_path):
    made = make_workshop_state(lab, tmp_path)
    time.sleep(SAVED_WITHIN_S)  # the promise is about changes at least this old; no condition to poll
    lab.kill9()
    lab.start()
    assert workshop_view(lab, made["name"]) == made["view"]
    assert round_trip(lab, made["name"], made["cert"], made["key"], "iot/ws") == b"still here"


def test_a_retained_message_is_kept_across_a_restart(lab, tmp_path):
    made = make_workshop_state(lab, tmp_path)
    topic = f"kept/{made['name']}/status"
    assert publish_retained(lab, made, topic, b"online") == 0
    lab.stop()
    lab.start()
    assert round_trip(lab, made["name"], made["cert"], made["key"], topic) == b"online"  # retained first


def publish_retained(lab: RunningLab, made: dict, topic: str, payload: bytes) -> int:
    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=made["name"], reconnect_on_failure=False)
    client.tls_set(ca_certs=str(lab.root_ca), certfile=str(made["cert"]), keyfile=str(made["key"]))
    client.on_connect = lambda c, u, flags, rc, props: got.put(rc.value)
    client.on_publish = lambda c, u, mid, rc, props: got.put("acked")
    client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        code = got.get(timeout=WAIT_S)
        if code == 0:
            client.publish(topic, payload, qos=1, retain=True)
            assert got.get(timeout=WAIT_S) == "acked"
        return code
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_aws_cli_sees_the_same_registry_after_a_restart(lab):
    created = lab.cli("awscli", "iot", "create-thing", "--thing-name", "cli-kept", "--output", "json")
    assert created.returncode == 0, created.stderr
    lab.stop()
    lab.start()
    described = lab.cli("awscli", "iot", "describe-thing", "--thing-name", "cli-kept", "--output", "json")
    assert json.loads(described.stdout)["thingId"] == json.loads(created.stdout)["thingId"]


def test_the_state_file_is_private_and_a_damaged_one_is_moved_aside(lab):
    lab.client("iot").create_thing(thingName="before-damage")
    lab.stop()
    path = lab.config.home / "snapshot.bin"
    assert path.stat().st_mode & 0o077 == 0
    path.write_bytes(path.read_bytes()[:-50])
    started = lab.cli("localcore", "start")
    assert started.returncode == 0 and "could not be loaded" in started.stdout, started.stdout
    lab.info = lifecycle.read_state(lab.config)
    assert lab.client("iot").list_things()["things"] == []
    assert list(lab.config.home.glob("snapshot.unreadable-*.bin"))
    assert "could not be loaded" in lab.cli("localcore", "status").stdout
    lab.client("iot").create_thing(thingName="after-damage")  # the lab serves and saves again
    lab.stop()
    lab.start()
    assert [t["thingName"] for t in lab.client("iot").list_things()["things"]] == ["after-damage"]


def test_reset_empties_the_lab_and_keeps_its_ca(lab, tmp_path):
    made = make_workshop_state(lab, tmp_path)
    root_ca = lab.root_ca.read_bytes()
    refused = lab.cli("localcore", "reset")  # not a terminal: asks for --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert lab.client("iot").describe_thing(thingName=made["name"])["thingName"] == made["name"]
    reset = lab.cli("localcore", "reset", "--yes")
    assert reset.returncode == 0, reset.stderr
    lab.info = lifecycle.read_state(lab.config)
    assert lab.client("iot").list_things()["things"] == []
    assert lab.root_ca.read_bytes() == root_ca
    # the old device's certificate is unknown now: the connection is refused, "Not authorized"
    # (CONNACK 5, which paho's version-2 API reports as reason code 135)
    assert round_trip(lab, made["name"], made["cert"], made["key"], "iot/ws") == NOT_AUTHORIZED


def test_a_bulk_registration_task_killed_midway_resumes_and_provisions_each_line_once(tmp_path, monkeypatch):
    # paced at 1 ms a line, the 3000 lines take at least 3 s: the kill after 1 s lands midway
    monkeypatch.setenv("LOCALCORE_DELAY_BULK_LINE", "0.001")
    config = LabConfig(home=tmp_path / "lab", http_port=free_port(), mqtt_port=free_port())
    lab = RestartableLab(config, lifecycle.start(config, quiet=True))
    try:
        _kill_midway_and_resume(lab)
    finally:
        lifecycle.stop(config, quiet=True)


def _kill_midway_and_resume(lab):
    iot, s3, iam = lab.client("iot"), lab.client("s3"), lab.client("iam")
    count = 3000
    s3.create_bucket(Bucket="resume-bulk")
    s3.put_object(Bucket="resume-bulk", Key="things.json",
                  Body="".join(json.dumps({"ThingName": f"resumed{i}"}) + "\n" for i in range(count)).encode())
    role = iam.create_role(RoleName="resume-bulk", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    template = {"Parameters": {"ThingName": {"Type": "String"}},
                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "ThingName"}}}}}
    task_id = iot.start_thing_registration_task(templateBody=json.dumps(template), inputFileBucket="resume-bulk",
                                                inputFileKey="things.json", roleArn=role)["taskId"]
    time.sleep(SAVED_WITHIN_S)  # the task's start is then old enough to be kept; no condition to poll
    before = iot.describe_thing_registration_task(taskId=task_id)
    lab.kill9()
    assert before["status"] == "InProgress" and before["successCount"] < count, "killed midway"
    lab.start()
    deadline = time.monotonic() + 120
    while (described := iot.describe_thing_registration_task(taskId=task_id))["status"] == "InProgress":
        assert time.monotonic() < deadline, described
        time.sleep(0.1)
    assert (described["status"], described["successCount"], described["failureCount"]) == ("Completed", count, 0)
    link = iot.list_thing_registration_task_reports(taskId=task_id, reportType="RESULTS")["resourceLinks"][0]
    import urllib.request

    with urllib.request.urlopen(link, timeout=30) as response:  # noqa: S310 - the lab on loopback
        offsets = [json.loads(line)["offset"] for line in response.read().decode().splitlines()]
    assert sorted(offsets) == list(range(count)), "each line is provisioned exactly once"
    assert len(list_all_things(iot)) == count


def list_all_things(iot) -> list[str]:
    return [t["thingName"] for page in iot.get_paginator("list_things").paginate() for t in page["things"]]
