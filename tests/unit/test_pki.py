"""The lab's PKI: files on disk, device certificates like AWS issues them, and real TLS use."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import socket
import ssl
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcore import pki
from localcore.errors import CertificateValidationException, InvalidRequestException
from localcore.pki import LabPKI, PKIFileError

KEY_FILES = [pki.ROOT_KEY_FILE, pki.ISSUING_KEY_FILE, pki.SERVER_KEY_FILE]
CERT_FILES = [pki.ROOT_CA_FILE, pki.ISSUING_CA_FILE, pki.SERVER_CHAIN_FILE]


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a PKI created once; tests that damage files work on copies of it."""
    home = tmp_path_factory.mktemp("home")
    LabPKI.load_or_create(home)
    return home


@pytest.fixture(scope="module")
def lab(template_home: Path) -> LabPKI:
    return LabPKI.load_or_create(template_home)


@pytest.fixture
def home_copy(template_home: Path, tmp_path: Path) -> Path:
    shutil.copytree(template_home, tmp_path / "home")
    return tmp_path / "home"


def _cert(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _csr(key, subject: x509.Name | None = None, algorithm=hashes.SHA256()) -> str:
    subject = subject or _name("device")
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm)
    return request.public_bytes(serialization.Encoding.PEM).decode()


def _name(cn: str, **extra: str) -> x509.Name:
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    }
    attrs = [x509.NameAttribute(oids[k], v) for k, v in extra.items()]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _verify_client_chain(lab: LabPKI, pem: str) -> list[x509.Certificate]:
    """Path-validate a device certificate to the root, as a TLS server checking a client would."""
    # Device certificates carry no subjectAltName, like AWS's; allow that in the client policy.
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([_cert(lab.root_ca_pem)]))
        .extension_policies(
            ee_policy=ee_policy, ca_policy=verification.ExtensionPolicy.webpki_defaults_ca()
        )
        .build_client_verifier()
    )
    return verifier.verify(_cert(pem), [_cert(lab.issuing_ca_pem)]).chain


