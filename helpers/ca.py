"""Your own certificate authority (CA) for JITP and JITR, made with `cryptography`.

    ca = make_ca("workshop-ca", country="DE", organization="IoT")      # key + self-signed certificate
    verification = verification_certificate(ca, registration_code)     # proves we hold the CA's key
    device_pem = sign_device_certificate(ca, device_key, "my-device", country="DE")
    save_device(ws, "my-device", chain_pem(device_pem, ca), device_key)  # device cert, then the CA's

What the original workshop did with ``openssl genrsa``, ``openssl req -x509`` and ``openssl x509
-req -CA``. The CA's key reaches the disk only through `save_ca` (0600, in ``<work_dir>/ca``);
`load_ca` reads it back, so every chapter uses the same CA (AWS registers a CA once per account).

`wait_for_provisioning` polls the registry after a device's first connection: JITP and the JITR
Lambda finish their work in the background, after AWS IoT has closed that connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from . import waits
from .certs import PrivateKey, check_file_name, key_pem, new_key, subject_name
from .secrets import private_folder, write_private

CA_FOLDER = "ca"
CA_DAYS = 1024  # the original workshop's `openssl req -x509 -days 1024`
DEVICE_DAYS = 500  # and its `openssl x509 -req -days 500`
BACKDATE = timedelta(minutes=5)  # a clock a little behind ours still accepts a new certificate
PROVISIONED = "ACTIVE"

T = TypeVar("T")


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA's private key and self-signed certificate (the repr shows no key)."""

    key: PrivateKey = field(repr=False)
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        """The CA certificate as PEM text: public, safe to show and to register."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def certificate_id(self) -> str:
        """AWS IoT's id for this certificate: the SHA-256 of its DER, in hex."""
        return hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class CaFiles:
    """Where a CA's certificate and private key are (both 0600)."""

    cert: Path
    key: Path


# ------------------------------------------------------------------------------- certificates


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any, days: int) -> x509.CertificateBuilder:
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
    )


