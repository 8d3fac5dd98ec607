"""CA-certificate operations on an in-process lab (no broker): the registration code, the proof of
possession, each UpdateCACertificate field, the DescribeCACertificate shape, lists and deletion.
Every output is also serialised through botocore's model, as the HTTP layer does."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.iot.models import iot_backends

from localcore.aws import codec
from localcore.aws.handlers import HANDLERS
from localcore.aws.handlers.ca_certificates import CA_SETTINGS, MAX_CAS_PER_SUBJECT
from localcore.errors import AwsError
from localcore.pki import fingerprint_der
from labfixture import in_process_lab

TEMPLATE = '{"Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"}}, "Resources": {"certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}}}'
ROLE = "arn:aws:iam::123456789012:role/JITP"
IOT_MODEL = codec.load_service_model("iot")


# -- certificates ---------------------------------------------------------------------------------


def make_ca(name: str, *, is_ca: bool = True, days: int = 30, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=days))
    )
    if is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()), key


def issue(common_name: str, ca_cert, ca_key) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=10))
        .sign(ca_key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der_id(cert: x509.Certificate) -> str:
    return fingerprint_der(cert.public_bytes(serialization.Encoding.DER))


# -- the lab ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with in_process_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture
def lab(built):
    iot_backends[built.config.account_id].reset()
    built.state.clear()
    return built


def call(lab, operation: str, **params):
    """Run the lab's handler and serialise its output through botocore's model, as the HTTP layer does."""
    output = HANDLERS[("iot", operation)](lab, params) or {}
    codec.serialize_response(IOT_MODEL.operation_model(operation), output)
    return output


def register(lab, ca_cert, ca_key, **params) -> str:
    code = call(lab, "GetRegistrationCode")["registrationCode"]
    verification = issue(code, ca_cert, ca_key)
    return call(lab, "RegisterCACertificate", caCertificate=pem(ca_cert),
                verificationCertificate=pem(verification), **params)["certificateId"]


def describe(lab, ca_id: str) -> dict:
    return call(lab, "DescribeCACertificate", certificateId=ca_id)


# -- registration code ------------------------------------------------------------------------------


def test_the_registration_code_is_64_hex_digits_and_stable_until_deleted(lab):
    first = call(lab, "GetRegistrationCode")["registrationCode"]
    again = call(lab, "GetRegistrationCode")["registrationCode"]
    call(lab, "DeleteRegistrationCode")
    renewed = call(lab, "GetRegistrationCode")["registrationCode"]

    assert len(first) == 64 and int(first, 16) >= 0
    assert again == first
    assert renewed != first


# -- RegisterCACertificate --------------------------------------------------------------------------


def _wrong_code(lab, ca, key):
    return {"verificationCertificate": pem(issue("0" * 64, ca, key))}


def _signed_by_another_key(lab, ca, key):
    impostor, impostor_key = make_ca(ca.subject.rfc4514_string()[3:])
    code = call(lab, "GetRegistrationCode")["registrationCode"]
    return {"verificationCertificate": pem(issue(code, impostor, impostor_key))}


def _not_a_ca(lab, ca, key):
    leaf, leaf_key = make_ca("just a device", is_ca=False)
    code = call(lab, "GetRegistrationCode")["registrationCode"]
    return {"caCertificate": pem(leaf), "verificationCertificate": pem(issue(code, leaf, leaf_key))}


def _expired_ca(lab, ca, key):
    old, old_key = make_ca("old CA", days=-1)
    code = call(lab, "GetRegistrationCode")["registrationCode"]
    return {"caCertificate": pem(old), "verificationCertificate": pem(issue(code, old, old_key))}


def _valid_verification(lab, ca, key):
    return {"verificationCertificate": pem(issue(call(lab, "GetRegistrationCode")["registrationCode"], ca, key))}


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (_wrong_code, "RegistrationCodeValidationException"),
        (_signed_by_another_key, "CertificateValidationException"),
        (_not_a_ca, "CertificateValidationException"),
        (_expired_ca, "CertificateValidationException"),
        (lambda lab, ca, key: {"caCertificate": "-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n",
                               **_valid_verification(lab, ca, key)}, "CertificateValidationException"),
        (lambda lab, ca, key: {"verificationCertificate": "not a pem"}, "CertificateValidationException"),
        (lambda lab, ca, key: {}, "InvalidRequestException"),
        (lambda lab, ca, key: {**_valid_verification(lab, ca, key), "certificateMode": "SNI_ONLY"},
         "InvalidRequestException"),
        (lambda lab, ca, key: {**_valid_verification(lab, ca, key),
                               "registrationConfig": {"templateBody": "{not json", "roleArn": ROLE}},
         "InvalidRequestException"),
        (lambda lab, ca, key: {**_valid_verification(lab, ca, key),
                               "registrationConfig": {"templateName": "jitp-template"}},
         "ResourceNotFoundException"),
    ],
    ids=[
        "verification-cn-is-not-the-code", "verification-signed-by-another-key", "not-a-ca-certificate",
        "expired-ca", "garbage-ca-pem", "garbage-verification-pem", "default-mode-without-verification",
        "sni-only-with-verification", "template-body-not-json", "template-name-unknown",
    ],
)
def test_a_refused_registration_names_the_aws_error_and_registers_nothing(lab, build, code):
    ca, key = make_ca("refused CA")
    params = {"caCertificate": pem(ca), **build(lab, ca, key)}

    with pytest.raises(AwsError) as refused:
        call(lab, "RegisterCACertificate", **params)

    assert refused.value.code == code
    assert lab.iot.ca_certificates == {}


def test_registering_the_same_ca_twice_is_refused(lab):
    ca, key = make_ca("twice")
    register(lab, ca, key)

    with pytest.raises(AwsError) as refused:
        register(lab, ca, key)

    assert refused.value.code == "ResourceAlreadyExistsException"



def test_an_eleventh_ca_with_the_same_subject_is_over_the_limit(lab):
    for _ in range(MAX_CAS_PER_SUBJECT):
        register(lab, *make_ca("popular name"))

    with pytest.raises(AwsError) as refused:
        register(lab, *make_ca("popular name"))

    assert refused.value.code == "LimitExceededException"
    assert len(lab.iot.ca_certificates) == MAX_CAS_PER_SUBJECT

@pytest.mark.parametrize(
    ("params", "status", "auto", "mode"),
    [
        ({}, "INACTIVE", "DISABLE", "DEFAULT"),
        ({"setAsActive": True}, "ACTIVE", "DISABLE", "DEFAULT"),
        ({"setAsActive": True, "allowAutoRegistration": True}, "ACTIVE", "ENABLE", "DEFAULT"),
    ],
    ids=["inactive-by-default", "set-as-active", "auto-registration-allowed"],
)
def test_a_proven_ca_is_registered_with_the_flags_asked_for(lab, params, status, auto, mode):
    ca, key = make_ca("proven")

    ca_id = register(lab, ca, key, **params)

    description = describe(lab, ca_id)["certificateDescription"]
    assert ca_id == der_id(ca)
    assert (description["status"], description["autoRegistrationStatus"], description["certificateMode"]) == (
        status, auto, mode)


def test_sni_only_mode_needs_no_verification_certificate(lab):
    ca, _key = make_ca("sni only")

    ca_id = call(lab, "RegisterCACertificate", caCertificate=pem(ca), certificateMode="SNI_ONLY")["certificateId"]

    assert describe(lab, ca_id)["certificateDescription"]["certificateMode"] == "SNI_ONLY"


def test_registration_config_is_kept_and_shown_by_describe(lab):
    ca, key = make_ca("jitp ready")

    ca_id = register(lab, ca, key, registrationConfig={"templateBody": TEMPLATE, "roleArn": ROLE})

    assert describe(lab, ca_id)["registrationConfig"] == {"templateBody": TEMPLATE, "roleArn": ROLE}


# -- DescribeCACertificate --------------------------------------------------------------------------


def test_describe_has_every_field_of_aws_ca_certificate_description(lab):
    ca, key = make_ca("described")
    ca_id = register(lab, ca, key, setAsActive=True)

    output = describe(lab, ca_id)

    description = output["certificateDescription"]
    assert set(description) == {
        "certificateArn", "certificateId", "status", "certificatePem", "ownedBy", "creationDate",
        "autoRegistrationStatus", "lastModifiedDate", "customerVersion", "generationId", "validity",
        "certificateMode",
    }
    assert description["certificateArn"] == f"arn:aws:iot:{lab.config.region}:{lab.config.account_id}:cacert/{ca_id}"
    assert description["ownedBy"] == lab.config.account_id
    assert description["certificatePem"] == pem(ca)
    assert description["validity"] == {"notBefore": ca.not_valid_before_utc, "notAfter": ca.not_valid_after_utc}
    assert description["customerVersion"] == 1
    assert "registrationConfig" not in output


def test_describe_of_an_unknown_ca_is_not_found(lab):
    with pytest.raises(AwsError) as missing:
        describe(lab, "ab" * 32)

    assert missing.value.code == "ResourceNotFoundException"


# -- UpdateCACertificate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"newStatus": "ACTIVE"}, {"status": "ACTIVE"}),
        ({"newAutoRegistrationStatus": "ENABLE"}, {"autoRegistrationStatus": "ENABLE"}),
        ({"registrationConfig": {"templateBody": TEMPLATE, "roleArn": ROLE}},
         {"registrationConfig": {"templateBody": TEMPLATE, "roleArn": ROLE}}),
        ({"removeAutoRegistration": True, "newAutoRegistrationStatus": "DISABLE"},
         {"registrationConfig": None, "autoRegistrationStatus": "DISABLE"}),
    ],
    ids=["new-status", "new-auto-registration-status", "registration-config", "remove-auto-registration"],
)
def test_each_update_field_changes_what_describe_shows_and_bumps_the_version(lab, update, expected):
    ca, key = make_ca("updated")
    ca_id = register(lab, ca, key, allowAutoRegistration=update.get("removeAutoRegistration", False),
                     registrationConfig={"templateBody": TEMPLATE, "roleArn": ROLE}
                     if update.get("removeAutoRegistration") else None)
    before = describe(lab, ca_id)["certificateDescription"]

    call(lab, "UpdateCACertificate", certificateId=ca_id, **update)

    output = describe(lab, ca_id)
    after = output["certificateDescription"]
    for name, value in expected.items():
        shown = output.get(name) if name == "registrationConfig" else after[name]
        assert shown == value, name
    assert after["customerVersion"] == before["customerVersion"] + 1
    assert after["generationId"] != before["generationId"]
    assert after["lastModifiedDate"] > before["lastModifiedDate"].replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("update", "code"),
    [
        ({"newStatus": "REVOKED"}, "InvalidRequestException"),
        ({"newAutoRegistrationStatus": "MAYBE"}, "InvalidRequestException"),
        ({"registrationConfig": {"templateBody": TEMPLATE}, "removeAutoRegistration": True}, "InvalidRequestException"),
        ({"registrationConfig": {"templateBody": '{"Resources": {"x": {"Type": "AWS::S3::Bucket"}}}'}},
         "InvalidRequestException"),
        ({"certificateId": "cd" * 32, "newStatus": "ACTIVE"}, "ResourceNotFoundException"),
    ],
    ids=["status-not-allowed", "auto-registration-status-unknown", "config-and-remove-together",
         "template-with-unknown-resource", "unknown-ca"],
)
def test_an_invalid_update_is_refused_and_changes_nothing(lab, update, code):
    ca, key = make_ca("kept")
    ca_id = register(lab, ca, key)
    before = describe(lab, ca_id)

    with pytest.raises(AwsError) as refused:
        call(lab, "UpdateCACertificate", **{"certificateId": ca_id, **update})

    assert refused.value.code == code
    assert describe(lab, ca_id) == before


def test_an_update_bumps_the_authorisation_generation(lab):
    ca, key = make_ca("generation")
    ca_id = register(lab, ca, key, setAsActive=True)
    generation = lab.generation

    call(lab, "UpdateCACertificate", certificateId=ca_id, newStatus="INACTIVE")

    assert lab.generation > generation


# -- DeleteCACertificate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "code"),
    [(True, "CertificateStateException"), (False, None)],
    ids=["active-ca-is-refused", "inactive-ca-is-deleted"],
)
def test_only_an_inactive_ca_can_be_deleted(lab, active, code):
    ca, key = make_ca("deleted")
    ca_id = register(lab, ca, key, setAsActive=active)

    if code is None:
        call(lab, "DeleteCACertificate", certificateId=ca_id)
        assert ca_id not in lab.iot.ca_certificates and ca_id not in lab.state.get(CA_SETTINGS, {})
    else:
        with pytest.raises(AwsError) as refused:
            call(lab, "DeleteCACertificate", certificateId=ca_id)
        assert refused.value.code == code
        assert ca_id in lab.iot.ca_certificates


def test_deleting_an_unknown_ca_is_not_found(lab):
    with pytest.raises(AwsError) as missing:
        call(lab, "DeleteCACertificate", certificateId="ef" * 32)

    assert missing.value.code == "ResourceNotFoundException"


# -- lists --------------------------------------------------------------------------------------------


def test_list_ca_certificates_pages_in_creation_order(lab):
    ids = [register(lab, *make_ca(f"listed {n}")) for n in range(3)]

    first = call(lab, "ListCACertificates", pageSize=2, ascendingOrder=True)
    second = call(lab, "ListCACertificates", pageSize=2, ascendingOrder=True, marker=first["nextMarker"])
    newest_first = call(lab, "ListCACertificates")

    assert [c["certificateId"] for c in first["certificates"] + second["certificates"]] == ids
    assert "nextMarker" not in second
    assert [c["certificateId"] for c in newest_first["certificates"]] == ids[::-1]
    assert set(first["certificates"][0]) == {"certificateArn", "certificateId", "status", "creationDate"}


def test_list_certificates_by_ca_lists_the_device_certificates_registered_with_it(lab):
    ca, key = make_ca("parent")
    ca_id = register(lab, ca, key, setAsActive=True)
    device = issue("child", ca, key)
    lab.iot.register_certificate(pem(device), ca_certificate_pem=pem(ca), set_as_active=False, status="INACTIVE")
    lab.iot.create_keys_and_certificate(set_as_active=True)  # issued by the lab: not this CA's

    listed = call(lab, "ListCertificatesByCA", caCertificateId=ca_id)["certificates"]

    assert [(c["certificateId"], c["status"], c["certificateMode"]) for c in listed] == [
        (der_id(device), "INACTIVE", "DEFAULT")]


@pytest.mark.parametrize(
    "params", [{"pageSize": 0}, {"pageSize": 251}, {"marker": "not-a-marker"}],
    ids=["page-size-zero", "page-size-too-big", "bad-marker"],
)
def test_a_bad_page_request_is_invalid(lab, params):
    with pytest.raises(AwsError) as refused:
        call(lab, "ListCACertificates", **params)

    assert refused.value.code == "InvalidRequestException"


# -- the broker's trust store ---------------------------------------------------------------------


class RecordingBroker:
    def __init__(self) -> None:
        self.trusted: list[tuple[str, str]] = []

    def trust_ca(self, pem_text: str) -> None:
        self.trusted.append((pem_text, threading.current_thread().name))


def test_a_registered_ca_is_trusted_on_the_broker_loop_before_the_request_returns(lab):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="broker-loop", daemon=True)
    thread.start()
    broker = RecordingBroker()
    lab.broker, lab.loop = broker, loop
    try:
        ca, key = make_ca("trusted")
        register(lab, ca, key)
    finally:
        lab.broker, lab.loop = None, None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    assert broker.trusted == [(pem(ca), "broker-loop")]

