"""MQTT over WebSockets signed with your AWS credentials (SigV4), as the AWS console's MQTT test client
connects: no device certificate, no IoT policy, only the IAM permissions of whoever runs the notebook.

AWS IoT Core serves it on ``wss://<endpoint>:443/mqtt``; the lab on ``wss://localhost:<IOT_WS_PORT>/mqtt``
with its own CA, and it checks the signature the same way, so this one code path is what CI tests.

`presigned_mqtt_path` is the pure part: the ``/mqtt?X-Amz-...`` path for a Host header, a region,
credentials and a time. `IamMqttConnection` is a `helpers.device.Device` that connects with paho
over WebSockets using that path, signed afresh at every connection attempt (a signature is only
valid for minutes, and temporary credentials are renewed by boto3).
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .device import KEEPALIVE_S, ConnectionRefused, Device, MqttError, classify_socket_error

SERVICE = "iotdevicegateway"
ALGORITHM = "AWS4-HMAC-SHA256"
PATH = "/mqtt"
WS_PORT_AWS = 443
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def websocket_host(endpoint: str, port: int) -> str:
    """The Host header paho sends for a wss connection: the port only when it is not 443."""
    return endpoint if int(port) == 443 else f"{endpoint}:{port}"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def presigned_mqtt_path(host: str, region: str, credentials: Any, now: datetime) -> str:
    """``/mqtt?X-Amz-Algorithm=...&X-Amz-Signature=...`` for ``GET /mqtt`` with ``Host: host``.

    ``credentials`` has ``access_key``, ``secret_key`` and ``token`` (botocore's frozen credentials);
    a session token is appended after signing, as AWS IoT requires (it is not signed). ``now`` is
    an aware datetime (UTC) or a naive one taken as UTC.
    """
    moment = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    amz_date, day = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    scope = f"{day}/{region}/{SERVICE}/aws4_request"
    params = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-SignedHeaders": "host",
    }
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    canonical_request = "\n".join(["GET", PATH, query, f"host:{host}", "", "host", EMPTY_SHA256])
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (day, region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    path = f"{PATH}?{query}&X-Amz-Signature={hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()}"
    token = getattr(credentials, "token", None)
    return f"{path}&X-Amz-Security-Token={_encode(token)}" if token else path


def session_credentials(session: Any) -> Callable[[], Any]:
    """A function returning the boto3 session's current credentials (renewed ones included), or None."""

    def current() -> Any:
        found = session.get_credentials()
        return found.get_frozen_credentials() if found is not None else None

    return current


class IamMqttConnection(Device):
    """A `Device` that authenticates with AWS credentials over WebSockets instead of a certificate."""

    def __init__(
        self,
        name: str,
        credentials: Callable[[], Any],
        region: str,
        endpoint: str,
        port: int,
        root_ca: str | Path,
        client_id: str | None = None,
        *,
        local: bool = False,
        keepalive: int = KEEPALIVE_S,
    ) -> None:
        super().__init__(name, "", "", endpoint, port, root_ca, client_id, local=local, keepalive=keepalive)
        self.credentials, self.region = credentials, region

    @classmethod
    def from_workshop(cls, ws: Any, name: str, client_id: str | None = None) -> "IamMqttConnection":  # type: ignore[override]
        """Signed with ``ws.session``'s credentials, to ``ws.endpoint`` on ``ws.ws_port``, trusting ``ws.root_ca``."""
        return cls(name, session_credentials(ws.session), ws.region, ws.endpoint, ws.ws_port, ws.root_ca, client_id,
                   local=ws.backend == "local")

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"IamMqttConnection({self.name!r}, client_id={self.client_id!r}, wss://{self.endpoint}:{self.port}{PATH}, {state})"

    def _new_client(self) -> mqtt.Client:
        credentials = self.credentials()
        if credentials is None:
            raise ConnectionRefused("no_credentials", "No AWS credentials were found to sign the WebSocket connection.")
        if not Path(self.root_ca).is_file():
            raise FileNotFoundError(f"The root CA file {self.root_ca} does not exist.")
        path = presigned_mqtt_path(websocket_host(self.endpoint, self.port), self.region, credentials,
                                   datetime.now(timezone.utc))
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True,
            protocol=mqtt.MQTTv311, transport="websockets", reconnect_on_failure=False,
        )
        client.ws_set_options(path=path)
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.root_ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        client.tls_set_context(context)
        return client

    def _connect_failed(self, error: BaseException) -> MqttError:
        if isinstance(error, mqtt.WebsocketConnectionError):
            return ConnectionRefused(
                "signature_refused",
                f"wss://{self.endpoint}:{self.port}{PATH} refused the WebSocket upgrade: the signature made with your "
                f"AWS credentials was not accepted (wrong or expired credentials, this machine's clock off by "
                f"minutes, or a region other than the endpoint's: {self.region}).",
            )
        return classify_socket_error(error, self.endpoint, self.port, self.local)

    def _refused(self, code: int | None, what: str) -> ConnectionRefused:
        return ConnectionRefused(
            "not_authorised",
            f"{what}: the IAM permissions of your AWS credentials do not allow iot:Connect with client id "
            f"{self.client_id!r}.",
            code=code,
        )
