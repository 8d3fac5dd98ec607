"""MQTT 5.0 packets as bytes and back: a small pure codec (OASIS MQTT Version 5.0, sections 1.5, 2 and 3).

The lab's broker keeps amqtt's MQTT 3.1.1 machinery (sessions, QoS flows, retained messages) and uses
this codec at the edge of a connection that said protocol level 5 (`localcore.mqtt.v5.bridge`).
Decoders take a packet's body (what follows the fixed header) and raise `MalformedPacket` for anything
the specification calls malformed; encoders return whole packets, fixed header included.

Properties are a dict of the names in `PROPERTIES` (``"message_expiry_interval": 60``); the two that may
repeat, ``user_property`` and ``subscription_identifier``, are lists.
"""

from __future__ import annotations

import struct
from typing import Any

PROTOCOL_LEVEL = 5

# packet types (section 2.1.2)
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

BYTE, TWO, FOUR, VARINT, TEXT, BINARY, PAIR = "byte", "two", "four", "varint", "text", "binary", "pair"
PROPERTIES: dict[int, tuple[str, str]] = {  # section 2.2.2.2
    0x01: ("payload_format_indicator", BYTE), 0x02: ("message_expiry_interval", FOUR),
    0x03: ("content_type", TEXT), 0x08: ("response_topic", TEXT), 0x09: ("correlation_data", BINARY),
    0x0B: ("subscription_identifier", VARINT), 0x11: ("session_expiry_interval", FOUR),
    0x12: ("assigned_client_identifier", TEXT), 0x13: ("server_keep_alive", TWO),
    0x15: ("authentication_method", TEXT), 0x16: ("authentication_data", BINARY),
    0x17: ("request_problem_information", BYTE), 0x18: ("will_delay_interval", FOUR),
    0x19: ("request_response_information", BYTE), 0x1A: ("response_information", TEXT),
    0x1C: ("server_reference", TEXT), 0x1F: ("reason_string", TEXT), 0x21: ("receive_maximum", TWO),
    0x22: ("topic_alias_maximum", TWO), 0x23: ("topic_alias", TWO), 0x24: ("maximum_qos", BYTE),
    0x25: ("retain_available", BYTE), 0x26: ("user_property", PAIR), 0x27: ("maximum_packet_size", FOUR),
    0x28: ("wildcard_subscription_available", BYTE), 0x29: ("subscription_identifier_available", BYTE),
    0x2A: ("shared_subscription_available", BYTE),
}
IDS = {name: (ident, kind) for ident, (name, kind) in PROPERTIES.items()}
REPEATABLE = ("user_property", "subscription_identifier")


class MalformedPacket(ValueError):
    """The bytes are not a well-formed MQTT 5 packet (reason code 0x81), or break a protocol rule (0x82)."""

    def __init__(self, message: str, reason: int = 0x81) -> None:
        super().__init__(message)
        self.reason = reason


# ----------------------------------------------------------------------------- primitives


