"""The lab's MQTT broker over mutual TLS, driven as trainees drive it: boto3 to set up, paho to
connect. Every wait is on an event or a queue with a timeout, never a fixed sleep."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices import make_ca, write_secret
from labfixture import unique

WAIT_S = 10.0
NOT_AUTHORIZED = 0x87  # paho 2 reports MQTT 3.1.1's CONNACK code 5 as MQTT 5's 0x87
SUBACK_FAILURE = 0x80
TLS_FAILURE = -1  # the TLS handshake (or the socket) failed before any CONNACK


class Device:
    """A paho 2.x client over mutual TLS whose callbacks feed queues the test waits on."""

    def __init__(self, lab, client_id: str, cert: Path, key: Path) -> None:
        self.lab = lab
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
        self.status: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.gone = threading.Event()
        self.client.on_connect = lambda c, u, flags, rc, props: self.status.put(("connack", rc.value))
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put([code.value for code in codes])
        self.client.on_message = lambda c, u, message: self.messages.put((message.topic, message.payload))

    def _on_disconnect(self, client, userdata, flags, rc, properties) -> None:
        self.gone.set()
        self.status.put(("gone", rc.value))

    def connect(self) -> int:
        """The CONNACK return code, or TLS_FAILURE when no CONNACK came."""
        try:
            self.client.connect(self.lab.mqtt_host, self.lab.mqtt_port, keepalive=30)
        except (ssl.SSLError, OSError):
            return TLS_FAILURE
        self.client.loop_start()
        kind, code = self.status.get(timeout=WAIT_S)
        return code if kind == "connack" else TLS_FAILURE

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        self.client.subscribe([(f, qos) for f in filters])
        return self.subacks.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1, retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def next_message(self, topic: str | None = None) -> tuple[str, bytes]:
        """The next message (on ``topic`` if given; others before it are skipped)."""
        while True:
            got = self.messages.get(timeout=WAIT_S)
            if topic is None or got[0] == topic:
                return got

    def json_on(self, topic: str) -> dict:
        return json.loads(self.next_message(topic)[1])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Credentials:
    cert: Path
    key: Path
    arn: str
    certificate_id: str


@pytest.fixture(scope="module")
def iot(lab):
    return lab.client("iot")


@pytest.fixture(scope="module")
def data(lab):
    return lab.client("iot-data")


@pytest.fixture
def devices(lab):
    """Make devices; every one is closed at the end of the test."""
    made: list[Device] = []

    def make(client_id: str, credentials: Credentials | tuple[Path, Path]) -> Device:
        cert, key = (credentials.cert, credentials.key) if isinstance(credentials, Credentials) else credentials
        device = Device(lab, client_id, cert, key)
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()


@pytest.fixture
def console(lab, devices) -> Device:
    """The lab's console identity (any client id, no policy), already connected."""
    pki = Path(lab.config.home) / "pki"
    device = devices(unique("console"), (pki / "console-cert.pem", pki / "console-key.pem"))
    assert device.connect() == 0
    return device


def arn(lab, resource: str) -> str:
    return f"arn:aws:iot:{lab.config.region}:123456789012:{resource}"


def policy(lab, iot, statements: list[tuple[str, str, str]]) -> str:
    """Create a policy from (effect, action, resource) triples; return its name."""
    name = unique("policy")
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": action, "Resource": arn(lab, resource)} for effect, action, resource in statements
    ]}
    iot.create_policy(policyName=name, policyDocument=json.dumps(document))
    return name


def credentials(iot, tmp_path: Path, *, thing: str | None = None, policy_name: str | None = None,
                active: bool = True) -> Credentials:
    """CreateKeysAndCertificate, written to files, with the thing and policy attached."""
    out = iot.create_keys_and_certificate(setAsActive=active)
    name = out["certificateId"][:12]
    cert = write_secret(tmp_path / f"{name}.crt", out["certificatePem"])
    key = write_secret(tmp_path / f"{name}.key", out["keyPair"]["PrivateKey"])
    if thing is not None:
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=out["certificateArn"])
    if policy_name is not None:
        iot.attach_policy(policyName=policy_name, target=out["certificateArn"])
    return Credentials(cert, key, out["certificateArn"], out["certificateId"])


