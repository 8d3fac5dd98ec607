"""helpers.ca (your own CA: certificates, files, waiting for provisioning), the CA steps of
helpers.catchup over an in-memory IoT stand-in, and the auto-registration diagnosis of helpers.device."""

from __future__ import annotations

import datetime
import itertools
import stat
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.x509.oid import NameOID

from helpers import waits as waits_module
from helpers import catchup, certs
from helpers.ca import (
    CertificateAuthority, certificate_summary, chain_pem, load_ca, make_ca, poll, provisioning_state, save_ca,
    sign_device_certificate, verification_certificate, wait_for_provisioning,
)
from helpers.device import diagnose_refusal, presented_ca_id



def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


def load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def field(cert: x509.Certificate, oid) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return make_ca("workshop-ca", key=certs.new_key("ec"), country="DE", organization="IoT")


@pytest.fixture(scope="module")
def device_key():
    return certs.new_key("ec")


# -- certificates ------------------------------------------------------------------------------


def test_a_ca_certificate_is_self_signed_and_marked_as_a_ca(ca):
    cert = ca.certificate

    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)  # raises if the signature is not the CA key's
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert (field(cert, NameOID.COMMON_NAME), field(cert, NameOID.COUNTRY_NAME)) == ("workshop-ca", "DE")


def test_the_certificate_id_is_the_sha256_of_the_der(ca):
    assert ca.certificate_id == certs.certificate_id(ca.pem)
    assert len(ca.certificate_id) == 64


def test_the_repr_of_a_ca_shows_no_key(ca):
    assert "PRIVATE" not in repr(ca) and "key=" not in repr(ca)


def test_the_verification_certificate_names_the_registration_code_and_is_signed_by_the_ca(ca):
    code = "ab" * 32

    cert = load(verification_certificate(ca, code))

    assert field(cert, NameOID.COMMON_NAME) == code
    cert.verify_directly_issued_by(ca.certificate)
    assert cert.public_key() != ca.key.public_key()


def test_a_verification_certificate_needs_a_code(ca):
    with pytest.raises(ValueError, match="registration code"):
        verification_certificate(ca, "")


@pytest.mark.parametrize("subject, expected_country", [
    pytest.param({"country": "FR"}, "FR", id="with-country"),
    pytest.param({}, None, id="without-country"),
])
def test_a_device_certificate_carries_its_subject_and_the_ca_signature(ca, device_key, subject, expected_country):
    cert = load(sign_device_certificate(ca, device_key, "my-jitp-device", **subject))

    cert.verify_directly_issued_by(ca.certificate)
    assert (field(cert, NameOID.COMMON_NAME), field(cert, NameOID.COUNTRY_NAME)) == ("my-jitp-device", expected_country)
    assert cert.issuer == ca.certificate.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.public_key().public_numbers() == device_key.public_key().public_numbers()


@pytest.mark.parametrize("subject, message", [
    pytest.param({"country": "Germany"}, "two-letter", id="country-not-two-letters"),
    pytest.param({"colour": "red"}, "Unknown subject field", id="unknown-field"),
])
def test_a_bad_device_subject_is_refused_in_plain_words(ca, device_key, subject, message):
    with pytest.raises(ValueError, match=message):
        sign_device_certificate(ca, device_key, "dev", **subject)


@pytest.mark.parametrize("ending", ["\n", ""], ids=["pem-with-newline", "pem-without-newline"])
def test_the_chain_is_the_device_certificate_then_the_ca_certificate(ca, device_key, ending):
    device_pem = sign_device_certificate(ca, device_key, "dev").rstrip("\n") + ending

    chain = chain_pem(device_pem, ca)
    parsed = x509.load_pem_x509_certificates(chain.encode())

    assert [c.subject for c in parsed] == [load(device_pem).subject, ca.certificate.subject]
    assert certs.certificate_id(chain) == certs.certificate_id(device_pem)  # the id is the device's


def test_certificate_summary_of_a_ca_and_of_a_device(ca, device_key):
    of_ca = certificate_summary(ca.pem)
    of_device = certificate_summary(sign_device_certificate(ca, device_key, "dev", country="DE"))

    assert (of_ca["self-signed"], of_ca["CA (basicConstraints)"]) == (True, True)
    assert (of_device["self-signed"], of_device["CA (basicConstraints)"]) == (False, False)
    assert set(of_device["subject"].split(",")) == {"C=DE", "CN=dev"}
    assert of_ca["certificate id (SHA-256)"] == ca.certificate_id


# -- files -------------------------------------------------------------------------------------