class Cursor:
    """Reads a packet body front to back; any read past the end is a malformed packet."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = bytes(data), 0

    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, count: int) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise MalformedPacket("the packet ends early")
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def two(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def four(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):
            digit = self.byte()
            value |= (digit & 0x7F) << shift
            if not digit & 0x80:
                return value
            shift += 7
        raise MalformedPacket("a variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        return self.take(self.two())

    def text(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket("a string that is not UTF-8") from None
        if "\x00" in text:
            raise MalformedPacket("a string with a null character")
        return text

    def properties(self) -> dict[str, Any]:
        length = self.varint()
        inner = Cursor(self.take(length))
        found: dict[str, Any] = {}
        while inner.left():
            ident = inner.varint()
            if ident not in PROPERTIES:
                raise MalformedPacket(f"unknown property 0x{ident:02X}")
            name, kind = PROPERTIES[ident]
            value = {BYTE: inner.byte, TWO: inner.two, FOUR: inner.four, VARINT: inner.varint, TEXT: inner.text,
                     BINARY: inner.binary, PAIR: lambda: (inner.text(), inner.text())}[kind]()
            if name in REPEATABLE:
                found.setdefault(name, []).append(value)
            elif name in found:
                raise MalformedPacket(f"the property {name} twice", 0x82)
            else:
                found[name] = value
        return found


def varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        digit, value = value & 0x7F, value >> 7
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def binary(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def text(value: str) -> bytes:
    return binary(value.encode("utf-8"))


def properties(values: dict[str, Any] | None) -> bytes:
    out = bytearray()
    for name, value in (values or {}).items():
        if value is None:
            continue
        ident, kind = IDS[name]
        for one in (value if name in REPEATABLE else [value]):
            out += varint(ident)
            out += {BYTE: lambda v: bytes([v]), TWO: lambda v: struct.pack("!H", v),
                    FOUR: lambda v: struct.pack("!I", v), VARINT: varint, TEXT: text, BINARY: binary,
                    PAIR: lambda v: text(v[0]) + text(v[1])}[kind](one)
    return varint(len(out)) + bytes(out)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([(kind << 4) | flags]) + varint(len(body)) + body


# ----------------------------------------------------------------------------- client → server


def decode_connect(body: bytes) -> dict[str, Any]:
    """CONNECT (3.1): protocol, flags, keep-alive, properties, client id, will, user name and password."""
    cursor = Cursor(body)
    name, level, flags = cursor.text(), cursor.byte(), cursor.byte()
    if name != "MQTT":
        raise MalformedPacket(f"protocol name {name!r}", 0x82)
    if flags & 0x01:
        raise MalformedPacket("the reserved CONNECT flag is set")
    connect: dict[str, Any] = {"level": level, "clean_start": bool(flags & 0x02), "keep_alive": cursor.two()}
    connect["properties"] = cursor.properties()
    connect["client_id"] = cursor.text()
    will_flag, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 0x03, bool(flags & 0x20)
    if not will_flag and (will_qos or will_retain):
        raise MalformedPacket("will QoS or retain without a will", 0x82)
    if will_qos == 3:
        raise MalformedPacket("will QoS 3")
    connect["will"] = None
    if will_flag:
        will_properties = cursor.properties()
        connect["will"] = {"properties": will_properties, "topic": cursor.text(), "payload": cursor.binary(),
                           "qos": will_qos, "retain": will_retain}
    connect["username"] = cursor.text() if flags & 0x80 else None
    connect["password"] = cursor.binary() if flags & 0x40 else None
    if cursor.left():
        raise MalformedPacket("bytes after the CONNECT payload")
    return connect


def decode_publish(body: bytes, flags: int) -> dict[str, Any]:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    cursor = Cursor(body)
    topic = cursor.text()
    packet_id = cursor.two() if qos else None
    if qos and not packet_id:
        raise MalformedPacket("PUBLISH with packet identifier 0", 0x82)
    found = cursor.properties()
    return {"topic": topic, "packet_id": packet_id, "properties": found, "payload": cursor.take(cursor.left()),
            "qos": qos, "retain": bool(flags & 0x01), "dup": bool(flags & 0x08)}


def decode_ack(body: bytes) -> dict[str, Any]:
    """PUBACK, PUBREC, PUBREL, PUBCOMP (3.4-3.7): the reason code and properties may be left out."""
    cursor = Cursor(body)
    ack = {"packet_id": cursor.two(), "reason": 0, "properties": {}}
    if cursor.left():
        ack["reason"] = cursor.byte()
    if cursor.left():
        ack["properties"] = cursor.properties()
    return ack


def decode_subscribe(body: bytes) -> dict[str, Any]:
    cursor = Cursor(body)
    packet_id, found, filters = cursor.two(), cursor.properties(), []
    while cursor.left():
        topic_filter, options = cursor.text(), cursor.byte()
        if options & 0xC0 or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise MalformedPacket("bad subscription options", 0x82)
        filters.append((topic_filter, options))
    if not filters:
        raise MalformedPacket("SUBSCRIBE without a topic filter", 0x82)
    return {"packet_id": packet_id, "properties": found, "filters": filters}


def decode_unsubscribe(body: bytes) -> dict[str, Any]:
    cursor = Cursor(body)
    packet_id, found, filters = cursor.two(), cursor.properties(), []
    while cursor.left():
        filters.append(cursor.text())
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without a topic filter", 0x82)
    return {"packet_id": packet_id, "properties": found, "filters": filters}


def decode_disconnect(body: bytes) -> dict[str, Any]:
    cursor = Cursor(body)
    reason = cursor.byte() if cursor.left() else 0
    return {"reason": reason, "properties": cursor.properties() if cursor.left() else {}}


# ----------------------------------------------------------------------------- server → client


def encode_connack(session_present: bool, reason: int, props: dict[str, Any] | None = None) -> bytes:
    return packet(CONNACK, 0, bytes([1 if session_present and reason == 0 else 0, reason]) + properties(props))


def encode_publish(topic: str, payload: bytes, qos: int, retain: bool, dup: bool, packet_id: int | None,
                   props: dict[str, Any] | None = None) -> bytes:
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = text(topic) + (struct.pack("!H", packet_id) if qos else b"") + properties(props) + bytes(payload)
    return packet(PUBLISH, flags, body)


def encode_ack(kind: int, packet_id: int, reason: int = 0, props: dict[str, Any] | None = None) -> bytes:
    """PUBACK/PUBREC/PUBREL/PUBCOMP; the short form when the reason is 0 and there are no properties."""
    body = struct.pack("!H", packet_id)
    if reason or props:
        body += bytes([reason]) + properties(props)
    return packet(kind, 0x02 if kind == PUBREL else 0, body)


def encode_suback(packet_id: int, reasons: list[int], props: dict[str, Any] | None = None) -> bytes:
    return packet(SUBACK, 0, struct.pack("!H", packet_id) + properties(props) + bytes(reasons))


def encode_unsuback(packet_id: int, reasons: list[int], props: dict[str, Any] | None = None) -> bytes:
    return packet(UNSUBACK, 0, struct.pack("!H", packet_id) + properties(props) + bytes(reasons))


def encode_pingresp() -> bytes:
    return packet(PINGRESP, 0, b"")


def encode_disconnect(reason: int, props: dict[str, Any] | None = None) -> bytes:
    return packet(DISCONNECT, 0, bytes([reason]) + properties(props))


__all__ = ["MalformedPacket", "PROPERTIES", "decode_ack", "decode_connect", "decode_disconnect", "decode_publish",
           "decode_subscribe", "decode_unsubscribe", "encode_ack", "encode_connack", "encode_disconnect",
           "encode_publish", "encode_pingresp", "encode_suback", "encode_unsuback"]
