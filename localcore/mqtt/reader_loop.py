"""The lab's per-connection read loop (replaces amqtt's ``ProtocolHandler._reader_loop``).

amqtt reads a packet, then hands it to a new task; at the end of the stream it cancels the tasks not
yet run. A client that publishes a burst and hangs up (``mosquitto_pub -l`` at QoS 0) then lost the
messages still waiting for their task: how many depended on the event loop (with uvloop, one in ten
of 20,000). AWS IoT routes every message it received before the connection ended. Here:

* a PUBLISH, a PUBACK and a PINGREQ are handled in the loop itself, in order (a PUBLISH is screened,
  routed and acknowledged before the next packet is read: the next packet cannot overtake it, and a
  slow acknowledgement slows the publisher, as TCP would), with no task per message;
* SUBSCRIBE, UNSUBSCRIBE, DISCONNECT and the rest still get amqtt's task each;
* the keep-alive deadline uses ``asyncio.timeout`` (``wait_for`` made a task per packet);
* amqtt's per-packet plugin event is skipped: the lab's broker runs no amqtt plugins.

The rest is amqtt's: end of stream, a reserved packet type or an unexpected error end the loop; a
malformed packet amqtt reports as ``MQTTError`` is skipped; a silent client calls
``handle_read_timeout``.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from amqtt.errors import MQTTError, NoDataError
from amqtt.mqtt import packet_class
from amqtt.mqtt.packet import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    RESERVED_0,
    RESERVED_15,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    MQTTFixedHeader,
)

log = logging.getLogger("localcore.mqtt.reader")

INLINE = {PUBLISH: "handle_publish", PUBACK: "handle_puback", PINGREQ: "handle_pingreq"}
IN_TASK = {CONNACK: "handle_connack", SUBSCRIBE: "handle_subscribe", UNSUBSCRIBE: "handle_unsubscribe",
           SUBACK: "handle_suback", UNSUBACK: "handle_unsuback", PUBREC: "handle_pubrec", PUBREL: "handle_pubrel",
           PUBCOMP: "handle_pubcomp", PINGRESP: "handle_pingresp", DISCONNECT: "handle_disconnect"}


async def read_packets(handler) -> None:
    """Read and handle ``handler``'s packets until the connection ends, then close it as amqtt does."""
    running: collections.deque[asyncio.Task] = collections.deque()
    keep_alive = handler.session.keep_alive if handler.session is not None else None
    deadline = keep_alive if keep_alive and keep_alive > 0 else None
    while True:
        try:
            handler._reader_ready.set()
            while running and running[0].done():
                running.popleft()
            if handler.reader is None:
                break
            async with asyncio.timeout(deadline):
                fixed_header = await MQTTFixedHeader.from_stream(handler.reader)
                if not fixed_header:
                    break
                if fixed_header.packet_type in (RESERVED_0, RESERVED_15):
                    log.info("%s sent a reserved packet type: connection closed",
                             getattr(handler.session, "client_id", None))
                    break
                packet = await packet_class(fixed_header).from_stream(handler.reader, fixed_header=fixed_header)
            kind = packet.fixed_header.packet_type if packet.fixed_header is not None else None
            if kind in INLINE:
                await getattr(handler, INLINE[kind])(packet)
            elif kind in IN_TASK:
                running.append(asyncio.create_task(getattr(handler, IN_TASK[kind])(packet)))
            elif kind == CONNECT:
                await handler.handle_connect(packet)
        except MQTTError:
            log.debug("malformed packet discarded")
        except asyncio.CancelledError:
            break
        except TimeoutError:
            handler.handle_read_timeout()
        except NoDataError:
            break
        except Exception as error:  # noqa: BLE001 - as amqtt: an unexpected error ends this connection only
            log.warning("%s: reading stopped on %r", getattr(handler.session, "client_id", None), error)
            break
    while running:
        running.popleft().cancel()
    await handler.handle_connection_closed()
    handler._reader_stopped.set()
    await handler.stop()


__all__ = ["read_packets"]
