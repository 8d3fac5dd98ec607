"""MQTT over WebSockets signed with SigV4, against a real lab: what AWS IoT Core serves on
``wss://<endpoint>:443/mqtt`` for IAM credentials, and what the notebooks' MQTT console uses."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from helpers import workshop
from helpers.console import MqttConsole
from helpers.device import ConnectionRefused, Device
from helpers.iam_mqtt import IamMqttConnection, presigned_mqtt_path, websocket_host
from labfixture import RunningLab, free_port
from localcore import lifecycle
from localcore.config import DEFAULT_WS_PORT, LabConfig
from test_aws_rehearsal import lab_shell  # noqa: F401 (the fixture: a shell after `localcore env`, aws backend)
from labfixture import connect_to, unique
from test_helpers_lab import provision, publisher

pytestmark = pytest.mark.lab

WAIT_S = 10
LAB_KEYS = SimpleNamespace(access_key="localcore", secret_key="localcore", token=None)


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("wss-work"))


def host_of(lab) -> str:
    return websocket_host(lab.mqtt_host, lab.ws_port)


def signed_path(lab, credentials=LAB_KEYS, at: datetime | None = None) -> str:
    return presigned_mqtt_path(host_of(lab), lab.config.region, credentials, at or datetime.now(timezone.utc))


class WssClient:
    """A plain paho client over wss (no kit helper), recording what happens to it."""

    def __init__(self, lab, path: str, client_id: str | None = None) -> None:
        self.client_id = client_id or unique("wss")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311,
                                  transport="websockets", reconnect_on_failure=False)
        self.client.ws_set_options(path=path)
        self.client.tls_set(ca_certs=str(lab.root_ca))
        self.cond = threading.Condition()
        self.connack: int | None = None
        self.disconnected = False
        self.subacks: list[list[int]] = []
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self._note(self.subacks.append, [c.value for c in codes])
        self.client.on_message = lambda _c, _u, message: self._note(self.messages.append, message)
        self.lab = lab

    def _note(self, action, value) -> None:
        with self.cond:
            action(value)
            self.cond.notify_all()

    def _connected(self, _c, _u, _f, reason_code, _p) -> None:
        with self.cond:
            self.connack = reason_code.value
            self.cond.notify_all()

    def _disconnected(self, *_args) -> None:
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()

    def until(self, condition, timeout: float = WAIT_S) -> bool:
        with self.cond:
            return self.cond.wait_for(condition, timeout)

    def connect(self) -> "WssClient":
        self.client.connect(self.lab.mqtt_host, self.lab.ws_port, keepalive=30)
        self.client.loop_start()
        assert self.until(lambda: self.connack is not None), "no CONNACK over wss"
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def upgrade_status(lab, path: str) -> int:
    """The HTTP status the lab answers a WebSocket upgrade for ``path`` with."""
    context = ssl.create_default_context(cafile=str(lab.root_ca))
    connection = http.client.HTTPSConnection(lab.mqtt_host, lab.ws_port, context=context, timeout=WAIT_S)
    try:
        connection.request("GET", path, headers={
            "Host": host_of(lab), "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "mqtt"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_signed_paho_client_connects_subscribes_and_receives_what_a_device_publishes(lab, ws):
    topic = f"wss/{uuid.uuid4().hex[:8]}"
    name = unique("wss-dev")
    provision(ws, name, publisher(name, topic))
    watcher = WssClient(lab, signed_path(lab)).connect()
    try:
        assert watcher.connack == 0
        watcher.client.subscribe(topic, qos=1)
        assert watcher.until(lambda: watcher.subacks) and watcher.subacks[0] == [1]
        with Device.from_workshop(ws, name) as device:  # mutual TLS on the other listener
            device.publish(topic, {"from": name})

        assert watcher.until(lambda: watcher.messages), "the device's message did not arrive over wss"
        assert (watcher.messages[0].topic, watcher.messages[0].payload) == (topic, b'{"from": "' + name.encode() + b'"}')
    finally:
        watcher.close()


def test_the_upgrade_is_answered_101_when_signed_and_403_or_404_otherwise(lab):
    now = datetime.now(timezone.utc)
    wrong_secret = SimpleNamespace(access_key="localcore", secret_key="guess", token=None)
    unknown_key = SimpleNamespace(access_key="AKIANOBODY", secret_key="localcore", token=None)
    assert upgrade_status(lab, signed_path(lab)) == 101
    assert upgrade_status(lab, signed_path(lab, wrong_secret)) == 403
    assert upgrade_status(lab, signed_path(lab, unknown_key)) == 403
    assert upgrade_status(lab, signed_path(lab, at=now - timedelta(hours=1))) == 403
    assert upgrade_status(lab, "/mqtt") == 403
    assert upgrade_status(lab, signed_path(lab).replace("/mqtt", "/other", 1)) == 404


@pytest.mark.parametrize("credentials, at", [
    (SimpleNamespace(access_key="localcore", secret_key="guess", token=None), None),
    (LAB_KEYS, datetime.now(timezone.utc) - timedelta(hours=1)),
], ids=["wrong-secret", "expired-date"])
def test_a_refused_signature_never_reaches_mqtt(lab, credentials, at):
    client = WssClient(lab, signed_path(lab, credentials, at))
    with pytest.raises(mqtt.WebsocketConnectionError):
        client.client.connect(lab.mqtt_host, lab.ws_port, keepalive=30)


def test_the_kits_connection_says_the_signature_was_refused(lab):
    wrong = IamMqttConnection("console", lambda: SimpleNamespace(access_key="localcore", secret_key="guess", token=None),
                              lab.config.region, lab.mqtt_host, lab.ws_port, lab.root_ca, unique("wss"), local=True)
    with pytest.raises(ConnectionRefused) as refused:
        wrong.connect(WAIT_S)
    assert refused.value.reason == "signature_refused" and "signature" in str(refused.value)


@pytest.mark.parametrize("topic, payload", [
    ("$aws/not-a-service/x", b"{}"),  # a reserved topic no client may publish to
    ("wss/too-big", b"x" * (128 * 1024 + 1)),  # over AWS's 128 KB payload limit
], ids=["reserved-topic", "payload-size"])
def test_the_mqtt_rules_of_the_tls_listener_apply_over_websockets(lab, topic, payload):
    client = WssClient(lab, signed_path(lab)).connect()
    try:
        client.client.publish(topic, payload, qos=1)
        assert client.until(lambda: client.disconnected), "the lab kept a client that broke AWS IoT's rules"
    finally:
        client.close()


def test_a_signed_connection_announces_itself_like_any_client(lab, ws):
    """AWS IoT publishes lifecycle events for every MQTT client, the console's own included."""
    with MqttConsole(ws, filters=["$aws/events/presence/connected/+"]) as console:
        other = WssClient(lab, signed_path(lab)).connect()
        try:
            event = console.wait_for(f"$aws/events/presence/connected/{other.client_id}", timeout=WAIT_S)
        finally:
            other.close()
    assert event.json["clientId"] == other.client_id and event.json["principalIdentifier"] == "localcore"


