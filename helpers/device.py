"""A device on MQTT over mutual TLS (paho-mqtt 2.x), with errors in plain words.

`Device` connects with its certificate and key, publishes and subscribes, and keeps what it
receives in a `MessageLog` that `wait_for` reads. Every refusal becomes an exception that says what
AWS IoT (or the lab) refused and why: `ConnectionRefused`, `PublishRefused`, `SubscribeRefused`.

AWS IoT answers a refused CONNECT with "not authorised" whatever the cause, so when the device
knows an IoT client (``iot=``, as `Device.from_workshop` gives it) it asks the registry whether the
certificate is unknown (the lab was reset? its CA does not auto-register it?), inactive, of a CA
that is not ACTIVE, or active but not allowed to connect with this client id. Each error has a
``kind``, a few words for a table ("refused by the policy", "connection refused: unknown
certificate"), and shows in a notebook as its message alone (`helpers.failures.Explained`).
When nothing answers at all (the lab is stopped), that is `EndpointUnreachable`, not a refusal.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from paho.mqtt.enums import CallbackAPIVersion

from . import mqtt_alpn
from .certs import DeviceFiles, certificate_id, read_device
from .failures import BackendUnreachable, Explained, unreachable_message

DEFAULT_TIMEOUT_S = 10.0
# A certificate registered this recently by its CA's auto-registration was registered by the
# connection being diagnosed (JITP activates it at once, so ACTIVE alone does not tell).
AUTO_REGISTERED_WITHIN_S = 120.0
KEEPALIVE_S = 30
LOG_SIZE = 1000
SUBACK_FAILURE = 0x80


# ------------------------------------------------------------------------------------- errors


class MqttError(Explained):
    """An MQTT operation failed; ``reason`` is a short machine-readable word, the message plain text,
    ``kind`` a few words for a table's outcome column ("refused by the policy")."""

    def __init__(self, reason: str, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code

    @property
    def kind(self) -> str:
        return KINDS.get(self.reason, self.reason.replace("_", " "))


class ConnectionRefused(MqttError):
    """The connection was not established.

    ``reason`` is one of: ``tls`` (the server is not trusted or TLS failed), ``certificate_unknown``,
    ``certificate_inactive``, ``ca_inactive`` (the certificate's CA is not ACTIVE),
    ``auto_registration_off`` (the certificate is unknown and its CA does not auto-register it),
    ``client_id_not_authorised``, ``not_authorised`` (undiagnosed), ``auto_registration`` (the
    certificate's CA registered it on this connection, JITP or JITR, and AWS IoT closed the
    connection as it always does then: connect again), ``timeout``. ``code`` is the CONNACK code
    when one arrived. Nothing answering at all is not a refusal: that is `EndpointUnreachable`.
    """

    @property
    def kind(self) -> str:
        return "connection " + CONNECTION_KINDS.get(self.reason, "refused: " + super().kind)


class PublishRefused(MqttError):
    pass


class SubscribeRefused(MqttError):
    pass


class NotConnected(MqttError):
    pass


class EndpointUnreachable(MqttError, BackendUnreachable):
    """Nothing answers on the MQTT endpoint (``reason`` ``unreachable``): the lab is not running, or
    AWS IoT cannot be reached. Not a `ConnectionRefused`: nobody refused anything."""


# What a table shows for an error's reason (``kind``).
KINDS = {
    "not_authorised": "refused by the policy",
    "closed": "connection closed",
    "not_connected": "not connected",
    "unreachable": "nothing answers (is the lab running?)",
    "timeout": "no answer in time",
}
CONNECTION_KINDS = {
    "client_id_not_authorised": "refused by the policy (iot:Connect)",
    "not_authorised": "refused: not authorised",
    "certificate_unknown": "refused: unknown certificate",
    "certificate_inactive": "refused: certificate not ACTIVE",
    "ca_inactive": "refused: CA not ACTIVE",
    "auto_registration_off": "refused: CA auto-registration off",
    "auto_registration": "closed: certificate just auto-registered",
    "tls": "failed: TLS",
    "signature_refused": "refused: AWS credentials' signature not accepted",
    "no_credentials": "failed: no AWS credentials",
    "timeout": "failed: no answer in time",
}


# ------------------------------------------------------------------------------------ messages


@dataclass(frozen=True)
class Message:
    """One received MQTT message."""

    topic: str
    payload: bytes
    time: float = field(default_factory=time.time)
    qos: int = 0
    retain: bool = False

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        """The payload parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def pretty(self) -> str:
        data = self.json
        return json.dumps(data, indent=2, sort_keys=True) if data is not None else self.text

    def short(self, limit: int = 80) -> str:
        text = self.text.replace("\n", " ")
        return text if len(text) <= limit else text[: limit - 1] + "…"


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (``+`` one level, ``#`` the rest); wildcards never open ``$`` topics."""
    parts, levels = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and parts[0] in ("+", "#"):
        return False
    for i, part in enumerate(parts):
        if part == "#":
            return True
        if i >= len(levels) or part not in ("+", levels[i]):
            return False
    return len(parts) == len(levels)


class MessageLog:
    """A bounded, thread-safe list of received messages that callers can wait on.

    The MQTT thread calls `add`; notebook code calls `wait_for` / `wait_until`, which sleep on a
    condition variable (no polling). Each message gets a sequence number so a caller can wait only
    for messages after a `mark`.
    """

    def __init__(self, maxlen: int = LOG_SIZE) -> None:
        self._items: deque[tuple[int, Message]] = deque(maxlen=maxlen)
        self._cond = threading.Condition()
        self._seq = 0
        self.listeners: list[Callable[[Message], None]] = []

    def add(self, message: Message) -> None:
        with self._cond:
            self._seq += 1
            self._items.append((self._seq, message))
            self._cond.notify_all()
        for listener in list(self.listeners):
            listener(message)

    def mark(self) -> int:
        """The sequence number of the newest message; pass it as ``after`` to ignore older ones."""
        with self._cond:
            return self._seq

    def messages(self, after: int = 0) -> list[Message]:
        with self._cond:
            return [m for seq, m in self._items if seq > after]

    def items(self, after: int = 0) -> list[tuple[int, Message]]:
        """``(sequence number, message)`` of the kept messages after ``after``, oldest first."""
        with self._cond:
            return [(seq, m) for seq, m in self._items if seq > after]

    def first(self, topic_filter: str, predicate: Callable[[Message], Any] | None = None, after: int = 0,
              timeout: float = 0.0) -> Message | None:
        """The first kept message (after ``after``) on ``topic_filter`` satisfying ``predicate``,
        waiting up to ``timeout`` seconds for it; None when there is none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(topic_filter, predicate, after)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def _find(self, topic_filter: str, predicate: Callable[[Message], Any] | None, after: int) -> Message | None:
        for seq, message in self._items:
            if seq > after and topic_matches(topic_filter, message.topic):
                if predicate is None or _safe(predicate, message):
                    return message
        return None

    def wait_for(
        self,
        topic_filter: str,
        predicate: Callable[[Message], Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        after: int = 0,
    ) -> Message:
        """The first kept message (after ``after``) on ``topic_filter`` that satisfies ``predicate``.

        Raises TimeoutError listing what did arrive when none does within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(topic_filter, predicate, after)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            arrived = [m for seq, m in self._items if seq > after][-10:]
        raise TimeoutError(_nothing_matched(topic_filter, predicate, timeout, arrived))

    def wait_until(self, check: Callable[[list[Message]], bool], timeout: float = DEFAULT_TIMEOUT_S) -> bool:
        """Wait until ``check(messages)`` is true; return whether it became true in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check([m for _seq, m in self._items]):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def _safe(predicate: Callable[[Message], Any], message: Message) -> bool:
    try:
        return bool(predicate(message))
    except Exception:  # noqa: BLE001 - a predicate that cannot read a message does not match it
        return False


def _nothing_matched(topic_filter: str, predicate: Any, timeout: float, arrived: list[Message]) -> str:
    what = f"on {topic_filter!r}" + (" matching the condition" if predicate else "")
    if not arrived:
        return f"No message {what} within {timeout:g} s; nothing arrived at all."
    lines = "\n".join(f"  {m.topic}: {m.short()}" for m in arrived)
    return f"No message {what} within {timeout:g} s. What did arrive (last {len(arrived)}):\n{lines}"


def encode_payload(payload: dict | list | str | bytes | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


# -------------------------------------------------------------------------------------- TLS


def tls_context(root_ca: str | Path, cert_path: str | Path, key_path: str | Path) -> ssl.SSLContext:
    """Client TLS for AWS IoT: verify the server against ``root_ca``, present the device cert; TLS 1.2+."""
    for what, path in (("root CA", root_ca), ("certificate", cert_path), ("private key", key_path)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"The {what} file {path} does not exist.")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(root_ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except ssl.SSLError as error:
        raise ValueError(
            f"The private key {key_path} does not belong to the certificate {cert_path}, or one of them "
            f"is not PEM ({getattr(error, 'reason', None) or error})."
        ) from None
    return context


def classify_socket_error(error: BaseException, endpoint: str, port: int, local: bool) -> MqttError:
    """A plain-words error for one raised while opening the TLS connection: `ConnectionRefused`, or
    `EndpointUnreachable` when nothing answers (the lab is stopped, an unknown host, no route)."""
    where = f"{endpoint}:{port}"
    backend = "local" if local else "aws"
    if isinstance(error, ssl.SSLCertVerificationError):
        return ConnectionRefused(
            "tls",
            f"TLS failed: the server at {where} is not trusted by the root CA file ({getattr(error, 'verify_message', None) or error}). "
            "Use the root CA of this backend (ws.root_ca) and the endpoint it names.",
        )
    if isinstance(error, ssl.SSLError):
        if "ALERT" in str(error).upper():
            return ConnectionRefused(
                "certificate_unknown",
                f"The server at {where} rejected the device certificate during the TLS handshake ({getattr(error, 'reason', None) or error}).",
            )
        return ConnectionRefused("tls", f"TLS with {where} failed: {error}")
    if isinstance(error, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        # something accepted the TCP connection, then dropped it during the handshake: a refusal
        # (the same server may instead answer with a TLS EOF; both mean "closed on us", not "absent")
        return ConnectionRefused("tls", f"The server at {where} closed the connection during the TLS handshake ({error}).")
    if isinstance(error, ConnectionRefusedError):
        detail = "" if local else "Nothing accepts connections there."
        return EndpointUnreachable("unreachable", unreachable_message(backend, "MQTT", where, detail=detail))
    if isinstance(error, socket.gaierror):
        return EndpointUnreachable("unreachable", unreachable_message(
            backend, "MQTT", where, detail=f"The endpoint name {endpoint!r} cannot be resolved ({error})."))
    if isinstance(error, (TimeoutError, socket.timeout)):
        return ConnectionRefused("timeout", f"No answer from {where} in time.")
    return EndpointUnreachable("unreachable", unreachable_message(backend, "MQTT", where, detail=f"Cannot reach it: {error}."))


def diagnose_refusal(
    iot: Any, cert_path: str | Path, client_id: str, closed_before_connack: bool = False, *, local: bool = False,
) -> tuple[str, str]:
    """Why a CONNECT was refused, asked of the registry: ``(reason, plain message)``.

    ``closed_before_connack``: the server closed the connection without answering, which is what
    AWS IoT does to a device whose certificate its CA has just auto-registered (JITP, JITR).
    ``local``: the backend is the lab (whose registry empties when it is reset).
    """
    cert_id = certificate_id(Path(cert_path).read_text())
    short = cert_id[:12] + "…"
    try:
        description = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    except Exception as error:  # noqa: BLE001 - botocore ClientError and friends
        if _code(error) == "ResourceNotFoundException":
            return _unknown_certificate(iot, cert_path, short, local)
        if isinstance(error, BackendUnreachable):
            raise
        return "not_authorised", f"the certificate {short} could not be checked ({error})"
    status = description["status"]
    if closed_before_connack and _just_auto_registered(iot, description, presented_ca_id(cert_path)):
        then = "connect again" if status == "ACTIVE" else "connect again once it is ACTIVE"
        return "auto_registration", (
            f"the certificate {short} was signed by a CA with auto-registration enabled; AWS IoT "
            f"registered it on this first connection (now {status}) and closed the connection, as it "
            f"always does then: {then}"
        )
    if status != "ACTIVE":
        return "certificate_inactive", (
            f"the certificate {short} is {status}; only ACTIVE certificates can connect "
            f"(iot.update_certificate(certificateId=..., newStatus='ACTIVE'))"
        )
    ca_id = description.get("caCertificateId")
    ca = _ca_description(iot, ca_id) if ca_id else None
    if ca is not None and ca.get("status") != "ACTIVE":
        return "ca_inactive", (
            f"the certificate {short} is ACTIVE, but its CA {ca_id[:12]}… is {ca.get('status')}; a certificate "
            f"of a CA that is not ACTIVE cannot connect (iot.update_ca_certificate(certificateId=..., newStatus='ACTIVE'))"
        )
    return "client_id_not_authorised", (
        f"the certificate {short} is ACTIVE, but no policy attached to it (or to its thing's groups) allows "
        f"iot:Connect with client id {client_id!r} (iot.list_attached_policies(target=<certificate ARN>) lists them)"
    )


def _unknown_certificate(iot: Any, cert_path: str | Path, short: str, local: bool) -> tuple[str, str]:
    """Why an unregistered certificate was refused: its CA (when the file presents one) tells JITP/JITR cases apart."""
    ca_id = presented_ca_id(cert_path)
    if ca_id is not None:
        ca = _ca_description(iot, ca_id)
        ca_short = ca_id[:12] + "…"
        if ca is None:
            return "certificate_unknown", (
                f"the certificate {short} is not registered, nor is the CA {ca_short} its file presents; JITP and "
                f"JITR need that CA registered (iot.register_ca_certificate)"
            )
        if ca.get("status") != "ACTIVE":
            return "ca_inactive", (
                f"the certificate {short} is not registered, and its CA {ca_short} is {ca.get('status')}: JITP and "
                f"JITR register certificates of an ACTIVE CA only (iot.update_ca_certificate(certificateId=..., "
                f"newStatus='ACTIVE'))"
            )
        if ca.get("autoRegistrationStatus") != "ENABLE":
            return "auto_registration_off", (
                f"the certificate {short} is not registered, and its CA {ca_short} has auto-registration "
                f"{ca.get('autoRegistrationStatus') or 'DISABLE'}: JITP and JITR register a device's certificate on its "
                f"first connection only when it is ENABLE (iot.update_ca_certificate(certificateId=..., "
                f"newAutoRegistrationStatus='ENABLE'))"
            )
    if local:
        return "certificate_unknown", (
            f"the certificate {short} is not registered in the lab: the lab was reset, or the certificate was "
            f"deleted. Make the device again: re-run the cells that create its certificate (a chapter's set-up cell "
            f"creates what the chapter needs)"
        )
    return "certificate_unknown", (
        f"the certificate {short} is not registered with AWS IoT here: it was deleted, or belongs to another "
        f"account or region (iot.describe_certificate(certificateId=...) says which). Make the device again"
    )


def _ca_description(iot: Any, ca_id: str) -> dict | None:
    """DescribeCACertificate's description, or None when the CA is not registered (or cannot be read)."""
    try:
        return iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    except BackendUnreachable:
        raise
    except Exception:  # noqa: BLE001 - not registered, or not ours to read: no claim about it
        return None


def _code(error: BaseException) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


# ----------------------------------------------------------------------------------- device


class Device:
    """An MQTT client with a device certificate: ``with Device(...) as d: d.publish("iot/ws", {...})``.

    The network loop runs on paho's background thread; each method waits for its acknowledgement.
    A connection AWS IoT closes stays closed (no silent reconnect), so refusals are visible.
    """

    def __init__(
        self,
        name: str,
        cert_path: str | Path,
        key_path: str | Path,
        endpoint: str,
        port: int,
        root_ca: str | Path,
        client_id: str | None = None,
        *,
        iot: Any = None,
        local: bool = False,
        keepalive: int = KEEPALIVE_S,
        alpn: bool | None = None,
    ) -> None:
        """``alpn``: offer ALPN ``x-amzn-mqtt-ca`` (MQTT on 443); None reads the workshop's option
        (``WORKSHOP_MQTT_ALPN=1`` or ``WORKSHOP_MQTT_PORT=443``, `helpers.mqtt_alpn`)."""
        self.name = name
        self.cert_path, self.key_path, self.root_ca = Path(cert_path), Path(key_path), Path(root_ca)
        self.endpoint, self.port = endpoint, int(port)
        self.client_id = client_id or name
        self.iot, self.local, self.keepalive = iot, local, keepalive
        self.alpn = mqtt_alpn.alpn_wanted(os.environ) if alpn is None else bool(alpn)
        # The ALPN protocol the server chose on the last connection (None: none was offered or chosen).
        self.negotiated_alpn: str | None = None
        self.messages = MessageLog()
        self.connect_ms: float | None = None
        # Called (on paho's thread, with the device) when an open connection closes without disconnect().
        self.on_connection_lost: list[Callable[["Device"], None]] = []
        self._client: mqtt.Client | None = None
        self._cond = threading.Condition()
        self._leaving = False
        self._reset()

    @classmethod
    def from_workshop(
        cls, ws: Any, name: str, files: DeviceFiles | None = None, client_id: str | None = None
    ) -> "Device":
        """A device of ``ws`` whose files `save_device` wrote (or ``files``), checked against ``ws.iot``."""
        files = files or read_device(ws, name)
        if files is None:
            raise FileNotFoundError(f"No certificate and key for {name} under {ws.work_dir / 'devices'}.")
        return cls(name, files.cert, files.key, ws.endpoint, ws.port, ws.root_ca, client_id,
                   iot=ws.iot, local=ws.backend == "local")

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"Device({self.name!r}, client_id={self.client_id!r}, {self.endpoint}:{self.port}, {state})"

    # -- state shared with paho's thread (guarded by self._cond)

    def _reset(self) -> None:
        self._connack: int | None = None
        self._connack_text = ""
        self._closed = False
        self._acked: set[int] = set()
        self._subacks: dict[int, list[int]] = {}

    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        with self._cond:
            self._connack = 0 if not reason_code.is_failure else _connack_value(reason_code)
            self._connack_text = str(reason_code)
            self._cond.notify_all()

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        with self._cond:
            lost = self._connack == 0 and not self._closed and not self._leaving
            self._closed = True
            self._cond.notify_all()
        if lost:
            for listener in list(self.on_connection_lost):
                try:
                    listener(self)
                except Exception:  # noqa: BLE001 - a listener must not break paho's thread
                    pass

    def _on_publish(self, _client, _userdata, mid, _reason_code, _properties) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        with self._cond:
            self._subacks[mid] = [code.value for code in reason_codes]
            self._cond.notify_all()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self.messages.add(Message(message.topic, bytes(message.payload), qos=message.qos, retain=bool(message.retain)))

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # -- connection

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._client is not None and self._connack == 0 and not self._closed

    def connect(self, timeout: float = DEFAULT_TIMEOUT_S) -> "Device":
        """Open the connection; raises `ConnectionRefused` saying why it failed. Sets ``connect_ms``."""
        if self.connected:
            return self
        self._stop()
        self.negotiated_alpn = None
        client = self._new_client()
        client.connect_timeout = timeout
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_publish, client.on_subscribe = self._on_publish, self._on_subscribe
        client.on_message = self._on_message
        with self._cond:
            self._reset()
            self._leaving = False
        started = time.perf_counter()
        try:
            client.connect(self.endpoint, self.port, keepalive=self.keepalive)
        except (OSError, ssl.SSLError) as error:
            raise self._connect_failed(error) from None
        self.negotiated_alpn = mqtt_alpn.negotiated(client.socket())
        self._client = client
        client.loop_start()
        answered = self._wait(lambda: self._connack is not None or self._closed, timeout)
        if answered and self._connack == 0:
            self.connect_ms = (time.perf_counter() - started) * 1000
            return self
        self._stop()
        if not answered:
            raise ConnectionRefused("timeout", f"No CONNACK from {self.endpoint}:{self.port} within {timeout:g} s.")
        if self._connack is None:
            self._raise_if_gone()
            raise self._refused(None, "AWS IoT closed the connection before answering CONNECT")
        raise self._refused(self._connack, f"AWS IoT refused the connection (CONNACK {self._connack}: {self._connack_text})")

    def _new_client(self) -> mqtt.Client:
        """A paho client for one connection attempt: MQTT 3.1.1 over mutual TLS."""
        context = mqtt_alpn.configure(tls_context(self.root_ca, self.cert_path, self.key_path), self.alpn)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True,
            protocol=mqtt.MQTTv311, reconnect_on_failure=False,
        )
        client.tls_set_context(context)
        return client

    def _connect_failed(self, error: BaseException) -> MqttError:
        """The plain-words error for one raised while opening the connection."""
        refused = classify_socket_error(error, self.endpoint, self.port, self.local)
        if isinstance(refused, ConnectionRefused) and refused.reason == "certificate_unknown" and self.iot is not None:
            refused = self._refused(None, "the server rejected the certificate during the TLS handshake")
        return refused

    def _refused(self, code: int | None, what: str) -> ConnectionRefused:
        if self.iot is None:
            return ConnectionRefused(
                "not_authorised",
                f"{what}: the certificate is unknown or not ACTIVE, or no attached policy allows "
                f"iot:Connect with client id {self.client_id!r}.",
                code=code,
            )
        reason, why = diagnose_refusal(self.iot, self.cert_path, self.client_id, closed_before_connack=code is None,
                                       local=self.local)
        return ConnectionRefused(reason, f"{what}: {why}.", code=code)

    def disconnect(self) -> None:
        """Close the connection (a clean DISCONNECT) and stop the network thread."""
        self._leaving = True
        client = self._client
        if client is not None and self.connected:
            client.disconnect()
        self._stop()

    def _stop(self) -> None:
        self._leaving = True
        client, self._client = self._client, None
        if client is not None:
            client.loop_stop()
            client.disconnect()

    def __enter__(self) -> "Device":
        return self.connect()

    def __exit__(self, *_exc: Any) -> None:
        self.disconnect()

    def _raise_if_gone(self) -> None:
        """Raise `EndpointUnreachable` when the endpoint no longer accepts connections: a connection
        that closed because the lab stopped is not a refusal by a policy."""
        try:
            socket.create_connection((self.endpoint, self.port), timeout=2).close()
        except OSError as error:
            gone = classify_socket_error(error, self.endpoint, self.port, self.local)
            if isinstance(gone, EndpointUnreachable):
                raise gone from None

    def _require_connection(self, what: str) -> mqtt.Client:
        client = self._client
        if client is not None and not self.connected and self._connack == 0:  # it was connected: lost
            self._raise_if_gone()
            raise NotConnected("not_connected", f"{self.name}'s connection closed (the server closed it, or the "
                                                f"network dropped); call connect() again before {what}.")
        if client is None or not self.connected:
            raise NotConnected("not_connected", f"{self.name} is not connected; call connect() before {what}.")
        return client

    # -- messages

    def publish(
        self, topic: str, payload: dict | list | str | bytes | None = None, qos: int = 1,
        timeout: float = DEFAULT_TIMEOUT_S, retain: bool = False,
    ) -> int:
        """Publish; at QoS 1 wait for PUBACK. Raises `PublishRefused` when AWS IoT closes the connection.

        At QoS 0 there is no acknowledgement, so a refusal only shows on the next operation.
        """
        client = self._require_connection("publish")
        info = client.publish(topic, encode_payload(payload), qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._stop()
            raise PublishRefused("closed", f"Publishing to {topic} failed: {mqtt.error_string(info.rc)}.")
        if qos == 0:
            return info.mid
        acked = self._wait(lambda: info.mid in self._acked or self._closed, timeout)
        if acked and info.mid in self._acked:
            return info.mid
        if not acked:
            raise TimeoutError(f"No PUBACK for {topic} within {timeout:g} s.")
        self._stop()
        self._raise_if_gone()
        raise PublishRefused(
            "not_authorised",
            f"The policy does not allow iot:Publish on {topic}; AWS IoT closed the connection.",
        )

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Subscribe and wait for SUBACK; raises `SubscribeRefused` on 0x80 or a closed connection."""
        client = self._require_connection("subscribe")
        result, mid = client.subscribe(topic_filter, qos=qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise SubscribeRefused("closed", f"Subscribing to {topic_filter} failed: {mqtt.error_string(result)}.")
        answered = self._wait(lambda: mid in self._subacks or self._closed, timeout)
        if not answered:
            raise TimeoutError(f"No SUBACK for {topic_filter} within {timeout:g} s.")
        codes = self._subacks.get(mid)
        if codes is None:
            self._stop()
            self._raise_if_gone()
            raise SubscribeRefused(
                "not_authorised",
                f"The policy does not allow iot:Subscribe on {topic_filter}; AWS IoT closed the connection.",
            )
        if any(code >= SUBACK_FAILURE for code in codes):
            raise SubscribeRefused(
                "not_authorised", f"The policy does not allow iot:Subscribe on {topic_filter} (SUBACK 0x80).",
                code=SUBACK_FAILURE,
            )
        return codes[0]

    def wait_for(
        self, topic_filter: str, predicate: Callable[[Message], Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S, after: int = 0,
    ) -> Message:
        """A received message on ``topic_filter`` (see `MessageLog.wait_for`)."""
        return self.messages.wait_for(topic_filter, predicate, timeout, after)


def presented_ca_id(cert_path: str | Path) -> str | None:
    """The certificate id of the CA a chain file presents after the device's certificate, if any."""
    chain = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
    return hashlib.sha256(chain[1].public_bytes(serialization.Encoding.DER)).hexdigest() if len(chain) > 1 else None


def _just_auto_registered(iot: Any, description: dict, presented_ca: str | None = None) -> bool:
    """Did the certificate's CA (the registry's, else the one the chain presents) auto-register it moments
    ago: PENDING_ACTIVATION, or ACTIVE and new?"""
    ca_id = description.get("caCertificateId") or presented_ca
    if not ca_id or description.get("status") not in ("PENDING_ACTIVATION", "ACTIVE"):
        return False
    created = description.get("creationDate")
    if description["status"] == "ACTIVE":
        if not hasattr(created, "timestamp"):
            return False
        if time.time() - created.timestamp() > AUTO_REGISTERED_WITHIN_S:
            return False
    try:
        ca = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    except Exception:  # noqa: BLE001 - not our CA to read, or gone: no claim either way
        return False
    return ca.get("autoRegistrationStatus") == "ENABLE"


def _connack_value(reason_code: Any) -> int:
    """The MQTT 3.1.1 CONNACK return code paho turned into an MQTT 5 reason code."""
    mqtt5_to_311 = {0x84: 1, 0x85: 2, 0x88: 3, 0x86: 4, 0x87: 5}
    return mqtt5_to_311.get(reason_code.value, reason_code.value)


def try_connect_and_publish(
    device: Device, topic: str = "iot/ws", payload: dict | str | None = None,
    qos: int = 1, timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Connect, publish once, disconnect: a result row for a connectivity test (never raises MqttError).

    ``payload`` defaults to ``{"device": name, "nonce": ...}``; ``received`` is left None for the
    caller, who knows whether a subscriber saw it.
    """
    row: dict[str, Any] = {
        "device": device.name, "connected": False, "connect_ms": None,
        "published": False, "received": None, "error": "",
    }
    body = payload if payload is not None else {"device": device.name, "nonce": uuid.uuid4().hex}
    try:
        device.connect(timeout)
        row.update(connected=True, connect_ms=round(device.connect_ms or 0.0, 1))
        device.publish(topic, body, qos=qos, timeout=timeout)
        row["published"] = True
    except EndpointUnreachable:
        raise  # nothing answers: every other device would fail the same way; say it once
    except (MqttError, TimeoutError, OSError, ValueError) as error:  # one broken device must not stop a test run
        row["error"] = f"{type(error).__name__}: {error}"
    finally:
        device.disconnect()
    return row
