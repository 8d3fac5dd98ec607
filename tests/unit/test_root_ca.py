"""Amazon Root CA 1 from certifi's trust store (helpers.root_ca), and find_root_ca's order of choices."""

from __future__ import annotations

import hashlib
import stat
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devices import make_ca
from helpers import root_ca
from helpers import workshop as wsmod
from helpers.failures import WorkshopError
from helpers.root_ca import RootCaUnavailable

# What https://www.amazontrust.com/repository/ lists for Amazon Root CA 1: SHA-256 of its SubjectPublicKeyInfo.
AMAZON_TRUST_SPKI_SHA256 = "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certifi_carries_the_pinned_amazon_root_ca_1_with_amazon_trust_services_public_key(tmp_path):
    path = root_ca.find_root_ca(tmp_path, {})

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert path == tmp_path / "AmazonRootCA1.pem"
    assert hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest() == root_ca.AMAZON_ROOT_CA_1_SHA256
    assert cert.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(spki).hexdigest() == AMAZON_TRUST_SPKI_SHA256 == root_ca.AMAZON_ROOT_CA_1_SPKI_SHA256


def test_the_root_ca_file_is_public_and_rewritten_from_the_trust_store(tmp_path):
    stale = tmp_path / "AmazonRootCA1.pem"
    stale.write_text("placed by hand, wrong")
    stale.chmod(0o600)

    path = root_ca.find_root_ca(tmp_path, {})
    first = path.read_bytes()
    again = root_ca.find_root_ca(tmp_path, {})

    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert first.startswith(b"-----BEGIN CERTIFICATE-----") and b"placed by hand" not in first
    assert again == path and again.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["AmazonRootCA1.pem"]  # no temporary file left


@pytest.mark.parametrize(
    ("names", "expected"),
    [({"IOT_ROOT_CA": "explicit.pem"}, "explicit.pem"),
     ({"WORKSHOP_ROOT_CA": "older.pem"}, "older.pem"),
     ({"IOT_ROOT_CA": "explicit.pem", "WORKSHOP_ROOT_CA": "older.pem"}, "explicit.pem"),
     ({"IOT_ROOT_CA": ""}, "AmazonRootCA1.pem")],
    ids=["iot-root-ca", "workshop-root-ca", "iot-root-ca-first", "empty-is-unset"],
)
def test_an_explicit_root_ca_wins(tmp_path, names, expected):
    work = tmp_path / "work"
    work.mkdir()
    for value in names.values():
        if value:
            (tmp_path / value).write_text("a CA")
    environ = {name: str(tmp_path / value) if value else "" for name, value in names.items()}

    found = wsmod.find_root_ca(work, environ)

    assert found.name == expected
    assert (work / "AmazonRootCA1.pem").exists() == (expected == "AmazonRootCA1.pem")


def test_an_explicit_root_ca_that_does_not_exist_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(RootCaUnavailable) as caught:
        wsmod.find_root_ca(tmp_path, {"IOT_ROOT_CA": "/nowhere/ca.pem"})

    assert "IOT_ROOT_CA=/nowhere/ca.pem does not exist" in str(caught.value)
    assert "Unset IOT_ROOT_CA" in str(caught.value)
    assert isinstance(caught.value, WorkshopError)
    assert not (tmp_path / "AmazonRootCA1.pem").exists()


def test_a_bundle_without_amazon_root_ca_1_says_how_to_get_it(tmp_path):
    other, _ = make_ca("Some Other Root", country="US", organization="Other")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(other))

    with pytest.raises(RootCaUnavailable) as caught:
        root_ca.find_root_ca(tmp_path, {}, bundle=bundle)

    message = str(caught.value)
    assert f"{bundle} does not hold Amazon Root CA 1" in message
    assert "pip install -U certifi" in message and "IOT_ROOT_CA" in message


def test_a_certificate_named_amazon_root_ca_1_without_the_pinned_fingerprint_is_refused(tmp_path):
    impostor, _ = make_ca("Amazon Root CA 1", kind="rsa", country="US", organization="Amazon")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(impostor))

    with pytest.raises(RootCaUnavailable, match="not the one the kit pins"):
        root_ca.find_root_ca(tmp_path, {}, bundle=bundle)
    assert not (tmp_path / "AmazonRootCA1.pem").exists()


def test_the_pinned_fingerprint_alone_is_not_enough_the_subject_must_match(tmp_path, monkeypatch):
    other, _ = make_ca("Amazon Root CA 1 (not)", country="US", organization="Amazon")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(other))
    monkeypatch.setattr(root_ca, "AMAZON_ROOT_CA_1_SHA256",
                        hashlib.sha256(other.public_bytes(serialization.Encoding.DER)).hexdigest())

    with pytest.raises(RootCaUnavailable, match="does not hold Amazon Root CA 1"):
        root_ca.find_root_ca(tmp_path, {}, bundle=bundle)


def test_the_certificate_is_found_among_many_and_odd_ones(tmp_path):
    real = root_ca.default_bundle().read_bytes()
    noise, _ = make_ca("Amazon Root CA 1 lookalike", country="US", organization="Amazon")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# comment\n" + pem(noise) + b"-----BEGIN CERTIFICATE-----\n!!not base64!!\n"
                       b"-----END CERTIFICATE-----\n" + real)

    path = root_ca.find_root_ca(tmp_path, {}, bundle=bundle)

    der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert hashlib.sha256(der).hexdigest() == root_ca.AMAZON_ROOT_CA_1_SHA256


def test_without_certifi_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "certifi", None)  # import certifi → ImportError

    with pytest.raises(RootCaUnavailable, match="certifi package, which is not installed"):
        root_ca.find_root_ca(tmp_path, {})