def make_ca(common_name: str, *, key: PrivateKey | None = None, days: int = CA_DAYS, **subject: str) -> CertificateAuthority:
    """A new CA: ``key`` (a new RSA 2048 key by default) and a self-signed certificate marked CA:TRUE.

    ``subject`` takes the fields `certs.make_csr` knows, e.g. ``country="DE", organization="IoT"``.
    """
    key = key or new_key("rsa")
    name = subject_name(common_name, **subject)
    public_key = key.public_key()
    certificate = (
        _builder(name, name, public_key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(key, certificate)


def _signed_by(ca: CertificateAuthority, name: x509.Name, public_key: Any, days: int) -> str:
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        _builder(name, ca.certificate.subject, public_key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def verification_certificate(ca: CertificateAuthority, registration_code: str, days: int = DEVICE_DAYS) -> str:
    """The proof of possession for RegisterCACertificate: CN = the registration code, signed by the CA.

    Its own key is made here and thrown away: AWS IoT only checks the subject and the signature.
    """
    if not registration_code:
        raise ValueError("The verification certificate needs the registration code (iot.get_registration_code()).")
    return _signed_by(ca, subject_name(registration_code), new_key("ec").public_key(), days)


def sign_device_certificate(
    ca: CertificateAuthority, device_key: PrivateKey, common_name: str, *, days: int = DEVICE_DAYS, **subject: str
) -> str:
    """A device certificate for ``device_key`` signed by ``ca`` (PEM). JITP reads its subject fields,
    e.g. ``common_name`` and ``country="DE"``."""
    return _signed_by(ca, subject_name(common_name, **subject), device_key.public_key(), days)


def chain_pem(device_certificate_pem: str, ca: CertificateAuthority) -> str:
    """The device's certificate followed by the CA's: what the device presents on its first connection."""
    leaf = device_certificate_pem if device_certificate_pem.endswith("\n") else device_certificate_pem + "\n"
    return leaf + ca.pem


def certificate_summary(pem: str) -> dict[str, Any]:
    """The first certificate of ``pem`` as table rows: subject, issuer, validity, whether it is a CA."""
    certificate = x509.load_pem_x509_certificate(pem.encode())
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "self-signed": certificate.subject == certificate.issuer,
        "CA (basicConstraints)": is_ca,
        "valid from": certificate.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC"),
        "valid until": certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
        "certificate id (SHA-256)": hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
    }


# ---------------------------------------------------------------------------------------- files


def ca_folder(target: Any) -> Path:
    """``<work_dir>/ca`` of a Workshop, or the folder given."""
    work_dir = getattr(target, "work_dir", None)
    return Path(work_dir) / CA_FOLDER if work_dir is not None else Path(target)


def save_ca(target: Any, name: str, ca: CertificateAuthority) -> CaFiles:
    """Write ``<name>.crt`` and ``<name>.key`` (0600, atomically) into the CA folder."""
    folder = private_folder(ca_folder(target))
    check_file_name(name)
    return CaFiles(cert=write_private(folder / f"{name}.crt", ca.pem),
                   key=write_private(folder / f"{name}.key", key_pem(ca.key)))


def load_ca(target: Any, name: str) -> CertificateAuthority | None:
    """The CA `save_ca` wrote as ``name``, or None when its files are not both there."""
    folder = ca_folder(target)
    cert_path, key_path = folder / f"{check_file_name(name)}.crt", folder / f"{name}.key"
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return CertificateAuthority(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ waiting


def poll(check: Callable[[], T], timeout: float, interval: float, what: str, hint: str = "") -> T:
    """Call ``check`` every ``interval`` seconds until it returns something truthy; return that.

    Raises `helpers.waits.WaitTimedOut` (a TimeoutError) naming ``what`` when ``timeout`` seconds
    pass first; after a few seconds a line says what is awaited (`helpers.waits.wait_until`).
    """
    return waits.wait_until(check, what=what, timeout=timeout, interval=interval, hint=hint)


def poll_interval(ws: Any) -> float:
    """How often to ask: 0.2 s on the local lab, 2 s on AWS (well below its API rate limits)."""
    return 0.2 if getattr(ws, "backend", "local") == "local" else 2.0


def provisioning_state(ws: Any, certificate_id: str) -> dict[str, Any]:
    """Where a certificate stands: ``{"status", "things", "policies"}`` (status None when unknown)."""
    try:
        description = ws.iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return {"status": None, "things": [], "policies": []}
    arn = description["certificateArn"]
    return {
        "status": description["status"],
        "things": ws.iot.list_principal_things(principal=arn).get("things", []),
        "policies": [p["policyName"] for p in ws.iot.list_attached_policies(target=arn).get("policies", [])],
    }


def wait_for_provisioning(ws: Any, certificate_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Wait until the certificate is ACTIVE with a thing and a policy attached; return its state.

    The wait is sized to the backend (`helpers.waits.PROVISIONING`) unless ``timeout`` is given.
    Raises TimeoutError saying where it stood when the time passes first.
    """
    last: dict[str, Any] = {}

    def provisioned() -> dict[str, Any] | None:
        last.update(provisioning_state(ws, certificate_id))
        return dict(last) if last["status"] == PROVISIONED and last["things"] and last["policies"] else None

    def where() -> str:
        return (f"its status is {last.get('status') or 'unknown (not registered)'}, things {last.get('things') or 'none'}, "
                f"policies {last.get('policies') or 'none'}")

    return waits.wait_until(
        provisioned, what=f"certificate {certificate_id[:12]}… to be provisioned", timeout=timeout,
        budget=waits.PROVISIONING, backend=waits.backend_of(ws), interval=poll_interval(ws),
        describe=lambda _none: where(),
        hint="JITP/JITR start when the device connects with its certificate and its CA's (chain_pem); "
             "the CA needs auto-registration ENABLE. Still PENDING_ACTIVATION: the JITP template failed ("
             + ("the lab's log, work/lab/lab.log, says why)" if getattr(ws, "backend", "") == "local" else
                "AWS counts it in CloudWatch's device provisioning metrics)") + ", or JITR's function did not activate it.",
    )


__all__ = [
    "CertificateAuthority", "CaFiles", "make_ca", "verification_certificate", "sign_device_certificate",
    "chain_pem", "certificate_summary", "ca_folder", "save_ca", "load_ca",
    "poll", "poll_interval", "provisioning_state", "wait_for_provisioning",
]