def _foreign_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed CA that copies the issuing CA's name but not its key (a forgery)."""
    key = rsa.generate_private_key(65537, 2048)
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki.ISSUING_CA_NAME)
        .issuer_name(pki.ISSUING_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(datetime(2040, 1, 1, tzinfo=timezone.utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _pem_of(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# -- files on disk --------------------------------------------------------------------------


def test_creates_every_file_in_a_private_folder(lab: LabPKI) -> None:
    assert sorted(p.name for p in lab.folder.iterdir()) == sorted(KEY_FILES + CERT_FILES)
    assert stat.S_IMODE(lab.folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("name", KEY_FILES)
def test_private_key_files_are_owner_only(lab: LabPKI, name: str) -> None:
    assert stat.S_IMODE((lab.folder / name).stat().st_mode) == 0o600


def test_key_files_stay_owner_only_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        lab = LabPKI.load_or_create(tmp_path / "nested" / "home")
    finally:
        os.umask(old)
    assert {stat.S_IMODE((lab.folder / n).stat().st_mode) for n in KEY_FILES} == {0o600}
    assert stat.S_IMODE(lab.folder.stat().st_mode) == 0o700


def test_paths_point_at_the_files(lab: LabPKI) -> None:
    assert lab.root_ca_path.read_text() == lab.root_ca_pem
    assert lab.folder.joinpath(pki.ISSUING_CA_FILE).read_text() == lab.issuing_ca_pem
    assert _cert(lab.server_cert_chain_path.read_bytes()).subject == pki.SERVER_NAME
    assert lab.server_key_path.name == pki.SERVER_KEY_FILE
    assert lab.trusted_ca_pems() == [lab.issuing_ca_pem]


def test_reloading_reuses_the_same_files_and_keys(home_copy: Path) -> None:
    before = {p.name: p.read_bytes() for p in (home_copy / "pki").iterdir()}
    first = LabPKI.load_or_create(home_copy)
    again = LabPKI.load_or_create(home_copy)
    assert {p.name: p.read_bytes() for p in (home_copy / "pki").iterdir()} == before
    assert again.root_ca_pem == first.root_ca_pem
    assert pki.verify_signed_by(first.create_keys_and_certificate()[0], again.issuing_ca_pem)


def test_an_empty_pki_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    lab = LabPKI.load_or_create(tmp_path)
    assert lab.root_ca_path.is_file()


@pytest.mark.parametrize("name", KEY_FILES + CERT_FILES)
def test_a_corrupt_file_names_itself_and_the_fix(home_copy: Path, name: str) -> None:
    (home_copy / "pki" / name).write_text("-----BEGIN GARBAGE-----\nAAAA\n-----END GARBAGE-----\n")
    with pytest.raises(PKIFileError) as caught:
        LabPKI.load_or_create(home_copy)
    assert name in str(caught.value)
    assert "delete the folder" in str(caught.value)


def test_a_missing_file_is_reported_not_recreated(home_copy: Path) -> None:
    (home_copy / "pki" / pki.SERVER_KEY_FILE).unlink()
    with pytest.raises(PKIFileError, match=pki.SERVER_KEY_FILE):
        LabPKI.load_or_create(home_copy)
    assert not (home_copy / "pki" / pki.SERVER_KEY_FILE).exists()


def test_a_key_that_belongs_to_another_certificate_is_refused(home_copy: Path) -> None:
    folder = home_copy / "pki"
    shutil.copy(folder / pki.SERVER_KEY_FILE, folder / pki.ISSUING_KEY_FILE)
    with pytest.raises(PKIFileError, match="does not match"):
        LabPKI.load_or_create(home_copy)


def test_an_issuing_ca_from_another_root_is_refused(home_copy: Path, tmp_path: Path) -> None:
    other = LabPKI.load_or_create(tmp_path / "other").folder
    for name in (pki.ISSUING_CA_FILE, pki.ISSUING_KEY_FILE):
        shutil.copy(other / name, home_copy / "pki" / name)
    with pytest.raises(PKIFileError, match="not issued by the root CA"):
        LabPKI.load_or_create(home_copy)


# -- the CAs and the server certificate -----------------------------------------------------


@pytest.mark.parametrize(
    ("pem_of", "path_length", "issuer"),
    [
        pytest.param(lambda lab: lab.root_ca_pem, None, pki.ROOT_CA_NAME, id="root"),
        pytest.param(lambda lab: lab.issuing_ca_pem, 0, pki.ROOT_CA_NAME, id="issuing"),
    ],
)
def test_ca_certificates_are_cas(lab: LabPKI, pem_of, path_length, issuer) -> None:
    cert = _cert(pem_of(lab))
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, path_length)
    assert cert.issuer == issuer
    assert pki.verify_signed_by(pem_of(lab), lab.root_ca_pem)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(verification.DNSName("localhost"), id="localhost"),
        pytest.param(verification.IPAddress(ipaddress.ip_address("127.0.0.1")), id="ipv4-loopback"),
        pytest.param(verification.IPAddress(ipaddress.ip_address("::1")), id="ipv6-loopback"),
    ],
)
def test_server_certificate_validates_for_loopback_names(lab: LabPKI, name) -> None:
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([_cert(lab.root_ca_pem)]))
        .build_server_verifier(name)
    )
    chain = verifier.verify(_cert(lab.server_cert_chain_path.read_bytes()), [])
    assert chain[-1] == _cert(lab.root_ca_pem)


def test_server_certificate_does_not_validate_for_other_names(lab: LabPKI) -> None:
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([_cert(lab.root_ca_pem)]))
        .build_server_verifier(verification.DNSName("example.com"))
    )
    with pytest.raises(verification.VerificationError):
        verifier.verify(_cert(lab.server_cert_chain_path.read_bytes()), [])


# -- issuing device certificates ------------------------------------------------------------

ACCEPTED_KEYS = [
    pytest.param(lambda: rsa.generate_private_key(65537, 2048), id="rsa-2048"),
    pytest.param(lambda: rsa.generate_private_key(65537, 3072), id="rsa-3072"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), id="ec-p256"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="ec-p384"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), id="ec-p521"),
]


@pytest.mark.parametrize("make_key", ACCEPTED_KEYS)
def test_csr_certificate_keeps_key_and_subject_and_chains_to_root(lab: LabPKI, make_key) -> None:
    key = make_key()
    subject = _name("bulky7", C="DE", O="Workshop", OU="Fleet")
    pem = lab.issue_from_csr(_csr(key, subject))
    cert = _cert(pem)
    assert _spki(cert.public_key()) == _spki(key.public_key())
    assert cert.subject == subject
    assert cert.issuer == pki.ISSUING_CA_NAME
    assert [c.subject for c in _verify_client_chain(lab, pem)] == [
        subject, pki.ISSUING_CA_NAME, pki.ROOT_CA_NAME
    ]


def test_device_certificate_looks_like_an_aws_one(lab: LabPKI) -> None:
    cert = _cert(lab.issue_from_csr(_csr(ec.generate_private_key(ec.SECP256R1()), _name("d1"))))
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_after_utc == datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert cert.not_valid_before_utc <= datetime.now(timezone.utc)


