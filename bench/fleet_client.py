"""One client process of the fleet bench: many mutually-authenticated MQTT 3.1.1 devices on one asyncio
loop, each publishing QoS 1 telemetry once a second. Prints one JSON line when done:
``{"connected", "sent", "acked", "failed"}``.

Run by bench/fleet.py (``python fleet_client.py HOST PORT CA CERT KEY PREFIX COUNT SECONDS``); loopback
only, stops by itself after SECONDS (plus a bounded grace for the last acknowledgements).
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcore.mqtt.v5.codec import text, varint  # noqa: E402  (the same encoding in MQTT 3.1.1)

GRACE_S = 10


def connect_packet(client_id: str, keep_alive: int = 60) -> bytes:
    body = text("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keep_alive) + text(client_id)
    return bytes([0x10]) + varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = text(topic) + struct.pack("!H", packet_id) + payload
    return bytes([0x32]) + varint(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        digit = (await reader.readexactly(1))[0]
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            break
        shift += 7
    return first >> 4, await reader.readexactly(length)


class Tally:
    def __init__(self) -> None:
        self.connected = self.sent = self.acked = self.failed = 0


async def device(host: str, port: int, context: ssl.SSLContext, client_id: str, seconds: float,
                 start_at: float, tally: Tally) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname="localhost")
        writer.write(connect_packet(client_id))
        kind, body = await read_packet(reader)
        if kind != 2 or body[1] != 0:
            raise ConnectionError(f"CONNACK {body!r}")
    except (OSError, asyncio.IncompleteReadError, ConnectionError):
        tally.failed += 1
        return
    tally.connected += 1
    topic = f"fleet/{client_id}/telemetry"

    async def acks() -> None:
        try:
            while True:
                kind, _body = await read_packet(reader)
                if kind == 4:
                    tally.acked += 1
        except (OSError, asyncio.IncompleteReadError):
            pass

    reading = asyncio.create_task(acks())
    await asyncio.sleep(max(0.0, start_at - time.time()) + random.random())  # spread over the second
    end = time.monotonic() + seconds
    packet_id = 0
    try:
        while time.monotonic() < end:
            packet_id = packet_id % 65535 + 1
            payload = json.dumps({"device": client_id, "seq": packet_id, "sent_ns": time.time_ns(),
                                  "temperature": round(random.uniform(15, 35), 1)}).encode()
            writer.write(publish_packet(topic, payload, packet_id))
            await writer.drain()
            tally.sent += 1
            await asyncio.sleep(1.0)
        deadline = time.monotonic() + GRACE_S
        while tally.acked < tally.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        writer.write(b"\xe0\x00")  # DISCONNECT
        await writer.drain()
    except OSError:
        pass
    finally:
        reading.cancel()
        writer.close()


async def main(host: str, port: int, ca: str, cert: str, key: str, prefix: str, count: int, seconds: float,
               start_at: float) -> None:
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    tally = Tally()
    devices = []
    for i in range(count):
        devices.append(asyncio.create_task(device(host, port, context, f"{prefix}-{i}", seconds, start_at, tally)))
        await asyncio.sleep(0)  # let each handshake start
    await asyncio.gather(*devices)
    print(json.dumps({"connected": tally.connected, "sent": tally.sent, "acked": tally.acked, "failed": tally.failed}))


if __name__ == "__main__":
    host, port, ca, cert, key, prefix, count, seconds, start_at = sys.argv[1:10]
    asyncio.run(main(host, int(port), ca, cert, key, prefix, int(count), float(seconds), float(start_at)))