def open_policy(lab, iot) -> str:
    return policy(lab, iot, [("Allow", "iot:*", "*")])


# -- publish / subscribe / receive ---------------------------------------------------------------


def test_an_authorised_publish_reaches_a_subscriber(lab, iot, tmp_path, devices):
    thing = unique("pub")
    name = policy(lab, iot, [
        ("Allow", "iot:Connect", "client/${iot:ClientId}"),
        ("Allow", "iot:Publish", "topic/telemetry/${iot:ClientId}"),
        ("Allow", "iot:Subscribe", "topicfilter/telemetry/+"),
        ("Allow", "iot:Receive", "topic/telemetry/*"),
    ])
    creds = credentials(iot, tmp_path, thing=thing, policy_name=name)
    subscriber, publisher = devices(thing + "-sub", creds), devices(thing, creds)
    assert subscriber.connect() == 0 and publisher.connect() == 0
    assert subscriber.subscribe("telemetry/+") == [1]

    publisher.publish(f"telemetry/{thing}", b"21.5")

    assert subscriber.next_message() == (f"telemetry/{thing}", b"21.5")


@pytest.mark.parametrize(
    ("topic", "retain"),
    [("denied/topic", False), ("allowed/retained", True), ("$aws/events/presence/connected/x", False)],
    ids=["publish-not-allowed", "retain-publish-not-allowed", "forbidden-reserved-topic"],
)
def test_a_refused_publish_disconnects_the_client_and_is_not_delivered(lab, iot, tmp_path, devices, console, topic, retain):
    client_id = unique("rogue")
    name = policy(lab, iot, [
        ("Allow", "iot:Connect", "client/*"),
        ("Allow", "iot:Publish", "topic/allowed/*"),
        ("Allow", "iot:Publish", "topic/$aws/events/*"),
    ])
    rogue = devices(client_id, credentials(iot, tmp_path, policy_name=name))
    assert rogue.connect() == 0
    assert console.subscribe(topic, "marker/" + client_id) == [1, 1]

    rogue.publish(topic, b"should not arrive", retain=retain)

    assert rogue.gone.wait(WAIT_S)
    console.publish("marker/" + client_id, b"after")
    assert console.next_message() == ("marker/" + client_id, b"after")


def test_receive_is_checked_for_each_subscriber(lab, iot, tmp_path, devices, console):
    client_id = unique("deaf")
    name = policy(lab, iot, [
        ("Allow", "iot:Connect", "client/*"),
        ("Allow", "iot:Subscribe", "topicfilter/news/#"),
        ("Allow", "iot:Receive", "topic/news/public"),
    ])
    listener = devices(client_id, credentials(iot, tmp_path, policy_name=name))
    assert listener.connect() == 0 and listener.subscribe("news/#") == [1]

    console.publish("news/private", b"secret")
    console.publish("news/public", b"hello")

    assert listener.next_message() == ("news/public", b"hello")


def test_an_unauthorised_subscription_gets_0x80_and_the_others_are_granted(lab, iot, tmp_path, devices):
    name = policy(lab, iot, [
        ("Allow", "iot:Connect", "client/*"),
        ("Allow", "iot:Subscribe", "topicfilter/ok/*"),
    ])
    device = devices(unique("sub"), credentials(iot, tmp_path, policy_name=name))
    assert device.connect() == 0

    assert device.subscribe("ok/#", "not-ok/#", qos=0) == [0, SUBACK_FAILURE]


# -- who may connect ------------------------------------------------------------------------------


