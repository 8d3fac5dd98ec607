"""Device Shadow core: documents, merges, deltas, versions and topics, as AWS IoT produces them.

One ``ShadowStore`` holds every shadow, keyed by ``(thing name, shadow name)`` (``None`` is the
classic, unnamed shadow). The MQTT broker plugin and the iot-data HTTP handlers share it and only
translate: every method returns the exact JSON payload AWS publishes or returns, and rejects a
request by raising ``ShadowError``, which carries the status (the ``code`` of an MQTT rejected
message), the iot-data error type for HTTP, the message and the request's client token.

Pure: no sockets and no clock. Every operation takes ``now`` (epoch seconds, the unit AWS uses for
shadow timestamps). The store's lock only makes each call atomic for the two callers.

Behaviour (reference section 6; AWS "Device Shadow service documents", "Device Shadow MQTT
topics", "Interacting with shadows", "Device Shadow error messages"):

* An update merges ``state.desired`` / ``state.reported`` into the shadow: objects merge
  recursively, ``null`` deletes a key, arrays and other values replace whole. ``"desired": null``
  removes the section and ``"state": null`` empties the shadow without deleting it. Objects left
  empty by a merge are removed (documented for the sections, assumed for nested objects).
* Metadata mirrors the state with a ``{"timestamp": t}`` per leaf (a list of them per array);
  an update re-stamps only the leaves it writes.
* The delta lists every desired leaf that differs from reported (missing from reported counts
  as different; reported-only keys never appear); arrays that differ appear whole; ``1`` equals
  ``1.0`` but not ``true``. ``/update/delta`` goes out after any accepted update that leaves a
  delta, with the desired metadata of those leaves.
* Versions start at 1 and grow by one per accepted update. A request's ``version`` must equal the
  current version (0 for a shadow that does not exist). Deleting keeps the counter: an update
  within 48 hours of the delete continues from the deleted version, later ones start again.
* Sizes: desired plus reported may hold at most 8 KB after the merge (metadata does not count);
  each section at most 6 levels of objects and arrays, the section itself being the first.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from localcore.errors import AwsError

MAX_STATE_BYTES = 8 * 1024
MAX_DEPTH = 6
MAX_CLIENT_TOKEN_BYTES = 64
# AWS: a shadow re-created within 48 hours of its deletion continues the deleted version.
DELETED_VERSION_KEPT_SECONDS = 48 * 3600
# The documented error document has a timestamp, but rejected payloads observed from AWS (the
# SDK samples' 404s, the documented 409 example) carry only code, message and clientToken.
# [unconfirmed]
REJECTION_INCLUDES_TIMESTAMP = False

THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")  # iot-data API model, ThingName
SHADOW_NAME = re.compile(r"[$a-zA-Z0-9:_-]{1,64}")  # iot-data API model, ShadowName

INVALID_JSON = "Invalid JSON"
MISSING_STATE = "Missing required node: state"
STATE_NOT_OBJECT = "State node must be an object"
SECTION_NOT_OBJECT = {
    "desired": "Desired node must be an object",
    "reported": "Reported node must be an object",
}
INVALID_VERSION = "Invalid version"
INVALID_CLIENT_TOKEN = "Invalid clientToken"
TOO_DEEP = f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"
# Also used for an empty state object and for null inside an array, which AWS rejects without
# a documented message. [unconfirmed]
INVALID_NODE = "State contains an invalid node"
VERSION_CONFLICT = "Version conflict"
TOO_LARGE = "The payload exceeds the maximum size allowed"
BAD_ENCODING = "Unsupported documented encoding; supported encoding is UTF-8"
# Observed from AWS: the thing name in quotes for the classic shadow, ``thing~shadow`` for a named
# one (the developer guide's tutorial shows only the shadow name). [unconfirmed for named]
CLASSIC_NOT_FOUND = "No shadow exists with name: '{thing}'"
NAMED_NOT_FOUND = "No shadow exists with name: '{thing}~{name}'"

# iot-data error types (API model) by the status the Device Shadow service uses.
ERROR_TYPES = {
    400: "InvalidRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
    415: "UnsupportedDocumentEncodingException",
    429: "ThrottlingException",
    500: "InternalFailureException",
}

SECTIONS = ("desired", "reported")
REQUEST_OPS = ("update", "get", "delete")
RESPONSE_SUFFIXES = {
    "update": ("accepted", "rejected", "delta", "documents"),
    "get": ("accepted", "rejected"),
    "delete": ("accepted", "rejected"),
}


class ShadowError(AwsError):
    """A rejected shadow request: ``status`` is the code AWS puts in the rejected payload."""

    def __init__(self, status: int, message: str, client_token: str | None = None) -> None:
        super().__init__(message, code=ERROR_TYPES[status], status=status)
        self.client_token = client_token

    def rejection(self, now: int) -> dict[str, Any]:
        """The payload AWS publishes on ``.../rejected`` for this error."""
        payload: dict[str, Any] = {"code": self.status, "message": self.message}
        if REJECTION_INCLUDES_TIMESTAMP:
            payload["timestamp"] = now
        return _with_token(payload, self.client_token)


@dataclass(frozen=True)
class UpdateResult:
    """The payloads of one accepted update; ``delta`` is None when nothing is to be published."""

    accepted: dict[str, Any]
    delta: dict[str, Any] | None
    documents: dict[str, Any]
    version: int


@dataclass(frozen=True)
class ShadowTopic:
    """A shadow request topic: ``$aws/things/<thing>/shadow[/name/<name>]/<op>``."""

    thing: str
    name: str | None
    op: str


@dataclass
class _Shadow:
    """One shadow's stored state; a deleted shadow keeps only its version and deletion time."""

    version: int = 0
    state: dict[str, dict[str, Any]] = field(default_factory=lambda: {"desired": {}, "reported": {}})
    metadata: dict[str, dict[str, Any]] = field(default_factory=lambda: {"desired": {}, "reported": {}})
    deleted_at: int | None = None

    def snapshot(self) -> dict[str, Any]:
        """State and metadata (non-empty sections only) with the version, as in ``/documents``."""
        return {
            "state": {s: copy.deepcopy(v) for s, v in self.state.items() if v},
            "metadata": {s: copy.deepcopy(self.metadata[s]) for s, v in self.state.items() if v},
            "version": self.version,
        }


