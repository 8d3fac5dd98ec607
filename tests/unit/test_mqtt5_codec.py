"""The MQTT 5 codec (`localcore.mqtt.v5.codec`) and the bridge's translations, packet by packet."""

from __future__ import annotations

import pytest

from localcore.mqtt.v5 import codec
from localcore.mqtt.v5.bridge import V5State, V5Writer, protocol_level


def body_of(packet: bytes) -> tuple[int, int, bytes]:
    cursor = codec.Cursor(packet[1:])
    length = cursor.varint()
    body = cursor.take(cursor.left())
    assert len(body) == length
    return packet[0] >> 4, packet[0] & 0x0F, body


@pytest.mark.parametrize("value, encoded", [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                            (16_383, b"\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"),
                                            (268_435_455, b"\xff\xff\xff\x7f")])
def test_variable_byte_integers(value, encoded):
    assert codec.varint(value) == encoded
    assert codec.Cursor(encoded).varint() == value


PROPERTY_CASES = [
    {},
    {"message_expiry_interval": 60, "content_type": "application/json", "response_topic": "a/b",
     "correlation_data": b"\x00\x01", "payload_format_indicator": 1},
    {"user_property": [("k", "v"), ("k", "w")], "topic_alias": 3},
    {"receive_maximum": 100, "topic_alias_maximum": 8, "maximum_packet_size": 149_504,
     "subscription_identifier": [1, 268_435_455], "session_expiry_interval": 3600},
]


@pytest.mark.parametrize("props", PROPERTY_CASES, ids=range(len(PROPERTY_CASES)))
def test_properties_round_trip(props):
    assert codec.Cursor(codec.properties(props)).properties() == props


def test_publish_round_trip():
    packet = codec.encode_publish("t/1", b"payload", 1, True, False, 7, {"user_property": [("a", "b")]})
    kind, flags, body = body_of(packet)
    assert kind == codec.PUBLISH
    decoded = codec.decode_publish(body, flags)
    assert decoded == {"topic": "t/1", "packet_id": 7, "properties": {"user_property": [("a", "b")]},
                       "payload": b"payload", "qos": 1, "retain": True, "dup": False}


def connect_body(level=5, flags=0x02, props=b"\x00", client_id="dev", extra=b""):
    return codec.text("MQTT") + bytes([level, flags]) + (30).to_bytes(2, "big") + props + codec.text(client_id) + extra


def test_connect_with_will_user_name_and_password():
    will = codec.properties({"will_delay_interval": 5}) + codec.text("last/will") + codec.binary(b"bye")
    body = connect_body(flags=0x02 | 0x04 | 0x08 | 0x80 | 0x40, extra=will + codec.text("user") + codec.binary(b"pw"))
    connect = codec.decode_connect(body)
    assert connect["clean_start"] and connect["client_id"] == "dev" and connect["keep_alive"] == 30
    assert connect["will"] == {"properties": {"will_delay_interval": 5}, "topic": "last/will", "payload": b"bye",
                               "qos": 1, "retain": False}
    assert (connect["username"], connect["password"]) == ("user", b"pw")
    assert protocol_level(body) == 5


MALFORMED = [
    ("connect with the reserved flag", lambda: codec.decode_connect(connect_body(flags=0x03)), 0x81),
    ("connect with another protocol name", lambda: codec.decode_connect(codec.text("MQIsdp") + b"\x05\x02\x00\x1e\x00"), 0x82),
    ("connect cut short", lambda: codec.decode_connect(connect_body()[:-2]), 0x81),
    ("will QoS without a will", lambda: codec.decode_connect(connect_body(flags=0x0A)), 0x82),
    ("publish QoS 3", lambda: codec.decode_publish(codec.text("t") + b"\x00\x01\x00", 0x06), 0x81),
    ("publish with packet id 0", lambda: codec.decode_publish(codec.text("t") + b"\x00\x00\x00", 0x02), 0x82),
    ("unknown property", lambda: codec.Cursor(b"\x02\x7f\x00").properties(), 0x81),
    ("a property twice", lambda: codec.Cursor(b"\x06\x23\x00\x01\x23\x00\x02").properties(), 0x82),
    ("a string that is not UTF-8", lambda: codec.Cursor(b"\x00\x02\xff\xfe").text(), 0x81),
    ("subscribe without filters", lambda: codec.decode_subscribe(b"\x00\x01\x00"), 0x82),
    ("subscribe with reserved option bits", lambda: codec.decode_subscribe(b"\x00\x01\x00" + codec.text("a") + b"\xc1"), 0x82),
    ("a varint of 5 bytes", lambda: codec.Cursor(b"\xff\xff\xff\xff\x01").varint(), 0x81),
]


@pytest.mark.parametrize("build, reason", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_packets_are_refused_with_their_reason(build, reason):
    with pytest.raises(codec.MalformedPacket) as refused:
        build()
    assert refused.value.reason == reason


class Sink:
    def __init__(self):
        self.data = b""

    def write(self, data):
        self.data += data


@pytest.mark.parametrize("v311, expected", [
    (b"\x20\x02\x00\x00", (codec.CONNACK, b"\x00\x00")),          # accepted (properties follow)
    (b"\x20\x02\x00\x05", (codec.CONNACK, b"\x00\x87\x00")),      # not authorised → 0x87, no properties
    (b"\x20\x02\x00\x02", (codec.CONNACK, b"\x00\x85\x00")),      # identifier rejected → 0x85
    (b"\x90\x04\x00\x05\x01\x80", (codec.SUBACK, b"\x00\x05\x00\x01\x87")),  # a denied filter → 0x87
    (b"\x40\x02\x00\x09", (codec.PUBACK, b"\x00\x09")),          # success: the short form
    (b"\xd0\x00", (codec.PINGRESP, b"")),
])
def test_the_writer_turns_mqtt_311_packets_into_mqtt_5(v311, expected):
    sink = Sink()
    V5Writer(sink, V5State()).write(v311)
    kind, _flags, body = body_of(sink.data)
    assert kind == expected[0]
    assert body[:len(expected[1])] == expected[1]


def test_the_writer_answers_a_denied_publish_with_its_reason():
    state, sink = V5State(), Sink()
    state.puback_reasons[9] = 0x87
    V5Writer(sink, state).write(b"\x40\x02\x00\x09")
    assert body_of(sink.data)[2] == b"\x00\x09\x87\x00"


@pytest.mark.parametrize("properties, since, now, expected", [
    ({"message_expiry_interval": 60, "content_type": "x"}, 100.0, 100.2, {"message_expiry_interval": 60, "content_type": "x"}),
    ({"message_expiry_interval": 60}, 100.0, 130.0, {"message_expiry_interval": 30}),
    ({"message_expiry_interval": 60}, 100.0, 160.0, None),       # expired: not delivered any more
    ({"user_property": [("a", "b")]}, 100.0, 9_999.0, {"user_property": [("a", "b")]}),  # no expiry
    (None, None, 5.0, {}),                                        # an MQTT 3.1.1 message
])
def test_message_expiry_counts_down(properties, since, now, expected):
    from localcore.mqtt.v5.bridge import remaining

    assert remaining(properties, since, now) == expected
