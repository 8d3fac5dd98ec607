"""The aws backend must talk to AWS: a loud error when it would talk to this machine (the local lab).

botocore sends every client to ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``, e.g.
``AWS_ENDPOINT_URL_IOT``) when set. Left over from ``eval "$(python -m localcore env)"``, it makes a
notebook on the ``aws`` backend use the lab while reporting ``aws``. `check_configured` looks at
those variables (and ``IOT_ENDPOINT``), `check_endpoint` at the MQTT endpoint DescribeEndpoint
answered; a loopback address (127.0.0.0/8, ::1, localhost, 0.0.0.0) raises `LoopbackEndpoint`.

**The rehearsal switch**, ``WORKSHOP_REHEARSAL=1``, allows it on purpose: the aws code path
(boto3's default session and credential chain, DescribeEndpoint, Amazon Root CA 1 from certifi,
the MQTT port choice, AWS-sized waits) then runs against a running lab, so CI exercises it. Exactly
three endpoint/CA settings differ from a real AWS run, all from the lab's ``localcore env``:

* the MQTT ports are the lab's (``IOT_PORT``; ``IOT_WS_PORT`` for the console's MQTT over
  WebSockets, `helpers.iam_mqtt`), not 8883/443 (the lab never binds a privileged port);
* the MQTT root CA is the lab's (``IOT_ROOT_CA``): Amazon Root CA 1 is still taken from certifi and
  written into the work folder (``ws.amazon_root_ca``), but the lab's server certificate does not
  chain to it;
* the ``iot-data`` client (shadows, HTTPS publish) uses botocore's ``AWS_ENDPOINT_URL`` (the lab's
  HTTP port) instead of ``https://<DescribeEndpoint's answer>`` on 443.

Nothing else changes: the API endpoints are botocore's own choice (``AWS_ENDPOINT_URL``), the MQTT
host is DescribeEndpoint's answer, credentials and region come from boto3's default chain, ALPN is
offered when asked for, and waits are sized for aws.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .failures import WorkshopError

REHEARSAL_VAR = "WORKSHOP_REHEARSAL"
ENDPOINT_VAR = "AWS_ENDPOINT_URL"
IGNORE_VAR = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"  # botocore's switch that makes it ignore the variables
TRUE_WORDS = ("1", "true", "yes", "on")
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
REHEARSAL_LABEL = "aws (rehearsal against the lab)"
LAB_EXPORTS = ("IOT_PORT", "IOT_WS_PORT", "IOT_ROOT_CA")  # beside a loopback endpoint, these are the lab's too
LAB_KEYS, LAB_KEY_VALUE = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "localcore"  # the lab's dummy keys
IN_A_NOTEBOOK = ("restart JupyterLab from that shell (or `%env` them away in the notebook), then run this cell "
                 "again")


class LoopbackEndpoint(WorkshopError):
    """The aws backend would talk to this machine (the local lab), not to AWS."""


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def rehearsal(environ: Mapping[str, str]) -> bool:
    """True when ``WORKSHOP_REHEARSAL`` is set to 1/true/yes/on."""
    return is_true(environ.get(REHEARSAL_VAR))


def host_of(value: str) -> str:
    """The host name or address in a URL (``http://127.0.0.1:4510``) or a bare host (``[::1]:8883``, ``localhost``)."""
    text = value.strip()
    try:  # a bare address (``::1`` has colons but no port)
        return ipaddress.ip_address(text.split("%", 1)[0]).compressed
    except ValueError:
        pass
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = ""
    return host.rstrip(".").lower()


def is_loopback(value: str) -> bool:
    """True when ``value`` (a URL or a host) names this machine: 127.0.0.0/8, ::1 (also IPv4-mapped),
    0.0.0.0 / :: (which reach this machine), ``localhost`` and names under ``.localhost``. No DNS look-up."""
    host = host_of(value)
    if not host:
        return False
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_loopback or address.is_unspecified


@dataclass(frozen=True)
class Finding:
    """A setting that points the aws backend at this machine."""

    name: str
    value: str


def configured_endpoints(environ: Mapping[str, str]) -> list[Finding]:
    """The loopback endpoint settings in ``environ``: ``AWS_ENDPOINT_URL``, every ``AWS_ENDPOINT_URL_*``
    (unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true, as botocore then ignores them) and ``IOT_ENDPOINT``."""
    names = []
    if not is_true(environ.get(IGNORE_VAR)):
        names = sorted(n for n in environ if n == ENDPOINT_VAR or n.startswith(ENDPOINT_VAR + "_"))
    names.append("IOT_ENDPOINT")
    return [Finding(n, environ[n]) for n in names if environ.get(n) and is_loopback(environ[n])]


def leftovers(findings: list[Finding], environ: Mapping[str, str]) -> list[str]:
    """What to unset: the loopback settings, and the other lab exports beside them (its root CA, port and
    dummy keys; `localcore env` prints them all)."""
    names = {f.name for f in findings}
    names.update(n for n in LAB_EXPORTS if environ.get(n))
    names.update(n for n in LAB_KEYS if environ.get(n) == LAB_KEY_VALUE)
    return sorted(names)


def _message(findings: list[Finding], then: str = IN_A_NOTEBOOK, environ: Mapping[str, str] | None = None) -> str:
    listed = "\n".join(f"  {f.name}={f.value}" for f in findings)
    unset = " ".join(leftovers(findings, environ or {}))
    return (
        "The aws backend would talk to this machine (the local lab), not to AWS:\n"
        f"{listed}\n"
        f"These are left over from `eval \"$(python -m localcore env)\"` or a lab terminal. Run `unset {unset}`, "
        f"{then}. "
        "For the lab itself use WORKSHOP_BACKEND=local; to rehearse the aws code path against the lab on "
        f"purpose, set {REHEARSAL_VAR}=1."
    )


def check_configured(environ: Mapping[str, str], then: str = IN_A_NOTEBOOK) -> None:
    """Raise `LoopbackEndpoint` when an endpoint variable points at loopback (unless rehearsing)."""
    findings = configured_endpoints(environ)
    if findings and not rehearsal(environ):
        raise LoopbackEndpoint(_message(findings, then, environ))


def check_endpoint(name: str, value: str, environ: Mapping[str, str]) -> None:
    """Raise `LoopbackEndpoint` when ``value`` (e.g. DescribeEndpoint's answer) is loopback (unless rehearsing)."""
    if is_loopback(value) and not rehearsal(environ):
        raise LoopbackEndpoint(_message([Finding(name, value)], environ=environ))


def rehearsal_mqtt(environ: Mapping[str, str]) -> tuple[int, Path]:
    """The two settings a rehearsal takes from the lab: its MQTT port (``IOT_PORT``) and root CA (``IOT_ROOT_CA``)."""
    missing = [n for n in ("IOT_PORT", "IOT_ROOT_CA") if not environ.get(n)]
    if missing:
        raise WorkshopError(
            f"{REHEARSAL_VAR}=1 runs the aws code path against the lab, whose MQTT port and root CA come from "
            f"`eval \"$(python -m localcore env)\"`; {', '.join(missing)} is not set."
        )
    try:
        port = int(environ["IOT_PORT"])
    except ValueError:
        raise WorkshopError(f"IOT_PORT={environ['IOT_PORT']!r} is not a port number.") from None
    root_ca = Path(environ["IOT_ROOT_CA"]).expanduser()
    if not root_ca.is_file():
        raise WorkshopError(f"IOT_ROOT_CA={environ['IOT_ROOT_CA']} does not exist; is the lab started?")
    return port, root_ca


__all__ = ["LoopbackEndpoint", "REHEARSAL_LABEL", "check_configured", "check_endpoint", "configured_endpoints",
           "is_loopback", "rehearsal", "rehearsal_mqtt"]

