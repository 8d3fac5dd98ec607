"""CA certificates (bring your own CA): the registration code, RegisterCACertificate with its proof
of possession, UpdateCACertificate, DescribeCACertificate, ListCACertificates, ListCertificatesByCA
and DeleteCACertificate (reference section 4.1, 4.2).

moto keeps each CA (PEM, status, ``registration_config``, dates) in ``iot.ca_certificates`` but
checks nothing and lacks the rest, so the lab answers every CA operation itself. What moto has no
field for (auto-registration status, certificate mode, ``customerVersion``, ``generationId``) lives
in ``lab.state[CA_SETTINGS]`` as a `CaSettings` per CA id. Every registered CA is added to the
broker's TLS trust store, so devices it signed complete the handshake and reach JITP/JITR
(`localcore.aws.auto_registration`).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ...errors import (
    AwsError,
    CertificateStateException,
    CertificateValidationException,
    InvalidRequestException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from ...iot.templates import parse_template
from ...pki import fingerprint_der
from ..paging import page
from ..roles import require_assumable
from . import handles

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
ENABLE, DISABLE = "ENABLE", "DISABLE"
DEFAULT_MODE, SNI_ONLY = "DEFAULT", "SNI_ONLY"
CA_STATUSES = (ACTIVE, INACTIVE)
AUTO_REGISTRATION_STATUSES = (ENABLE, DISABLE)
CERTIFICATE_MODES = (DEFAULT_MODE, SNI_ONLY)

# lab.state keys.
REGISTRATION_CODE = "registration_code"
CA_SETTINGS = "ca_certificate_settings"

# AWS's CA ARNs read ``cacert/<id>`` (moto writes ``cert/<id>``).
CA_ARN_KIND = "cacert"
# AWS: at most 10 CA certificates with the same subject per account (RegisterCACertificate's API
# reference); LimitExceededException is among the operation's modelled errors, the message is ours.
MAX_CAS_PER_SUBJECT = 10
MAX_PAGE_SIZE = 250
# How long an HTTP request waits for the broker's loop to add a CA to its trust store.
TRUST_TIMEOUT_S = 5.0


class RegistrationCodeValidationException(AwsError):
    code, status = "RegistrationCodeValidationException", 400


@dataclass
class CaSettings:
    """What the lab keeps for a CA besides moto's record."""

    auto_registration: str = DISABLE
    mode: str = DEFAULT_MODE
    customer_version: int = 1
    generation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def changed(self) -> None:
        self.customer_version += 1
        self.generation_id = str(uuid.uuid4())


def ca_settings(lab: Any, ca_id: str) -> CaSettings:
    """The lab's settings of a registered CA (defaults for a CA registered behind the lab's back)."""
    with lab.lock:
        return lab.state.setdefault(CA_SETTINGS, {}).setdefault(ca_id, CaSettings())


def registration_code(lab: Any) -> str:
    """The account's registration code: 64 hex digits, the same until DeleteRegistrationCode."""
    with lab.lock:
        code = lab.state.get(REGISTRATION_CODE)
        if code is None:
            with lab.changing():  # a read that creates: saved like any other change
                code = lab.state[REGISTRATION_CODE] = secrets.token_hex(32)
        return code


def trust_in_broker(lab: Any, pem: str) -> None:
    """Add a CA to the broker's TLS trust store, on the broker's loop, before returning.

    No broker (unit tests, or the instant before it starts) means nothing to do: the broker trusts
    every registered CA when it is created.
    """
    broker, loop = lab.broker, lab.loop
    if broker is None:
        return
    try:
        on_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        on_loop = False
    if on_loop or loop is None or loop.is_closed():
        broker.trust_ca(pem)
        return
    done = threading.Event()
    failure: list[BaseException] = []

    def trust() -> None:
        try:
            broker.trust_ca(pem)
        except BaseException as error:  # noqa: BLE001 - reported to the waiting request below
            failure.append(error)
        finally:
            done.set()

    loop.call_soon_threadsafe(trust)
    with lab.gate.outside():  # the broker's loop may be waiting to pass the gate meanwhile
        trusted = done.wait(TRUST_TIMEOUT_S)
    if not trusted:
        raise TimeoutError("the broker did not add the CA certificate to its trust store in time")
    if failure:
        raise failure[0]


# -- registration code ---------------------------------------------------------------------------


@handles("iot", "GetRegistrationCode")
def get_registration_code(lab, params: dict) -> dict:
    return {"registrationCode": registration_code(lab)}


@handles("iot", "DeleteRegistrationCode")
def delete_registration_code(lab, params: dict) -> dict:
    with lab.lock:
        lab.state.pop(REGISTRATION_CODE, None)
    return {}


