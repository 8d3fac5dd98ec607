"""Device Shadow over MQTT and HTTP: one store, the same messages whichever way a request comes.

A device publishes ``$aws/things/<thing>/shadow[/name/<name>]/update|get|delete``; the service
answers on ``.../accepted`` or ``.../rejected`` and, after an accepted update, on ``.../delta``
(when desired and reported differ) and ``.../documents`` (reference section 6). The iot-data HTTP
operations use the same store and publish the same accepted/delta/documents messages, but never a
rejected one (HTTP errors go back to the caller only).

The shadow rules live in `localcore.iot.shadow`; this module only turns a request into the
``(topic, payload)`` replies and publishes them through `Lab.publish` (thread-safe, so the broker's
loop and the HTTP threads both use it). The store is ``lab.shadows``, created on first use.
"""

from __future__ import annotations

import time
from typing import Any

from localcore.iot.shadow import (
    ShadowError,
    ShadowStore,
    ShadowTopic,
    UpdateResult,
    request_client_token,
    response_topic,
)

Reply = tuple[str, dict[str, Any]]
# QoS of the service's replies [unconfirmed: AWS does not document it].
REPLY_QOS = 0


def shadow_store(lab: Any) -> ShadowStore:
    """The lab's one shadow store (``lab.shadows``), created on first use."""
    store = getattr(lab, "shadows", None)
    if store is None:
        with lab.lock:
            store = getattr(lab, "shadows", None)
            if store is None:
                store = lab.shadows = ShadowStore()
                lab.durable("shadows", store.export, store.load)
    return store


def now_seconds() -> int:
    """Shadow timestamps are whole epoch seconds."""
    return int(time.time())


def update_replies(thing: str, name: str | None, result: UpdateResult) -> list[Reply]:
    """``/update/accepted``, then ``/update/delta`` if anything differs, then ``/update/documents``."""
    replies = [(response_topic(thing, name, "update", "accepted"), result.accepted)]
    if result.delta is not None:
        replies.append((response_topic(thing, name, "update", "delta"), result.delta))
    replies.append((response_topic(thing, name, "update", "documents"), result.documents))
    return replies


def replies_to(store: ShadowStore, request: ShadowTopic, payload: bytes, now: int) -> list[Reply]:
    """What the service publishes in answer to one MQTT request (rejections included)."""
    thing, name, op = request.thing, request.name, request.op
    try:
        if op == "update":
            return update_replies(thing, name, store.update(thing, name, payload, now))
        if op == "get":
            document = store.get(thing, name, now=now, client_token=request_client_token(payload))
        else:
            document = store.delete(thing, name, payload, now=now)
    except ShadowError as error:
        return [(response_topic(thing, name, op, "rejected"), error.rejection(now))]
    return [(response_topic(thing, name, op, "accepted"), document)]


def answer_request(lab: Any, request: ShadowTopic, payload: bytes) -> None:
    """Answer a shadow request published by a client (MQTT, or iot-data Publish) on its topics."""
    store = shadow_store(lab)
    if request.op == "get":
        replies = replies_to(store, request, payload, now_seconds())
    else:
        with lab.changing():
            replies = replies_to(store, request, payload, now_seconds())
    for topic, body in replies:
        lab.publish(topic, body, REPLY_QOS)


def get_document(lab: Any, thing: str, name: str | None) -> dict[str, Any]:
    """GetThingShadow: the full document, or `ShadowError` (404 when there is no shadow)."""
    return shadow_store(lab).get(thing, name, now=now_seconds())


def update_document(lab: Any, thing: str, name: str | None, payload: bytes) -> dict[str, Any]:
    """UpdateThingShadow: apply, publish accepted/delta/documents, return the accepted document."""
    result = shadow_store(lab).update(thing, name, payload, now_seconds())
    for topic, body in update_replies(thing, name, result):
        lab.publish(topic, body, REPLY_QOS)
    return result.accepted


def delete_document(lab: Any, thing: str, name: str | None) -> dict[str, Any]:
    """DeleteThingShadow: delete, publish ``/delete/accepted``, return ``{"version", "timestamp"}``."""
    document = shadow_store(lab).delete(thing, name, None, now=now_seconds())
    lab.publish(response_topic(thing, name, "delete", "accepted"), document, REPLY_QOS)
    return document
