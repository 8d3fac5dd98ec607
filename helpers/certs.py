"""Device keys, certificate signing requests and the files a device keeps (made with `cryptography`).

Keys stay objects in memory (their repr shows no key material); they become text only in
`key_pem`, and reach the disk only through `save_device`, which writes 0600 files atomically.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .secrets import private_folder, write_private

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]

DEFAULT_BITS = {"rsa": 2048, "ec": 256}
EC_CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}

# Subject fields make_csr accepts, by every name a trainee is likely to type.
SUBJECT_FIELDS = {
    "country": NameOID.COUNTRY_NAME,
    "c": NameOID.COUNTRY_NAME,
    "state": NameOID.STATE_OR_PROVINCE_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "serial_number": NameOID.SERIAL_NUMBER,
    "email": NameOID.EMAIL_ADDRESS,
}

# Device names become file names: thing-name characters plus dots, never a path.
FILE_NAME = re.compile(r"[A-Za-z0-9:_-][A-Za-z0-9:_.-]*")


@dataclass(frozen=True)
class DeviceFiles:
    """Where a device's certificate and private key are (both 0600)."""

    cert: Path
    key: Path


def new_key(kind: str = "rsa", bits: int | None = None) -> PrivateKey:
    """A new private key: ``"rsa"`` (2048 bits by default) or ``"ec"`` (P-256 by default)."""
    kind = kind.lower()
    if kind not in DEFAULT_BITS:
        raise ValueError(f"Key kind {kind!r} is not supported; use 'rsa' or 'ec'.")
    bits = bits or DEFAULT_BITS[kind]
    if kind == "rsa":
        if bits < 2048:
            raise ValueError(f"RSA keys need at least 2048 bits for AWS IoT, not {bits}.")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if bits not in EC_CURVES:
        raise ValueError(f"EC keys come in {sorted(EC_CURVES)} bits, not {bits}.")
    return ec.generate_private_key(EC_CURVES[bits]())


def subject_name(common_name: str, **subject: str) -> x509.Name:
    """The X.509 name: CN first, then the optional fields (``country="DE", organization=...``)."""
    if not common_name:
        raise ValueError("A certificate request needs a common name (usually the thing name).")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    for field, value in subject.items():
        oid = SUBJECT_FIELDS.get(field.lower().replace(" ", "_").replace("-", "_"))
        if oid is None:
            allowed = ", ".join(name for name in SUBJECT_FIELDS if len(name) > 2)
            raise ValueError(f"Unknown subject field {field!r}; use one of: {allowed}.")
        if value:
            if oid == NameOID.COUNTRY_NAME and len(value) != 2:
                raise ValueError(f"Country must be a two-letter code such as 'DE', not {value!r}.")
            attributes.append(x509.NameAttribute(oid, str(value)))
    return x509.Name(attributes)


def make_csr(key: PrivateKey, common_name: str, **subject: str) -> str:
    """A PEM certificate signing request for ``key`` with the given subject."""
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject_name(common_name, **subject))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: PrivateKey) -> str:
    """The private key as unencrypted PKCS#8 PEM text (write it with `save_device`, never print it)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def certificate_id(certificate_pem: str | bytes) -> str:
    """AWS IoT's certificate id: the SHA-256 of the certificate's DER, in hex."""
    data = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
    cert = x509.load_pem_x509_certificate(data)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def device_path(target: Any) -> Path:
    """The folder for device files: ``<work_dir>/devices`` of a Workshop, or the folder given."""
    work_dir = getattr(target, "work_dir", None)
    return Path(work_dir) / "devices" if work_dir is not None else Path(target)


def device_folder(target: Any) -> Path:
    """`device_path`, created 0700 if needed."""
    return private_folder(device_path(target))


def check_file_name(name: str) -> str:
    if not FILE_NAME.fullmatch(name or ""):
        raise ValueError(f"Device name {name!r} cannot be a file name; use letters, digits, ':', '_', '-', '.'.")
    return name


def save_device(
    target: Any, name: str, certificate_pem: str, private_key_pem: str | PrivateKey
) -> DeviceFiles:
    """Write ``<name>.crt`` and ``<name>.key`` (0600, atomically) into the device folder."""
    folder = device_folder(target)
    check_file_name(name)
    if not isinstance(private_key_pem, (str, bytes)):
        private_key_pem = key_pem(private_key_pem)
    if "PRIVATE KEY" not in (private_key_pem.decode() if isinstance(private_key_pem, bytes) else private_key_pem):
        raise ValueError(f"The key given for {name} is not a PEM private key.")
    if "BEGIN CERTIFICATE" not in certificate_pem:
        raise ValueError(f"The certificate given for {name} is not a PEM certificate.")
    return DeviceFiles(
        cert=write_private(folder / f"{name}.crt", certificate_pem),
        key=write_private(folder / f"{name}.key", private_key_pem),
    )


def read_device(target: Any, name: str) -> DeviceFiles | None:
    """The files `save_device` wrote for ``name``, if both exist."""
    folder = device_path(target)
    files = DeviceFiles(folder / f"{check_file_name(name)}.crt", folder / f"{name}.key")
    return files if files.cert.is_file() and files.key.is_file() else None


__all__ = [
    "DeviceFiles", "PrivateKey", "new_key", "make_csr", "key_pem", "certificate_id",
    "save_device", "read_device", "device_folder", "device_path", "subject_name",
]
