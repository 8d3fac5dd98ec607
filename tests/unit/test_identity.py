"""Who may connect: a client certificate checked against moto's registry (no sockets)."""

from __future__ import annotations

import stat
import threading
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from moto.core.config import default_user_config
from moto.iot.models import IoTBackend

from localcore.mqtt.identity import (
    CONSOLE_COMMON_NAME,
    ConnectionRefused,
    console_certificate_id,
    console_credentials,
    identify,
    peer_chain,
)
from localcore.pki import LabPKI, fingerprint_der

REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> LabPKI:
    return LabPKI.load_or_create(tmp_path_factory.mktemp("home"))


@pytest.fixture
def iot(monkeypatch) -> IoTBackend:
    """A fresh registry whose certificate ids are SHA-256 of the DER, as the lab configures moto."""
    monkeypatch.setitem(default_user_config, "iot", {"use_valid_cert": True})
    return IoTBackend(REGION, ACCOUNT)


def der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def new_certificate(pki: LabPKI, cn: str = "device-1") -> tuple[str, bytes]:
    pem = pki.create_keys_and_certificate(cn)[0]
    return pem, der(pem)


def register(iot: IoTBackend, pem: str, status: str, ca_pem: str | None = None) -> str:
    return iot.register_certificate(pem, ca_pem, set_as_active=False, status=status).certificate_id


def test_an_active_certificate_is_admitted_with_its_fields(pki, iot):
    pem, leaf = new_certificate(pki, cn="sensor-7")
    certificate_id = register(iot, pem, "ACTIVE")

    identity = identify(iot, [leaf], "sensor-7")

    assert identity.certificate_id == certificate_id == fingerprint_der(leaf)
    assert identity.certificate_arn == f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{certificate_id}"
    assert identity.subject["CommonName"] == ["sensor-7"]
    assert identity.issuer["CommonName"] == ["localcore Device Issuing CA"]
    assert identity.serial_number == str(x509.load_der_x509_certificate(leaf).serial_number)
    assert not identity.console


@pytest.mark.parametrize(
    "status", ["INACTIVE", "REVOKED", "PENDING_ACTIVATION", "PENDING_TRANSFER", "REGISTER_INACTIVE"]
)
def test_a_certificate_that_is_not_active_is_refused(pki, iot, status):
    pem, leaf = new_certificate(pki)
    register(iot, pem, status)

    with pytest.raises(ConnectionRefused, match=status):
        identify(iot, [leaf], "device-1")


def test_an_unregistered_certificate_is_refused(pki, iot):
    _pem, leaf = new_certificate(pki)

    with pytest.raises(ConnectionRefused, match="not registered"):
        identify(iot, [leaf], "device-1")


def test_no_certificate_is_refused(iot):
    with pytest.raises(ConnectionRefused, match="no client certificate"):
        identify(iot, [], "device-1")


@pytest.mark.parametrize(
    ("ca_state", "admitted"),
    [("ACTIVE", True), ("INACTIVE", False), ("deleted", False)],
    ids=["ca-active", "ca-inactive", "ca-deleted"],
)
def test_the_ca_of_a_certificate_registered_with_one_must_be_active(pki, iot, ca_state, admitted):
    ca = iot.register_ca_certificate(pki.issuing_ca_pem, set_as_active=True, registration_config={})
    pem, leaf = new_certificate(pki)
    register(iot, pem, "ACTIVE", ca_pem=pki.issuing_ca_pem)
    assert iot.certificates[fingerprint_der(leaf)].ca_certificate_id == ca.certificate_id
    if ca_state == "INACTIVE":
        ca.status = "INACTIVE"
    elif ca_state == "deleted":
        del iot.ca_certificates[ca.certificate_id]

    if admitted:
        assert identify(iot, [leaf], "device-1").certificate_id == fingerprint_der(leaf)
    else:
        with pytest.raises(ConnectionRefused, match="CA certificate"):
            identify(iot, [leaf], "device-1")


def test_the_console_certificate_is_admitted_without_being_registered(pki, iot):
    pem, leaf = new_certificate(pki, cn=CONSOLE_COMMON_NAME)

    identity = identify(iot, [leaf], "any-client-id", console_certificate_id=fingerprint_der(leaf))

    assert identity.console and identity.certificate_arn is None
    assert iot.certificates == {}


class Hook:
    """``lab.on_unknown_certificate`` stand-in that may register the certificate it is shown."""

    def __init__(self, iot: IoTBackend, answer: bool | None, register_as: str | None = None) -> None:
        self.iot, self.answer, self.register_as = iot, answer, register_as
        self.calls: list[tuple[list[bytes], str]] = []

    def __call__(self, chain: list[bytes], client_id: str) -> bool | None:
        self.calls.append((chain, client_id))
        if self.register_as is not None:
            pem = x509.load_der_x509_certificate(chain[0]).public_bytes(serialization.Encoding.PEM).decode()
            existing = self.iot.certificates.get(fingerprint_der(chain[0]))
            if existing is None:
                register(self.iot, pem, self.register_as)
            else:
                existing.status = self.register_as
        return self.answer


@pytest.mark.parametrize(
    ("registered_as", "answer", "register_as", "admitted"),
    [
        (None, True, "ACTIVE", True),
        (None, False, "ACTIVE", False),
        (None, None, None, False),
        (None, True, "PENDING_ACTIVATION", False),
        ("PENDING_ACTIVATION", True, "ACTIVE", True),
    ],
    ids=[
        "unknown-hook-activates-and-admits",
        "unknown-hook-provisions-but-drops-first-connection",
        "unknown-hook-declines",
        "unknown-hook-leaves-pending",
        "pending-hook-activates",
    ],
)
def test_the_unknown_certificate_hook_decides_a_second_look(pki, iot, registered_as, answer, register_as, admitted):
    pem, leaf = new_certificate(pki)
    ca_pem = pki.issuing_ca_pem
    if registered_as is not None:
        register(iot, pem, registered_as)
    hook = Hook(iot, answer, register_as)

    if admitted:
        assert identify(iot, [leaf, der(ca_pem)], "jitr-device", on_unknown=hook).certificate_id == fingerprint_der(leaf)
    else:
        with pytest.raises(ConnectionRefused):
            identify(iot, [leaf, der(ca_pem)], "jitr-device", on_unknown=hook)
    assert hook.calls == [([leaf, der(ca_pem)], "jitr-device")]


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_the_hook_is_not_offered_certificates_that_were_switched_off(pki, iot, status):
    pem, leaf = new_certificate(pki)
    register(iot, pem, status)
    hook = Hook(iot, True, "ACTIVE")

    with pytest.raises(ConnectionRefused):
        identify(iot, [leaf], "device-1", on_unknown=hook)
    assert hook.calls == []


def test_console_credentials_are_private_stable_and_not_registered(tmp_path, pki, iot):
    lab = SimpleNamespace(config=SimpleNamespace(home=tmp_path), pki=pki, lock=threading.RLock(), iot=iot)

    cert_path, key_path = console_credentials(lab)
    again = console_credentials(lab)

    assert again == (cert_path, key_path) == (tmp_path / "pki" / "console-cert.pem", tmp_path / "pki" / "console-key.pem")
    for path in (cert_path, key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject.rfc4514_string() == f"CN={CONSOLE_COMMON_NAME}"
    assert console_certificate_id(cert_path) == fingerprint_der(der(cert_path.read_text()))
    assert console_certificate_id(cert_path) not in iot.certificates
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_no_tls_means_no_chain():
    assert peer_chain(None) == []
