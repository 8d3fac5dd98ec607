"""The lab's PKI: a local root CA, the broker's server certificate and the device CA.

AWS IoT devices trust Amazon Root CA 1, the ATS endpoint presents a certificate chained to it, and
AWS issues device certificates (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing,
bulk registration) from its own issuing CA. The lab mirrors that with three key pairs kept under
``<home>/pki/``:

* ``root-ca.pem`` — the one file clients trust, in the place of ``AmazonRootCA1.pem``;
* ``issuing-ca.pem`` — signed by the root; signs every device certificate the lab issues;
* ``server-chain.pem`` — the broker's certificate for ``localhost``, ``127.0.0.1`` and ``::1``,
  signed by the root.

Everything is created once and reused, so a restarted lab keeps the root trainees already trust.
Every key, CSR and certificate operation goes through the ``cryptography`` package.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcore.errors import AwsError, CertificateValidationException, InvalidRequestException

PKI_FOLDER = "pki"
ROOT_CA_FILE = "root-ca.pem"
ROOT_KEY_FILE = "root-ca.key"
ISSUING_CA_FILE = "issuing-ca.pem"
ISSUING_KEY_FILE = "issuing-ca.key"
SERVER_CHAIN_FILE = "server-chain.pem"
SERVER_KEY_FILE = "server.key"

ROOT_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "localcore"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localcore Root CA 1"),
    ]
)
# AWS signs device certificates as "OU=Amazon Web Services O=Amazon.com Inc. L=Seattle
# ST=Washington C=US"; the lab's issuer says plainly that it is local.
ISSUING_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "localcore"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "localcore lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localcore Device Issuing CA"),
    ]
)
SERVER_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")

# Subject AWS gives certificates made by CreateKeysAndCertificate.
DEFAULT_DEVICE_CN = "AWS IoT Certificate"
# Certificates AWS issues to devices end here.
DEVICE_NOT_AFTER = datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
# Certificates start slightly in the past so a client clock a little behind still accepts them
# [unconfirmed for AWS, which appears to use the issue time].
NOT_BEFORE_BACKDATE = timedelta(minutes=5)
SERVER_VALIDITY = timedelta(days=3650)

# CreateCertificateFromCsr: "RSA key with a length of at least 2048 bits or an ECC key from
# NIST P-256, NIST P-384, or NIST P-521 curves" (API reference).
MIN_RSA_BITS = 2048
ALLOWED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
# Hashes AWS lists among its supported certificate signing algorithms; applying the list to the
# CSR's own signature is [unconfirmed].
ALLOWED_CSR_HASHES = ("sha256", "sha384", "sha512")
# The API model lists only InvalidRequestException (not CertificateValidationException) for
# CreateCertificateFromCsr and RegisterThing; the message wording is [unconfirmed].
CSR_ERROR: type[AwsError] = InvalidRequestException
CSR_INVALID_MESSAGE = "The certificate signing request is not valid"

PublicKey = Union[rsa.RSAPublicKey, ec.EllipticCurvePublicKey]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


class PKIFileError(Exception):
    """The lab's PKI folder holds a missing, corrupt or mismatched file; not an AWS error."""


@dataclass(frozen=True)
class _Authority:
    """A CA certificate with its private key, ready to sign."""

    cert: x509.Certificate
    key: PrivateKey


# -- pure helpers -------------------------------------------------------------------------


def fingerprint_der(der: bytes) -> str:
    """AWS's certificateId: the lowercase hex SHA-256 of the certificate's DER encoding."""
    return hashlib.sha256(der).hexdigest()


def load_certificate(pem: str | bytes) -> x509.Certificate:
    """Parse the first certificate of a PEM text, or raise CertificateValidationException."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CertificateValidationException("The certificate is not valid") from exc


def certificate_id(pem: str | bytes) -> str:
    """AWS's certificateId of a PEM certificate (SHA-256 of its DER form, lowercase hex)."""
    return fingerprint_der(load_certificate(pem).public_bytes(serialization.Encoding.DER))


