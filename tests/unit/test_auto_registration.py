"""JITP and JITR on an in-process lab (no broker): ``lab.on_unknown_certificate`` as the broker calls
it on a device's first connection, and `identify` around it for "first connection dropped, next
one admitted"."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.iot.models import iot_backends

from localcore.aws import auto_registration
from localcore.aws.handlers import HANDLERS
from localcore.iot.events import Stamp, certificate_registered_event
from localcore.mqtt.identity import ConnectionRefused, identify
from localcore.pki import fingerprint_der
from devices import jitp_template, make_ca
from labfixture import in_process_lab

GROUP, POLICY = "jitp-group", "jitp-policy"
ROLE = "arn:aws:iam::123456789012:role/JITP"
TEMPLATE = jitp_template(GROUP, POLICY)
OPEN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}


# -- certificates ---------------------------------------------------------------------------------



def issue(ca_cert, ca_key, common_name: str, country: str | None = "DE") -> x509.Certificate:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if country:
        names.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(x509.Name(names)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=10))
        .sign(ca_key, hashes.SHA256())
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# -- the lab ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with in_process_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture
def lab(built):
    iot_backends[built.config.account_id].reset()
    built.state.clear()
    built.published.clear()
    built.iot.create_thing_group(GROUP, None, {})
    built.iot.create_policy(POLICY, json.dumps(OPEN_POLICY))
    return built


def call(lab, operation: str, **params) -> dict:
    return HANDLERS[("iot", operation)](lab, params) or {}


def registered_ca(lab, name: str = "Workshop CA", *, active: bool = True, auto: bool = True,
                  template: str | None = None):
    """A CA registered through the lab's handlers; returns (cert, key, caCertificateId)."""
    cert, key = make_ca(name)
    code = call(lab, "GetRegistrationCode")["registrationCode"]
    config = {"templateBody": template, "roleArn": ROLE} if template else None
    ca_id = call(lab, "RegisterCACertificate", caCertificate=pem(cert),
                 verificationCertificate=pem(issue(cert, key, code, None)), setAsActive=active,
                 allowAutoRegistration=auto, registrationConfig=config)["certificateId"]
    return cert, key, ca_id


def registered_events(lab) -> list[tuple[str, dict]]:
    return [(topic, payload) for topic, payload in lab.published if topic.startswith("$aws/events/certificates/")]


# -- JITP -------------------------------------------------------------------------------------------


def test_jitp_applies_the_ca_template_with_the_certificate_fields(lab):
    ca, ca_key, ca_id = registered_ca(lab, template=TEMPLATE)
    device = issue(ca, ca_key, "my-jitp-device", "DE")
    cert_id = fingerprint_der(der(device))

    admitted = lab.on_unknown_certificate([der(device), der(ca)], "deviceJITPCert")

    record = lab.iot.certificates[cert_id]
    thing = lab.iot.describe_thing("my-jitp-device")
    assert admitted is False  # the first connection is dropped
    assert (record.status, record.ca_certificate_id) == ("ACTIVE", ca_id)
    assert thing.attributes == {"Country": "DE"}
    assert thing.arn in lab.iot.describe_thing_group(GROUP).things
    assert [p.name for p in lab.iot.list_attached_policies(record.arn)] == [POLICY]
    assert lab.iot.list_principal_things(record.arn) == ["my-jitp-device"]
    assert registered_events(lab) == []  # JITP_PUBLISHES_REGISTERED_EVENT is False


def test_jitp_drops_the_first_connection_and_admits_the_next(lab):
    ca, ca_key, _ca_id = registered_ca(lab, template=TEMPLATE)
    chain = [der(issue(ca, ca_key, "second-try"))]

    with pytest.raises(ConnectionRefused):
        identify(lab.iot, chain, "second-try", on_unknown=lab.on_unknown_certificate)
    identity = identify(lab.iot, chain, "second-try", on_unknown=lab.on_unknown_certificate)

    assert identity.certificate_id == fingerprint_der(chain[0])


@pytest.mark.parametrize(
    ("country", "remove_group"),
    [(None, False), ("DE", True)],
    ids=["certificate-without-a-declared-field", "template-thing-group-missing"],
)
def test_a_failing_template_leaves_the_certificate_pending_and_creates_nothing(lab, country, remove_group):
    ca, ca_key, ca_id = registered_ca(lab, template=TEMPLATE)
    if remove_group:
        lab.iot.delete_thing_group(GROUP)
    device = issue(ca, ca_key, "half-provisioned", country)

    lab.on_unknown_certificate([der(device)], "half-provisioned")

    record = lab.iot.certificates[fingerprint_der(der(device))]
    assert (record.status, record.ca_certificate_id) == ("PENDING_ACTIVATION", ca_id)
    assert lab.iot.things == {}
    assert lab.iot.list_attached_policies(record.arn) == []


def test_a_pending_certificate_is_provisioned_once_the_template_can_succeed(lab):
    ca, ca_key, _ca_id = registered_ca(lab, template=TEMPLATE)
    lab.iot.delete_thing_group(GROUP)
    device = issue(ca, ca_key, "retried")
    lab.on_unknown_certificate([der(device)], "retried")
    lab.iot.create_thing_group(GROUP, None, {})

    lab.on_unknown_certificate([der(device)], "retried")

    assert lab.iot.certificates[fingerprint_der(der(device))].status == "ACTIVE"
    assert lab.iot.describe_thing("retried").attributes == {"Country": "DE"}