def test_the_console_receives_over_websockets_signed_at_each_connection(lab, ws):
    topic = "iot/ws"
    name = unique("wss-dev")
    provision(ws, name, publisher(name, topic))
    with MqttConsole(ws, filters=[topic]) as console:
        assert isinstance(console._device, IamMqttConnection) and console._device.port == lab.ws_port
        with Device.from_workshop(ws, name) as device:
            device.publish(topic, {"via": "wss", "device": name})
        message = console.wait_for(topic, lambda m: m.json.get("device") == name, timeout=WAIT_S)
        fresh = dict(parse_qsl(urlsplit(console._device._new_client()._websocket_path).query))
    assert message.json == {"via": "wss", "device": name}
    signed_at = datetime.strptime(fresh["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - signed_at).total_seconds()) < WAIT_S  # signed now, not once


def test_a_lab_whose_default_websocket_port_is_taken_takes_a_free_one_and_says_which(tmp_path):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        blocker.bind(("127.0.0.1", DEFAULT_WS_PORT))
        blocker.listen()
    except OSError:
        pass  # another program holds it already: the same situation
    config = LabConfig(home=tmp_path / "lab", http_port=free_port(), mqtt_port=free_port())  # LOCALCORE_WS_PORT unset
    try:
        info = lifecycle.start(config, quiet=True)
        lab = RunningLab(config, info)

        assert info.ws_port not in (0, DEFAULT_WS_PORT)
        assert lifecycle.env_exports(config)["IOT_WS_PORT"] == str(info.ws_port)
        assert upgrade_status(lab, signed_path(lab)) == 101
    finally:
        lifecycle.stop(config, quiet=True)
        blocker.close()


def test_the_aws_backends_console_rehearsed_against_the_lab(lab, lab_shell):
    """WORKSHOP_REHEARSAL=1: the aws code path (boto3's default credentials, DescribeEndpoint) signs the
    console's WebSocket connection, and the lab's wss port checks that signature."""
    lab_shell.setenv("WORKSHOP_REHEARSAL", "1")
    ws = workshop.connect()
    topic = f"iot/rehearsal-wss-{uuid.uuid4().hex[:6]}"

    with MqttConsole(ws, filters=[topic]) as console:
        ws.iot_data.publish(topic=topic, qos=1, payload=b'{"n": 1}')
        message = console.wait_for(topic, timeout=WAIT_S)

    assert (ws.backend, ws.endpoint, ws.ws_port) == ("aws", lab.mqtt_host, lab.ws_port)
    assert message.json == {"n": 1}
