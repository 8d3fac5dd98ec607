"""MQTT 5 against the lab, as AWS IoT Core answers it: paho-mqtt's MQTT 5 mode, Debian's mosquitto
clients with ``-V mqttv5``, and the AWS IoT Device SDK v2's MQTT 5 client, unmodified apart from
endpoint, port and CA file. Refusals come as reason codes (`localcore.mqtt.v5.aws`)."""

from __future__ import annotations

import json
import queue
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices import registered_device
from labfixture import console_device
from localcore.mqtt.v5 import codec

WAIT_S = 10
OK = "v5/ok"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"arn:aws:iot:*:*:topic/{OK}/*"},
        {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": f"arn:aws:iot:*:*:topicfilter/{OK}/*"},
    ],
}
needs_mosquitto = pytest.mark.skipif(not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")),
                                     reason="mosquitto clients not installed (.ci/run installs them)")


@pytest.fixture(scope="module")
def iot(lab):
    client = lab.client("iot")
    client.create_policy(policyName="mqtt5-policy", policyDocument=json.dumps(POLICY))
    return client


def provision(iot, folder: Path, *, active: bool = True) -> tuple[str, Path, Path]:
    return registered_device(iot, folder, "mqtt5-policy", "v5", active=active)


class V5:
    """paho-mqtt in MQTT 5 mode; every callback lands in ``events`` as (kind, ...)."""

    def __init__(self, lab, name: str, cert: Path, key: Path, *, clean_start: bool = True,
                 session_expiry: int | None = None) -> None:
        self.events: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5,
                                  reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = lambda c, u, flags, rc, props: self.events.put(("connack", rc.value, props, flags))
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.events.put(("gone", rc.value))
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.events.put(("suback", mid, [r.value for r in rcs]))
        self.client.on_unsubscribe = lambda c, u, mid, rcs, props: self.events.put(
            ("unsuback", mid, [r.value for r in rcs]))
        self.client.on_publish = lambda c, u, mid, rc, props: self.events.put(("puback", mid, rc.value))
        self.client.on_message = lambda c, u, message: self.events.put(("message", message))
        connect = Properties(PacketTypes.CONNECT)
        if session_expiry is not None:
            connect.SessionExpiryInterval = session_expiry
        self.client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30, clean_start=clean_start,
                            properties=connect if session_expiry is not None else None)
        self.client.loop_start()

    def next(self, kind: str, timeout: float = WAIT_S):
        """The next event of ``kind`` (others before it are dropped)."""
        while True:
            event = self.events.get(timeout=timeout)
            if event[0] == kind:
                return event

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(lab, iot, tmp_path):
    made: list[V5] = []

    def make(*, active: bool = True, **options) -> V5:
        name, cert, key = provision(iot, tmp_path, active=active)
        made.append(V5(lab, name, cert, key, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def connected(client: V5):
    kind, code, props, flags = client.next("connack")
    assert code == 0, f"CONNACK reason 0x{code:02X}"
    return props, flags


def test_connack_says_what_aws_iot_core_supports(clients):
    props, _flags = connected(clients())
    assert props.TopicAliasMaximum == 8
    assert props.MaximumQoS == 1
    assert props.ReceiveMaximum == 100
    assert props.RetainAvailable == 1
    assert props.WildcardSubscriptionAvailable == 1


def test_request_response_and_user_properties_reach_the_subscriber(clients):
    responder, requester = clients(), clients()
    connected(responder), connected(requester)
    responder.client.subscribe(f"{OK}/requests", qos=1)
    assert responder.next("suback")[2] == [1]
    request = Properties(PacketTypes.PUBLISH)
    request.ResponseTopic, request.CorrelationData = f"{OK}/replies", b"id-42"
    request.UserProperty = [("trace", "abc"), ("trace", "def")]
    request.MessageExpiryInterval, request.ContentType = 60, "application/json"
    requester.client.publish(f"{OK}/requests", b'{"ask": 1}', qos=1, properties=request)
    assert requester.next("puback")[2] == 0
    message = responder.next("message")[1]
    assert message.payload == b'{"ask": 1}'
    assert message.properties.ResponseTopic == f"{OK}/replies"
    assert message.properties.CorrelationData == b"id-42"
    assert message.properties.UserProperty == [("trace", "abc"), ("trace", "def")]
    assert message.properties.ContentType == "application/json"
    assert 0 < message.properties.MessageExpiryInterval <= 60


def test_an_mqtt_311_subscriber_gets_the_payload_of_an_mqtt_5_publisher(lab, clients):
    with console_device(lab, f"{OK}/mixed") as console:
        mark = console.messages.mark()
        publisher = clients()
        connected(publisher)
        publisher.client.publish(f"{OK}/mixed", b"from-v5", qos=1)
        assert console.wait_for(f"{OK}/mixed", timeout=WAIT_S, after=mark).payload == b"from-v5"


def test_refusals_are_reason_codes(clients):
    device = clients()
    connected(device)
    device.client.subscribe([(f"{OK}/fine", SubscribeOptions(qos=1)), ("not/allowed", SubscribeOptions(qos=1)),
                             ("$share/group/v5/ok/x", SubscribeOptions(qos=1))])
    assert device.next("suback")[2] == [1, 0x87, 0x9E]
    device.client.publish("not/allowed", b"no", qos=1)
    assert device.next("puback")[2] == 0x87  # not authorised: a reason code, not a lost connection
    device.client.publish(f"{OK}/fine", b"yes", qos=1)
    assert device.next("puback")[2] == 0
    device.client.unsubscribe(["never/subscribed", f"{OK}/fine"])
    assert device.next("unsuback")[2] == [0x11, 0]


def test_an_inactive_certificate_gets_connack_not_authorized(clients):
    device = clients(active=False)
    assert device.next("connack")[1] == 0x87


def test_topic_aliases_within_aws_limit(clients):
    device = clients()
    connected(device)
    device.client.subscribe(f"{OK}/alias", qos=1)
    device.next("suback")
    for topic, alias in ((f"{OK}/alias", 3), ("", 3)):
        props = Properties(PacketTypes.PUBLISH)
        props.TopicAlias = alias
        device.client.publish(topic, b"aliased", qos=1, properties=props)
        assert device.next("message")[1].topic == f"{OK}/alias"
    beyond = Properties(PacketTypes.PUBLISH)
    beyond.TopicAlias = 9  # AWS allows 8 per connection
    device.client.publish(f"{OK}/alias", b"too far", qos=1, properties=beyond)
    assert device.next("gone")[1] == 0x94


def test_no_local_keeps_a_clients_own_messages_from_it(clients):
    device, other = clients(), clients()
    connected(device), connected(other)
    device.client.subscribe(f"{OK}/echo", options=SubscribeOptions(qos=1, noLocal=True))
    device.next("suback")
    device.client.publish(f"{OK}/echo", b"mine", qos=1)
    device.next("puback")
    other.client.publish(f"{OK}/echo", b"theirs", qos=1)
    assert device.next("message")[1].payload == b"theirs"


def test_a_session_with_an_expiry_keeps_its_messages_while_away(lab, iot, tmp_path, clients):
    name, cert, key = provision(iot, tmp_path)
    first = V5(lab, name, cert, key, clean_start=True, session_expiry=7 * 24 * 3600)
    props, _ = connected(first)
    assert props.SessionExpiryInterval == 3600  # AWS keeps a session one hour at most (by default)
    first.client.subscribe(f"{OK}/later", qos=1)
    first.next("suback")
    first.close()
    sender = clients()
    connected(sender)
    sender.client.publish(f"{OK}/later", b"while-away", qos=1)
    assert sender.next("puback")[2] == 0
    again = V5(lab, name, cert, key, clean_start=False, session_expiry=3600)
    try:
        _props, flags = connected(again)
        assert flags.session_present
        assert again.next("message")[1].payload == b"while-away"
    finally:
        again.close()


def test_malformed_packets_get_a_disconnect_and_the_lab_keeps_serving(lab, iot, tmp_path, clients):
    name, cert, key = provision(iot, tmp_path)
    context = ssl.create_default_context(cafile=str(lab.root_ca))
    context.load_cert_chain(str(cert), str(key))
    with socket.create_connection((lab.mqtt_host, lab.mqtt_port), timeout=WAIT_S) as raw, \
            context.wrap_socket(raw, server_hostname=lab.mqtt_host) as tls:
        body = codec.text("MQTT") + bytes([5, 0x02]) + (30).to_bytes(2, "big") + codec.properties({}) + codec.text(name)
        tls.sendall(codec.packet(codec.CONNECT, 0, body))
        assert tls.recv(1)[0] >> 4 == codec.CONNACK
        tls.recv(1024)
        tls.sendall(bytes([codec.SUBSCRIBE << 4 | 0x02, 3, 0, 1, 0]))  # a property length, then nothing
        answer = b""
        while len(answer) < 3:
            chunk = tls.recv(16)
            if not chunk:
                break
            answer += chunk
    assert answer[0] >> 4 == codec.DISCONNECT and answer[2] in (0x81, 0x82)
    connected(clients())


@needs_mosquitto
def test_mosquitto_clients_speak_mqtt_5_with_user_properties(lab, iot, tmp_path):
    sub_name, sub_cert, sub_key = provision(iot, tmp_path)
    pub_name, pub_cert, pub_key = provision(iot, tmp_path)
    tls = ["--cafile", str(lab.root_ca), "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-V", "mqttv5"]
    with console_device(lab, f"$aws/events/subscriptions/subscribed/{sub_name}") as console:
        subscriber = subprocess.Popen(
            ["mosquitto_sub", *tls, "--cert", str(sub_cert), "--key", str(sub_key), "-i", sub_name,
             "-t", f"{OK}/mosquitto", "-q", "1", "-C", "1", "-W", "20", "-F", "%p|%P"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        console.wait_for(f"$aws/events/subscriptions/subscribed/{sub_name}", timeout=WAIT_S)
    try:
        published = subprocess.run(
            ["mosquitto_pub", *tls, "--cert", str(pub_cert), "--key", str(pub_key), "-i", pub_name,
             "-t", f"{OK}/mosquitto", "-q", "1", "-m", "hello-v5", "-D", "publish", "user-property", "site", "lab"],
            capture_output=True, text=True, timeout=30)
        assert published.returncode == 0, published.stderr
        out, err = subscriber.communicate(timeout=20)
    finally:
        subscriber.kill()
    assert out.strip() == "hello-v5|site:lab", err
    refused = subprocess.run(
        ["mosquitto_pub", *tls, "--cert", str(pub_cert), "--key", str(pub_key), "-i", pub_name,
         "-t", "not/allowed", "-q", "1", "-m", "nope", "-d"], capture_output=True, text=True, timeout=30)
    assert "PUBACK" in refused.stdout and ("rc:135" in refused.stdout or "Not authorized" in refused.stdout + refused.stderr), \
        refused.stdout + refused.stderr


def test_aws_iot_device_sdk_v2_mqtt5_client(lab, iot, tmp_path):
    builder = pytest.importorskip("awsiot.mqtt5_client_builder")
    from awscrt import mqtt5

    name, cert, key = provision(iot, tmp_path)
    events: queue.Queue = queue.Queue()
    client = builder.mtls_from_path(
        endpoint=lab.mqtt_host, port=lab.mqtt_port, cert_filepath=str(cert), pri_key_filepath=str(key),
        ca_filepath=str(lab.root_ca), client_id=name,
        on_lifecycle_connection_success=lambda data: events.put(("connected", data.connack_packet)),
        on_lifecycle_connection_failure=lambda data: events.put(("failed", data)),
        on_publish_received=lambda data: events.put(("message", data.publish_packet)))
    client.start()
    try:
        kind, connack = events.get(timeout=WAIT_S)
        assert kind == "connected", connack
        assert connack.topic_alias_maximum == 8
        client.subscribe(mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(f"{OK}/sdk", mqtt5.QoS.AT_LEAST_ONCE)])
                         ).result(WAIT_S)
        done = client.publish(mqtt5.PublishPacket(topic=f"{OK}/sdk", payload=b"sdk-v5", qos=mqtt5.QoS.AT_LEAST_ONCE,
                                                  user_properties=[mqtt5.UserProperty("k", "v")])).result(WAIT_S)
        assert done.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
        kind, message = events.get(timeout=WAIT_S)
        assert (kind, message.payload) == ("message", b"sdk-v5")
        assert [(p.name, p.value) for p in message.user_properties] == [("k", "v")]
        denied = client.publish(mqtt5.PublishPacket(topic="not/allowed", payload=b"x", qos=mqtt5.QoS.AT_LEAST_ONCE)
                                ).result(WAIT_S)
        assert denied.puback.reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
    finally:
        client.stop()