# -- JITR -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("send_ca", [True, False], ids=["chain-with-ca", "leaf-only"])
def test_jitr_registers_the_certificate_pending_and_publishes_the_registered_message(lab, send_ca):
    ca, ca_key, ca_id = registered_ca(lab)
    device = issue(ca, ca_key, "deviceJITRCert")
    cert_id = fingerprint_der(der(device))

    admitted = lab.on_unknown_certificate([der(device)] + ([der(ca)] if send_ca else []), "deviceJITRCert")

    record = lab.iot.certificates[cert_id]
    assert admitted is False
    assert (record.status, record.ca_certificate_id) == ("PENDING_ACTIVATION", ca_id)
    assert lab.iot.things == {}
    [(topic, payload)] = registered_events(lab)
    assert topic == f"$aws/events/certificates/registered/{ca_id}"
    assert {k: payload[k] for k in ("certificateId", "caCertificateId", "certificateStatus", "awsAccountId")} == {
        "certificateId": cert_id, "caCertificateId": ca_id, "certificateStatus": "PENDING_ACTIVATION",
        "awsAccountId": lab.config.account_id,
    }
    assert set(payload) == {"certificateId", "caCertificateId", "timestamp", "certificateStatus", "awsAccountId",
                            "certificateRegistrationTimestamp"}


def test_a_pending_certificate_that_connects_again_is_announced_again(lab):
    ca, ca_key, _ca_id = registered_ca(lab)
    chain = [der(issue(ca, ca_key, "impatient"))]

    lab.on_unknown_certificate(chain, "impatient")
    lab.on_unknown_certificate(chain, "impatient")

    first, second = [payload for _topic, payload in registered_events(lab)]
    assert first["certificateId"] == second["certificateId"]
    assert first["certificateRegistrationTimestamp"] == second["certificateRegistrationTimestamp"]
    assert len(lab.iot.certificates) == 1


def test_the_registered_message_does_not_wait_for_the_ca_certificate_event_switch(lab):
    ca, ca_key, _ca_id = registered_ca(lab)
    assert not lab.events_enabled("CA_CERTIFICATE")

    lab.on_unknown_certificate([der(issue(ca, ca_key, "quiet-account"))], "quiet-account")

    assert len(registered_events(lab)) == 1


def test_jitr_then_activation_and_a_policy_admit_the_device(lab):
    ca, ca_key, _ca_id = registered_ca(lab)
    chain = [der(issue(ca, ca_key, "activated-later"))]
    with pytest.raises(ConnectionRefused):
        identify(lab.iot, chain, "activated-later", on_unknown=lab.on_unknown_certificate)
    record = lab.iot.certificates[fingerprint_der(chain[0])]

    lab.iot.update_certificate(record.certificate_id, "ACTIVE")

    assert identify(lab.iot, chain, "activated-later", on_unknown=lab.on_unknown_certificate).certificate_arn == record.arn


# -- refusals -----------------------------------------------------------------------------------------


def _inactive_ca(lab):
    ca, key, _ = registered_ca(lab, active=False, template=TEMPLATE)
    return [der(issue(ca, key, "refused"))]


def _auto_registration_disabled(lab):
    ca, key, _ = registered_ca(lab, auto=False, template=TEMPLATE)
    return [der(issue(ca, key, "refused"))]


def _unknown_ca(lab):
    registered_ca(lab, "Workshop CA", template=TEMPLATE)
    stranger, key = make_ca("Stranger CA")
    return [der(issue(stranger, key, "refused")), der(stranger)]


def _same_name_other_key(lab):
    registered_ca(lab, "Workshop CA", template=TEMPLATE)
    impostor, key = make_ca("Workshop CA")
    return [der(issue(impostor, key, "refused"))]


def _deactivated_after_registration(lab):
    ca, key, ca_id = registered_ca(lab)
    call(lab, "UpdateCACertificate", certificateId=ca_id, newStatus="INACTIVE")
    return [der(issue(ca, key, "refused"))]


@pytest.mark.parametrize(
    "chain_for",
    [_inactive_ca, _auto_registration_disabled, _unknown_ca, _same_name_other_key, _deactivated_after_registration],
    ids=["ca-inactive", "auto-registration-disabled", "unknown-ca", "same-issuer-name-other-key",
         "ca-deactivated-later"],
)
def test_a_certificate_no_usable_ca_allows_registers_and_publishes_nothing(lab, chain_for):
    chain = chain_for(lab)

    admitted = lab.on_unknown_certificate(chain, "refused")

    assert admitted is False
    assert lab.iot.certificates == {}
    assert lab.iot.things == {}
    assert registered_events(lab) == []


def test_auto_registration_is_installed_by_build_lab(lab):
    assert lab.on_unknown_certificate.func is auto_registration.on_unknown_certificate


# -- the registered message builder ----------------------------------------------------------------


def test_the_registered_message_follows_the_aws_example_units():
    topic, payload = certificate_registered_event(
        "c" * 64, "a" * 64, "PENDING_ACTIVATION", 1700000000456, Stamp("111122223333", 1700000001789, "evt")
    )

    assert topic == f"$aws/events/certificates/registered/{'a' * 64}"
    assert payload == {
        "certificateId": "c" * 64, "caCertificateId": "a" * 64, "timestamp": 1700000001,
        "certificateStatus": "PENDING_ACTIVATION", "awsAccountId": "111122223333",
        "certificateRegistrationTimestamp": "1700000000456",
    }
