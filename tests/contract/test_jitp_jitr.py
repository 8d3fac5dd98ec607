"""Bring your own CA, then JITP and JITR against the running lab, as the workshop does them: boto3
for the CA (registration code, verification certificate, UpdateCACertificate), paho and
``mosquitto_pub`` for the devices, the console identity as the AWS console's MQTT test client."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from devices import jitp_template, key_pem, make_ca, write_secret

from helpers.device import ConnectionRefused, Device
from localcore.pki import fingerprint_der
from labfixture import console_device, unique

NOT_AUTHORISED = 5  # CONNACK return code: TLS went through, the CONNECT was refused
ROLE = "arn:aws:iam::123456789012:role/JITPRole"
REGISTERED = "$aws/events/certificates/registered/#"
needs_mosquitto = pytest.mark.skipif(
    not shutil.which("mosquitto_pub"),
    reason="mosquitto_pub not installed (apt-get install mosquitto-clients): the workshop's JITP command is not run",
)


@dataclass
class OwnCA:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    certificate_id: str

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class DeviceFiles:
    name: str
    chain: Path  # deviceCert.pem followed by rootCA.pem, like the workshop's deviceCertAndCACert.crt
    key: Path
    certificate_id: str


def sign(ca_cert, ca_key, subject: x509.Name, public_key) -> x509.Certificate:
    """What ``openssl x509 -req -CA rootCA.pem -CAkey rootCA.key`` makes."""
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=10)).sign(ca_key, hashes.SHA256())
    )


def register_ca(iot, common_name: str) -> OwnCA:
    """GetRegistrationCode, a verification certificate for it, RegisterCACertificate (INACTIVE),
    then UpdateCACertificate ACTIVE: the workshop's steps."""
    cert, key = make_ca(common_name, "rsa", country="DE", organization="IoT")
    code = iot.get_registration_code()["registrationCode"]
    verification_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verification = sign(cert, key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, code)]),
                        verification_key.public_key())
    out = iot.register_ca_certificate(
        caCertificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
        verificationCertificate=verification.public_bytes(serialization.Encoding.PEM).decode(),
    )
    iot.update_ca_certificate(certificateId=out["certificateId"], newStatus="ACTIVE")
    return OwnCA(cert, key, out["certificateId"])


def device_files(folder: Path, ca: OwnCA, name: str, country: str | None = "DE") -> DeviceFiles:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if country:
        names.insert(0, x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    cert = sign(ca.cert, ca.key, x509.Name(names), key.public_key())
    chain = write_secret(folder / f"{name}AndCACert.crt",
                         cert.public_bytes(serialization.Encoding.PEM).decode() + ca.pem)
    return DeviceFiles(name, chain, write_secret(folder / f"{name}.key", key_pem(key)),
                       fingerprint_der(cert.public_bytes(serialization.Encoding.DER)))


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iot(lab):
    return lab.client("iot")


@pytest.fixture(scope="module")
def workshop(iot):
    """The thing group and device policy the workshop's stack provides."""
    group, policy = unique("bulk-group"), unique("workshop-policy")
    iot.create_thing_group(thingGroupName=group)
    iot.create_policy(policyName=policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}],
    }))
    return group, policy


@pytest.fixture
def jitp_ca(iot, workshop) -> OwnCA:
    group, policy = workshop
    ca = register_ca(iot, unique("IoT Workshop CA"))
    iot.update_ca_certificate(
        certificateId=ca.certificate_id, removeAutoRegistration=False, newAutoRegistrationStatus="ENABLE",
        registrationConfig={"templateBody": jitp_template(group, policy), "roleArn": ROLE},
    )
    return ca


@pytest.fixture
def console(lab):
    """The AWS console's MQTT test client: subscribed to the registered messages and the devices' topics."""
    with console_device(lab, REGISTERED, "ji/#") as device:
        yield device


def paho_device(lab, files: DeviceFiles) -> Device:
    return Device(files.name, files.chain, files.key, lab.mqtt_host, lab.mqtt_port, lab.root_ca)


