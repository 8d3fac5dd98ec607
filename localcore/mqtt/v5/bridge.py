"""An MQTT 5 connection carried by amqtt's MQTT 3.1.1 machinery: a reader and a writer that translate.

amqtt 0.12.1 speaks MQTT 3.1.1 only. For a client whose CONNECT says protocol level 5, the broker
keeps amqtt's sessions, QoS flows and retained messages, and puts these two adapters between amqtt
and the socket:

* `V5Reader` reads whole MQTT 5 packets (`codec`), resolves topic aliases, and hands amqtt the same
  packet as MQTT 3.1.1 bytes. What 3.1.1 cannot carry stays in the connection's `V5State`: each
  PUBLISH's properties (in order, for the broker to forward), subscription options, the filters of
  each UNSUBSCRIBE. A malformed packet, an unknown topic alias or an AUTH packet gets a DISCONNECT
  with its reason code and ends the connection (the reader then reports end of stream).
* `V5Writer` turns each MQTT 3.1.1 packet amqtt writes into its MQTT 5 form: CONNACK with AWS's
  properties (`aws.CONNACK_PROPERTIES`) and reason codes, SUBACK 0x87 for a denied filter, UNSUBACK
  with a reason per filter, PUBACK with the reason the broker chose, PUBLISH with the properties
  of the message it delivers (`OUTGOING`, set by the broker around the delivery task).
"""

from __future__ import annotations

import asyncio
import contextvars
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.mqtt.disconnect import DisconnectPacket
from amqtt.mqtt.pingreq import PingReqPacket
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.pubcomp import PubcompPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.mqtt.pubrec import PubrecPacket
from amqtt.mqtt.pubrel import PubrelPacket
from amqtt.mqtt.subscribe import SubscribePacket
from amqtt.mqtt.unsubscribe import UnsubscribePacket

from . import aws, codec

# The properties of the message a delivery task is sending (a PUBLISH to an MQTT 5 subscriber).
OUTGOING: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mqtt5_outgoing", default=None)

NO_LOCAL, RETAIN_AS_PUBLISHED = 0x04, 0x08


@dataclass
class V5State:
    """What an MQTT 5 connection knows that MQTT 3.1.1 cannot say."""

    clean_start: bool = True
    session_expiry_s: int = 0
    writer: Any = None  # the socket's writer (for a DISCONNECT)
    aliases: dict[int, str] = field(default_factory=dict)  # topic alias → topic, from the client
    incoming: deque = field(default_factory=deque)  # properties of each PUBLISH read, in order
    options: dict[str, int] = field(default_factory=dict)  # topic filter → subscription options byte
    subscribe_options: dict[int, list] = field(default_factory=dict)  # packet id → [(filter, options)]
    unsubscribes: dict[int, list[str]] = field(default_factory=dict)  # packet id → its filters
    unsuback_reasons: dict[int, list[int]] = field(default_factory=dict)
    suback_reasons: dict[int, dict[int, int]] = field(default_factory=dict)  # packet id → {index: reason}
    puback_reasons: dict[int, int] = field(default_factory=dict)
    connack_properties: dict = field(default_factory=dict)
    will_on_disconnect: bool = False  # DISCONNECT 0x04: publish the will
    closed_with: int | None = None  # the reason of the DISCONNECT the lab sent

    async def disconnect(self, reason: int, text: str = "") -> None:
        """Send DISCONNECT with ``reason`` (once) and close the socket."""
        if self.closed_with is not None or self.writer is None:
            return
        self.closed_with = reason
        try:
            self.writer.write(codec.encode_disconnect(reason, {"reason_string": text} if text else None))
            await self.writer.drain()
        except (OSError, asyncio.CancelledError, RuntimeError):
            pass


def protocol_level(connect_body: bytes) -> int | None:
    """The protocol level a CONNECT body announces (after its protocol name), or None if unreadable."""
    if len(connect_body) < 3:
        return None
    name_length = struct.unpack("!H", connect_body[:2])[0]
    return connect_body[2 + name_length] if len(connect_body) > 2 + name_length else None


async def read_packet(reader: Any) -> tuple[int, bytes] | None:
    """``(first byte, body)`` of the next packet, or None at the end of the stream."""
    try:
        first = await reader.read(1)
        if not first:
            return None
        length, shift = 0, 0
        for _ in range(4):
            digit = (await reader.read(1))[0]
            length |= (digit & 0x7F) << shift
            if not digit & 0x80:
                break
            shift += 7
        else:
            raise codec.MalformedPacket("remaining length longer than 4 bytes")
        body = await reader.read(length) if length else b""
        if len(body) != length:
            return None
        return first[0], body
    except (asyncio.IncompleteReadError, IndexError, ConnectionError):
        return None


