"""AWS IoT Core's MQTT limits on the lab's broker (`localcore.mqtt.limits`), driven with paho,
raw MQTT 3.1.1 packets and Debian's mosquitto clients: what a client that breaks one gets
(disconnect, CONNACK refusal, a dropped connection), the lifecycle events and AWSIotLogsV2 entries
that follow, and that the lab still serves afterwards.

This module runs a lab of its own with short deadlines (`FAST`): CONNECT and TLS handshake 1 s,
shortest keep-alive honoured 1 s instead of AWS's 30 s. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import queue
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices import write_secret
from labfixture import start_lab, stop_lab, unique
from localcore.mqtt import limits

FAST = {limits.CONNECT_TIMEOUT_ENV: "1", limits.TLS_HANDSHAKE_TIMEOUT_ENV: "1", limits.KEEP_ALIVE_MIN_ENV: "1"}
WAIT_S = 10.0
POLL_S = 0.05
KB128 = 128 * 1024
ROLE = "arn:aws:iam::123456789012:role/iot-logging"
IDENTIFIER_REJECTED_PAHO = 0x85  # paho 2 reports MQTT 3.1.1's CONNACK code 2 as MQTT 5's 0x85
needs_mosquitto = pytest.mark.skipif(
    not shutil.which("mosquitto_pub"), reason="mosquitto clients not installed (apt-get install mosquitto-clients)"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """This module's own lab, with the short deadlines of `FAST`."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAST.items():
            patch.setenv(name, value)
        running = start_lab(tmp_path_factory.mktemp("limits-lab"))
    yield running
    stop_lab(running)


@pytest.fixture(scope="module")
def iot(lab):
    client = lab.client("iot")
    client.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="DEBUG")  # every entry, for every client
    return client


@pytest.fixture(scope="module")
def logs(lab):
    return lab.client("logs")


@dataclass
class Credentials:
    cert: Path
    key: Path
    certificate_id: str


def make_credentials(lab, iot, folder: Path, statements: list[tuple[str, str]]) -> Credentials:
    """A new active certificate with a policy of (action, resource) Allow statements."""
    policy = unique("limits-policy")
    iot.create_policy(policyName=policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": f"arn:aws:iot:{lab.config.region}:123456789012:{resource}"}
        for action, resource in statements
    ]}))
    out = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=policy, target=out["certificateArn"])
    name = out["certificateId"][:12]
    return Credentials(write_secret(folder / f"{name}.crt", out["certificatePem"]),
                       write_secret(folder / f"{name}.key", out["keyPair"]["PrivateKey"]), out["certificateId"])


@pytest.fixture(scope="module")
def creds(lab, iot, tmp_path_factory) -> Credentials:
    """A certificate whose policy allows everything (the limits, not the policy, are under test)."""
    return make_credentials(lab, iot, tmp_path_factory.mktemp("creds"), [("iot:*", "*")])


class Device:
    """A paho 2.x client over mutual TLS; callbacks feed queues that tests wait on."""

    def __init__(self, lab, client_id: str, creds: Credentials, *, keepalive: int = 30,
                 will: tuple[str, bytes, int] | None = None) -> None:
        self.lab, self.keepalive = lab, keepalive
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(creds.cert), keyfile=str(creds.key))
        if will is not None:
            self.client.will_set(*will)
        self.status: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.pubacks: queue.Queue = queue.Queue()
        self.gone = threading.Event()
        self._pending: list[tuple[str, bytes]] = []  # received, not yet asked for
        self.client.on_connect = lambda c, u, flags, rc, props: self.status.put(("connack", rc.value))
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put([code.value for code in codes])
        self.client.on_publish = lambda c, u, mid, rc, props: self.pubacks.put(mid)
        self.client.on_message = lambda c, u, message: self.messages.put((message.topic, message.payload))

    def _on_disconnect(self, client, userdata, flags, rc, properties) -> None:
        self.gone.set()
        self.status.put(("gone", rc.value))

    def connect(self) -> int | None:
        """The CONNACK code, or None when the connection closed without one."""
        self.client.connect(self.lab.mqtt_host, self.lab.mqtt_port, keepalive=self.keepalive)
        self.client.loop_start()
        kind, code = self.status.get(timeout=WAIT_S)
        return code if kind == "connack" else None

    def subscribe(self, *filters: str, qos: int = 1) -> None:
        self.client.subscribe([(f, qos) for f in filters])

    def subscribed(self, *filters: str, qos: int = 1) -> list[int]:
        self.subscribe(*filters, qos=qos)
        return self.subacks.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        return self.client.publish(topic, payload, qos=qos).mid

    def next_message(self, topic: str) -> bytes:
        """The payload of the next message on ``topic``; messages on other topics stay pending."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for index, (got_topic, payload) in enumerate(self._pending):
                if got_topic == topic:
                    del self._pending[index]
                    return payload
            self._pending.append(self.messages.get(timeout=max(0.01, deadline - time.monotonic())))

    def pending_topics(self) -> set[str]:
        return {topic for topic, _payload in self._pending}

    def event(self, kind: str, client_id: str) -> dict:
        return json.loads(self.next_message(f"$aws/events/presence/{kind}/{client_id}"))

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


@pytest.fixture
def devices(lab):
    made: list[Device] = []

    def make(client_id: str, creds: Credentials, **options) -> Device:
        device = Device(lab, client_id, creds, **options)
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()


@pytest.fixture
def console(lab, devices) -> Device:
    """The lab's console identity (no policy), connected: it watches presence events."""
    device = devices(unique("console"), Credentials(lab.config.console_cert_path, lab.config.console_key_path, ""))
    assert device.connect() == 0
    assert device.subscribed("$aws/events/presence/+/+") == [1]
    return device