def verify_signed_by(cert_pem: str | bytes, ca_cert_pem: str | bytes) -> bool:
    """Whether ``ca_cert_pem`` directly issued ``cert_pem`` (issuer name and signature match)."""
    cert, ca_cert = load_certificate(cert_pem), load_certificate(ca_cert_pem)
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _check_device_key(public_key: object) -> None:
    """Refuse keys AWS refuses: RSA under 2048 bits, curves other than P-256/384/521, others."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size >= MIN_RSA_BITS:
            return
        found = f"an RSA key of {public_key.key_size} bits"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name in ALLOWED_CURVES:
            return
        found = f"an EC key on curve {public_key.curve.name}"
    else:
        found = type(public_key).__name__
    raise CSR_ERROR(
        f"{CSR_INVALID_MESSAGE}: the public key must be an RSA key of at least {MIN_RSA_BITS} bits "
        f"or an EC key on NIST P-256, P-384 or P-521, not {found}"
    )


def parse_csr(csr_pem: str | bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM CSR and check its signature and key, or raise ``CSR_ERROR`` as AWS would."""
    data = csr_pem.encode("ascii", "replace") if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
        public_key = csr.public_key()
        signed_ok = csr.is_signature_valid
        hash_name = csr.signature_hash_algorithm.name if csr.signature_hash_algorithm else None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CSR_ERROR(CSR_INVALID_MESSAGE) from exc
    if hash_name is not None and hash_name not in ALLOWED_CSR_HASHES:
        raise CSR_ERROR(f"{CSR_INVALID_MESSAGE}: it is signed with {hash_name.upper()}")
    if not signed_ok:
        raise CSR_ERROR(f"{CSR_INVALID_MESSAGE}: its signature does not match its public key")
    _check_device_key(public_key)
    return csr


# -- certificate builders -------------------------------------------------------------------


def _key_usage(*, cert_sign: bool, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name, public_key: PublicKey, issuer: x509.Certificate | None, not_after: datetime
) -> x509.CertificateBuilder:
    """Fields and identifier extensions shared by every certificate the lab makes."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - NOT_BEFORE_BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    return builder


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _make_root() -> _Authority:
    key = _new_key()
    cert = (
        _builder(ROOT_CA_NAME, key.public_key(), None, DEVICE_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _Authority(cert, key)


def _make_issuing(root: _Authority) -> _Authority:
    key = _new_key()
    cert = (
        _builder(ISSUING_CA_NAME, key.public_key(), root.cert, DEVICE_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    return _Authority(cert, key)


def _make_server(root: _Authority) -> _Authority:
    key = _new_key()
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
    cert = (
        _builder(SERVER_NAME, key.public_key(), root.cert, _now() + SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False, key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return _Authority(cert, key)


# -- files ----------------------------------------------------------------------------------


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (it must not exist) with ``mode`` from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create_folder(folder: Path) -> None:
    """Write a fresh PKI into a private temporary folder, then move it into place in one step."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pki-", dir=folder.parent))  # mode 0700
    root = _make_root()
    issuing = _make_issuing(root)
    server = _make_server(root)
    files = {
        ROOT_CA_FILE: (_pem(root.cert).encode(), 0o644),
        ROOT_KEY_FILE: (_key_pem(root.key), 0o600),
        ISSUING_CA_FILE: (_pem(issuing.cert).encode(), 0o644),
        ISSUING_KEY_FILE: (_key_pem(issuing.key), 0o600),
        SERVER_CHAIN_FILE: (_pem(server.cert).encode(), 0o644),
        SERVER_KEY_FILE: (_key_pem(server.key), 0o600),
    }
    for name, (data, mode) in files.items():
        _write_new(staging / name, data, mode)
    try:
        os.rename(staging, folder)  # replaces an empty folder; fails on a populated one
    except OSError:
        shutil.rmtree(staging)
        if not folder.is_dir() or not any(folder.iterdir()):
            raise  # not a concurrent creation: report the real failure
    os.chmod(folder, 0o700)


def _fix_hint(folder: Path) -> str:
    return (
        f"delete the folder {folder} and restart the lab to create a new PKI "
        f"(clients must then trust the new {ROOT_CA_FILE})"
    )


def _read(folder: Path, name: str) -> bytes:
    path = folder / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PKIFileError(f"Cannot read {path}: {exc.strerror}; {_fix_hint(folder)}") from exc


def _load_cert(folder: Path, name: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(folder, name))
    except ValueError as exc:
        raise PKIFileError(
            f"{folder / name} is not a PEM certificate; {_fix_hint(folder)}"
        ) from exc


