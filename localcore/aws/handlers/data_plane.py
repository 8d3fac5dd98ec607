"""iot-data (the data plane over HTTPS): Publish and the Device Shadow operations.

``Publish`` delivers into the broker like a client's PUBLISH (the caller is authorised by IAM, so
no IoT policy applies): subscribers get it, retained messages are kept, and the reserved topics a
client may publish to keep their meaning (a shadow request is answered, a jobs request and basic
ingest go to their hooks). The shadow operations use the same store as MQTT and publish the same
accepted/delta/documents messages (`localcore.mqtt.shadow_service`), so both paths stay
consistent. Errors are AWS's: ``ShadowError`` carries the iot-data error type and status (404
``ResourceNotFoundException`` for a missing shadow, 409 ``ConflictException``, ...).
"""

from __future__ import annotations

import json
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any

from localcore.errors import InvalidRequestException
from localcore.iot.shadow import parse_shadow_topic
from localcore.mqtt import shadow_service
from localcore.mqtt.authorizer import BASIC_INGEST, FORBIDDEN, JOBS, SHADOW, reserved_topic

from ..paging import page
from . import handles

PUBLISH_QOS = (0, 1)  # iot-data Publish accepts QoS 0 and 1
# How long Publish waits for the broker to queue the message, so that what a caller publishes is
# in order with what it does next.
QUEUE_WAIT_S = 5.0
LIST_PAGE_SIZE_MAX = 100  # [unconfirmed] ListNamedShadowsForThing pageSize limit


@handles("iot-data", "Publish")
def publish(lab: Any, params: dict) -> dict:
    topic = params["topic"]
    qos = params.get("qos", 0)
    retain = bool(params.get("retain", False))
    payload = params.get("payload") or b""
    if qos not in PUBLISH_QOS:
        raise InvalidRequestException(f"qos must be 0 or 1, not {qos}")
    if not topic or "+" in topic or "#" in topic:
        raise InvalidRequestException(f"Topic {topic!r} is not valid: a topic name cannot be empty or hold + or #")
    reserved = reserved_topic(topic)
    if reserved is not None and reserved.kind == FORBIDDEN:  # error code [unconfirmed]
        raise InvalidRequestException(f"Publishing to the reserved topic {topic!r} is not allowed")
    if reserved is not None and reserved.kind == BASIC_INGEST:
        _call_hook(lab, "on_basic_ingest", reserved.name, topic, payload, None)
        return {}
    _deliver(lab, topic, payload, qos, retain)
    if reserved is not None and reserved.kind == SHADOW:
        request = parse_shadow_topic(topic)
        if request is not None:
            shadow_service.answer_request(lab, request, payload)
    elif reserved is not None and reserved.kind == JOBS:
        _call_hook(lab, "on_jobs_request", reserved.name, topic, payload, None)
    return {}


@handles("iot-data", "GetThingShadow")
def get_thing_shadow(lab: Any, params: dict) -> dict:
    document = shadow_service.get_document(lab, params["thingName"], params.get("shadowName"))
    return {"payload": _json(document)}


@handles("iot-data", "UpdateThingShadow")
def update_thing_shadow(lab: Any, params: dict) -> dict:
    payload = params.get("payload") or b""
    accepted = shadow_service.update_document(lab, params["thingName"], params.get("shadowName"), payload)
    return {"payload": _json(accepted)}


@handles("iot-data", "DeleteThingShadow")
def delete_thing_shadow(lab: Any, params: dict) -> dict:
    document = shadow_service.delete_document(lab, params["thingName"], params.get("shadowName"))
    return {"payload": _json(document)}


@handles("iot-data", "ListNamedShadowsForThing")
def list_named_shadows_for_thing(lab: Any, params: dict) -> dict:
    names = shadow_service.shadow_store(lab).list_named(params["thingName"])
    results, next_token = page(names, params.get("nextToken"), params.get("pageSize", LIST_PAGE_SIZE_MAX),
                               max_size=LIST_PAGE_SIZE_MAX, size_name="pageSize")
    output: dict[str, Any] = {"results": results, "timestamp": shadow_service.now_seconds()}
    if next_token:
        output["nextToken"] = next_token
    return output


def _deliver(lab: Any, topic: str, payload: bytes, qos: int, retain: bool) -> None:
    """Queue the message in the broker and wait until it is queued (no broker: nothing to do)."""
    future = lab.publish(topic, payload, qos, retain=retain)
    if isinstance(future, Future):
        try:
            with lab.gate.outside():  # the broker may be waiting for the gate meanwhile
                future.result(timeout=QUEUE_WAIT_S)
        except FutureTimeout:
            pass


def _call_hook(lab: Any, name: str, *args: Any) -> None:
    """Run a broker hook on the broker's loop, as for MQTT clients (nothing to do without one)."""
    if lab.broker is not None and lab.loop is not None:
        lab.loop.call_soon_threadsafe(lab.broker.call_hook, name, *args)


def _json(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
