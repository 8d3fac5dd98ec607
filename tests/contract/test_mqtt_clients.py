"""Debian's mosquitto clients and the AWS IoT Device SDK v2 reach the lab unmodified, apart from
endpoint, port and CA file, exactly as in the workshop's commands."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devices import registered_device
from helpers.device import Device
from labfixture import console_device

MOSQUITTO = shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")
needs_mosquitto = pytest.mark.skipif(
    not MOSQUITTO, reason="mosquitto clients not installed (apt-get install mosquitto-clients; .ci/run does it)"
)
ALLOWED = "iot/ws"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"arn:aws:iot:*:*:topic/{ALLOWED}"},
        {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": f"arn:aws:iot:*:*:topicfilter/{ALLOWED}"},
    ],
}


@pytest.fixture(scope="module")
def iot(lab):
    client = lab.client("iot")
    client.create_policy(policyName="clients-policy", policyDocument=json.dumps(POLICY))
    return client


def provision(iot, folder: Path, *, active: bool = True) -> tuple[str, Path, Path]:
    return registered_device(iot, folder, "clients-policy", "client", active=active)


@pytest.fixture
def console(lab):
    """The lab's console identity, subscribed to the allowed topic."""
    with console_device(lab, ALLOWED, "$aws/events/subscriptions/subscribed/+") as device:
        yield device


def mosquitto_pub(lab, name: str, cert: Path, key: Path, topic: str, message: str, qos: int = 1):
    return subprocess.run(
        ["mosquitto_pub", "--cafile", str(lab.root_ca), "--cert", str(cert), "--key", str(key),
         "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-q", str(qos), "-t", topic, "-i", name,
         "--tls-version", "tlsv1.2", "-m", message, "-d"],
        capture_output=True, text=True, timeout=30,
    )


@needs_mosquitto
def test_mosquitto_pub_publishes_like_in_the_workshop(lab, iot, tmp_path, console):
    name, cert, key = provision(iot, tmp_path)
    mark = console.messages.mark()
    result = mosquitto_pub(lab, name, cert, key, ALLOWED, json.dumps({"prov": "first", "device": name}))
    assert result.returncode == 0, result.stdout + result.stderr
    message = console.wait_for(ALLOWED, lambda m: m.json.get("device") == name, timeout=10, after=mark)
    assert message.json["prov"] == "first"


@needs_mosquitto
def test_mosquitto_sub_receives_what_a_device_publishes(lab, iot, tmp_path, console):
    name, cert, key = provision(iot, tmp_path)
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "--cafile", str(lab.root_ca), "--cert", str(cert), "--key", str(key),
         "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-t", ALLOWED, "-i", name, "-C", "1", "-W", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        console.wait_for(f"$aws/events/subscriptions/subscribed/{name}", timeout=10)
        other, other_cert, other_key = provision(iot, tmp_path)
        assert mosquitto_pub(lab, other, other_cert, other_key, ALLOWED, "hello-from-" + other).returncode == 0
        out, err = subscriber.communicate(timeout=20)
    finally:
        subscriber.kill()
    assert out.strip() == "hello-from-" + other, err


@needs_mosquitto
def test_mosquitto_pub_to_a_topic_the_policy_refuses_loses_the_connection(lab, iot, tmp_path, console):
    name, cert, key = provision(iot, tmp_path)
    mark = console.messages.mark()
    result = mosquitto_pub(lab, name, cert, key, "not/allowed", "nope")
    assert result.returncode != 0
    assert "connection was lost" in (result.stdout + result.stderr).lower() or "error" in result.stderr.lower()
    assert console.messages.messages(after=mark) == [] or all(m.topic != "not/allowed" for m in console.messages.messages(after=mark))


@needs_mosquitto
def test_mosquitto_pub_with_an_inactive_certificate_is_refused(lab, iot, tmp_path):
    name, cert, key = provision(iot, tmp_path, active=False)
    result = mosquitto_pub(lab, name, cert, key, ALLOWED, "nope")
    assert result.returncode != 0
    assert "not authori" in (result.stdout + result.stderr).lower()


def test_aws_iot_device_sdk_v2_connects_with_mtls_and_publishes(lab, iot, tmp_path, console):
    mqtt_connection_builder = pytest.importorskip("awsiot.mqtt_connection_builder")
    from awscrt import mqtt as crt_mqtt

    name, cert, key = provision(iot, tmp_path)
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint=lab.mqtt_host, port=lab.mqtt_port, cert_filepath=str(cert), pri_key_filepath=str(key),
        ca_filepath=str(lab.root_ca), client_id=name, clean_session=True, keep_alive_secs=30,
    )
    connection.connect().result(timeout=20)
    try:
        mark = console.messages.mark()
        publish, _packet = connection.publish(topic=ALLOWED, payload=json.dumps({"sdk": name}), qos=crt_mqtt.QoS.AT_LEAST_ONCE)
        publish.result(timeout=20)
        assert console.wait_for(ALLOWED, lambda m: m.json.get("sdk") == name, timeout=10, after=mark)
    finally:
        connection.disconnect().result(timeout=20)


def test_aws_iot_device_sdk_v2_is_refused_with_an_inactive_certificate(lab, iot, tmp_path):
    mqtt_connection_builder = pytest.importorskip("awsiot.mqtt_connection_builder")

    name, cert, key = provision(iot, tmp_path, active=False)
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint=lab.mqtt_host, port=lab.mqtt_port, cert_filepath=str(cert), pri_key_filepath=str(key),
        ca_filepath=str(lab.root_ca), client_id=name, clean_session=True, keep_alive_secs=30,
    )
    from awscrt.exceptions import AwsCrtError

    with pytest.raises(AwsCrtError) as raised:
        connection.connect().result(timeout=20)
    # The CRT reports a refusing CONNACK as a protocol error; a TLS error would mean the handshake
    # failed instead, which is not what the lab does for a registered-but-inactive certificate.
    assert "TLS" not in raised.value.name and "TIMEOUT" not in raised.value.name, raised.value


@needs_mosquitto
def test_a_burst_published_just_before_hanging_up_is_all_delivered(lab, iot, tmp_path, console):
    """mosquitto_pub -l sends every line at QoS 0, then DISCONNECT, and closes at once: every message
    read before the hang-up is routed (amqtt cancelled the ones still waiting for their task)."""
    name, cert, key = provision(iot, tmp_path)
    mark = console.messages.mark()
    count = 900  # the console keeps its last 1,000 messages
    lines = "".join(f'{{"n": {i}, "device": "{name}"}}\n' for i in range(count))
    result = subprocess.run(
        ["mosquitto_pub", "--cafile", str(lab.root_ca), "--cert", str(cert), "--key", str(key),
         "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-q", "0", "-t", ALLOWED, "-i", name, "-l"],
        input=lines, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    console.wait_for(ALLOWED, lambda m: m.json.get("device") == name and m.json.get("n") == count - 1,
                     timeout=30, after=mark)
    numbers = [m.json["n"] for m in console.messages.messages(after=mark)
               if m.topic == ALLOWED and m.json.get("device") == name]
    assert numbers == list(range(count))
