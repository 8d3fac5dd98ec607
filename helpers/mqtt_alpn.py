"""MQTT on port 443 with ALPN ``x-amzn-mqtt-ca``, for networks that block 8883.

AWS IoT accepts MQTT with an X.509 client certificate on 8883, and on 443 when the TLS ClientHello
offers the ALPN protocol ``x-amzn-mqtt-ca`` (443 also serves HTTPS and WebSockets; ALPN tells them
apart). The option, read from the environment the kernel started with:

* ``WORKSHOP_MQTT_PORT=443`` or ``WORKSHOP_MQTT_ALPN=1``: devices and the MQTT console offer
  ``x-amzn-mqtt-ca``; on the aws backend the port is 443 (``WORKSHOP_MQTT_PORT=8883`` keeps 8883,
  then with ALPN offered: [unconfirmed] that AWS IoT's 8883 accepts a ClientHello offering it).
* On the lab the port stays the lab's one MQTT port (binding 443 needs root); the lab accepts a
  ClientHello offering ``x-amzn-mqtt-ca`` as well as one offering no ALPN, so the same client code
  runs against it.

`configure` sets the protocols on an `ssl.SSLContext` (paho: ``client.tls_set_context(context)``),
`negotiated` reads what the server chose from the connected socket.
"""

from __future__ import annotations

import ssl
from typing import Any, Mapping

from .failures import WorkshopError

ALPN_PROTOCOL = "x-amzn-mqtt-ca"
PORT_VAR = "WORKSHOP_MQTT_PORT"
ALPN_VAR = "WORKSHOP_MQTT_ALPN"
MQTT_PORT = 8883
MQTT_ALPN_PORT = 443
AWS_PORTS = (MQTT_PORT, MQTT_ALPN_PORT)
TRUE_WORDS = ("1", "true", "yes", "on")


def _port_setting(environ: Mapping[str, str]) -> int | None:
    text = (environ.get(PORT_VAR) or "").strip()
    if not text:
        return None
    try:
        port = int(text)
    except ValueError:
        port = -1
    if port not in AWS_PORTS:
        raise WorkshopError(
            f"{PORT_VAR}={text!r}: AWS IoT takes MQTT with a device certificate on 8883, or on 443 with ALPN "
            f"{ALPN_PROTOCOL}; use {PORT_VAR}=443 where 8883 is blocked, or unset it."
        )
    return port


def alpn_wanted(environ: Mapping[str, str]) -> bool:
    """True when ``WORKSHOP_MQTT_ALPN`` is 1/true/yes/on, or ``WORKSHOP_MQTT_PORT`` is 443."""
    return (environ.get(ALPN_VAR) or "").strip().lower() in TRUE_WORDS or _port_setting(environ) == MQTT_ALPN_PORT


def aws_port(environ: Mapping[str, str]) -> int:
    """The aws backend's MQTT port: ``WORKSHOP_MQTT_PORT`` if set (8883 or 443), else 443 when ALPN is
    wanted, else 8883."""
    port = _port_setting(environ)
    if port is not None:
        return port
    return MQTT_ALPN_PORT if alpn_wanted(environ) else MQTT_PORT


def configure(context: ssl.SSLContext, wanted: bool) -> ssl.SSLContext:
    """Offer ``x-amzn-mqtt-ca`` in the ClientHello when ``wanted``; return the context."""
    if wanted:
        context.set_alpn_protocols([ALPN_PROTOCOL])
    return context


def negotiated(sock: Any) -> str | None:
    """The ALPN protocol the server selected on a connected TLS socket (None: none, or not TLS)."""
    select = getattr(sock, "selected_alpn_protocol", None)
    return select() if callable(select) else None


__all__ = ["ALPN_PROTOCOL", "alpn_wanted", "aws_port", "configure", "negotiated"]