def assert_lab_serves(lab, creds: Credentials) -> None:
    """A normal client still connects and round-trips a QoS 1 message."""
    client_id = unique("after")
    device = Device(lab, client_id, creds)
    try:
        assert device.connect() == 0
        assert device.subscribed(f"serves/{client_id}") == [1]
        device.publish(f"serves/{client_id}", b"still serving")
        assert device.next_message(f"serves/{client_id}") == b"still serving"
    finally:
        device.close()


def assert_not_delivered(console: Device, topic: str, marker_topic: str | None = None) -> None:
    """Nothing was delivered on ``topic`` before a marker the console publishes now on
    ``marker_topic`` (default: ``topic``), to which the console is subscribed through the same
    filter (the broker routes one filter's messages in order)."""
    marker = unique("marker").encode()
    console.publish(marker_topic or topic, marker)
    assert console.next_message(marker_topic or topic) == marker
    assert topic not in console.pending_topics()


def log_entry(logs, client_id: str, event_type: str, **expected) -> dict:
    """Poll AWSIotLogsV2 for ``client_id``'s entry of ``event_type`` with the ``expected`` fields."""
    deadline = time.monotonic() + WAIT_S
    pattern = f'{{ $.clientId = "{client_id}" }}'
    while True:
        groups = logs.describe_log_groups(logGroupNamePrefix="AWSIotLogsV2")["logGroups"]
        found = [json.loads(e["message"]) for e in logs.filter_log_events(
            logGroupName="AWSIotLogsV2", filterPattern=pattern)["events"]] if groups else []
        for entry in found:
            if entry["eventType"] == event_type and all(entry.get(k) == v for k, v in expected.items()):
                return entry
        assert time.monotonic() < deadline, f"no {event_type} entry with {expected} for {client_id}: {found}"
        time.sleep(POLL_S)


def assert_disconnected_by_the_lab(console: Device, client_id: str, reason: str) -> None:
    event = console.event("disconnected", client_id)
    assert (event["disconnectReason"], event["clientInitiatedDisconnect"]) == (reason, False)


# -- raw MQTT 3.1.1 over TLS (exact CONNACK bytes, silent sockets) -----------------------------------


def tls_socket(lab, creds: Credentials) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(lab.root_ca))
    context.load_cert_chain(str(creds.cert), str(creds.key))
    raw = socket.create_connection((lab.config.host, lab.mqtt_port), timeout=WAIT_S)
    return context.wrap_socket(raw, server_hostname=lab.mqtt_host)