def test_an_inactive_certificate_is_refused(lab, iot, tmp_path, devices):
    creds = credentials(iot, tmp_path, policy_name=open_policy(lab, iot), active=False)

    assert devices(unique("inactive"), creds).connect() == NOT_AUTHORIZED


def test_an_unknown_certificate_is_refused(lab, iot, tmp_path, devices):
    creds = credentials(iot, tmp_path, active=False)
    iot.delete_certificate(certificateId=creds.certificate_id)

    assert devices(unique("unknown"), creds).connect() == NOT_AUTHORIZED


def test_a_certificate_from_an_untrusted_ca_fails_the_tls_handshake(lab, tmp_path, devices):
    cert, key = self_signed(tmp_path, "stranger")

    assert devices(unique("stranger"), (cert, key)).connect() == TLS_FAILURE


def test_connect_needs_iot_connect_on_the_client_id(lab, iot, tmp_path, devices):
    name = policy(lab, iot, [("Allow", "iot:Connect", "client/allowed-*")])
    creds = credentials(iot, tmp_path, policy_name=name)

    assert devices(unique("allowed"), creds).connect() == 0
    assert devices(unique("other"), creds).connect() == NOT_AUTHORIZED


def test_a_second_connection_with_the_same_client_id_disconnects_the_first(lab, iot, tmp_path, devices, console):
    client_id = unique("twin")
    creds = credentials(iot, tmp_path, policy_name=open_policy(lab, iot))
    assert console.subscribe(f"$aws/events/presence/disconnected/{client_id}") == [1]
    first, second = devices(client_id, creds), devices(client_id, creds)
    assert first.connect() == 0

    assert second.connect() == 0
    assert first.gone.wait(WAIT_S)
    event = console.json_on(f"$aws/events/presence/disconnected/{client_id}")
    assert (event["disconnectReason"], event["clientInitiatedDisconnect"]) == ("DUPLICATE_CLIENTID", False)
    assert second.subscribe("twin/check") == [1]
    second.publish("twin/check", b"still here")
    assert second.next_message() == ("twin/check", b"still here")
    assert not second.gone.is_set()


def test_deactivating_a_certificate_disconnects_its_clients(lab, iot, tmp_path, devices):
    creds = credentials(iot, tmp_path, policy_name=open_policy(lab, iot))
    device = devices(unique("revoked"), creds)
    assert device.connect() == 0

    iot.update_certificate(certificateId=creds.certificate_id, newStatus="INACTIVE")

    assert device.gone.wait(WAIT_S)


def test_a_thing_group_policy_with_client_id_variable_applies_to_its_things(lab, iot, tmp_path, devices):
    group, thing = unique("fleet"), unique("member")
    iot.create_thing_group(thingGroupName=group)
    group_arn = iot.describe_thing_group(thingGroupName=group)["thingGroupArn"]
    name = policy(lab, iot, [
        ("Allow", "iot:Connect", "client/${iot:ClientId}"),
        ("Allow", "iot:Publish", "topic/fleet/${iot:ClientId}/*"),
        ("Allow", "iot:Subscribe", "topicfilter/fleet/${iot:ClientId}/*"),
        ("Allow", "iot:Receive", "topic/fleet/${iot:ClientId}/*"),
    ])
    iot.attach_policy(policyName=name, target=group_arn)
    try:
        creds = credentials(iot, tmp_path, thing=thing)  # the certificate itself has no policy
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)

        assert devices(unique("stranger"), creds).connect() == NOT_AUTHORIZED
        member = devices(thing, creds)
        assert member.connect() == 0
        assert member.subscribe(f"fleet/{thing}/cmd") == [1]
        member.publish(f"fleet/{thing}/cmd", b"reboot")
        assert member.next_message() == (f"fleet/{thing}/cmd", b"reboot")
    finally:
        # moto 5.2.5's DeleteCertificate fails while any policy is attached to a thing group.
        iot.detach_policy(policyName=name, target=group_arn)


# -- lifecycle events ------------------------------------------------------------------------------