def mosquitto_pub(lab, files: DeviceFiles, topic: str, message: str) -> subprocess.CompletedProcess:
    """The workshop's command, with the lab's root CA, endpoint and port."""
    return subprocess.run(
        ["mosquitto_pub", "--cafile", str(lab.root_ca), "--cert", str(files.chain), "--key", str(files.key),
         "-h", lab.mqtt_host, "-p", str(lab.mqtt_port), "-q", "1", "-t", topic, "-i", files.name,
         "--tls-version", "tlsv1.2", "-m", message, "-d"],
        check=False, capture_output=True, text=True, timeout=30,
    )


def assert_provisioned(iot, files: DeviceFiles, ca: OwnCA, group: str, policy: str) -> None:
    thing = iot.describe_thing(thingName=files.name)
    assert thing["attributes"] == {"Country": "DE"}
    assert [g["groupName"] for g in iot.list_thing_groups_for_thing(thingName=files.name)["thingGroups"]] == [group]
    certificate = iot.describe_certificate(certificateId=files.certificate_id)["certificateDescription"]
    assert certificate["status"] == "ACTIVE"
    assert [p["policyName"] for p in iot.list_attached_policies(target=certificate["certificateArn"])["policies"]] == [policy]
    by_ca = iot.list_certificates_by_ca(caCertificateId=ca.certificate_id)["certificates"]
    assert [c["certificateId"] for c in by_ca] == [files.certificate_id]


# -- the CA ---------------------------------------------------------------------------------------


def test_describe_ca_certificate_shows_the_jitp_settings(iot, jitp_ca, workshop):
    output = iot.describe_ca_certificate(certificateId=jitp_ca.certificate_id)

    description = output["certificateDescription"]
    assert (description["status"], description["autoRegistrationStatus"]) == ("ACTIVE", "ENABLE")
    assert description["certificateArn"].endswith(f":cacert/{jitp_ca.certificate_id}")
    assert output["registrationConfig"] == {"templateBody": jitp_template(*workshop), "roleArn": ROLE}
    listed = iot.list_ca_certificates()["certificates"]
    assert jitp_ca.certificate_id in [c["certificateId"] for c in listed]


