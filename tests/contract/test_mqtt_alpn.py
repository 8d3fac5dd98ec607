"""MQTT with ALPN x-amzn-mqtt-ca (AWS IoT's MQTT on 443) against the lab's one MQTT port: paho (through
`helpers.device.Device`), Python's ssl and Debian's mosquitto_pub (``--tls-alpn``)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from devices import write_secret
from helpers.device import ConnectionRefused, Device
from labfixture import console_device

pytestmark = pytest.mark.lab

ALPN = "x-amzn-mqtt-ca"
TOPIC = "iot/alpn"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"arn:aws:iot:*:*:topic/{TOPIC}"},
        {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": f"arn:aws:iot:*:*:topicfilter/{TOPIC}"},
    ],
}
needs_mosquitto = pytest.mark.skipif(
    not shutil.which("mosquitto_pub"),
    reason="mosquitto clients not installed (apt-get install mosquitto-clients; .ci/run does it as root)",
)


@pytest.fixture(scope="module")
def device_files(lab, tmp_path_factory) -> tuple[str, Path, Path]:
    iot = lab.client("iot")
    name = f"alpn-{uuid.uuid4().hex[:8]}"
    iot.create_policy(policyName=f"{name}-policy", policyDocument=json.dumps(POLICY))
    out = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_thing(thingName=name)
    iot.attach_thing_principal(thingName=name, principal=out["certificateArn"])
    iot.attach_policy(policyName=f"{name}-policy", target=out["certificateArn"])
    folder = tmp_path_factory.mktemp("alpn")
    return (name, write_secret(folder / f"{name}.crt", out["certificatePem"]),
            write_secret(folder / f"{name}.key", out["keyPair"]["PrivateKey"]))


@pytest.fixture
def listener(lab):
    with console_device(lab, TOPIC, alpn=False) as device:
        yield device


def device(lab, files, **options) -> Device:
    name, cert, key = files
    return Device(name, cert, key, lab.mqtt_host, lab.mqtt_port, lab.root_ca, **options)


def test_a_device_offering_x_amzn_mqtt_ca_connects_and_publishes(lab, device_files, listener):
    mark = listener.messages.mark()
    with device(lab, device_files, alpn=True) as dev:
        dev.publish(TOPIC, {"via": "alpn"})
        negotiated = dev.negotiated_alpn

    assert negotiated == ALPN
    assert listener.wait_for(TOPIC, lambda m: m.json == {"via": "alpn"}, after=mark)


def test_a_device_without_alpn_still_connects_on_the_same_port(lab, device_files):
    with device(lab, device_files, alpn=False) as dev:
        dev.publish(TOPIC, {"via": "plain"})
        assert dev.negotiated_alpn is None


def test_the_workshop_option_turns_alpn_on_for_devices(lab, device_files, monkeypatch):
    monkeypatch.setenv("WORKSHOP_MQTT_PORT", "443")
    with device(lab, device_files) as dev:
        assert dev.alpn is True and dev.negotiated_alpn == ALPN


def tls_client(lab, files, protocols: list[str]) -> ssl.SSLSocket:
    _name, cert, key = files
    context = ssl.create_default_context(cafile=str(lab.root_ca))
    context.load_cert_chain(str(cert), str(key))
    context.set_alpn_protocols(protocols)
    raw = socket.create_connection((lab.mqtt_host, lab.mqtt_port), timeout=10)
    try:
        return context.wrap_socket(raw, server_hostname=lab.mqtt_host)
    except BaseException:
        raw.close()
        raise


def test_the_server_selects_x_amzn_mqtt_ca_among_other_offers(lab, device_files):
    with tls_client(lab, device_files, ["h2", ALPN]) as tls:
        assert tls.selected_alpn_protocol() == ALPN


@pytest.mark.parametrize("protocols", [["h2", "http/1.1"], ["mqtt"]], ids=["https", "custom-authorizer"])
def test_a_client_offering_only_other_protocols_is_refused_during_the_handshake(lab, device_files, protocols):
    """[unconfirmed] what AWS IoT answers such a ClientHello on 443; the lab closes the connection."""
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_client(lab, device_files, protocols).close()


def test_the_device_reports_a_refused_handshake_as_a_tls_refusal(lab, device_files, monkeypatch):
    monkeypatch.setattr("helpers.mqtt_alpn.ALPN_PROTOCOL", "h2")  # a client that offers the wrong protocol
    dev = device(lab, device_files, alpn=True)

    with pytest.raises(ConnectionRefused) as caught:
        dev.connect(timeout=5)

    assert caught.value.reason == "tls"


def mosquitto_pub(lab, files, alpn: str | None) -> subprocess.CompletedProcess:
    name, cert, key = files
    command = ["mosquitto_pub", "--cafile", str(lab.root_ca), "--cert", str(cert), "--key", str(key),
               "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-i", name, "-t", TOPIC, "-q", "1",
               "-m", json.dumps({"via": f"mosquitto {alpn}"}), "--tls-version", "tlsv1.2"]
    if alpn:
        command += ["--tls-alpn", alpn]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


@needs_mosquitto
def test_mosquitto_pub_with_tls_alpn_publishes(lab, device_files, listener):
    mark = listener.messages.mark()
    result = mosquitto_pub(lab, device_files, ALPN)

    assert result.returncode == 0, result.stdout + result.stderr
    assert listener.wait_for(TOPIC, lambda m: m.json == {"via": f"mosquitto {ALPN}"}, after=mark)


@needs_mosquitto
def test_mosquitto_pub_offering_another_protocol_is_refused(lab, device_files, listener):
    mark = listener.messages.mark()
    result = mosquitto_pub(lab, device_files, "h2")

    assert result.returncode != 0, result.stdout + result.stderr
    assert listener.messages.first(TOPIC, lambda m: m.json == {"via": "mosquitto h2"}, after=mark, timeout=1) is None
