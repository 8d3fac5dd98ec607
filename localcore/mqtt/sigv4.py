"""SigV4 query-string authentication of MQTT over WebSockets, as AWS IoT Core checks it.

A client that holds AWS credentials (the AWS console's MQTT test client, a browser, the notebooks'
MQTT console) opens ``wss://<endpoint>/mqtt?<query>`` where the query carries a Signature Version 4
signature of the upgrade request (reference section 1.6: MQTT over WebSocket, SigV4, port 443):

    X-Amz-Algorithm=AWS4-HMAC-SHA256
    X-Amz-Credential=<access key id>/<yyyymmdd>/<region>/iotdevicegateway/aws4_request
    X-Amz-Date=<yyyymmddThhmmssZ>
    X-Amz-SignedHeaders=host
    X-Amz-Signature=<hex>                  (over everything above, the path and the Host header)
    X-Amz-Security-Token=<session token>   (temporary credentials only; appended AFTER signing,
                                            so it is not part of the signed query)

`verify_presigned` is a plain function over the request's path, its Host header, the known
credentials and the time: it returns the `SignedPrincipal` or raises `SignatureRejected` (the
listener answers the upgrade with HTTP 403 then). Nothing here touches a socket.

[unconfirmed] points, each one constant: how long a URL without ``X-Amz-Expires`` stays valid and
how far in the future its date may be (`VALIDITY_WITHOUT_EXPIRES_S`, `MAX_FUTURE_SKEW_S`: SigV4's
usual 15 minutes); that a signed ``X-Amz-Security-Token`` is refused (AWS IoT documents it as
appended after signing); the principal id an IAM connection gets (`principal_id`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "iotdevicegateway"
TERMINATOR = "aws4_request"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNATURE = "X-Amz-Signature"
SECURITY_TOKEN = "X-Amz-Security-Token"
REQUIRED = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", SIGNATURE)
VALIDITY_WITHOUT_EXPIRES_S = 15 * 60  # [unconfirmed]
MAX_FUTURE_SKEW_S = 15 * 60  # [unconfirmed]
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4's longest presigned URL


class SignatureRejected(Exception):
    """The upgrade request is not signed by a known identity, or no longer valid (HTTP 403)."""


@dataclass(frozen=True)
class SignedPrincipal:
    access_key_id: str
    region: str
    session_token: str | None = None

    @property
    def principal_id(self) -> str:
        return principal_id(self.access_key_id)


def principal_id(access_key_id: str) -> str:
    """What the rules SQL ``principal()`` and the logs' ``principalId`` say for an IAM connection.

    [unconfirmed] AWS names the IAM user or role (and session); the lab has one identity per access
    key, so it says the access key id."""
    return access_key_id


def uri_encode(text: str) -> str:
    """SigV4's percent-encoding: everything but ``A-Z a-z 0-9 - _ . ~``, ``/`` included."""
    return quote(text, safe="-_.~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, *, method: str, path: str, params: list[tuple[str, str]], host: str,
              amz_date: str, scope: str) -> str:
    """The hex signature of a GET whose only signed header is ``host`` and whose body is empty."""
    canonical_request = "\n".join(
        [method, uri_encode_path(path), canonical_query(params), f"host:{host.strip()}", "", "host", EMPTY_SHA256]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    date, region, service, _terminator = scope.split("/")
    return hmac.new(signing_key(secret, date, region, service), string_to_sign.encode(), hashlib.sha256).hexdigest()


def uri_encode_path(path: str) -> str:
    return quote(path or "/", safe="/-_.~")


def verify_presigned(
    path: str, query: str, host: str, *, secrets: Mapping[str, str], region: str, now: datetime,
) -> SignedPrincipal:
    """Check the SigV4 query-string signature of ``GET path?query`` with header ``Host: host``.

    ``secrets`` maps the known access key ids to their secret keys; ``region`` is the region the
    endpoint serves. Raises `SignatureRejected` saying why (for the lab's log, not the client)."""
    params = parse_qsl(query, keep_blank_values=True)
    values: dict[str, str] = {}
    for name, value in params:
        if name in values:
            raise SignatureRejected(f"the query names {name} twice")
        values[name] = value
    missing = [name for name in REQUIRED if not values.get(name)]
    if missing:
        raise SignatureRejected(f"the query lacks {', '.join(missing)} (the URL is not signed)")
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureRejected(f"unsupported X-Amz-Algorithm {values['X-Amz-Algorithm']!r}")
    if values["X-Amz-SignedHeaders"].lower() != "host":
        raise SignatureRejected("X-Amz-SignedHeaders must be 'host'")
    parts = values["X-Amz-Credential"].split("/")
    if len(parts) != 5 or parts[4] != TERMINATOR:
        raise SignatureRejected("X-Amz-Credential is not <key>/<date>/<region>/<service>/aws4_request")
    access_key, scope_date, scope_region, service, _ = parts
    if service != SERVICE:
        raise SignatureRejected(f"the credential scope names service {service!r}, not {SERVICE!r}")
    if scope_region != region:
        raise SignatureRejected(f"the credential scope names region {scope_region!r}; this endpoint serves {region!r}")
    secret = secrets.get(access_key)
    if secret is None:
        raise SignatureRejected(f"the access key {access_key!r} is not known")
    try:
        signed_at = datetime.strptime(values["X-Amz-Date"], DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureRejected(f"X-Amz-Date {values['X-Amz-Date']!r} is not yyyymmddThhmmssZ") from None
    if values["X-Amz-Date"][:8] != scope_date:
        raise SignatureRejected("X-Amz-Date and the credential scope's date differ")
    _check_time(signed_at, values.get("X-Amz-Expires"), now)
    signed = [(k, v) for k, v in params if k not in (SIGNATURE, SECURITY_TOKEN)]
    expected = signature(secret, method="GET", path=path, params=signed, host=host, amz_date=values["X-Amz-Date"],
                         scope="/".join(parts[1:]))
    if not hmac.compare_digest(expected, values[SIGNATURE].lower()):
        raise SignatureRejected("the signature does not match (wrong secret key, host, path or query)")
    return SignedPrincipal(access_key, scope_region, values.get(SECURITY_TOKEN) or None)


def _check_time(signed_at: datetime, expires: str | None, now: datetime) -> None:
    if expires is not None:
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES_S:
            raise SignatureRejected(f"X-Amz-Expires {expires!r} is not 1..{MAX_EXPIRES_S}")
        validity = int(expires)
    else:
        validity = VALIDITY_WITHOUT_EXPIRES_S
    if now > signed_at + timedelta(seconds=validity):
        raise SignatureRejected(f"the signature expired (signed {signed_at:%Y-%m-%d %H:%M:%S} UTC, valid {validity} s)")
    if signed_at > now + timedelta(seconds=MAX_FUTURE_SKEW_S):
        raise SignatureRejected(f"X-Amz-Date is more than {MAX_FUTURE_SKEW_S} s in the future")