class ShadowStore:
    """Every shadow of the lab, classic and named, shared by the MQTT and HTTP front ends."""

    def __init__(self) -> None:
        self._shadows: dict[tuple[str, str | None], _Shadow] = {}
        self._lock = threading.Lock()

    def update(self, thing: str, name: str | None, request: bytes | dict[str, Any], now: int) -> UpdateResult:
        """Apply an update request; return the accepted, delta and documents payloads."""
        _check_names(thing, name)
        document = _parse_update(request)
        token = _client_token(document)
        with self._lock:
            try:
                state = _validated_state(document)
                record = self._shadows.get((thing, name))
                live = record if record is not None and record.deleted_at is None else None
                base = _base_version(record, now)
                _check_version(document, base)
                new = _Shadow(version=base + 1)
                if live is not None:
                    new.state = copy.deepcopy(live.state)
                    new.metadata = copy.deepcopy(live.metadata)
                _apply(new, state, now)
                if sum(_json_size(new.state[s]) for s in SECTIONS if new.state[s]) > MAX_STATE_BYTES:
                    raise ShadowError(413, TOO_LARGE)
            except ShadowError as error:
                error.client_token = token
                raise
            self._shadows[(thing, name)] = new
        return UpdateResult(
            accepted=_accepted(state, new.version, now, token),
            delta=_delta_message(new, now, token),
            documents=_with_token(
                {
                    "previous": live.snapshot() if live is not None else None,
                    "current": new.snapshot(),
                    "timestamp": now,
                },
                token,
            ),
            version=new.version,
        )

    def get(
        self, thing: str, name: str | None = None, *, now: int, client_token: str | None = None
    ) -> dict[str, Any]:
        """The full document (``/get/accepted``, GetThingShadow), delta included."""
        _check_names(thing, name)
        _check_token(client_token)
        with self._lock:
            shadow = self._live(thing, name, client_token)
            document = shadow.snapshot()
            desired, reported = shadow.state["desired"], shadow.state["reported"]
            if desired and (delta := _delta(desired, reported)):
                document["state"]["delta"] = delta
        document["timestamp"] = now
        return _with_token(document, client_token)

    def delete(
        self, thing: str, name: str | None = None, request: bytes | dict[str, Any] | None = None, *, now: int
    ) -> dict[str, Any]:
        """Delete a shadow (``/delete/accepted``, DeleteThingShadow); its version is kept."""
        _check_names(thing, name)
        token = request_client_token(request)
        with self._lock:
            shadow = self._live(thing, name, token)
            self._shadows[(thing, name)] = _Shadow(version=shadow.version, deleted_at=now)
        return _with_token({"version": shadow.version, "timestamp": now}, token)

    def export(self) -> dict[tuple[str, str | None], Any]:
        """Every shadow record, for the lab's snapshot (records are replaced, never changed in place)."""
        with self._lock:
            return dict(self._shadows)

    def load(self, shadows: dict[tuple[str, str | None], Any]) -> None:
        """Put saved records back (the lab's start)."""
        with self._lock:
            self._shadows = dict(shadows)

    def live_keys(self) -> list[tuple[str, str | None]]:
        """(thing, shadow name) of every shadow that exists now (None: the classic shadow)."""
        with self._lock:
            return [key for key, shadow in self._shadows.items() if shadow.deleted_at is None]

    def list_named(self, thing: str) -> list[str]:
        """Names of the thing's named shadows, sorted (ListNamedShadowsForThing)."""
        with self._lock:
            names = (n for (t, n), s in self._shadows.items() if t == thing and s.deleted_at is None)
            return sorted(n for n in names if n is not None)

    def delete_thing(self, thing: str) -> None:
        """Forget every shadow of a thing, version counters included.

        AWS keeps a thing's shadows when the thing is deleted; call this only where the lab
        deliberately starts afresh (e.g. a cleanup that removes both).
        """
        with self._lock:
            for key in [k for k in self._shadows if k[0] == thing]:
                del self._shadows[key]

    def reported(self, thing: str, name: str | None = None) -> dict[str, Any] | None:
        """A copy of the reported state (``{}`` if none), or None when the shadow does not exist."""
        with self._lock:
            shadow = self._shadows.get((thing, name))
            if shadow is None or shadow.deleted_at is not None:
                return None
            return copy.deepcopy(shadow.state["reported"])

    def _live(self, thing: str, name: str | None, token: str | None) -> _Shadow:
        shadow = self._shadows.get((thing, name))
        if shadow is None or shadow.deleted_at is not None:
            template = CLASSIC_NOT_FOUND if name is None else NAMED_NOT_FOUND
            raise ShadowError(404, template.format(thing=thing, name=name), token)
        return shadow


