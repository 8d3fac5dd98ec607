"""The aws backend's code path against the lab, with the rehearsal switch (README "Running on AWS").

These drive the README's rehearsal steps: ``eval "$(python -m localcore env)"``, then
``WORKSHOP_BACKEND=aws WORKSHOP_REHEARSAL=1``. connect() then takes boto3's default session
(credentials, region and endpoint from the environment, as on AWS), asks DescribeEndpoint, takes
Amazon Root CA 1 from certifi, and differs from a real AWS run only in the lab's MQTT port and root
CA (and the iot-data endpoint). Without the switch the same settings are a `LoopbackEndpoint`.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from helpers import root_ca, waits, workshop
from helpers.certs import save_device
from helpers.device import Device
from helpers.endpoints import LoopbackEndpoint
from labfixture import console_device

pytestmark = pytest.mark.lab

TOPIC = "iot/rehearsal"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:*:*:topic/{TOPIC}"},
    ],
}


@pytest.fixture
def lab_shell(lab, tmp_path, monkeypatch):
    """The kernel's environment after ``eval "$(python -m localcore env)"`` and ``WORKSHOP_BACKEND=aws``."""
    for name in ("AWS_PROFILE", "WORKSHOP_REHEARSAL", "WORKSHOP_ROOT_CA", "WORKSHOP_MQTT_PORT", "WORKSHOP_MQTT_ALPN",
                 "WORKSHOP_PREFIX", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in lab.config.env_exports().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("WORKSHOP_BACKEND", "aws")
    monkeypatch.setenv("WORKSHOP_WORK_DIR", str(tmp_path / "work"))
    before = waits._backend
    yield monkeypatch
    waits.set_backend(before)  # connect() set aws-sized waits for this process


@pytest.fixture
def listener(lab):
    with console_device(lab, TOPIC, alpn=False) as device:
        yield device


def new_device(ws, name: str) -> None:
    """A thing with an ACTIVE certificate and the topic's policy, its files saved as chapter 01 does."""
    ws.iot.create_thing(thingName=name)
    created = ws.iot.create_keys_and_certificate(setAsActive=True)
    ws.iot.create_policy(policyName=f"{name}-policy", policyDocument=json.dumps(POLICY))
    ws.iot.attach_policy(policyName=f"{name}-policy", target=created["certificateArn"])
    ws.iot.attach_thing_principal(thingName=name, principal=created["certificateArn"])
    save_device(ws, name, created["certificatePem"], created["keyPair"]["PrivateKey"])


def test_without_the_switch_the_lab_settings_are_a_loud_error(lab_shell):
    with pytest.raises(LoopbackEndpoint) as caught:
        workshop.connect()

    assert f"AWS_ENDPOINT_URL={workshop.os.environ['AWS_ENDPOINT_URL']}" in str(caught.value)
    assert "unset AWS_ACCESS_KEY_ID AWS_ENDPOINT_URL AWS_SECRET_ACCESS_KEY IOT_ENDPOINT IOT_PORT IOT_ROOT_CA IOT_WS_PORT`" in str(caught.value)


def test_the_rehearsal_runs_the_aws_path_against_the_lab(lab, lab_shell, tmp_path, listener):
    lab_shell.setenv("WORKSHOP_REHEARSAL", "1")

    ws = workshop.connect()

    assert ws.backend == "aws" and ws.http_url is None and waits.backend_of(ws) == "aws"
    assert ws._summary()["backend"] == "aws (rehearsal against the lab)"
    assert (ws.endpoint, ws.port, ws.root_ca) == (lab.mqtt_host, lab.mqtt_port, lab.root_ca)  # the lab's
    der = x509.load_pem_x509_certificate(ws.amazon_root_ca.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert ws.amazon_root_ca == tmp_path / "work" / "AmazonRootCA1.pem"
    assert hashlib.sha256(der).hexdigest() == root_ca.AMAZON_ROOT_CA_1_SHA256

    name = f"rehearsal-{uuid.uuid4().hex[:8]}"
    new_device(ws, name)
    mark = listener.messages.mark()

    with Device.from_workshop(ws, name) as device:
        device.publish(TOPIC, {"from": name})
    ws.iot_data.publish(topic=TOPIC, qos=1, payload=json.dumps({"from": "iot-data"}))

    assert listener.wait_for(TOPIC, lambda m: m.json == {"from": name}, after=mark)
    assert listener.wait_for(TOPIC, lambda m: m.json == {"from": "iot-data"}, after=mark)
    assert ws.iot.describe_thing(thingName=name)["thingName"] == name
    assert lab.client("iot").describe_thing(thingName=name)["thingName"] == name  # it really is the lab


def test_a_rehearsal_with_the_443_option_offers_alpn_on_the_labs_port(lab, lab_shell, tmp_path):
    lab_shell.setenv("WORKSHOP_REHEARSAL", "1")
    lab_shell.setenv("WORKSHOP_MQTT_PORT", "443")
    ws = workshop.connect()
    name = f"rehearsal-alpn-{uuid.uuid4().hex[:6]}"
    new_device(ws, name)

    with Device.from_workshop(ws, name) as device:
        device.publish(TOPIC, {"from": name})
        negotiated = device.negotiated_alpn

    assert ws.port == lab.mqtt_port and negotiated == "x-amzn-mqtt-ca"
    assert ws._summary()["MQTT"] == f"{lab.mqtt_host}:{lab.mqtt_port} (ALPN x-amzn-mqtt-ca)"
