"""ALPN on the lab's MQTT port: ``x-amzn-mqtt-ca`` (AWS IoT's MQTT-on-443) or none, nothing else.

AWS IoT serves MQTT with a client certificate on 8883, and on 443 when the ClientHello offers ALPN
``x-amzn-mqtt-ca``. The lab has one MQTT port (it never binds 443, which needs root), and accepts
both there: a ClientHello with no ALPN, and one offering ``x-amzn-mqtt-ca`` (which the server then
selects). A ClientHello offering ALPN protocols but not ``x-amzn-mqtt-ca`` is refused: the
connection is closed during the handshake.
[unconfirmed] how AWS IoT answers such a ClientHello on 443 (a TLS alert, a close, or the HTTPS
service); `REFUSE_OTHER_ALPN` is the one switch for it.

Python's server-side ALPN callback cannot refuse (when nothing overlaps it continues without ALPN),
nor does it show what the client offered. So the context's `ssl.SSLContext.sslobject_class` is
`AlpnScreen`, which reads the ClientHello's ALPN extension from the bytes asyncio hands to the TLS
object (leaving them in place) before OpenSSL processes it.
"""

from __future__ import annotations

import ssl
from typing import Any

ALPN_PROTOCOLS = ("x-amzn-mqtt-ca",)
REFUSE_OTHER_ALPN = True  # [unconfirmed] AWS's answer to a ClientHello offering only other protocols
MAX_HELLO_BYTES = 1 << 16  # past this without a whole ClientHello: leave the verdict to OpenSSL
_HANDSHAKE, _CLIENT_HELLO, _ALPN_EXTENSION = 0x16, 0x01, 0x0010


class Pending(Exception):
    """More bytes are needed to read the whole ClientHello."""


def _handshake_bytes(data: bytes) -> bytes | None:
    """The handshake bytes carried by the leading TLS handshake records of ``data`` (the last one may be
    partial); None when ``data`` does not start with a handshake record."""
    if data and data[0] != _HANDSHAKE:
        return None
    out, at = bytearray(), 0
    while at + 5 <= len(data) and data[at] == _HANDSHAKE:
        length = int.from_bytes(data[at + 3:at + 5], "big")
        out += data[at + 5:at + 5 + length]
        at += 5 + length
    return bytes(out)


def offered_alpn(data: bytes) -> list[str] | None:
    """The ALPN protocols a ClientHello at the start of ``data`` offers: ``[]`` when it has no ALPN
    extension, None when ``data`` is not a TLS ClientHello. Raises `Pending` while it is incomplete."""
    body = _handshake_bytes(data)
    if body is None:
        return None
    if len(body) < 4:
        raise Pending
    if body[0] != _CLIENT_HELLO:
        return None
    length = int.from_bytes(body[1:4], "big")
    if len(body) < 4 + length:
        raise Pending
    hello = body[4:4 + length]
    try:
        at = 2 + 32  # legacy_version, random
        at += 1 + hello[at]  # session id
        at += 2 + int.from_bytes(hello[at:at + 2], "big")  # cipher suites
        at += 1 + hello[at]  # compression methods
        if at >= len(hello):
            return []  # no extensions at all
        end = at + 2 + int.from_bytes(hello[at:at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, size = int.from_bytes(hello[at:at + 2], "big"), int.from_bytes(hello[at + 2:at + 4], "big")
            if kind == _ALPN_EXTENSION:
                return _protocol_names(hello[at + 4:at + 4 + size])
            at += 4 + size
    except IndexError:
        return None
    return []


def _protocol_names(extension: bytes) -> list[str]:
    names, at = [], 2  # the list's own 2-byte length first
    while at < len(extension):
        size = extension[at]
        names.append(extension[at + 1:at + 1 + size].decode("ascii", errors="replace"))
        at += 1 + size
    return names


def refused(offered: list[str] | None) -> bool:
    """True when a ClientHello offering ``offered`` is refused: it offers ALPN, but none of ours."""
    return REFUSE_OTHER_ALPN and bool(offered) and not set(offered) & set(ALPN_PROTOCOLS)


class AlpnScreen(ssl.SSLObject):
    """A server-side TLS object that refuses a ClientHello offering only other ALPN protocols."""

    @classmethod
    def _create(cls, incoming, outgoing, server_side=False, server_hostname=None, session=None, context=None):
        made = super()._create(incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
                               session=session, context=context)
        made._screen_incoming = incoming
        made._screen_seen = b"" if server_side else None  # None: screening done (or not a server)
        return made

    def do_handshake(self) -> None:
        if self._screen_seen is not None:
            self._screen()
        return super().do_handshake()

    def _screen(self) -> None:
        fresh = self._screen_incoming.read()
        self._screen_incoming.write(fresh)  # put them back for OpenSSL, unchanged and in order
        self._screen_seen += fresh
        try:
            offered = offered_alpn(self._screen_seen)
        except Pending:
            if len(self._screen_seen) <= MAX_HELLO_BYTES:
                return  # look again when more bytes have come
            offered = None
        self._screen_seen = None
        if refused(offered):
            raise ssl.SSLError(
                ssl.SSL_ERROR_SSL,
                f"ALPN {', '.join(offered or [])} is not served on this port (it serves MQTT with "
                f"{', '.join(ALPN_PROTOCOLS)} or without ALPN)",
            )


def screen(context: ssl.SSLContext) -> ssl.SSLContext:
    """Make a server context select ``x-amzn-mqtt-ca`` when offered and refuse other ALPN offers; return it."""
    context.set_alpn_protocols(list(ALPN_PROTOCOLS))
    context.sslobject_class = AlpnScreen
    return context


def selected(ssl_object: Any) -> str | None:
    """The ALPN protocol selected on a server-side connection (None when none)."""
    select = getattr(ssl_object, "selected_alpn_protocol", None)
    return select() if callable(select) else None


__all__ = ["ALPN_PROTOCOLS", "AlpnScreen", "offered_alpn", "refused", "screen"]