def request_client_token(payload: bytes | dict[str, Any] | None) -> str | None:
    """The client token of a get or delete request, whose content AWS otherwise ignores."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict):
        return None
    return _client_token(payload)


def shadow_topic_prefix(thing: str, name: str | None = None) -> str:
    """``$aws/things/<thing>/shadow`` or ``$aws/things/<thing>/shadow/name/<name>``."""
    prefix = f"$aws/things/{thing}/shadow"
    return prefix if name is None else f"{prefix}/name/{name}"


def parse_shadow_topic(topic: str) -> ShadowTopic | None:
    """The request a device publishes (update, get, delete), or None for any other topic."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "$aws" or parts[1] != "things" or parts[3] != "shadow":
        return None
    if len(parts) == 5:
        thing, name, op = parts[2], None, parts[4]
    elif len(parts) == 7 and parts[4] == "name":
        thing, name, op = parts[2], parts[5], parts[6]
    else:
        return None
    if op not in REQUEST_OPS or not _valid_names(thing, name):
        return None
    return ShadowTopic(thing, name, op)


def response_topic(thing: str, name: str | None, op: str, suffix: str) -> str:
    """The topic AWS answers on, e.g. ``.../update/accepted`` or ``.../update/delta``."""
    if suffix not in RESPONSE_SUFFIXES.get(op, ()):
        raise ValueError(f"no shadow response topic {op}/{suffix}")
    return f"{shadow_topic_prefix(thing, name)}/{op}/{suffix}"


def _valid_names(thing: str, name: str | None) -> bool:
    return bool(THING_NAME.fullmatch(thing)) and (name is None or bool(SHADOW_NAME.fullmatch(name)))


def _check_names(thing: str, name: str | None) -> None:
    if not THING_NAME.fullmatch(thing):
        raise ShadowError(400, f"Invalid thing name: '{thing}'")  # message [unconfirmed]
    if name is not None and not SHADOW_NAME.fullmatch(name):
        raise ShadowError(400, f"Invalid shadow name: '{name}'")  # message [unconfirmed]


def _reject_constant(text: str) -> Any:
    raise ValueError(text)


def _parse_update(request: bytes | dict[str, Any]) -> dict[str, Any]:
    """The request document; bytes must be UTF-8 JSON holding an object."""
    if isinstance(request, (bytes, bytearray)):
        try:
            text = bytes(request).decode("utf-8")
        except UnicodeDecodeError:
            raise ShadowError(415, BAD_ENCODING) from None
        try:
            request = json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            raise ShadowError(400, INVALID_JSON) from None
    if not isinstance(request, dict):
        raise ShadowError(400, INVALID_JSON)
    return request


def _check_token(token: Any) -> None:
    if token is not None and (not isinstance(token, str) or len(token.encode()) > MAX_CLIENT_TOKEN_BYTES):
        raise ShadowError(400, INVALID_CLIENT_TOKEN)


