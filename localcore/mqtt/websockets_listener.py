"""MQTT over WebSockets (wss) signed with SigV4: the lab's copy of AWS IoT Core's port 443 listener
for IAM credentials (reference section 1.6), the way the AWS console's MQTT test client connects.

Why amqtt's own ``ws`` listener with a check on the upgrade, and not a separate server bridging to
the mutual-TLS port: amqtt serves WebSockets with the ``websockets`` library, whose
``process_request`` hook sees the HTTP upgrade request before the handshake completes and may
answer it (HTTP 403) instead. So a signed connection reaches the very same `LabBroker` as a device:
the same MQTT limits, reserved topics, lifecycle events, logging and rules, with no second MQTT hop
and no second identity for the bridge. This module only adds the pieces the listener needs:

* `upgrade_check`: the ``process_request`` hook: path ``/mqtt`` (else 404), then
  `sigv4.verify_presigned` against the lab's credentials (else 403, the reason in the lab's log).
  [unconfirmed] AWS answers a bad or expired signature with HTTP 403 on the upgrade.
* `SignedWriter`: amqtt's WebSocket writer, carrying the `SignedPrincipal` the check found, so
  the broker's admission knows who connected.
* `server_tls_context`: TLS 1.2+ with the lab's server certificate and no client certificate (a
  browser has none; the signature authenticates).
"""

from __future__ import annotations

import logging
import ssl
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from amqtt.adapters import WebSocketsWriter

from . import sigv4

log = logging.getLogger("localcore.mqtt.ws")

PATH = "/mqtt"
SUBPROTOCOL = "mqtt"
MAX_FRAME_BYTES = 1024 * 1024  # above AWS's 128 KB payload limit, so the broker's own check answers


def server_tls_context(pki: Any) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(pki.server_cert_chain_path), str(pki.server_key_path))
    context.verify_mode = ssl.CERT_NONE
    return context


class SignedWriter(WebSocketsWriter):
    """amqtt's WebSocket writer, with who signed the upgrade request."""

    def __init__(self, protocol: Any, principal: sigv4.SignedPrincipal | None) -> None:
        super().__init__(protocol)
        self.principal = principal


class UpgradeCheck:
    """The ``process_request`` hook of the listener: verifies, and remembers who signed each upgrade
    until the broker's admission asks (`principal_of`)."""

    def __init__(self, secrets: Callable[[], dict[str, str]], region: str,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.secrets, self.region, self.now = secrets, region, now
        self._signed: WeakKeyDictionary[Any, sigv4.SignedPrincipal] = WeakKeyDictionary()

    def __call__(self, connection: Any, request: Any) -> Any:
        url = urlsplit(request.path)
        where = _peer(connection)
        if url.path != PATH:
            log.info("WebSocket upgrade from %s refused: path %r is not %s", where, url.path, PATH)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        try:
            principal = sigv4.verify_presigned(
                url.path, url.query, request.headers.get("Host", ""),
                secrets=self.secrets(), region=self.region, now=self.now(),
            )
        except sigv4.SignatureRejected as rejected:
            log.info("WebSocket upgrade from %s refused (403): %s", where, rejected)
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        except Exception:  # a bug must refuse the upgrade, and say so in the lab's log
            log.exception("checking the WebSocket upgrade from %s failed", where)
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error\n")
        self._signed[connection] = principal
        return None

    def principal_of(self, connection: Any) -> sigv4.SignedPrincipal | None:
        return self._signed.pop(connection, None)


def _peer(connection: Any) -> str:
    try:
        host, port = connection.remote_address[:2]
        return f"{host}:{port}"
    except Exception:  # noqa: BLE001 - only for a log line
        return "?"