def test_a_verification_certificate_without_the_registration_code_is_refused(iot):
    cert, key = make_ca(unique("Wrong code CA"), "rsa", country="DE", organization="IoT")
    wrong = sign(cert, key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-the-code")]), cert.public_key())

    with pytest.raises(ClientError) as refused:
        iot.register_ca_certificate(caCertificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
                                    verificationCertificate=wrong.public_bytes(serialization.Encoding.PEM).decode())

    assert refused.value.response["Error"]["Code"] == "RegistrationCodeValidationException"


def test_an_active_ca_cannot_be_deleted_until_deactivated(iot):
    ca = register_ca(iot, unique("Deleted CA"))

    with pytest.raises(ClientError) as refused:
        iot.delete_ca_certificate(certificateId=ca.certificate_id)
    iot.update_ca_certificate(certificateId=ca.certificate_id, newStatus="INACTIVE")
    iot.delete_ca_certificate(certificateId=ca.certificate_id)

    assert refused.value.response["Error"]["Code"] == "CertificateStateException"
    assert ca.certificate_id not in [c["certificateId"] for c in iot.list_ca_certificates()["certificates"]]


# -- JITP -----------------------------------------------------------------------------------------


def test_jitp_with_paho_drops_the_first_connection_and_admits_the_provisioned_device(
        lab, iot, jitp_ca, workshop, console, tmp_path):
    files = device_files(tmp_path, jitp_ca, unique("my-jitp-device"))
    device = paho_device(lab, files)

    with pytest.raises(ConnectionRefused) as first:
        device.connect()
    assert_provisioned(iot, files, jitp_ca, *workshop)
    mark = console.messages.mark()
    with device:
        device.publish("ji/tp", {"let-me": "in"})

    assert first.value.code is None  # closed before any CONNACK, as AWS IoT does
    assert console.wait_for("ji/tp", after=mark).json == {"let-me": "in"}


@needs_mosquitto
def test_jitp_with_the_workshops_mosquitto_pub_command(lab, iot, jitp_ca, workshop, console, tmp_path):
    files = device_files(tmp_path, jitp_ca, unique("deviceJITPCert"))

    first = mosquitto_pub(lab, files, "ji/tp", '{"let-me": "in"}')
    assert first.returncode != 0, first.stdout + first.stderr
    assert "connection was lost" in (first.stdout + first.stderr).lower(), first.stdout + first.stderr
    assert_provisioned(iot, files, jitp_ca, *workshop)
    mark = console.messages.mark()
    second = mosquitto_pub(lab, files, "ji/tp", '{"let-me": "in"}')

    assert second.returncode == 0, second.stdout + second.stderr
    assert console.wait_for("ji/tp", after=mark).json == {"let-me": "in"}


# -- JITR -----------------------------------------------------------------------------------------


def test_jitr_registers_pending_announces_and_admits_once_activated(lab, iot, jitp_ca, console, tmp_path):
    ca = jitp_ca  # the workshop turns its JITP CA into a JITR CA
    iot.update_ca_certificate(certificateId=ca.certificate_id, removeAutoRegistration=True,
                              newAutoRegistrationStatus="DISABLE")
    iot.update_ca_certificate(certificateId=ca.certificate_id, newAutoRegistrationStatus="ENABLE")
    assert "registrationConfig" not in iot.describe_ca_certificate(certificateId=ca.certificate_id)
    files = device_files(tmp_path, ca, unique("deviceJITRCert"))
    device = paho_device(lab, files)
    mark = console.messages.mark()

    with pytest.raises(ConnectionRefused):
        device.connect()
    event = console.wait_for(f"$aws/events/certificates/registered/{ca.certificate_id}", after=mark).json
    description = iot.describe_certificate(certificateId=files.certificate_id)["certificateDescription"]
    assert (event["certificateId"], event["caCertificateId"], event["certificateStatus"]) == (
        files.certificate_id, ca.certificate_id, "PENDING_ACTIVATION")
    assert description["status"] == "PENDING_ACTIVATION"
    with pytest.raises(ClientError):  # JITR provisions nothing; the rule and Lambda do
        iot.describe_thing(thingName=files.name)

    policy = unique("jitr-policy")  # what the workshop's Lambda does
    iot.create_policy(policyName=policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}],
    }))
    iot.update_certificate(certificateId=files.certificate_id, newStatus="ACTIVE")
    iot.attach_policy(policyName=policy, target=description["certificateArn"])
    mark = console.messages.mark()
    with device:
        device.publish("ji/tr", {"let-me": "in"})

    assert console.wait_for("ji/tr", after=mark).json == {"let-me": "in"}


# -- refusals -----------------------------------------------------------------------------------------


def _inactive(iot, ca: OwnCA) -> None:
    iot.update_ca_certificate(certificateId=ca.certificate_id, newStatus="INACTIVE")


def _auto_registration_disabled(iot, ca: OwnCA) -> None:
    iot.update_ca_certificate(certificateId=ca.certificate_id, newAutoRegistrationStatus="DISABLE")


@pytest.mark.parametrize(
    ("spoil", "connack"),
    [(_inactive, NOT_AUTHORISED), (_auto_registration_disabled, NOT_AUTHORISED), (None, None)],
    ids=["ca-inactive", "auto-registration-disabled", "unknown-ca-fails-tls"],
)
def test_a_device_no_usable_ca_allows_is_refused_and_not_registered(lab, iot, jitp_ca, tmp_path, spoil, connack):
    if spoil is None:
        cert, key = make_ca(unique("Unregistered CA"), "rsa", country="DE", organization="IoT")
        ca = OwnCA(cert, key, "")
    else:
        ca = jitp_ca
        spoil(iot, ca)
    files = device_files(tmp_path, ca, unique("refused-device"))

    with pytest.raises(ConnectionRefused) as refused:
        paho_device(lab, files).connect()

    assert refused.value.code == connack
    with pytest.raises(ClientError) as missing:
        iot.describe_certificate(certificateId=files.certificate_id)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        iot.describe_thing(thingName=files.name)