def _client_token(document: dict[str, Any]) -> str | None:
    token = document.get("clientToken")
    _check_token(token)
    return token


def _validated_state(document: dict[str, Any]) -> dict[str, Any] | None:
    """The request's state node (None for ``"state": null``), checked as AWS checks it."""
    if "state" not in document:
        raise ShadowError(400, MISSING_STATE)
    state = document["state"]
    if state is None:
        return None
    if not isinstance(state, dict):
        raise ShadowError(400, STATE_NOT_OBJECT)
    if not state or any(key not in SECTIONS for key in state):
        raise ShadowError(400, INVALID_NODE)
    for section, value in state.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ShadowError(400, SECTION_NOT_OBJECT[section])
        if _depth(value) > MAX_DEPTH:
            raise ShadowError(400, TOO_DEEP)
        if _null_in_array(value, inside_array=False):
            raise ShadowError(400, INVALID_NODE)
    return state


def _check_version(document: dict[str, Any], current: int) -> None:
    version = document.get("version")
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ShadowError(400, INVALID_VERSION)
    if version != current:
        raise ShadowError(409, VERSION_CONFLICT)


def _base_version(record: _Shadow | None, now: int) -> int:
    """The version an update builds on: the live one, a recently deleted one, or 0."""
    if record is None:
        return 0
    if record.deleted_at is not None and now - record.deleted_at > DELETED_VERSION_KEPT_SECONDS:
        return 0
    return record.version


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _null_in_array(value: Any, inside_array: bool) -> bool:
    if value is None:
        return inside_array
    if isinstance(value, dict):
        return any(_null_in_array(v, inside_array) for v in value.values())
    if isinstance(value, list):
        return any(_null_in_array(v, True) for v in value)
    return False


def _apply(shadow: _Shadow, state: dict[str, Any] | None, now: int) -> None:
    """Merge a validated state node into the shadow, stamping the leaves it writes."""
    for section in SECTIONS:
        if state is None or (section in state and state[section] is None):
            shadow.state[section], shadow.metadata[section] = {}, {}
        elif section in state:
            _merge(shadow.state[section], shadow.metadata[section], state[section], now)


def _merge(target: dict[str, Any], metadata: dict[str, Any], patch: dict[str, Any], now: int) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            metadata.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key], metadata[key] = {}, {}
            _merge(target[key], metadata[key], value, now)
            if not target[key]:
                del target[key], metadata[key]
        else:
            target[key] = copy.deepcopy(value)
            metadata[key] = _stamp(value, now)


def _stamp(value: Any, now: int) -> Any:
    """Metadata for a value: its shape with ``{"timestamp": now}`` at every leaf."""
    if isinstance(value, dict):
        return {k: _stamp(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_stamp(v, now) for v in value]
    return {"timestamp": now}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, but booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _delta(desired: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
    """Desired leaves that reported lacks or holds differently, with their full paths."""
    delta: dict[str, Any] = {}
    for key, want in desired.items():
        if key in reported and isinstance(want, dict) and isinstance(reported[key], dict):
            if sub := _delta(want, reported[key]):
                delta[key] = sub
        elif key not in reported or not _same(want, reported[key]):
            delta[key] = copy.deepcopy(want)
    return delta


def _delta_metadata(delta: Any, metadata: Any) -> Any:
    if isinstance(delta, dict) and isinstance(metadata, dict):
        return {k: _delta_metadata(v, metadata.get(k)) for k, v in delta.items()}
    return copy.deepcopy(metadata)


def _accepted(state: dict[str, Any] | None, version: int, now: int, token: str | None) -> dict[str, Any]:
    """``/update/accepted``: the request's state echoed (nulls included) with its metadata."""
    if state is None:
        echoed, metadata = None, {"timestamp": now}
    else:
        echoed = copy.deepcopy(state)
        metadata = {section: _stamp(value, now) for section, value in state.items()}
    return _with_token({"state": echoed, "metadata": metadata, "version": version, "timestamp": now}, token)


def _delta_message(shadow: _Shadow, now: int, token: str | None) -> dict[str, Any] | None:
    """``/update/delta`` for the shadow as it now stands, or None when nothing differs."""
    desired = shadow.state["desired"]
    delta = _delta(desired, shadow.state["reported"]) if desired else {}
    if not delta:
        return None
    message = {
        "version": shadow.version,
        "timestamp": now,
        "state": delta,
        "metadata": _delta_metadata(delta, shadow.metadata["desired"]),
    }
    return _with_token(message, token)


def _with_token(payload: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        payload["clientToken"] = token
    return payload


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