def test_save_ca_writes_0600_files_that_load_ca_reads_back(tmp_path, ca):
    ws = SimpleNamespace(work_dir=tmp_path)

    files = save_ca(ws, "workshop-ca", ca)
    loaded = load_ca(ws, "workshop-ca")

    assert files.cert.parent == tmp_path / "ca"
    assert [stat.S_IMODE(p.stat().st_mode) for p in (files.cert, files.key)] == [0o600, 0o600]
    assert stat.S_IMODE(files.cert.parent.stat().st_mode) == 0o700
    assert loaded.certificate_id == ca.certificate_id
    assert loaded.key.private_numbers() == ca.key.private_numbers()


@pytest.mark.parametrize("present", [(), ("crt",), ("key",)], ids=["no-files", "certificate-only", "key-only"])
def test_load_ca_without_both_files_is_none(tmp_path, ca, present):
    folder = tmp_path / "ca"
    folder.mkdir()
    for suffix in present:
        (folder / f"workshop-ca.{suffix}").write_text(ca.pem)

    assert load_ca(SimpleNamespace(work_dir=tmp_path), "workshop-ca") is None


def test_a_ca_name_that_is_a_path_is_refused(tmp_path, ca):
    with pytest.raises(ValueError, match="cannot be a file name"):
        save_ca(tmp_path, "../elsewhere", ca)


# -- waiting -----------------------------------------------------------------------------------


def test_poll_returns_the_first_truthy_answer(monkeypatch):
    monkeypatch.setattr(waits_module.time, "sleep", lambda _s: None)
    answers = iter([None, [], {"done": True}, {"later": True}])

    assert poll(lambda: next(answers), timeout=10, interval=0.1, what="it") == {"done": True}