# -- RegisterCACertificate -----------------------------------------------------------------------


@handles("iot", "RegisterCACertificate")
def register_ca_certificate(lab, params: dict) -> dict:
    ca = _parse("CA certificate", params.get("caCertificate"))
    _require_ca(ca)
    _require_current("CA certificate", ca)
    mode = _choice("certificateMode", params.get("certificateMode") or DEFAULT_MODE, CERTIFICATE_MODES)
    verification_pem = params.get("verificationCertificate")
    if mode == DEFAULT_MODE:
        if not verification_pem:
            raise InvalidRequestException("A verification certificate is required in DEFAULT certificate mode.")
        _prove_possession(lab, ca, _parse("verification certificate", verification_pem))
    elif verification_pem:
        raise InvalidRequestException("A verification certificate must not be given in SNI_ONLY certificate mode.")
    config = _registration_config(params.get("registrationConfig"))
    _require_assumable_role(lab, config)

    iot = lab.iot
    ca_id = fingerprint_der(ca.public_bytes(serialization.Encoding.DER))
    with lab.lock:
        if ca_id in iot.ca_certificates:
            raise ResourceAlreadyExistsException(f"The CA certificate {ca_id} is already registered.")
        same_subject = [
            other for other in iot.ca_certificates.values()
            if x509.load_pem_x509_certificate(other.certificate_pem.encode()).subject == ca.subject
        ]
        if len(same_subject) >= MAX_CAS_PER_SUBJECT:
            raise LimitExceededException(
                f"At most {MAX_CAS_PER_SUBJECT} CA certificates with the same subject can be registered."
            )
        record = iot.register_ca_certificate(
            ca_certificate=_pem(ca), set_as_active=bool(params.get("setAsActive")), registration_config=config,
        )
        record.arn = lab.arn(CA_ARN_KIND, ca_id)
        lab.state.setdefault(CA_SETTINGS, {})[ca_id] = CaSettings(
            auto_registration=ENABLE if params.get("allowAutoRegistration") else DISABLE, mode=mode,
        )
    trust_in_broker(lab, record.certificate_pem)
    return {"certificateArn": record.arn, "certificateId": record.certificate_id}


def _parse(what: str, pem: str | None) -> x509.Certificate:
    if not pem:
        raise InvalidRequestException(f"The {what} is required.")
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
    except ValueError:
        raise CertificateValidationException(f"The {what} is not a valid PEM-encoded X.509 certificate.") from None


def _require_ca(ca: x509.Certificate) -> None:
    try:
        is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CertificateValidationException(
            "The CA certificate is not a CA certificate: its basicConstraints extension must say CA:TRUE."
        )


