"""Device-side helpers for tests: keys, CSRs and certificate files, made with `cryptography`."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def new_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def csr_pem(key, common_name: str, country: str | None = None) -> str:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if country:
        names.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def write_secret(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def device_files(folder: Path, name: str, certificate_pem: str, key) -> tuple[Path, Path]:
    """Write ``name.crt`` and ``name.key``; return their paths."""
    return (
        write_secret(folder / f"{name}.crt", certificate_pem),
        write_secret(folder / f"{name}.key", key_pem(key) if not isinstance(key, str) else key),
    )