def test_poll_gives_up_after_the_timeout_naming_what_it_waited_for(monkeypatch):
    clock = itertools.count(0, 5)
    monkeypatch.setattr(waits_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(waits_module.time, "sleep", lambda _s: None)

    with pytest.raises(TimeoutError, match="Waited 12 s for the thing"):
        poll(lambda: None, timeout=12, interval=1, what="the thing")


class RegistryIot:
    """describe_certificate, list_principal_things and list_attached_policies from a list of states,
    one state per describe_certificate call (the last one repeats)."""

    def __init__(self, states: list[dict | None]) -> None:
        self.states = states
        self.current: dict | None = None

    def describe_certificate(self, certificateId):
        self.current = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if self.current is None:
            raise client_error("ResourceNotFoundException")
        return {"certificateDescription": {"certificateArn": f"arn:cert/{certificateId}", "status": self.current["status"]}}

    def list_principal_things(self, principal):
        return {"things": self.current.get("things", [])}

    def list_attached_policies(self, target):
        return {"policies": [{"policyName": p} for p in self.current.get("policies", [])]}


def test_provisioning_state_of_an_unknown_certificate():
    ws = SimpleNamespace(iot=RegistryIot([None]), backend="local")

    assert provisioning_state(ws, "c" * 64) == {"status": None, "things": [], "policies": []}


def test_wait_for_provisioning_waits_for_active_with_thing_and_policy(monkeypatch):
    monkeypatch.setattr(waits_module.time, "sleep", lambda _s: None)
    states = [None, {"status": "PENDING_ACTIVATION"}, {"status": "ACTIVE", "things": ["t"]},
              {"status": "ACTIVE", "things": ["t"], "policies": ["p"]}]
    ws = SimpleNamespace(iot=RegistryIot(states), backend="local")

    assert wait_for_provisioning(ws, "c" * 64, timeout=30) == {"status": "ACTIVE", "things": ["t"], "policies": ["p"]}


def test_wait_for_provisioning_says_where_the_certificate_stood(monkeypatch):
    clock = itertools.count(0, 1)
    monkeypatch.setattr(waits_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(waits_module.time, "sleep", lambda _s: None)
    ws = SimpleNamespace(iot=RegistryIot([{"status": "PENDING_ACTIVATION"}]), backend="aws")

    with pytest.raises(TimeoutError, match="status is PENDING_ACTIVATION, things none, policies none"):
        wait_for_provisioning(ws, "c" * 64, timeout=3)


# -- catch-up: the CA of chapter 04 ----------------------------------------------------------------


class CaIot:
    """The IoT calls ensure_ca, ensure_thing_group and things_of_ca make, over dicts."""

    def __init__(self, cas: dict[str, str] | None = None, groups: set[str] | None = None,
                 certificates_by_ca: dict[str, list[str]] | None = None, things: dict[str, list[str]] | None = None):
        self.cas = cas or {}  # CA id -> status
        self.groups = groups or set()
        self.certificates_by_ca = certificates_by_ca or {}  # CA id -> certificate ARNs
        self.things = things or {}  # certificate ARN -> thing names
        self.pems: dict[str, str] = {}  # certificate id (here: its ARN) -> PEM, for describe_certificate
        self.code = "0f" * 32
        self.calls: list[str] = []

    def describe_ca_certificate(self, certificateId):
        if certificateId not in self.cas:
            raise client_error("ResourceNotFoundException")
        return {"certificateDescription": {"certificateId": certificateId, "status": self.cas[certificateId]}}

    def get_registration_code(self):
        return {"registrationCode": self.code}

    def register_ca_certificate(self, caCertificate, verificationCertificate, setAsActive):
        self.calls.append("register_ca_certificate")
        verification = load(verificationCertificate)
        verification.verify_directly_issued_by(load(caCertificate))
        assert field(verification, NameOID.COMMON_NAME) == self.code
        self.cas[certs.certificate_id(caCertificate)] = "ACTIVE" if setAsActive else "INACTIVE"
        return {"certificateId": certs.certificate_id(caCertificate)}

    def update_ca_certificate(self, certificateId, newStatus):
        self.calls.append(f"update_ca_certificate {newStatus}")
        self.cas[certificateId] = newStatus

    def describe_thing_group(self, thingGroupName):
        if thingGroupName not in self.groups:
            raise client_error("ResourceNotFoundException")
        return {"thingGroupName": thingGroupName}

    def create_thing_group(self, thingGroupName):
        self.calls.append("create_thing_group")
        self.groups.add(thingGroupName)

    def get_paginator(self, operation):
        assert operation == "list_certificates_by_ca"
        pages = lambda caCertificateId: [  # two pages, as a paginator yields them
            {"certificates": [{"certificateArn": arn, "certificateId": arn}
                              for arn in self.certificates_by_ca.get(caCertificateId, [])[:1]]},
            {"certificates": [{"certificateArn": arn, "certificateId": arn}
                              for arn in self.certificates_by_ca.get(caCertificateId, [])[1:]]},
        ]
        return SimpleNamespace(paginate=pages)

    def list_principal_things(self, principal):
        return {"things": self.things.get(principal, [])}

    def describe_certificate(self, certificateId):
        return {"certificateDescription": {"certificateId": certificateId, "certificatePem": self.pems[certificateId]}}


def test_ensure_ca_on_a_fresh_lab_makes_saves_and_registers_an_active_ca(tmp_path):
    iot = CaIot()
    ws = SimpleNamespace(iot=iot, work_dir=tmp_path)

    made, status = catchup.ensure_ca(ws, "anna-workshop-ca")

    assert iot.calls == ["register_ca_certificate"]
    assert iot.cas == {made.certificate_id: "ACTIVE"}
    assert load_ca(ws, "anna-workshop-ca").certificate_id == made.certificate_id
    assert field(made.certificate, NameOID.COMMON_NAME) == "anna-workshop-ca"
    assert field(made.certificate, NameOID.COUNTRY_NAME) == catchup.CA_SUBJECT["country"]
    assert status.startswith("made and registered")


@pytest.mark.parametrize("registered, expected_calls, expected_status", [
    pytest.param(None, ["register_ca_certificate"], "registered", id="saved-but-unknown-to-aws"),
    pytest.param("INACTIVE", ["update_ca_certificate ACTIVE"], "was INACTIVE, now ACTIVE", id="registered-inactive"),
    pytest.param("ACTIVE", [], "registered and ACTIVE", id="nothing-to-do"),
])
def test_ensure_ca_reuses_the_saved_ca(tmp_path, ca, registered, expected_calls, expected_status):
    save_ca(tmp_path / "ca", "workshop-ca", ca)
    iot = CaIot({ca.certificate_id: registered} if registered else {})

    got, status = catchup.ensure_ca(SimpleNamespace(iot=iot, work_dir=tmp_path), "workshop-ca")

    assert got.certificate_id == ca.certificate_id
    assert iot.calls == expected_calls
    assert iot.cas[ca.certificate_id] == "ACTIVE"
    assert expected_status in status and "made" not in status


@pytest.mark.parametrize("groups, expected", [
    pytest.param(set(), {"thing group g": "created"}, id="missing"),
    pytest.param({"g"}, {"thing group g": "exists"}, id="exists"),
])
def test_ensure_thing_group(groups, expected):
    iot = CaIot(groups=set(groups))

    assert catchup.ensure_thing_group(SimpleNamespace(iot=iot), "g") == expected
    assert iot.groups == {"g"}


def test_things_of_ca_lists_each_thing_once_filtered_by_prefix():
    iot = CaIot(certificates_by_ca={"ca1": ["c1", "c2", "c3"], "ca2": ["c9"]},
                things={"c1": ["jitr-c1"], "c2": ["my-jitp-device"], "c3": ["jitr-c3", "jitr-c1"], "c9": ["jitr-c9"]})
    ws = SimpleNamespace(iot=iot)

    assert catchup.things_of_ca(ws, "ca1", "jitr-") == ["jitr-c1", "jitr-c3"]
    assert catchup.things_of_ca(ws, "ca1") == ["jitr-c1", "my-jitp-device", "jitr-c3"]


def test_things_of_ca_for_one_common_name_leave_other_devices_things_alone(ca):
    """Chapter 05's set-up removes its own device's earlier things, never the trainee's third device's."""
    iot = CaIot(certificates_by_ca={"ca1": ["c1", "c2", "c3"]},
                things={"c1": ["jitr-c1"], "c2": ["jitr-c2"], "c3": ["jitr-c3"]})
    for certificate, common_name in {"c1": "my-jitr-device", "c2": "my-jitr-device-3", "c3": "my-jitr-device"}.items():
        iot.pems[certificate] = sign_device_certificate(ca, certs.new_key("ec"), common_name)

    assert catchup.things_of_ca(SimpleNamespace(iot=iot), "ca1", "jitr-", common_name="my-jitr-device") == [
        "jitr-c1", "jitr-c3"]


# -- helpers.device: the first connection of an auto-registered device ---------------------------------


class DiagnosisIot:
    def __init__(self, status: str, ca_id: str | None, auto: str, created: datetime.datetime) -> None:
        self.status, self.ca_id, self.auto, self.created = status, ca_id, auto, created

    def describe_certificate(self, certificateId):
        description = {"status": self.status, "creationDate": self.created}
        if self.ca_id:
            description["caCertificateId"] = self.ca_id
        return {"certificateDescription": description}

    def describe_ca_certificate(self, certificateId):
        return {"certificateDescription": {"status": "ACTIVE", "autoRegistrationStatus": self.auto}}


@pytest.fixture(scope="module")
def device_files(tmp_path_factory, ca, device_key):
    """The device certificate alone, and chained with the CA's (what a JITP/JITR device presents)."""
    pem = sign_device_certificate(ca, device_key, "dev")
    folder = tmp_path_factory.mktemp("dev")
    return {"single": certs.save_device(folder, "single", pem, device_key).cert,
            "chain": certs.save_device(folder, "chain", chain_pem(pem, ca), device_key).cert}


@pytest.mark.parametrize("status, registry_ca, file, auto, age_s, closed_early, reason", [
    pytest.param("PENDING_ACTIVATION", "ca1", "single", "ENABLE", 1, True, "auto_registration", id="jitr-first-connection"),
    pytest.param("ACTIVE", "ca1", "single", "ENABLE", 1, True, "auto_registration", id="jitp-first-connection"),
    pytest.param("ACTIVE", None, "chain", "ENABLE", 1, True, "auto_registration", id="ca-known-from-the-chain-file"),
    pytest.param("ACTIVE", "ca1", "chain", "ENABLE", 3600, True, "client_id_not_authorised", id="registered-long-ago"),
    pytest.param("ACTIVE", "ca1", "chain", "DISABLE", 1, True, "client_id_not_authorised", id="ca-without-auto-registration"),
    pytest.param("ACTIVE", None, "single", "ENABLE", 1, True, "client_id_not_authorised", id="no-ca-known"),
    pytest.param("PENDING_ACTIVATION", "ca1", "chain", "ENABLE", 1, False, "certificate_inactive", id="refused-with-a-connack"),
])
def test_a_connection_closed_after_auto_registration_is_explained_as_expected(
        device_files, status, registry_ca, file, auto, age_s, closed_early, reason):
    iot = DiagnosisIot(status, registry_ca, auto, datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age_s))

    got, message = diagnose_refusal(iot, device_files[file], "dev", closed_before_connack=closed_early)

    assert got == reason
    if reason == "auto_registration":
        assert "connect again" in message and status in message


def test_the_presented_ca_is_the_second_certificate_of_a_chain_file(device_files, ca):
    assert presented_ca_id(device_files["chain"]) == ca.certificate_id
    assert presented_ca_id(device_files["single"]) is None
    assert certs.certificate_id(device_files["chain"].read_text()) == certs.certificate_id(
        device_files["single"].read_text())  # the id of a chain file is the device certificate's
