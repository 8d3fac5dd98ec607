"""Amazon Root CA 1 for the aws backend, taken from a maintained trust store (certifi) instead of a download.

AWS IoT's ATS endpoints (``describe_endpoint(endpointType="iot:Data-ATS")``) present a certificate
chaining to Amazon Root CA 1. certifi ships Mozilla's root store, which carries it, so the kit takes
it from there: the certificate whose DER has the pinned SHA-256 below *and* whose subject is
``CN=Amazon Root CA 1, O=Amazon, C=US``. It is written as ``AmazonRootCA1.pem`` into the work folder
(0644: a public certificate, but inside the private work folder) and its path returned.

An explicit ``IOT_ROOT_CA`` (or the older ``WORKSHOP_ROOT_CA``) naming an existing file wins; one
naming a missing file is an error, never silently replaced. A certifi without the certificate
(or with a different one under that name) is `RootCaUnavailable`, saying what to do.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Mapping

from cryptography import x509
from cryptography.x509.oid import NameOID

from .failures import WorkshopError
from .secrets import write_atomically

ROOT_CA_FILE = "AmazonRootCA1.pem"
ROOT_CA_FILE_MODE = 0o644  # a public CA certificate; the work folder around it is 0700
ENV_VARS = ("IOT_ROOT_CA", "WORKSHOP_ROOT_CA")  # checked in this order; the first set one wins
SUBJECT = {NameOID.COMMON_NAME: "Amazon Root CA 1", NameOID.ORGANIZATION_NAME: "Amazon", NameOID.COUNTRY_NAME: "US"}
# SHA-256 of Amazon Root CA 1's DER (RSA 2048, valid 2015-05-26 .. 2038-01-17), as found in certifi
# 2026.10.19's bundle. Cross-checked: the same value is published for AmazonRootCA1 by independent
# projects pinning Amazon Trust Services' roots, and the certificate's SubjectPublicKeyInfo hashes
# to fbe3018031f9586b..., the value https://www.amazontrust.com/repository/ lists for it.
AMAZON_ROOT_CA_1_SHA256 = "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"
AMAZON_ROOT_CA_1_SPKI_SHA256 = "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"
SOURCE_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----", re.S)


class RootCaUnavailable(WorkshopError):
    """Amazon Root CA 1 could not be found (certifi lacks it, or an explicit path does not exist)."""


def default_bundle() -> Path:
    """certifi's CA bundle."""
    try:
        import certifi
    except ImportError:
        raise RootCaUnavailable(
            "The aws backend takes Amazon Root CA 1 from the certifi package, which is not installed here. "
            "Install the kit's packages (`make workshop BACKEND=aws` does it), or set IOT_ROOT_CA to a file "
            f"holding the certificate ({SOURCE_URL})."
        ) from None
    return Path(certifi.where())


def der_blocks(bundle_pem: bytes) -> list[bytes]:
    """The DER of every certificate in a PEM bundle (no parsing: a bundle may hold odd certificates)."""
    blocks = []
    for match in _PEM_BLOCK.finditer(bundle_pem):
        try:
            blocks.append(base64.b64decode(b"".join(match.group(1).split()), validate=True))
        except ValueError:
            continue
    return blocks


def has_subject(der: bytes) -> bool:
    """True when the certificate's subject is exactly CN=Amazon Root CA 1, O=Amazon, C=US."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about unrelated quirks of old roots
        try:
            subject = x509.load_der_x509_certificate(der).subject
        except ValueError:
            return False
    found = {attribute.oid: attribute.value for attribute in subject}
    return found == SUBJECT and len(list(subject)) == len(SUBJECT)


def amazon_root_ca_1(bundle_pem: bytes, where: str = "certifi's bundle") -> str:
    """Amazon Root CA 1 as PEM, from a PEM bundle: the pinned fingerprint and the subject must both match."""
    pinned = [der for der in der_blocks(bundle_pem) if hashlib.sha256(der).hexdigest() == AMAZON_ROOT_CA_1_SHA256]
    if pinned and has_subject(pinned[0]):
        body = base64.encodebytes(pinned[0]).decode().replace("\n", "")
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"
    same_name = [der for der in der_blocks(bundle_pem) if has_subject(der)]
    if same_name:
        found = ", ".join(hashlib.sha256(der).hexdigest()[:16] + "…" for der in same_name)
        why = (f"{where} has a certificate named Amazon Root CA 1, but not the one the kit pins "
               f"(SHA-256 {AMAZON_ROOT_CA_1_SHA256[:16]}…; found {found})")
    else:
        why = f"{where} does not hold Amazon Root CA 1"
    raise RootCaUnavailable(
        f"{why}. Update certifi (`.venv/bin/python -m pip install -U certifi`), or save the certificate "
        f"from {SOURCE_URL} and set IOT_ROOT_CA to its path."
    )


def write_root_ca(folder: Path, pem: str) -> Path:
    """Write ``pem`` as ``folder/AmazonRootCA1.pem`` (0644, atomically; unchanged content is left alone)."""
    target = Path(folder) / ROOT_CA_FILE
    if target.is_file() and target.read_text(errors="replace") == pem:
        os.chmod(target, ROOT_CA_FILE_MODE)
        return target
    return write_atomically(target, pem, ROOT_CA_FILE_MODE)


def explicit_root_ca(environ: Mapping[str, str]) -> Path | None:
    """The file ``IOT_ROOT_CA`` (else ``WORKSHOP_ROOT_CA``) names, or None when neither is set."""
    for name in ENV_VARS:
        if environ.get(name):
            path = Path(environ[name]).expanduser()
            if not path.is_file():
                raise RootCaUnavailable(
                    f"{name}={environ[name]} does not exist. Unset {name} to use Amazon Root CA 1 from certifi "
                    f"(the kit writes it into the work folder), or point it at the certificate's file."
                )
            return path
    return None


def amazon_root_ca_file(folder: Path, bundle: Path | None = None) -> Path:
    """Amazon Root CA 1 from ``bundle`` (default: certifi's), written into ``folder``; its path."""
    source = Path(bundle) if bundle is not None else default_bundle()
    try:
        data = source.read_bytes()
    except OSError as error:
        raise RootCaUnavailable(f"The CA bundle {source} cannot be read ({error}).") from None
    return write_root_ca(folder, amazon_root_ca_1(data, where=str(source)))


def find_root_ca(folder: Path, environ: Mapping[str, str], bundle: Path | None = None) -> Path:
    """The root CA for the aws backend: an explicit ``IOT_ROOT_CA``/``WORKSHOP_ROOT_CA``, else Amazon Root CA 1
    from certifi written into ``folder``."""
    return explicit_root_ca(environ) or amazon_root_ca_file(folder, bundle)


__all__ = ["AMAZON_ROOT_CA_1_SHA256", "ROOT_CA_FILE", "RootCaUnavailable", "amazon_root_ca_1",
           "amazon_root_ca_file", "explicit_root_ca", "find_root_ca"]
