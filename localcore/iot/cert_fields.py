"""What AWS IoT reads out of a device certificate: JITP parameters and policy-variable fields.

``jitp_parameters`` gives the values JITP fills into a provisioning template (AWS "Just-in-time
provisioning": the eight ``AWS::IoT::Certificate::...`` parameters, taken from the certificate's
subject, plus the AWS-generated certificate ID). ``subject_fields`` and ``issuer_fields`` give the
values behind ``${iot:Certificate.Subject.<Field>}`` and ``${iot:Certificate.Issuer.<Field>}``
(AWS "X.509 certificate policy variables"), ready for ``policy.RequestContext``;
``serial_number`` gives ``${iot:Certificate.SerialNumber}``. The ``cryptography`` package does
all parsing.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from localcore.errors import CertificateValidationException

CertificateInput = x509.Certificate | str | bytes  # a parsed certificate or PEM text
AlternativeNames = x509.SubjectAlternativeName | x509.IssuerAlternativeName | None

JITP_PARAMETER_PREFIX = "AWS::IoT::Certificate::"
JITP_CERTIFICATE_ID = JITP_PARAMETER_PREFIX + "Id"

# The subject attributes AWS lists as JITP parameters. Locality, Title, Surname, GivenName,
# Initials, Pseudonym and the alternative names exist only as policy variables [unconfirmed as
# JITP parameters]; add them here if AWS documents them.
JITP_SUBJECT_PARAMETERS = {
    "Country": NameOID.COUNTRY_NAME,
    "Organization": NameOID.ORGANIZATION_NAME,
    "OrganizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "DistinguishedNameQualifier": NameOID.DN_QUALIFIER,
    "StateName": NameOID.STATE_OR_PROVINCE_NAME,
    "CommonName": NameOID.COMMON_NAME,
    # The subject's serialNumber attribute: AWS says the values come from the subject field.
    "SerialNumber": NameOID.SERIAL_NUMBER,
}

# Policy-variable names of distinguished-name attributes (same for Subject and Issuer).
POLICY_NAME_ATTRIBUTES = {
    "DistinguishedNameQualifier": NameOID.DN_QUALIFIER,
    "Country": NameOID.COUNTRY_NAME,
    "Organization": NameOID.ORGANIZATION_NAME,
    "OrganizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "State": NameOID.STATE_OR_PROVINCE_NAME,
    "CommonName": NameOID.COMMON_NAME,
    "SerialNumber": NameOID.SERIAL_NUMBER,
    "Title": NameOID.TITLE,
    "Surname": NameOID.SURNAME,
    "GivenName": NameOID.GIVEN_NAME,
    "Initials": NameOID.INITIALS,
    "Pseudonym": NameOID.PSEUDONYM,
    "GenerationQualifier": NameOID.GENERATION_QUALIFIER,
}

# Policy-variable names of alternative-name types, as ``AlternativeName.<Type>``. A directory
# name is given in RFC 4514 form [unconfirmed: AWS does not show the value format].
ALTERNATIVE_NAME_TYPES = {
    "RFC822Name": x509.RFC822Name,
    "DNSName": x509.DNSName,
    "DirectoryName": x509.DirectoryName,
    "UniformResourceIdentifier": x509.UniformResourceIdentifier,
    "IPAddress": x509.IPAddress,
}


def load_certificate(cert: CertificateInput) -> x509.Certificate:
    """A parsed certificate from PEM text (the first certificate of a chain) or a parsed one."""
    if isinstance(cert, x509.Certificate):
        return cert
    data = cert.encode() if isinstance(cert, str) else cert
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CertificateValidationException(
            f"The certificate is not a valid PEM-encoded X.509 certificate: {exc}"
        ) from None


def _attribute_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _name_fields(name: x509.Name, alternative_names: AlternativeNames) -> dict[str, list[str]]:
    fields = {
        field: values
        for field, oid in POLICY_NAME_ATTRIBUTES.items()
        if (values := _attribute_values(name, oid))
    }
    for type_name, general_name in ALTERNATIVE_NAME_TYPES.items():
        values = alternative_names.get_values_for_type(general_name) if alternative_names else []
        if values:
            fields[f"AlternativeName.{type_name}"] = [
                value.rfc4514_string() if isinstance(value, x509.Name) else str(value)
                for value in values
            ]
    return fields


def _alternative_names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> AlternativeNames:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def subject_fields(cert: CertificateInput) -> dict[str, list[str]]:
    """``{"CommonName": ["dev-1"], "AlternativeName.DNSName": [...], ...}``: values in certificate
    order for every subject attribute present (the first is what ``${...CommonName}`` gives)."""
    cert = load_certificate(cert)
    alternative_names = _alternative_names(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    return _name_fields(cert.subject, alternative_names)


def issuer_fields(cert: CertificateInput) -> dict[str, list[str]]:
    """The same for the issuer name and the issuer alternative name extension."""
    cert = load_certificate(cert)
    alternative_names = _alternative_names(cert, ExtensionOID.ISSUER_ALTERNATIVE_NAME)
    return _name_fields(cert.issuer, alternative_names)


def serial_number(cert: CertificateInput) -> str:
    """``${iot:Certificate.SerialNumber}``: the certificate serial as a decimal string (AWS)."""
    return str(load_certificate(cert).serial_number)


def jitp_parameters(cert_pem: CertificateInput, certificate_id: str) -> dict[str, str]:
    """The JITP template parameters for a device certificate; absent subject fields are absent.

    A field with several values gives its first one [unconfirmed].
    """
    subject = load_certificate(cert_pem).subject
    parameters = {JITP_CERTIFICATE_ID: certificate_id}
    for name, oid in JITP_SUBJECT_PARAMETERS.items():
        if values := _attribute_values(subject, oid):
            parameters[JITP_PARAMETER_PREFIX + name] = values[0]
    return parameters