def test_the_same_csr_twice_gives_two_distinct_certificates(lab: LabPKI) -> None:
    csr = _csr(ec.generate_private_key(ec.SECP256R1()), _name("again"))
    first, second = lab.issue_from_csr(csr), lab.issue_from_csr(csr)
    assert pki.certificate_id(first) != pki.certificate_id(second)


def _tampered_csr() -> str:
    """A CSR whose subject was edited after signing."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.load_pem_x509_csr(_csr(key, _name("tamper-me")).encode())
    der = csr.public_bytes(serialization.Encoding.DER).replace(b"tamper-me", b"tamper-us")
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()


def _der(tag: int, body: bytes) -> bytes:
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8 or 1, "big")
    return bytes([tag]) + (size if len(body) < 128 else bytes([0x80 | len(size)]) + size) + body


def _sha1_signed_csr() -> str:
    """A CSR signed with sha1WithRSAEncryption, assembled by hand (cryptography refuses SHA-1)."""
    key = rsa.generate_private_key(65537, 2048)
    info = x509.load_pem_x509_csr(_csr(key, _name("sha1")).encode()).tbs_certrequest_bytes
    sha1_with_rsa = bytes.fromhex("300d06092a864886f70d0101050500")
    signature = key.sign(info, padding.PKCS1v15(), hashes.SHA1())
    der = _der(0x30, info + sha1_with_rsa + _der(0x03, b"\0" + signature))
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()


REJECTED_CSRS = [
    pytest.param(lambda: "not a CSR at all", "not valid", id="garbage"),
    pytest.param(lambda: "", "not valid", id="empty"),
    pytest.param(lambda: _pem_of(_foreign_ca()[0]), "not valid", id="certificate-pem"),
    pytest.param(
        lambda: "-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----",
        "not valid",
        id="truncated-der",
    ),
    pytest.param(_tampered_csr, "signature", id="tampered-signature"),
    pytest.param(lambda: _csr(rsa.generate_private_key(65537, 1024)), "1024 bits", id="rsa-1024"),
    pytest.param(
        lambda: _csr(ec.generate_private_key(ec.SECP256K1())), "secp256k1", id="secp256k1"
    ),
    pytest.param(
        lambda: _csr(ed25519.Ed25519PrivateKey.generate(), None, None), "Ed25519", id="ed25519"
    ),
    pytest.param(_sha1_signed_csr, "SHA1", id="sha1-signed"),
]


@pytest.mark.parametrize(("make_csr", "detail"), REJECTED_CSRS)
def test_bad_csrs_are_refused_like_aws(lab: LabPKI, make_csr, detail: str) -> None:
    with pytest.raises(InvalidRequestException) as caught:
        lab.issue_from_csr(make_csr())
    assert (caught.value.code, caught.value.status) == ("InvalidRequestException", 400)
    assert caught.value.message.startswith(pki.CSR_INVALID_MESSAGE)
    assert detail in caught.value.message


def test_keys_and_certificate_come_in_aws_formats(lab: LabPKI) -> None:
    cert_pem, public_pem, private_pem = lab.create_keys_and_certificate()
    assert cert_pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    public = serialization.load_pem_public_key(public_pem.encode())
    assert _spki(public) == _spki(private.public_key()) == _spki(_cert(cert_pem).public_key())
    assert _cert(cert_pem).subject == _name("AWS IoT Certificate")
    assert len(_verify_client_chain(lab, cert_pem)) == 3


def test_keys_and_certificate_take_a_common_name(lab: LabPKI) -> None:
    cert_pem, _, _ = lab.create_keys_and_certificate("sensor-42")
    assert _cert(cert_pem).subject == _name("sensor-42")


# -- certificate ids and signature checks ---------------------------------------------------


def test_certificate_id_is_sha256_of_der(lab: LabPKI) -> None:
    pem = lab.create_keys_and_certificate()[0]
    der = _cert(pem).public_bytes(serialization.Encoding.DER)
    expected = hashlib.sha256(der).hexdigest()
    assert pki.certificate_id(pem) == expected
    assert pki.certificate_id(pem.encode()) == expected
    assert pki.certificate_id(pem.replace("\n", "\r\n")) == expected  # PEM layout does not matter
    assert pki.fingerprint_der(der) == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_certificate_id_of_a_non_certificate_is_a_validation_error() -> None:
    with pytest.raises(CertificateValidationException) as caught:
        pki.certificate_id("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert (caught.value.code, caught.value.status) == ("CertificateValidationException", 400)


def _forged_device() -> tuple[str, rsa.RSAPrivateKey]:
    """A device certificate from a CA that only copies the issuing CA's name."""
    ca, ca_key = _foreign_ca()
    device = rsa.generate_private_key(65537, 2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("forged"))
        .issuer_name(ca.subject)
        .public_key(device.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(timezone.utc))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=timezone.utc))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem_of(cert), device