def test_lifecycle_events_describe_connect_subscribe_and_disconnect(lab, iot, tmp_path, devices, console):
    client_id = unique("life")
    creds = credentials(iot, tmp_path, policy_name=open_policy(lab, iot))
    assert console.subscribe(f"$aws/events/presence/+/{client_id}", f"$aws/events/subscriptions/+/{client_id}") == [1, 1]
    device = devices(client_id, creds)

    assert device.connect() == 0
    connected = console.json_on(f"$aws/events/presence/connected/{client_id}")
    device.subscribe("life/a", "life/b")
    subscribed = console.json_on(f"$aws/events/subscriptions/subscribed/{client_id}")
    device.close()
    disconnected = console.json_on(f"$aws/events/presence/disconnected/{client_id}")

    assert connected["eventType"] == "connected" and connected["clientId"] == client_id
    assert connected["principalIdentifier"] == creds.certificate_id and connected["ipAddress"] == "127.0.0.1"
    assert subscribed["topics"] == ["life/a", "life/b"]
    assert disconnected["clientInitiatedDisconnect"] is True
    assert disconnected["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert disconnected["versionNumber"] == connected["versionNumber"]
    assert disconnected["sessionIdentifier"] == connected["sessionIdentifier"]


def test_the_console_identity_uses_any_client_id_and_makes_no_lifecycle_events(lab, devices, console):
    client_id = unique("any-name")
    pki = Path(lab.config.home) / "pki"
    assert console.subscribe(f"$aws/events/presence/connected/{client_id}", f"marker/{client_id}") == [1, 1]

    assert devices(client_id, (pki / "console-cert.pem", pki / "console-key.pem")).connect() == 0
    console.publish(f"marker/{client_id}", b"after")

    assert console.next_message() == (f"marker/{client_id}", b"after")


# -- shadows and iot-data --------------------------------------------------------------------------


def test_a_shadow_update_over_mqtt_is_answered_and_visible_over_http(lab, iot, data, tmp_path, devices):
    thing = unique("lamp")
    device = devices(thing, credentials(iot, tmp_path, thing=thing, policy_name=open_policy(lab, iot)))
    assert device.connect() == 0
    prefix = f"$aws/things/{thing}/shadow/update"
    assert device.subscribe(f"{prefix}/accepted", f"{prefix}/delta") == [1, 1]

    device.publish(prefix, {"state": {"desired": {"color": "red"}, "reported": {"color": "blue"}}, "clientToken": "t1"})

    accepted = device.json_on(f"{prefix}/accepted")
    delta = device.json_on(f"{prefix}/delta")
    assert (accepted["version"], accepted["clientToken"]) == (1, "t1")
    assert delta["state"] == {"color": "red"}
    shadow = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"] == {"desired": {"color": "red"}, "reported": {"color": "blue"}, "delta": {"color": "red"}}


def test_a_shadow_update_over_http_is_published_to_mqtt_subscribers(lab, data, console):
    thing = unique("fan")
    prefix = f"$aws/things/{thing}/shadow/name/cfg/update"
    assert console.subscribe(f"{prefix}/accepted", f"{prefix}/documents") == [1, 1]

    out = data.update_thing_shadow(thingName=thing, shadowName="cfg", payload=json.dumps({"state": {"reported": {"rpm": 900}}}))

    assert json.loads(out["payload"].read())["state"] == {"reported": {"rpm": 900}}
    assert console.json_on(f"{prefix}/accepted")["version"] == 1
    assert console.json_on(f"{prefix}/documents")["current"]["state"] == {"reported": {"rpm": 900}}
    assert data.list_named_shadows_for_thing(thingName=thing)["results"] == ["cfg"]


def test_http_shadow_errors_are_aws_errors(lab, data):
    thing = unique("ghost")

    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_thing_shadow(thingName=thing)
    data.update_thing_shadow(thingName=thing, payload=b'{"state": {"reported": {"on": true}}}')
    with pytest.raises(data.exceptions.ConflictException):
        data.update_thing_shadow(thingName=thing, payload=b'{"state": {"reported": {"on": false}}, "version": 7}')
    assert json.loads(data.delete_thing_shadow(thingName=thing)["payload"].read())["version"] == 1


def test_iot_data_publish_reaches_an_mqtt_subscriber(lab, data, console):
    topic = f"{unique('http')}/room/1"
    assert console.subscribe(topic) == [1]

    data.publish(topic=topic, qos=1, payload=b'{"t": 20}')

    assert console.next_message() == (topic, b'{"t": 20}')


@pytest.mark.parametrize(
    ("topic", "qos"),
    [("a/+/c", 0), ("$aws/events/presence/connected/x", 0), ("plain/topic", 2)],
    ids=["wildcard-in-topic", "forbidden-reserved-topic", "qos-2"],
)
def test_iot_data_publish_refuses_what_aws_refuses(lab, data, topic, qos):
    with pytest.raises(data.exceptions.InvalidRequestException):
        data.publish(topic=topic, qos=qos, payload=b"x")


def test_iot_data_publish_to_a_shadow_topic_updates_the_shadow(lab, data, console):
    thing = unique("desk")
    accepted = f"$aws/things/{thing}/shadow/update/accepted"
    assert console.subscribe(accepted) == [1]

    data.publish(topic=f"$aws/things/{thing}/shadow/update", payload=b'{"state": {"desired": {"h": 72}}}')

    assert console.json_on(accepted)["state"] == {"desired": {"h": 72}}


def test_a_retained_iot_data_publish_reaches_later_subscribers(lab, data, devices, console):
    topic = f"{unique('retained')}/config"
    data.publish(topic=topic, qos=1, retain=True, payload=b"v1")

    assert console.subscribe(topic) == [1]
    assert console.next_message() == (topic, b"v1")


# -- TLS trust at run time (in-process broker) -----------------------------------------------------


def test_a_ca_trusted_at_run_time_is_seen_by_the_next_handshake(tmp_path):
    """In-process broker: a device of a foreign CA fails TLS until `trust_ca`; then TLS succeeds,
    the unknown certificate (sent with its CA, as JITR devices do) is offered to
    ``lab.on_unknown_certificate``, and declining it gives CONNACK 5."""
    from localcore.config import LabConfig
    from localcore.mqtt.broker import LabBroker
    from localcore.pki import LabPKI
    from localcore.runtime import Lab

    from labfixture import free_port

    ca_cert, ca_key = make_ca("foreign CA")
    cert, key = issue(tmp_path, "foreign-device", ca_cert, ca_key, with_chain=True)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    offered: list[tuple[list[bytes], str]] = []

    async def scenario() -> tuple[bytes | None, bytes | None]:
        config = LabConfig(home=tmp_path / "home", http_port=free_port(), mqtt_port=free_port())
        lab = Lab(config, LabPKI.load_or_create(config.home))
        lab.loop = asyncio.get_running_loop()
        lab.on_unknown_certificate = lambda chain, client_id: offered.append((chain, client_id))
        broker = LabBroker(lab)
        await broker.start()
        try:
            before = await asyncio.to_thread(mqtt_connect_raw, config, cert, key, "foreign-device")
            broker.trust_ca(ca_pem)
            after = await asyncio.to_thread(mqtt_connect_raw, config, cert, key, "foreign-device")
        finally:
            await broker.shutdown()
        return before, after

    before, after = asyncio.run(scenario())

    assert before is None  # the TLS layer refused the certificate
    assert after == bytes([0x20, 0x02, 0x00, 0x05])  # TLS accepted; not registered → CONNACK 5
    leaf_der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert offered == [([leaf_der, ca_cert.public_bytes(serialization.Encoding.DER)], "foreign-device")]


def test_a_closed_connection_is_freed_without_the_garbage_collector(tmp_path):
    """In-process broker: once a clean-session client has gone, its session (and with it the socket,
    the TLS object and the buffers) is freed by reference counting: cycles would keep a fleet's closed
    connections in memory until the next full collection (bench/fleet.py's memory after each run)."""
    import gc
    import time
    import weakref

    from localcore.aws import moto_patches
    from localcore.config import LabConfig
    from localcore.mqtt.broker import LabBroker
    from localcore.server import build_lab

    from labfixture import free_port

    config = LabConfig(home=tmp_path / "home", http_port=free_port(), mqtt_port=free_port())
    lab = build_lab(config)
    cert, _keys = lab.iot.create_keys_and_certificate(set_as_active=True)
    cert_file = write_secret(tmp_path / "d.crt", cert.certificate_pem)
    key_file = write_secret(tmp_path / "d.key", _keys["PrivateKey"])

    async def scenario() -> tuple[bytes | None, bool, bool]:
        lab.loop = asyncio.get_running_loop()
        broker = LabBroker(lab, enforce_policies=False)
        await broker.start()
        try:
            context = ssl.create_default_context(cafile=str(config.root_ca_path))
            context.load_cert_chain(str(cert_file), str(key_file))
            reader, writer = await asyncio.open_connection(config.host, config.mqtt_port, ssl=context,
                                                           server_hostname=config.endpoint_host)
            ident = b"freed-device"
            variable = b"\x00\x04MQTT\x04\x02\x00\x1e" + struct.pack("!H", len(ident)) + ident
            writer.write(bytes([0x10, len(variable)]) + variable)
            connack = await asyncio.wait_for(reader.readexactly(4), WAIT_S)
            session = weakref.ref(broker._sessions["freed-device"][0])
            gc.disable()
            try:
                writer.write(b"\xe0\x00")  # DISCONNECT
                await writer.drain()
                writer.close()
                deadline = time.monotonic() + WAIT_S
                while "freed-device" in broker._sessions and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                removed = "freed-device" not in broker._sessions
                return connack, removed, session() is None
            finally:
                gc.enable()
        finally:
            await broker.shutdown()

    try:
        connack, removed, freed = asyncio.run(scenario())
    finally:
        moto_patches.reset()
    assert connack == bytes([0x20, 0x02, 0x00, 0x00])
    assert removed, "amqtt did not drop the clean session"
    assert freed, "the closed session is still referenced (a cycle, or a leak)"


# -- helpers ---------------------------------------------------------------------------------------


def mqtt_connect_raw(config, cert: Path, key: Path, client_id: str) -> bytes | None:
    """Send a bare MQTT 3.1.1 CONNECT over TLS 1.2; the 4-byte CONNACK, or None if TLS failed."""
    context = ssl.create_default_context(cafile=str(config.root_ca_path))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    ident = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x1e" + struct.pack("!H", len(ident)) + ident
    packet = bytes([0x10, len(variable)]) + variable
    try:
        with socket.create_connection((config.host, config.mqtt_port), timeout=WAIT_S) as raw:
            with context.wrap_socket(raw, server_hostname=config.endpoint_host) as tls:
                tls.sendall(packet)
                answer = b""
                while len(answer) < 4:
                    chunk = tls.recv(4 - len(answer))
                    if not chunk:
                        return None
                    answer += chunk
                return answer
    except (ssl.SSLError, ConnectionError):
        return None


def issue(folder: Path, name: str, ca_cert, ca_key, with_chain: bool = False) -> tuple[Path, Path]:
    """A device key and certificate from ``ca_cert``; ``with_chain`` appends the CA to the file."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    key_text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    chain = [cert, ca_cert] if with_chain else [cert]
    cert_text = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    return write_secret(folder / f"{name}.crt", cert_text), write_secret(folder / f"{name}.key", key_text)


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    ca_cert, ca_key = make_ca(name + " CA")
    return issue(folder, name, ca_cert, ca_key)