def utf8(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def remaining_length(size: int) -> bytes:
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


def connect_packet(client_id: str, *, keepalive: int = 30, will: tuple[str, bytes, int] | None = None) -> bytes:
    flags = 0x02  # clean session
    payload = utf8(client_id)
    if will is not None:
        topic, message, qos = will
        flags |= 0x04 | (qos << 3)
        payload += utf8(topic) + utf8(message)
    variable = b"\x00\x04MQTT\x04" + bytes([flags]) + struct.pack("!H", keepalive)
    body = variable + payload
    return b"\x10" + remaining_length(len(body)) + body


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (which must happen by ``deadline``)."""
    received = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except (ssl.SSLError, ConnectionError):
            return received
        except socket.timeout:
            raise AssertionError(f"the lab kept the connection open; received {received!r}") from None
        if not chunk:
            return received
        received += chunk


ACCEPTED = b"\x20\x02\x00\x00"


def raw_connect(lab, creds: Credentials, packet: bytes) -> bytes:
    """Send one CONNECT; what the lab answers before closing (b"" when it closes without a CONNACK),
    or the CONNACK of an accepted connection (which is then closed here)."""
    deadline = time.monotonic() + WAIT_S
    with tls_socket(lab, creds) as sock:
        sock.sendall(packet)
        received = b""
        while len(received) < len(ACCEPTED):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(len(ACCEPTED) - len(received))
            except (ssl.SSLError, ConnectionError):
                return received
            if not chunk:
                return received
            received += chunk
        return received if received == ACCEPTED else received + read_until_closed(sock, deadline)


# -- payload size ----------------------------------------------------------------------------------


def test_a_payload_over_128_kb_disconnects_the_client_and_is_not_delivered(lab, creds, devices, console, logs):
    client_id, topic = unique("big"), f"big/{unique('t')}"
    assert console.subscribed(topic) == [1]
    device = devices(client_id, creds)
    assert device.connect() == 0
    device.publish(topic, b"x" * KB128)  # exactly 128 KB: accepted

    assert console.next_message(topic) == b"x" * KB128
    device.publish(topic, b"y" * (10 * 1024 * 1024))  # the 10 MB

    assert device.gone.wait(WAIT_S)
    assert_disconnected_by_the_lab(console, client_id, "CLIENT_ERROR")
    assert_not_delivered(console, topic)
    entry = log_entry(logs, client_id, "Publish-In", status="Failure")
    assert (entry["reason"], entry["details"], entry["topicName"], entry["logLevel"]) == (
        "PAYLOAD_LIMIT_EXCEEDED", "Message payload exceeds size limit for message type.", topic, "ERROR",
    )
    assert log_entry(logs, client_id, "Disconnect")["disconnectReason"] == "CLIENT_ERROR"
    assert_lab_serves(lab, creds)


# -- QoS 2 -----------------------------------------------------------------------------------------


def test_a_qos_2_publish_disconnects_the_client_unacknowledged_and_undelivered(lab, creds, devices, console):
    client_id, topic = unique("qos2"), f"qos2/{unique('t')}"
    assert console.subscribed(topic) == [1]
    device = devices(client_id, creds)
    assert device.connect() == 0

    device.publish(topic, b"exactly once?", qos=2)

    assert device.gone.wait(WAIT_S)
    assert device.pubacks.empty()  # no PUBREC, so paho never completed the flow
    assert_disconnected_by_the_lab(console, client_id, "CLIENT_ERROR")
    assert_not_delivered(console, topic)
    assert_lab_serves(lab, creds)


def test_a_qos_2_subscribe_disconnects_the_client_without_a_suback(lab, creds, devices, console, logs):
    client_id = unique("sub2")
    device = devices(client_id, creds)
    assert device.connect() == 0

    device.subscribe("some/topic", qos=2)

    assert device.gone.wait(WAIT_S)
    assert device.subacks.empty()
    assert_disconnected_by_the_lab(console, client_id, "CLIENT_ERROR")
    entry = log_entry(logs, client_id, "Subscribe", status="Failure")
    assert (entry["topicName"], entry["reason"]) == ("some/topic", "CLIENT_ERROR")
    assert_lab_serves(lab, creds)


# -- topics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    ["far/a/b/c/d/e/f/g/h", "far/" + "x" * 253],  # 8 slashes; 257 bytes
    ids=["8-slashes", "257-bytes"],
)
def test_a_publish_to_a_topic_over_the_limits_disconnects_the_client(lab, creds, devices, console, logs, topic):
    assert topic.count("/") == 8 or len(topic) == 257
    client_id = unique("topic")
    assert console.subscribed("far/#") == [1]
    device = devices(client_id, creds)
    assert device.connect() == 0

    device.publish(topic, b"too far")

    assert device.gone.wait(WAIT_S)
    assert_disconnected_by_the_lab(console, client_id, "CLIENT_ERROR")
    assert_not_delivered(console, topic, marker_topic="far/marker")
    entry = log_entry(logs, client_id, "Publish-In", status="Failure")
    assert (entry["topicName"], entry["reason"]) == (topic, "CLIENT_ERROR")
    assert_lab_serves(lab, creds)


def test_topics_at_the_limits_work_and_basic_ingest_does_not_count_its_prefix(lab, creds, devices, console):
    client_id = unique("edge")
    deep, long = "e/b/c/d/e/f/g/" + client_id, "l/" + "x" * 254  # 7 slashes; 256 bytes
    ingest = "$aws/rules/no_such_rule/a/b/c/d/e/f/g/h"  # 10 slashes, 7 after the prefix
    assert console.subscribed(deep, long) == [1, 1]
    device = devices(client_id, creds)
    assert device.connect() == 0

    for topic in (deep, long, ingest):
        mid = device.publish(topic, b"fits")
        assert device.pubacks.get(timeout=WAIT_S) == mid

    assert console.next_message(deep) == b"fits"
    assert console.next_message(long) == b"fits"
    assert not device.gone.is_set()


def test_a_subscribe_over_the_limits_disconnects_the_client_without_a_suback(lab, creds, devices, console):
    ok, too_deep, too_many = unique("ok"), unique("deep"), unique("many")
    fine = devices(ok, creds)
    assert fine.connect() == 0
    assert fine.subscribed(*(f"f{i}/+/c/d/e/f/g/#" for i in range(8))) == [1] * 8  # 8 filters, 7 slashes each
    deep_device, many_device = devices(too_deep, creds), devices(too_many, creds)
    assert deep_device.connect() == 0 and many_device.connect() == 0

    deep_device.subscribe("a/b/c/d/e/f/g/h/#")
    many_device.subscribe(*(f"f{i}/#" for i in range(9)))

    assert deep_device.gone.wait(WAIT_S) and many_device.gone.wait(WAIT_S)
    assert deep_device.subacks.empty() and many_device.subacks.empty()
    assert_disconnected_by_the_lab(console, too_deep, "CLIENT_ERROR")
    assert_disconnected_by_the_lab(console, too_many, "CLIENT_ERROR")
    assert not fine.gone.is_set()
    assert_lab_serves(lab, creds)


def test_the_lab_s_own_named_shadow_topics_work_for_a_device(lab, creds, devices):
    """$aws/things/<thing>/shadow/name/<shadow>/update/accepted has 7 slashes, the most a topic may have."""
    thing = unique("lamp")
    device = devices(thing, creds)
    assert device.connect() == 0
    prefix = f"$aws/things/{thing}/shadow/name/config/update"
    assert device.subscribed(f"{prefix}/accepted", f"{prefix}/documents") == [1, 1]

    device.publish(prefix, json.dumps({"state": {"reported": {"on": True}}}).encode())

    assert json.loads(device.next_message(f"{prefix}/accepted"))["state"] == {"reported": {"on": True}}
    assert json.loads(device.next_message(f"{prefix}/documents"))["current"]["state"] == {"reported": {"on": True}}


# -- client id ------------------------------------------------------------------------------------


def test_a_client_id_over_128_bytes_is_refused_with_connack_2(lab, creds, devices, logs):
    assert raw_connect(lab, creds, connect_packet("c" * 128)) == b"\x20\x02\x00\x00"
    assert raw_connect(lab, creds, connect_packet("c" * 129)) == b"\x20\x02\x00\x02"
    long_id = "p" * 200  # the 200-character client id, with paho

    assert devices(long_id, creds).connect() == IDENTIFIER_REJECTED_PAHO
    entry = log_entry(logs, long_id, "Connect", status="Failure")
    assert entry["reason"] == "CLIENT_ERROR" and "128" in entry["details"]
    assert_lab_serves(lab, creds)


# -- last will checked at CONNECT ------------------------------------------------------------------


@pytest.mark.parametrize(
    "will",
    [("will/t", b"bye", 2), ("a/b/c/d/e/f/g/h/i", b"bye", 0), ("w/" + "x" * 255, b"bye", 0)],
    ids=["qos-2", "topic-8-slashes", "topic-257-bytes"],
)
def test_a_connect_with_a_will_over_the_limits_gets_no_connack(lab, creds, will):
    assert raw_connect(lab, creds, connect_packet(unique("will"), will=will)) == b""
    assert_lab_serves(lab, creds)


# -- keep-alive ------------------------------------------------------------------------------------


def test_a_silent_client_is_disconnected_after_1_5_keep_alives_and_its_will_is_published(
    lab, creds, devices, console, logs,
):
    silent_id, chatty_id = unique("silent"), unique("chatty")
    will_topic = f"will/{silent_id}"
    assert console.subscribed(will_topic) == [1]
    # Both ask for 6 s (this lab honours keep-alives from 1 s; AWS from 30 s): 9 s without a packet.
    silent = devices(silent_id, creds, keepalive=6, will=(will_topic, b"silent went away", 1))
    chatty = devices(chatty_id, creds, keepalive=6)
    assert silent.connect() == 0 and chatty.connect() == 0
    connected_at = time.monotonic()

    silent.client.loop_stop()  # no more PINGREQ (nor anything else) from this one

    assert console.next_message(will_topic) == b"silent went away"
    event = console.event("disconnected", silent_id)
    assert time.monotonic() - connected_at >= 9 * 0.9
    assert (event["disconnectReason"], event["clientInitiatedDisconnect"]) == ("MQTT_KEEP_ALIVE_TIMEOUT", False)
    assert log_entry(logs, silent_id, "Disconnect")["disconnectReason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
    # paho's PINGREQs kept the other one, connected as long, alive:
    assert not chatty.gone.is_set()
    assert chatty.subscribed(f"still/{chatty_id}") == [1]
    assert_lab_serves(lab, creds)


def test_the_will_of_a_timed_out_client_is_checked_against_its_policy(lab, iot, devices, console, tmp_path):
    client_id = unique("muted")
    creds = make_credentials(lab, iot, tmp_path, [("iot:Connect", "client/*")])  # may not publish its will
    will_topic = f"will/{client_id}"
    assert console.subscribed(will_topic) == [1]
    device = devices(client_id, creds, keepalive=1, will=(will_topic, b"should not arrive", 0))
    assert device.connect() == 0

    device.client.loop_stop()

    assert_disconnected_by_the_lab(console, client_id, "MQTT_KEEP_ALIVE_TIMEOUT")
    assert_not_delivered(console, will_topic)


# -- deadlines for TLS and CONNECT -----------------------------------------------------------------


def test_sockets_that_never_send_connect_are_closed(lab, iot, tmp_path):
    """The issue's 50 sockets from a revoked certificate: TLS succeeds (the certificate is checked at
    CONNECT), CONNECT never comes, the lab closes each within its deadline (1 s here)."""
    revoked = make_credentials(lab, iot, tmp_path, [("iot:*", "*")])
    iot.update_certificate(certificateId=revoked.certificate_id, newStatus="REVOKED")
    sockets = [tls_socket(lab, revoked) for _ in range(50)]
    try:
        deadline = time.monotonic() + WAIT_S
        for sock in sockets:
            assert read_until_closed(sock, deadline) == b""
    finally:
        for sock in sockets:
            sock.close()
    assert_lab_serves(lab, make_credentials(lab, iot, tmp_path, [("iot:*", "*")]))


def test_sockets_that_never_finish_the_tls_handshake_are_closed(lab, creds):
    sockets = [socket.create_connection((lab.config.host, lab.mqtt_port), timeout=WAIT_S) for _ in range(20)]
    sockets[0].sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello, never finished
    try:
        deadline = time.monotonic() + WAIT_S
        for sock in sockets:
            assert read_until_closed(sock, deadline) == b""
    finally:
        for sock in sockets:
            sock.close()
    assert_lab_serves(lab, creds)


# -- the same limits with mosquitto_pub --------------------------------------------------------------


@needs_mosquitto
@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["-q", "2", "-t", "mosq/t", "-m", "exactly once"], "lost"),
        (["-q", "1", "-t", "mosq/a/b/c/d/e/f/g/h", "-m", "deep"], "lost"),
        (["-q", "1", "-t", "mosq/t", "-f", "{big}"], "lost"),
        (["-q", "1", "-t", "mosq/t", "-m", "x", "-i", "m" * 129], "identifier rejected"),
    ],
    ids=["qos-2", "topic-8-slashes", "payload-over-128kb", "client-id-129-bytes"],
)
def test_mosquitto_pub_breaking_a_limit_fails(lab, creds, console, tmp_path, options, says):
    big = tmp_path / "big.bin"
    big.write_bytes(b"z" * (KB128 + 1))
    options = [str(big) if option == "{big}" else option for option in options]
    if "-i" not in options:
        options += ["-i", unique("mosq")]
    topic = options[options.index("-t") + 1]
    assert console.subscribed("mosq/#") == [1]

    result = subprocess.run(
        ["mosquitto_pub", "--cafile", str(lab.root_ca), "--cert", str(creds.cert), "--key", str(creds.key),
         "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "--tls-version", "tlsv1.2", *options],
        capture_output=True, text=True, timeout=30,
    )

    assert result.returncode != 0
    assert says in (result.stdout + result.stderr).lower(), result
    assert_not_delivered(console, topic, marker_topic="mosq/marker")
    assert_lab_serves(lab, creds)
