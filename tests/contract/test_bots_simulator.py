"""helpers.bots.bot against a real lab: a bot fetches its files from S3, connects as its thing, sends
heartbeats, and ends quietly as ``disconnected: certificate disabled`` when its certificate is deactivated.

The thing, certificate and policy are made here with boto3 (as ProvisionBot would make them), so
these tests do not depend on the state machines.
"""

from __future__ import annotations

import json
import stat
import time
import uuid

import pytest

from helpers.bots.bot import CERTIFICATE_DISABLED, BotFilesMissing, Fleet, s3_keys, topics
from helpers.console import MqttConsole
from labfixture import connect_to

pytestmark = pytest.mark.lab

DEADLINE_S = 15


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("bots-work"), prefix="botsim")


@pytest.fixture(scope="module")
def bucket(ws):
    name = f"bots-test-{uuid.uuid4().hex[:8]}"
    where = {} if ws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": ws.region}}
    ws.s3.create_bucket(Bucket=name, **where)
    return name


@pytest.fixture(scope="module")
def policy(ws):
    """The bots' policy as the interface of issue 11 words it (the stack makes it in the chapter)."""
    base = f"arn:aws:iot:{ws.region}:{ws.account_id}"
    name = ws.name(f"bot-policy-{uuid.uuid4().hex[:6]}")
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{base}:client/${{iot:Connection.Thing.ThingName}}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": f"{base}:topic/bots/${{iot:Connection.Thing.ThingName}}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": f"{base}:topicfilter/bots/${{iot:Connection.Thing.ThingName}}/*"}]}
    ws.iot.create_policy(policyName=name, policyDocument=json.dumps(document))
    return name


def provision(ws, bucket: str, policy: str) -> tuple[str, str]:
    """Thing, certificate, attachments and the two S3 objects; returns (thing name, certificate id)."""
    name = ws.name(f"bot-{uuid.uuid4().hex[:6]}")
    ws.iot.create_thing(thingName=name)
    created = ws.iot.create_keys_and_certificate(setAsActive=True)
    ws.iot.attach_policy(policyName=policy, target=created["certificateArn"])
    ws.iot.attach_thing_principal(thingName=name, principal=created["certificateArn"])
    cert_key, private_key = s3_keys(name)
    ws.s3.put_object(Bucket=bucket, Key=cert_key, Body=created["certificatePem"].encode())
    ws.s3.put_object(Bucket=bucket, Key=private_key, Body=created["keyPair"]["PrivateKey"].encode())
    return name, created["certificateId"]


def until(condition, what: str, deadline_s: float = DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {deadline_s} s: {what}"
        time.sleep(0.1)


def test_a_bot_sends_heartbeats_and_telemetry_as_its_thing(ws, bucket, policy):
    name, _cert = provision(ws, bucket, policy)
    fleet = Fleet(ws, bucket=bucket, interval_s=0.5)
    heartbeat_topic, telemetry_topic = topics(name)
    with MqttConsole(ws, filters=[f"bots/{name}/#"]) as console:
        try:
            bot = fleet.start(name)
            beat = console.wait_for(heartbeat_topic, timeout=DEADLINE_S)
            reading = console.wait_for(telemetry_topic, timeout=DEADLINE_S)
            second = console.wait_for(heartbeat_topic, lambda m: m.json["uptime_s"] > 0, timeout=DEADLINE_S)
        finally:
            fleet.stop_all()

    assert beat.json["thingName"] == name and set(beat.json) == {"thingName", "uptime_s", "ts"}
    assert set(reading.json) == {"thingName", "battery", "temperature", "ts"} and reading.json["battery"] == 100
    assert second.json["ts"] >= beat.json["ts"]
    assert bot.device.client_id == name
    for path in (bot.device.cert_path, bot.device.key_path):
        assert path.parent == ws.work_dir / "bots" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (fleet.status(name), bot.running, bot.device.connected) == ("offline", False, False)


def test_deactivating_the_certificate_disconnects_the_bot_for_good(ws, bucket, policy):
    name, cert = provision(ws, bucket, policy)
    fleet = Fleet(ws, bucket=bucket, interval_s=0.5)
    bot = fleet.start(name)
    try:
        assert fleet.status(name) == "online"

        ws.iot.update_certificate(certificateId=cert, newStatus="INACTIVE")

        until(lambda: fleet.status(name) == "disconnected" and not bot.running, "the bot disconnected and its thread ended")
        assert fleet.state(name) == CERTIFICATE_DISABLED
        assert bot.connections == 1  # no attempt to come back with a disabled certificate
    finally:
        fleet.stop_all()
    assert fleet.state(name) == CERTIFICATE_DISABLED  # stopping keeps saying why it went


def test_a_bot_without_files_in_the_bucket_says_so(ws, bucket):
    fleet = Fleet(ws, bucket=bucket)

    with pytest.raises(BotFilesMissing, match="provision the bot first"):
        fleet.start(ws.name("never-provisioned"))