def _pem_named(lab: LabPKI, name: str) -> str:
    makers = {
        "device": lambda: lab.create_keys_and_certificate()[0],
        "forged-device": lambda: _forged_device()[0],
        "issuing": lambda: lab.issuing_ca_pem,
        "root": lambda: lab.root_ca_pem,
        "server": lambda: lab.server_cert_chain_path.read_text(),
    }
    return makers[name]()


@pytest.mark.parametrize(
    ("cert", "ca", "expected"),
    [
        pytest.param("device", "issuing", True, id="device-by-issuing"),
        pytest.param("issuing", "root", True, id="issuing-by-root"),
        pytest.param("server", "root", True, id="server-by-root"),
        pytest.param("device", "root", False, id="device-not-directly-by-root"),
        pytest.param("forged-device", "issuing", False, id="same-issuer-name-other-key"),
        pytest.param("root", "issuing", False, id="root-by-issuing"),
    ],
)
def test_verify_signed_by(lab: LabPKI, cert: str, ca: str, expected: bool) -> None:
    assert pki.verify_signed_by(_pem_named(lab, cert), _pem_named(lab, ca)) is expected


# -- a real TLS handshake through OpenSSL ---------------------------------------------------


def _server_context(lab: LabPKI) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.server_cert_chain_path, lab.server_key_path)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata="".join(lab.trusted_ca_pems()))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the issuing CA is not self-signed
    return context


def _serve_once(listener: socket.socket, context: ssl.SSLContext) -> bytes:
    """Accept one client, complete the handshake, answer ok; return the client's DER cert."""
    conn, _ = listener.accept()
    conn.settimeout(10)
    with context.wrap_socket(conn, server_side=True) as tls:
        peer = tls.getpeercert(binary_form=True)
        tls.sendall(b"ok")
        return peer


def _connect(lab: LabPKI, port: int, cert: Path, key: Path, server_hostname: str) -> bytes:
    context = ssl.create_default_context(cafile=str(lab.root_ca_path))
    context.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.recv(2)


def _pkcs8(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _device_files(lab: LabPKI, kind: str, folder: Path) -> tuple[Path, Path]:
    if kind == "keys-and-certificate":
        cert_pem, _, key_pem = lab.create_keys_and_certificate("tls-device")
    elif kind == "ec-csr":
        key = ec.generate_private_key(ec.SECP256R1())
        cert_pem, key_pem = lab.issue_from_csr(_csr(key, _name("tls-device"))), _pkcs8(key)
    else:
        cert_pem, device_key = _forged_device()
        key_pem = _pkcs8(device_key)
    (folder / "device.pem").write_text(cert_pem)
    (folder / "device.key").write_text(key_pem)
    return folder / "device.pem", folder / "device.key"


@pytest.mark.parametrize(
    ("kind", "server_hostname", "outcome"),
    [
        pytest.param("keys-and-certificate", "localhost", "ok", id="rsa-device-localhost"),
        pytest.param("keys-and-certificate", "127.0.0.1", "ok", id="rsa-device-ip"),
        pytest.param("ec-csr", "localhost", "ok", id="ec-csr-device"),
        pytest.param("forged", "localhost", "server-refuses", id="device-from-look-alike-ca"),
        pytest.param("keys-and-certificate", "example.com", "client-refuses", id="wrong-hostname"),
    ],
)
def test_tls_handshake_on_loopback(
    lab: LabPKI, tmp_path: Path, kind: str, server_hostname: str, outcome: str
) -> None:
    cert_path, key_path = _device_files(lab, kind, tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as listener, ThreadPoolExecutor(1) as pool:
        listener.settimeout(10)
        served = pool.submit(_serve_once, listener, _server_context(lab))
        port = listener.getsockname()[1]
        if outcome == "ok":
            assert _connect(lab, port, cert_path, key_path, server_hostname) == b"ok"
            assert pki.fingerprint_der(served.result()) == pki.certificate_id(cert_path.read_text())
        elif outcome == "server-refuses":
            with pytest.raises((ssl.SSLError, ConnectionError)):
                _connect(lab, port, cert_path, key_path, server_hostname)
            with pytest.raises(ssl.SSLError, match="certificate verify failed"):
                served.result()
        else:
            with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
                _connect(lab, port, cert_path, key_path, server_hostname)
            with pytest.raises((ssl.SSLError, ConnectionError)):
                served.result()