def _load_authority(folder: Path, cert_name: str, key_name: str) -> _Authority:
    cert = _load_cert(folder, cert_name)
    try:
        key = serialization.load_pem_private_key(_read(folder, key_name), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PKIFileError(
            f"{folder / key_name} is not an unencrypted PEM private key; {_fix_hint(folder)}"
        ) from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PKIFileError(f"{folder / key_name} is not an RSA or EC key; {_fix_hint(folder)}")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise PKIFileError(
            f"{folder / key_name} does not match the certificate in {folder / cert_name}; "
            f"{_fix_hint(folder)}"
        )
    return _Authority(cert, key)


def _check_issued(folder: Path, name: str, cert: x509.Certificate, root: x509.Certificate) -> None:
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PKIFileError(
            f"{folder / name} was not issued by the root CA in {folder / ROOT_CA_FILE}; "
            f"{_fix_hint(folder)}"
        ) from exc


# -- the PKI --------------------------------------------------------------------------------


class LabPKI:
    """The lab's CAs and server identity, loaded from (or first created in) ``<home>/pki``."""

    def __init__(self, folder: Path, root_cert: x509.Certificate, issuing: _Authority) -> None:
        self.folder = folder
        self._root_pem = _pem(root_cert)
        self._issuing = issuing
        self._issuing_pem = _pem(issuing.cert)

    @classmethod
    def load_or_create(cls, home: Path) -> LabPKI:
        """Load the PKI under ``home/pki``, creating it first if the folder is absent or empty."""
        folder = Path(home) / PKI_FOLDER
        if not folder.is_dir() or not any(folder.iterdir()):
            _create_folder(folder)
        root = _load_authority(folder, ROOT_CA_FILE, ROOT_KEY_FILE)
        try:
            root.cert.verify_directly_issued_by(root.cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise PKIFileError(
                f"{folder / ROOT_CA_FILE} is not a self-signed CA; {_fix_hint(folder)}"
            ) from exc
        issuing = _load_authority(folder, ISSUING_CA_FILE, ISSUING_KEY_FILE)
        _check_issued(folder, ISSUING_CA_FILE, issuing.cert, root.cert)
        server = _load_authority(folder, SERVER_CHAIN_FILE, SERVER_KEY_FILE)
        _check_issued(folder, SERVER_CHAIN_FILE, server.cert, root.cert)
        return cls(folder, root.cert, issuing)

    @property
    def root_ca_path(self) -> Path:
        """The one file clients trust, in the place of AmazonRootCA1.pem."""
        return self.folder / ROOT_CA_FILE

    @property
    def root_ca_pem(self) -> str:
        return self._root_pem

    @property
    def issuing_ca_pem(self) -> str:
        return self._issuing_pem

    @property
    def server_cert_chain_path(self) -> Path:
        """The broker's certificate (signed directly by the root, so no intermediate follows)."""
        return self.folder / SERVER_CHAIN_FILE

    @property
    def server_key_path(self) -> Path:
        return self.folder / SERVER_KEY_FILE

    def trusted_ca_pems(self) -> list[str]:
        """CAs whose device certificates the broker accepts (registered CAs are added by it).

        The issuing CA is not self-signed: an OpenSSL context that trusts it alone needs
        ``ssl.VERIFY_X509_PARTIAL_CHAIN`` in ``verify_flags``.
        """
        return [self._issuing_pem]

    def issue_for_public_key(self, public_key: PublicKey, subject: x509.Name) -> str:
        """A PEM device certificate for ``public_key`` and ``subject``, from the issuing CA."""
        cert = (
            _builder(subject, public_key, self._issuing.cert, DEVICE_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._issuing.key, hashes.SHA256())
        )
        return _pem(cert)

    def issue_from_csr(self, csr_pem: str | bytes) -> str:
        """CreateCertificateFromCsr: a certificate for the CSR's own public key and subject."""
        csr = parse_csr(csr_pem)
        return self.issue_for_public_key(csr.public_key(), csr.subject)  # type: ignore[arg-type]

    def create_keys_and_certificate(
        self, subject_cn: str = DEFAULT_DEVICE_CN
    ) -> tuple[str, str, str]:
        """CreateKeysAndCertificate: (certificatePem, keyPair.PublicKey, keyPair.PrivateKey).

        Formats as AWS returns them: an RSA-2048 key, the public key as SubjectPublicKeyInfo
        ("BEGIN PUBLIC KEY") and the private key as PKCS#1 ("BEGIN RSA PRIVATE KEY").
        """
        key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
        cert_pem = self.issue_for_public_key(key.public_key(), subject)
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return cert_pem, public_pem.decode("ascii"), private_pem.decode("ascii")
