"""Device certificates issued by the lab's own issuing CA, as AWS issues them from its CA.

moto signs a self-signed certificate for a *new* key even in CreateCertificateFromCsr (the CSR's
public key is thrown away), so a device could never use it. These patches make moto's
certificate-creating operations use the lab's PKI: the CSR's key and subject are kept, the issuer is
the lab's issuing CA, and certificate ids are SHA-256 of the DER (``use_valid_cert``, set in
``apply``).
"""

from __future__ import annotations

from typing import Any

from ...errors import AwsError
from . import as_moto_error, wrap_around

MODELS = "moto.iot.models"


def _description(original, self):
    """DescribeCertificate as AWS shapes it: the issuing CA's id (JITP/JITR, RegisterCertificate)
    and the certificate's real validity (moto reports now ± 1 day)."""
    description = original(self)
    if self.ca_certificate_id:
        description["caCertificateId"] = self.ca_certificate_id
    description.setdefault("certificateMode", "DEFAULT")
    try:
        from cryptography import x509

        parsed = x509.load_pem_x509_certificate(self.certificate_pem.encode())
        description["validity"] = {"notBefore": parsed.not_valid_before_utc, "notAfter": parsed.not_valid_after_utc}
    except ValueError:
        pass
    return description


def _flag(value: Any) -> bool:
    """setAsActive arrives as a query string: moto hands it on as "false", which is truthy."""
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def install(lab: Any) -> None:
    def generate_certificate_pem(original, self, domain_name, subject, key=None):
        if key is None:  # moto uses this for server certificates of domain configurations
            return original(self, domain_name, subject, key)
        return lab.pki.issue_for_public_key(key.public_key(), subject)

    def create_certificate_from_csr(original, self, csr, set_as_active):
        try:
            pem = lab.pki.issue_from_csr(csr)
        except AwsError as error:
            raise as_moto_error(error) from None
        return self.register_certificate(
            pem, ca_certificate_pem=None, set_as_active=_flag(set_as_active), status="INACTIVE"
        )

    def delete_certificate(original, self, certificate_id, force_delete=False):
        """forceDelete deletes a certificate that policies are still attached to (AWS's reason to give
        it): the attachments go with it, so the policies can be deleted afterwards (moto kept them)."""
        certificate = self.certificates.get(certificate_id)
        original(self, certificate_id, force_delete)
        if certificate is not None and force_delete:
            for key in [k for k in list(self.principal_policies) if k[0] == certificate.arn]:
                del self.principal_policies[key]

    wrap_around(MODELS, "IoTBackend", "_generate_certificate_pem", generate_certificate_pem)
    wrap_around(MODELS, "IoTBackend", "create_certificate_from_csr", create_certificate_from_csr)
    wrap_around(MODELS, "IoTBackend", "delete_certificate", delete_certificate)
    wrap_around(MODELS, "FakeCertificate", "to_description_dict", _description)