def _require_current(what: str, cert: x509.Certificate) -> None:
    now = datetime.now(timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateValidationException(f"The {what} is expired or not yet valid.")


def _prove_possession(lab: Any, ca: x509.Certificate, verification: x509.Certificate) -> None:
    """DEFAULT mode: the verification certificate names the registration code and the CA signed it."""
    names = verification.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if common_name != registration_code(lab):
        raise RegistrationCodeValidationException(
            "The common name of the verification certificate is not this account's registration code "
            "(GetRegistrationCode)."
        )
    _require_current("verification certificate", verification)
    try:
        verification.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise CertificateValidationException(
            "The verification certificate is not signed by the CA certificate's private key."
        ) from None


def _registration_config(config: dict | None) -> dict[str, str]:
    """A checked registrationConfig: a parseable templateBody (JITP) and its roleArn."""
    config = {key: value for key, value in (config or {}).items() if value}
    if "templateName" in config:
        if "templateBody" in config:
            raise InvalidRequestException("Give either templateBody or templateName in registrationConfig, not both.")
        raise ResourceNotFoundException(
            f"Provisioning template {config['templateName']} not found: the lab has no provisioning "
            f"template API (CreateProvisioningTemplate); put the template in registrationConfig.templateBody."
        )
    if "templateBody" in config:
        parse_template(config["templateBody"])
    return config


def _require_assumable_role(lab: Any, config: dict | None) -> None:
    """JITP assumes the registrationConfig's role: a role made seconds ago is refused (`localcore.aws.roles`)."""
    if config and config.get("roleArn"):
        require_assumable(lab, [config["roleArn"]])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidRequestException(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


# -- UpdateCACertificate / DescribeCACertificate / DeleteCACertificate ------------------------------


def _ca(lab: Any, ca_id: str | None) -> Any:
    ca = lab.iot.ca_certificates.get(ca_id or "")
    if ca is None:
        raise ResourceNotFoundException(f"The CA certificate {ca_id} does not exist.")
    return ca


@handles("iot", "UpdateCACertificate")
def update_ca_certificate(lab, params: dict) -> dict:
    new_status = params.get("newStatus")
    new_auto = params.get("newAutoRegistrationStatus")
    if new_status is not None:
        _choice("newStatus", new_status, CA_STATUSES)
    if new_auto is not None:
        _choice("newAutoRegistrationStatus", new_auto, AUTO_REGISTRATION_STATUSES)
    config = params.get("registrationConfig")
    remove = bool(params.get("removeAutoRegistration"))
    if config is not None and remove:
        raise InvalidRequestException("registrationConfig cannot be given together with removeAutoRegistration.")
    new_config = {} if remove else (_registration_config(config) if config is not None else None)
    _require_assumable_role(lab, new_config)
    with lab.lock:
        ca = _ca(lab, params.get("certificateId"))
        lab.iot.update_ca_certificate(ca.certificate_id, new_status, new_config)
        settings = ca_settings(lab, ca.certificate_id)
        if new_auto is not None:
            settings.auto_registration = new_auto
        if new_status is not None or new_auto is not None or new_config is not None:
            settings.changed()
            ca.last_modified_date = datetime.now(timezone.utc)
    if new_status == ACTIVE:  # idempotent; covers a CA registered before the broker was up
        trust_in_broker(lab, ca.certificate_pem)
    return {}


@handles("iot", "DescribeCACertificate")
def describe_ca_certificate(lab, params: dict) -> dict:
    ca = _ca(lab, params.get("certificateId"))
    settings = ca_settings(lab, ca.certificate_id)
    cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    output: dict = {
        "certificateDescription": {
            "certificateArn": ca.arn,
            "certificateId": ca.certificate_id,
            "status": ca.status,
            "certificatePem": ca.certificate_pem,
            "ownedBy": ca.owner,
            "creationDate": ca.creation_date,
            "autoRegistrationStatus": settings.auto_registration,
            "lastModifiedDate": ca.last_modified_date,
            "customerVersion": settings.customer_version,
            "generationId": settings.generation_id,
            "validity": {"notBefore": cert.not_valid_before_utc, "notAfter": cert.not_valid_after_utc},
            "certificateMode": settings.mode,
        }
    }
    if ca.registration_config:
        output["registrationConfig"] = dict(ca.registration_config)
    return output


@handles("iot", "DeleteCACertificate")
def delete_ca_certificate(lab, params: dict) -> dict:
    with lab.lock:
        ca = _ca(lab, params.get("certificateId"))
        if ca.status == ACTIVE:
            raise CertificateStateException(
                f"The CA certificate {ca.certificate_id} is ACTIVE; set it INACTIVE before deleting it."
            )
        del lab.iot.ca_certificates[ca.certificate_id]
        lab.state.get(CA_SETTINGS, {}).pop(ca.certificate_id, None)
        lab.registry_changed()  # device certificates of this CA can no longer connect
    return {}


# -- lists ---------------------------------------------------------------------------------------


@handles("iot", "ListCACertificates")
def list_ca_certificates(lab, params: dict) -> dict:
    template = params.get("templateName")
    cas = [
        ca for ca in list(lab.iot.ca_certificates.values())
        if template is None or (ca.registration_config or {}).get("templateName") == template
    ]
    page, marker = _page(cas, params)
    output: dict = {"certificates": [
        {"certificateArn": ca.arn, "certificateId": ca.certificate_id, "status": ca.status,
         "creationDate": ca.creation_date}
        for ca in page
    ]}
    if marker:
        output["nextMarker"] = marker
    return output


@handles("iot", "ListCertificatesByCA")
def list_certificates_by_ca(lab, params: dict) -> dict:
    ca_id = params.get("caCertificateId")
    mode = ca_settings(lab, ca_id).mode if ca_id in lab.iot.ca_certificates else DEFAULT_MODE
    certificates = [cert for cert in list(lab.iot.certificates.values()) if cert.ca_certificate_id == ca_id]
    page, marker = _page(certificates, params)
    output: dict = {"certificates": [
        {"certificateArn": cert.arn, "certificateId": cert.certificate_id, "status": cert.status,
         "certificateMode": mode, "creationDate": cert.creation_date}
        for cert in page
    ]}
    if marker:
        output["nextMarker"] = marker
    return output


def _page(records: list[Any], params: dict) -> tuple[list[Any], str | None]:
    """One page by creation date (newest first unless ascendingOrder) and the next marker."""
    size = params.get("pageSize")
    ordered = sorted(records, key=lambda r: (r.creation_date, r.certificate_id),
                     reverse=not params.get("ascendingOrder", False))
    return page(ordered, params.get("marker"), MAX_PAGE_SIZE if size is None else size,
                max_size=MAX_PAGE_SIZE, size_name="pageSize", token_name="marker")
