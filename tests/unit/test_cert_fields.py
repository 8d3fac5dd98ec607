"""Certificate fields: JITP template parameters and the values behind policy variables."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localcore.errors import CertificateValidationException
from localcore.iot.cert_fields import (
    issuer_fields,
    jitp_parameters,
    serial_number,
    subject_fields,
)

CERT_ID = "0f" * 32
KEY = ec.generate_private_key(ec.SECP256R1())


def name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def certificate(
    subject: x509.Name,
    issuer: x509.Name | None = None,
    serial: int = 4242,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(KEY.public_key()).serial_number(serial)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(KEY, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


FULL_SUBJECT = name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.STATE_OR_PROVINCE_NAME, "NY"),
    (NameOID.ORGANIZATION_NAME, "IoT Devices"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "LightBulb"),
    (NameOID.COMMON_NAME, "bulb-0001"),
    (NameOID.DN_QUALIFIER, "Bulb001"),
    (NameOID.SERIAL_NUMBER, "123"),
    (NameOID.TITLE, "RGB"),
    (NameOID.SURNAME, "Multi Color"),
    (NameOID.GIVEN_NAME, "Bulb"),
    (NameOID.INITIALS, "ZZ"),
    (NameOID.PSEUDONYM, "RGB Device"),
    (NameOID.GENERATION_QUALIFIER, "4"),
)
FULL_CERT = certificate(FULL_SUBJECT, serial=0x921285CBB7A5E086)


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("AWS::IoT::Certificate::Id", CERT_ID),
        ("AWS::IoT::Certificate::Country", "US"),
        ("AWS::IoT::Certificate::StateName", "NY"),
        ("AWS::IoT::Certificate::Organization", "IoT Devices"),
        ("AWS::IoT::Certificate::OrganizationalUnit", "LightBulb"),
        ("AWS::IoT::Certificate::CommonName", "bulb-0001"),
        ("AWS::IoT::Certificate::DistinguishedNameQualifier", "Bulb001"),
        ("AWS::IoT::Certificate::SerialNumber", "123"),
    ],
    ids=lambda value: value.rsplit("::", 1)[-1] if "::" in value else None,
)
def test_jitp_parameter_from_subject(parameter, expected):
    assert jitp_parameters(pem(FULL_CERT), CERT_ID)[parameter] == expected


def test_jitp_gives_only_the_eight_documented_parameters():
    assert len(jitp_parameters(pem(FULL_CERT), CERT_ID)) == 8


def test_jitp_leaves_absent_fields_out():
    cert = certificate(name((NameOID.COMMON_NAME, "only-cn")))
    assert jitp_parameters(pem(cert), CERT_ID) == {
        "AWS::IoT::Certificate::Id": CERT_ID,
        "AWS::IoT::Certificate::CommonName": "only-cn",
    }


def test_jitp_serial_number_is_the_subject_attribute_not_the_certificate_serial():
    cert = certificate(name((NameOID.COMMON_NAME, "x")), serial=99)
    assert "AWS::IoT::Certificate::SerialNumber" not in jitp_parameters(pem(cert), CERT_ID)


def test_jitp_takes_the_first_of_several_values():
    cert = certificate(name((NameOID.ORGANIZATIONAL_UNIT_NAME, "first"),
                            (NameOID.ORGANIZATIONAL_UNIT_NAME, "second")))
    parameters = jitp_parameters(pem(cert), CERT_ID)
    assert parameters["AWS::IoT::Certificate::OrganizationalUnit"] == "first"


@pytest.mark.parametrize(
    "as_input",
    [pem, lambda c: pem(c).encode(), lambda c: c, lambda c: pem(c) + pem(certificate(name()))],
    ids=["pem-text", "pem-bytes", "parsed", "chain-first-wins"],
)
def test_certificate_input_forms(as_input):
    assert jitp_parameters(as_input(FULL_CERT), CERT_ID)["AWS::IoT::Certificate::CommonName"] == (
        "bulb-0001"
    )


@pytest.mark.parametrize("bad", ["not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                 "-----END CERTIFICATE-----\n"], ids=["text", "broken-pem"])
def test_invalid_certificate_is_refused(bad):
    with pytest.raises(CertificateValidationException) as caught:
        jitp_parameters(bad, CERT_ID)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("DistinguishedNameQualifier", ["Bulb001"]),
        ("Country", ["US"]),
        ("Organization", ["IoT Devices"]),
        ("OrganizationalUnit", ["LightBulb"]),
        ("State", ["NY"]),
        ("CommonName", ["bulb-0001"]),
        ("SerialNumber", ["123"]),
        ("Title", ["RGB"]),
        ("Surname", ["Multi Color"]),
        ("GivenName", ["Bulb"]),
        ("Initials", ["ZZ"]),
        ("Pseudonym", ["RGB Device"]),
        ("GenerationQualifier", ["4"]),
    ],
    ids=str,
)
def test_subject_fields_use_the_policy_variable_names(field, expected):
    assert subject_fields(FULL_CERT)[field] == expected


def test_subject_fields_keep_every_value_in_order_and_skip_absent_ones():
    cert = certificate(name((NameOID.COUNTRY_NAME, "DE"), (NameOID.COUNTRY_NAME, "FR"),
                            (NameOID.COMMON_NAME, "dev")))
    assert subject_fields(pem(cert)) == {"Country": ["DE", "FR"], "CommonName": ["dev"]}


SUBJECT_ALT_NAMES = x509.SubjectAlternativeName([
    x509.DNSName("example.com"),
    x509.DNSName("www.example.com"),
    x509.IPAddress(ipaddress.ip_address("1.2.3.4")),
    x509.UniformResourceIdentifier("urn:device:001"),
    x509.RFC822Name("device1@example.com"),
    x509.DirectoryName(name((NameOID.COUNTRY_NAME, "US"), (NameOID.COMMON_NAME, "LightBulbCert"))),
])


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("AlternativeName.DNSName", ["example.com", "www.example.com"]),
        ("AlternativeName.IPAddress", ["1.2.3.4"]),
        ("AlternativeName.UniformResourceIdentifier", ["urn:device:001"]),
        ("AlternativeName.RFC822Name", ["device1@example.com"]),
        ("AlternativeName.DirectoryName", ["CN=LightBulbCert,C=US"]),
    ],
    ids=lambda value: value.split(".")[-1] if isinstance(value, str) else None,
)
def test_subject_alternative_names(field, expected):
    cert = certificate(name((NameOID.COMMON_NAME, "dev")), extensions=(SUBJECT_ALT_NAMES,))
    assert subject_fields(cert)[field] == expected


def test_issuer_fields_read_the_issuer_and_its_alternative_name():
    issuer = name((NameOID.ORGANIZATION_NAME, "IoT Devices"), (NameOID.COMMON_NAME, "Primary CA"))
    cert = certificate(
        name((NameOID.COMMON_NAME, "dev")),
        issuer=issuer,
        extensions=(x509.IssuerAlternativeName([x509.DNSName("issuer.example")]),),
    )
    assert issuer_fields(cert) == {
        "Organization": ["IoT Devices"],
        "CommonName": ["Primary CA"],
        "AlternativeName.DNSName": ["issuer.example"],
    }
    assert "AlternativeName.DNSName" not in subject_fields(cert)


def test_serial_number_is_decimal_like_aws_example():
    # AWS's example: serial 92:12:85:cb:b7:a5:e0:86 is the policy variable 10525622389124227206
    assert serial_number(pem(FULL_CERT)) == "10525622389124227206"