class V5Reader(ReaderAdapter):
    """amqtt reads MQTT 3.1.1 from this; the socket carries MQTT 5."""

    def __init__(self, raw: Any, state: V5State) -> None:
        self.raw, self.state, self.buffer = raw, state, bytearray()

    async def read(self, n: int = -1) -> bytes:
        while n > len(self.buffer):
            more = await self._next()
            if more is None:
                break
            self.buffer += more
        chunk = bytes(self.buffer[:n]) if n >= 0 else bytes(self.buffer)
        del self.buffer[:len(chunk)]
        return chunk

    def feed_eof(self) -> None:
        self.raw.feed_eof()

    async def _next(self) -> bytes | None:
        """The next packet, translated; None when the connection is over."""
        if self.state.closed_with is not None:
            return None
        try:
            packet = await read_packet(self.raw)
            if packet is None:
                return None
            first, body = packet
            return self._translate(first >> 4, first & 0x0F, body)
        except codec.MalformedPacket as error:
            await self.state.disconnect(error.reason, str(error))
            return None

    def _translate(self, kind: int, flags: int, body: bytes) -> bytes | None:
        state = self.state
        if kind == codec.PUBLISH:
            publish = codec.decode_publish(body, flags)
            props = publish["properties"]
            topic = self._resolve_alias(publish["topic"], props.pop("topic_alias", None))
            if "subscription_identifier" in props:
                raise codec.MalformedPacket("a PUBLISH from a client with a subscription identifier",
                                            aws.PROTOCOL_ERROR)
            state.incoming.append({k: v for k, v in props.items() if k in aws.FORWARDED})
            return PublishPacket.build(topic, publish["payload"], publish["packet_id"], publish["dup"],
                                       publish["qos"], publish["retain"]).to_bytes()
        if kind in (codec.PUBACK, codec.PUBREC, codec.PUBREL, codec.PUBCOMP):
            ack = codec.decode_ack(body)
            built = {codec.PUBACK: PubackPacket, codec.PUBREC: PubrecPacket, codec.PUBREL: PubrelPacket,
                     codec.PUBCOMP: PubcompPacket}[kind]
            return built.build(ack["packet_id"]).to_bytes()
        if kind == codec.SUBSCRIBE:
            subscribe = codec.decode_subscribe(body)
            if "subscription_identifier" in subscribe["properties"] and not aws.SUBSCRIPTION_IDENTIFIERS:
                raise codec.MalformedPacket("subscription identifiers are not supported",
                                            aws.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
            state.subscribe_options[subscribe["packet_id"]] = subscribe["filters"]
            return SubscribePacket.build([(f, options & 0x03) for f, options in subscribe["filters"]],
                                         subscribe["packet_id"]).to_bytes()
        if kind == codec.UNSUBSCRIBE:
            unsubscribe = codec.decode_unsubscribe(body)
            state.unsubscribes[unsubscribe["packet_id"]] = unsubscribe["filters"]
            return UnsubscribePacket.build(unsubscribe["filters"], unsubscribe["packet_id"]).to_bytes()
        if kind == codec.PINGREQ:
            return PingReqPacket().to_bytes()
        if kind == codec.DISCONNECT:
            reason = codec.decode_disconnect(body)["reason"]
            if reason == 0x04:  # "disconnect with will message": the connection ends as if lost
                state.will_on_disconnect = True
                return None
            return DisconnectPacket().to_bytes()
        if kind == codec.AUTH:
            raise codec.MalformedPacket("AWS IoT Core does not support enhanced authentication (AUTH)",
                                        aws.PROTOCOL_ERROR)
        raise codec.MalformedPacket(f"packet type {kind} from a client", aws.PROTOCOL_ERROR)

    def _resolve_alias(self, topic: str, alias: int | None) -> str:
        if alias is None:
            if not topic:
                raise codec.MalformedPacket("a PUBLISH with neither a topic nor a topic alias", aws.PROTOCOL_ERROR)
            return topic
        if not 1 <= alias <= aws.TOPIC_ALIAS_MAXIMUM:
            raise codec.MalformedPacket(f"topic alias {alias} outside 1-{aws.TOPIC_ALIAS_MAXIMUM}",
                                        aws.TOPIC_ALIAS_INVALID)
        if topic:
            self.state.aliases[alias] = topic
            return topic
        if alias not in self.state.aliases:
            raise codec.MalformedPacket(f"topic alias {alias} was never set", aws.PROTOCOL_ERROR)
        return self.state.aliases[alias]


class V5Writer(WriterAdapter):
    """amqtt writes MQTT 3.1.1 packets (each in one write) to this; the socket gets MQTT 5."""

    def __init__(self, raw: Any, state: V5State) -> None:
        self.raw, self.state = raw, state

    def write(self, data: bytes) -> None:
        if self.state.closed_with is not None:
            return
        self.raw.write(self.translate(bytes(data)))

    async def drain(self) -> None:
        await self.raw.drain()

    def get_peer_info(self) -> tuple[str, int] | None:
        return self.raw.get_peer_info()

    def get_ssl_info(self) -> Any:
        return self.raw.get_ssl_info()

    async def close(self) -> None:
        await self.raw.close()

    def __getattr__(self, name: str) -> Any:  # e.g. the WebSocket writer's principal
        return getattr(self.raw, name)

    def translate(self, data: bytes) -> bytes:
        kind, flags = data[0] >> 4, data[0] & 0x0F
        cursor = codec.Cursor(data[1:])
        cursor.varint()
        body = cursor.take(cursor.left())
        state = self.state
        if kind == codec.CONNACK:
            reason = aws.CONNACK_CODES.get(body[1], aws.UNSPECIFIED_ERROR)
            return codec.encode_connack(bool(body[0] & 0x01), reason,
                                        state.connack_properties if reason == aws.SUCCESS else None)
        if kind == codec.PUBLISH:
            qos = (flags >> 1) & 0x03
            topic_length = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + topic_length].decode("utf-8")
            at = 2 + topic_length
            packet_id = struct.unpack("!H", body[at:at + 2])[0] if qos else None
            payload = body[at + (2 if qos else 0):]
            return codec.encode_publish(topic, payload, qos, bool(flags & 0x01), bool(flags & 0x08), packet_id,
                                        OUTGOING.get())
        if kind in (codec.PUBACK, codec.PUBREC, codec.PUBREL, codec.PUBCOMP):
            packet_id = struct.unpack("!H", body[:2])[0]
            reason = state.puback_reasons.pop(packet_id, 0) if kind == codec.PUBACK else 0
            return codec.encode_ack(kind, packet_id, reason)
        if kind == codec.SUBACK:
            packet_id = struct.unpack("!H", body[:2])[0]
            overrides = state.suback_reasons.pop(packet_id, {})
            reasons = [overrides.get(i, aws.NOT_AUTHORIZED if code == 0x80 else code) for i, code in enumerate(body[2:])]
            return codec.encode_suback(packet_id, reasons)
        if kind == codec.UNSUBACK:
            packet_id = struct.unpack("!H", body[:2])[0]
            filters = state.unsubscribes.pop(packet_id, [])
            reasons = state.unsuback_reasons.pop(packet_id, [aws.SUCCESS] * len(filters))
            return codec.encode_unsuback(packet_id, reasons or [aws.SUCCESS])
        if kind == codec.PINGRESP:
            return codec.encode_pingresp()
        return data


def remaining(properties: dict | None, since: float | None, now: float) -> dict | None:
    """A message's properties with its Message Expiry Interval counted down from ``since`` to ``now``
    (monotonic seconds; MQTT 5.0 section 3.3.2.3.3); None once it has expired. Without the
    property nothing expires (an MQTT 3.1.1 message has none)."""
    if not properties or "message_expiry_interval" not in properties or since is None:
        return properties or {}
    left = properties["message_expiry_interval"] - int(now - since)
    return None if left <= 0 else {**properties, "message_expiry_interval": left}


def connack_properties(connect_properties: dict) -> dict:
    """AWS's CONNACK properties for a client; a session expiry above AWS's maximum is lowered (and said)."""
    props = dict(aws.CONNACK_PROPERTIES)
    asked = connect_properties.get("session_expiry_interval", 0)
    if asked > aws.SESSION_EXPIRY_MAXIMUM_S:
        props["session_expiry_interval"] = aws.SESSION_EXPIRY_MAXIMUM_S
    return props


__all__ = ["OUTGOING", "V5Reader", "V5State", "V5Writer", "connack_properties", "protocol_level", "read_packet",
           "remaining"]
