"""Who is connecting: the client certificate of a mutual-TLS connection, looked up in the registry.

AWS IoT authenticates an MQTT client on 8883 by its X.509 certificate alone: the certificate id
(SHA-256 of its DER) must name a registered certificate whose status is ``ACTIVE``, and when it was
registered with a CA certificate, that CA must be ``ACTIVE`` too (reference sections 4.3 and 4.4).
Every other case refuses the connection.

Two exceptions to the registry:

* **The console identity.** The lab's own certificate for subject CN ``localcore-console`` (stored
  as ``<home>/pki/console-cert.pem`` and ``console-key.pem``, never registered in the registry)
  connects with any client id and skips policy checks: the lab's privileged observer for tests and
  tools (the notebooks' MQTT console signs in over WebSockets with AWS credentials instead, as the
  AWS console's MQTT test client does). `console_credentials` creates it once.
* **Unknown certificates.** JITP and JITR register a certificate on its first connection. If the
  lab defines ``lab.on_unknown_certificate(chain_ders, client_id) -> bool | None``, it is called
  (on the broker's loop) for a certificate that is not registered or is still
  ``PENDING_ACTIVATION``, with the presented chain as DER (leaf first). When it returns True the
  registry is read again and the connection is admitted if the certificate is now usable; any
  other answer refuses it (AWS drops the first JITP/JITR connection, so a hook that provisions
  usually returns False).

`identify` is plain code over moto's backend object; only `peer_chain` touches an SSL object.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from localcore.files import write_atomically
from localcore.iot import cert_fields
from localcore.pki import fingerprint_der

CONSOLE_COMMON_NAME = "localcore-console"
CONSOLE_CERT_FILE = "console-cert.pem"
CONSOLE_KEY_FILE = "console-key.pem"
ACTIVE = "ACTIVE"
# Statuses handed to ``lab.on_unknown_certificate`` as well as unregistered certificates
# (AWS re-announces a certificate that is still PENDING_ACTIVATION on every attempt).
OFFERED_TO_HOOK = frozenset({"PENDING_ACTIVATION"})

UnknownCertificateHook = Callable[[list[bytes], str], "bool | None"]


class ConnectionRefused(Exception):
    """The connection must be refused; the message says why (for the lab's log, not the client)."""


class AutoRegistrationStarted(ConnectionRefused):
    """The hook registered the certificate (JITP/JITR) but it is not usable yet: AWS IoT closes this
    first connection without a CONNACK, which clients report as "the connection was lost"."""


@dataclass(frozen=True)
class Identity:
    """An authenticated client: its certificate and the fields policy variables read from it."""

    certificate_id: str
    certificate_arn: str | None  # None for the console identity
    console: bool = False
    subject: dict[str, list[str]] = field(default_factory=dict)
    issuer: dict[str, list[str]] = field(default_factory=dict)
    serial_number: str | None = None
    # Authenticated by a SigV4 signature (MQTT over WebSockets), not a certificate: then
    # ``certificate_id`` holds the IAM principal id (`localcore.mqtt.sigv4.principal_id`).
    iam: bool = False


def peer_chain(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The certificates the client presented, as DER, leaf first (empty without TLS).

    Python 3.11 has no public accessor for the peer's chain; ``_sslobj.get_unverified_chain()``
    is the private one (public from 3.13). Without it, only the leaf is returned.
    """
    if ssl_object is None:
        return []
    native = getattr(ssl_object, "_sslobj", None)
    chain = native.get_unverified_chain() if native is not None and hasattr(native, "get_unverified_chain") else None
    if chain:
        return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain]  # type: ignore[attr-defined]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def registry_problem(iot: Any, certificate_id: str) -> str | None:
    """Why the registered certificate cannot connect now, or None when it can."""
    certificate = iot.certificates.get(certificate_id)
    if certificate is None:
        return "the certificate is not registered"
    if certificate.status != ACTIVE:
        return f"the certificate is {certificate.status}"
    ca_id = getattr(certificate, "ca_certificate_id", None)
    if ca_id:
        ca = iot.ca_certificates.get(ca_id)
        if ca is None:
            return f"its CA certificate {ca_id} is no longer registered"
        if ca.status != ACTIVE:
            return f"its CA certificate {ca_id} is {ca.status}"
    return None


def identify(
    iot: Any,
    chain_ders: Sequence[bytes],
    client_id: str,
    *,
    console_certificate_id: str | None = None,
    on_unknown: UnknownCertificateHook | None = None,
) -> Identity:
    """Authenticate the presented chain against the registry, or raise `ConnectionRefused`."""
    if not chain_ders:
        raise ConnectionRefused("no client certificate was presented")
    leaf_der = chain_ders[0]
    certificate_id = fingerprint_der(leaf_der)
    leaf = x509.load_der_x509_certificate(leaf_der)
    fields = {
        "subject": cert_fields.subject_fields(leaf),
        "issuer": cert_fields.issuer_fields(leaf),
        "serial_number": cert_fields.serial_number(leaf),
    }
    if certificate_id == console_certificate_id:
        return Identity(certificate_id, None, console=True, **fields)
    problem = registry_problem(iot, certificate_id)
    if problem is not None and on_unknown is not None and _offered(iot, certificate_id):
        if on_unknown(list(chain_ders), client_id) is True:
            problem = registry_problem(iot, certificate_id)
        elif certificate_id in iot.certificates:  # the hook registered it: JITP/JITR has begun
            raise AutoRegistrationStarted(f"certificate {certificate_id}: auto-registration started")
    if problem is not None:
        raise ConnectionRefused(f"certificate {certificate_id}: {problem}")
    return Identity(certificate_id, iot.certificates[certificate_id].arn, **fields)


def _offered(iot: Any, certificate_id: str) -> bool:
    certificate = iot.certificates.get(certificate_id)
    return certificate is None or certificate.status in OFFERED_TO_HOOK


def console_credentials(lab: Any) -> tuple[Path, Path]:
    """``(cert_path, key_path)`` of the console identity, issued by the lab's CA on first use.

    Both files are 0600 under ``<home>/pki``; the certificate is deliberately not registered.
    """
    folder = Path(lab.config.home) / "pki"
    cert_path, key_path = folder / CONSOLE_CERT_FILE, folder / CONSOLE_KEY_FILE
    with lab.lock:
        if not (cert_path.is_file() and key_path.is_file()):
            cert_pem, _public, key_pem = lab.pki.create_keys_and_certificate(CONSOLE_COMMON_NAME)
            write_atomically(key_path, key_pem.encode())
            write_atomically(cert_path, cert_pem.encode())
    return cert_path, key_path


def console_certificate_id(cert_path: Path) -> str:
    """The certificate id (SHA-256 of the DER) of the console certificate file."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return fingerprint_der(cert.public_bytes(serialization.Encoding.DER))
