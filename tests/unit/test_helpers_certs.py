"""helpers.secrets and helpers.certs: 0600 atomic files, keys, CSRs, device files, no key text in reprs."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from helpers import certs
from helpers.provisioning import DevicePlan
from helpers.secrets import is_private, private_folder, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def self_signed(key, name: str = "device") -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ec_key():
    return certs.new_key("ec")


# -- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["text key", b"bytes key"], ids=["str", "bytes"])
def test_write_private_creates_a_0600_file_with_the_content(tmp_path, content):
    path = write_private(tmp_path / "sub" / "device.key", content)

    assert mode(path) == 0o600
    assert path.read_bytes() == (content.encode() if isinstance(content, str) else content)


def test_write_private_replaces_an_existing_file_and_tightens_its_mode(tmp_path):
    path = tmp_path / "device.key"
    path.write_text("old")
    path.chmod(0o644)

    write_private(path, "new")

    assert (path.read_text(), mode(path)) == ("new", 0o600)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "device.key"
    write_private(path, "old")

    with pytest.raises(TypeError):
        write_private(path, 12345)  # not text: the write itself fails

    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.key"]


def test_private_folder_is_0700_even_when_it_existed_with_a_wider_mode(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)

    assert mode(private_folder(folder)) == 0o700


def test_is_private_tells_0600_from_0644(tmp_path):
    private, public = tmp_path / "a", tmp_path / "b"
    private.write_text("x"), public.write_text("x")
    private.chmod(0o600), public.chmod(0o644)

    assert (is_private(private), is_private(public)) == (True, False)


# -- keys and CSRs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "bits", "expected_type", "expected_size"),
    [("rsa", None, rsa.RSAPrivateKey, 2048), ("ec", None, ec.EllipticCurvePrivateKey, 256),
     ("EC", 384, ec.EllipticCurvePrivateKey, 384)],
    ids=["rsa-default-2048", "ec-default-p256", "ec-p384-any-case"],
)
def test_new_key_makes_the_asked_kind_and_size(kind, bits, expected_type, expected_size):
    key = certs.new_key(kind, bits)

    assert isinstance(key, expected_type) and key.key_size == expected_size


@pytest.mark.parametrize(
    ("kind", "bits", "message"),
    [("dsa", None, "use 'rsa' or 'ec'"), ("rsa", 1024, "at least 2048"), ("ec", 2048, "EC keys come in")],
    ids=["unknown-kind", "rsa-too-small", "ec-unknown-size"],
)
def test_new_key_refuses_what_aws_iot_would_not_take(kind, bits, message):
    with pytest.raises(ValueError, match=message):
        certs.new_key(kind, bits)


@pytest.mark.parametrize(
    ("subject", "oid", "value"),
    [({"country": "DE"}, NameOID.COUNTRY_NAME, "DE"),
     ({"Country": "US"}, NameOID.COUNTRY_NAME, "US"),
     ({"organization": "Acme"}, NameOID.ORGANIZATION_NAME, "Acme"),
     ({"O": "Acme"}, NameOID.ORGANIZATION_NAME, "Acme"),
     ({"organizational_unit": "Fleet"}, NameOID.ORGANIZATIONAL_UNIT_NAME, "Fleet"),
     ({"Organizational Unit": "Fleet"}, NameOID.ORGANIZATIONAL_UNIT_NAME, "Fleet"),
     ({"state": "WA"}, NameOID.STATE_OR_PROVINCE_NAME, "WA"),
     ({"locality": "Seattle"}, NameOID.LOCALITY_NAME, "Seattle"),
     ({"serial_number": "42"}, NameOID.SERIAL_NUMBER, "42")],
    ids=["country", "Country", "organization", "O", "organizational_unit", "Organizational-Unit",
         "state", "locality", "serial_number"],
)
def test_make_csr_puts_optional_subject_fields_next_to_the_common_name(ec_key, subject, oid, value):
    csr = x509.load_pem_x509_csr(certs.make_csr(ec_key, "bulky1", **subject).encode())

    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "bulky1"
    assert csr.subject.get_attributes_for_oid(oid)[0].value == value


@pytest.mark.parametrize(
    ("common_name", "subject", "message"),
    [("", {}, "common name"), ("t", {"colour": "red"}, "Unknown subject field"),
     ("t", {"country": "Germany"}, "two-letter")],
    ids=["no-common-name", "unknown-field", "long-country"],
)
def test_make_csr_explains_a_bad_subject(ec_key, common_name, subject, message):
    with pytest.raises(ValueError, match=message):
        certs.make_csr(ec_key, common_name, **subject)


def test_make_csr_signs_with_the_given_key(ec_key):
    csr = x509.load_pem_x509_csr(certs.make_csr(ec_key, "t").encode())

    assert csr.public_key().public_numbers() == ec_key.public_key().public_numbers()


def test_key_pem_is_pkcs8_that_loads_back_to_the_same_key(ec_key):
    text = certs.key_pem(ec_key)

    assert text.startswith("-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(text.encode(), password=None)
    assert loaded.private_numbers() == ec_key.private_numbers()


def test_certificate_id_is_the_sha256_of_the_der(ec_key):
    import hashlib

    pem = self_signed(ec_key)
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)

    assert certs.certificate_id(pem) == hashlib.sha256(der).hexdigest()


# -- device files ------------------------------------------------------------------------------


@pytest.mark.parametrize("target_kind", ["folder", "workshop"])
def test_save_device_writes_cert_and_key_0600_into_the_device_folder(tmp_path, ec_key, target_kind):
    target = tmp_path / "devs" if target_kind == "folder" else SimpleNamespace(work_dir=tmp_path / "work")
    expected_folder = tmp_path / "devs" if target_kind == "folder" else tmp_path / "work" / "devices"

    files = certs.save_device(target, "bulky1", self_signed(ec_key), ec_key)

    assert files == certs.DeviceFiles(expected_folder / "bulky1.crt", expected_folder / "bulky1.key")
    assert (mode(files.cert), mode(files.key), mode(expected_folder)) == (0o600, 0o600, 0o700)
    assert files.key.read_text() == certs.key_pem(ec_key)
    assert certs.read_device(target, "bulky1") == files


@pytest.mark.parametrize(
    ("name", "cert", "key", "message"),
    [("../escape", "CERT", "KEY", "cannot be a file name"),
     (".hidden", "CERT", "KEY", "cannot be a file name"),
     ("ok", "not a cert", "KEY", "not a PEM certificate"),
     ("ok", "CERT", "not a key", "not a PEM private key")],
    ids=["path-escape", "hidden-file", "bad-certificate", "bad-key"],
)
def test_save_device_refuses_bad_names_and_contents(tmp_path, ec_key, name, cert, key, message):
    real = {"CERT": self_signed(ec_key), "KEY": certs.key_pem(ec_key)}

    with pytest.raises(ValueError, match=message):
        certs.save_device(tmp_path, name, real.get(cert, cert), real.get(key, key))
    assert not list(tmp_path.glob("*.key"))


def test_read_device_is_none_when_the_files_are_missing(tmp_path):
    assert certs.read_device(tmp_path, "nobody") is None


def test_no_repr_shows_key_material(tmp_path, ec_key):
    key_text = certs.key_pem(ec_key)
    body = key_text.splitlines()[1]
    files = certs.save_device(tmp_path, "d1", self_signed(ec_key), key_text)
    plan = DevicePlan("d1", "1", csr_pem=certs.make_csr(ec_key, "d1"), key_pem=key_text, files=files)

    for shown in (repr(ec_key), repr(files), repr(plan), str(plan)):
        assert body not in shown and "PRIVATE KEY" not in shown


def test_new_files_are_never_readable_by_others_whatever_the_umask(tmp_path, ec_key):
    old = os.umask(0)
    try:
        files = certs.save_device(tmp_path / "open", "d2", self_signed(ec_key), ec_key)
    finally:
        os.umask(old)

    assert (mode(files.cert), mode(files.key)) == (0o600, 0o600)
