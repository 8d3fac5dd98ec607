"""JITP and JITR: what AWS IoT does when a device first connects with a certificate that a
registered CA signed (reference section 4.4).

`install` sets ``lab.on_unknown_certificate``, which the broker calls on its loop for a client
certificate that is not registered or is still ``PENDING_ACTIVATION``, with the presented chain
(DER, leaf first; see `localcore.mqtt.identity`):

1. The issuing CA is looked up among the registered CAs: a CA certificate sent in the chain, else
   any registered CA whose subject is the leaf's issuer; either must have signed the leaf.
2. That CA must be ``ACTIVE`` with auto-registration ``ENABLE``. Otherwise (or with no registered
   issuer) nothing is registered and the connection is refused.
3. The certificate is registered ``PENDING_ACTIVATION`` with its ``caCertificateId``.
4. JITP, when the CA's registrationConfig holds a templateBody: the template is resolved with the
   certificate's fields (`cert_fields.jitp_parameters`, every declared parameter required) and
   applied all-or-nothing like RegisterThing; its Certificate ``Status`` (ACTIVE in the workshop)
   activates the certificate. A failure is logged and leaves the certificate ``PENDING_ACTIVATION``
   with nothing else created; the device's next connection tries the template again.
   JITR, without a template: the ``$aws/events/certificates/registered/<caCertificateId>`` message
   is published, again on every connection while the certificate is ``PENDING_ACTIVATION``.
5. The connection itself is always refused: AWS drops the first connection of an auto-registered
   device (the workshop's "connection lost"); the device reconnects once provisioned and ACTIVE.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..errors import AwsError
from ..iot.cert_fields import jitp_parameters
from ..iot.events import CA_CERTIFICATE, Stamp, certificate_registered_event
from ..iot.templates import resolve
from ..pki import fingerprint_der
from .handlers.ca_certificates import ACTIVE, ENABLE, ca_settings
from .provisioning import apply_plan

log = logging.getLogger("localcore.jit")

PENDING_ACTIVATION = "PENDING_ACTIVATION"

# [unconfirmed] AWS documents the registered message for JITR only; its JITP pages describe no
# message (and the JITP blog contrasts JITP with "JITR triggers a registration event"). True would
# publish it for JITP too.
JITP_PUBLISHES_REGISTERED_EVENT = False
# [unconfirmed] The event-configuration table lists this topic under CA_CERTIFICATE, but JITR
# predates event configurations and its pages never ask for the switch: the lab publishes the
# message whatever the configuration. True would publish it only while CA_CERTIFICATE is enabled.
REGISTERED_EVENT_NEEDS_CA_CERTIFICATE_EVENTS = False


def install(lab: Any) -> None:
    """Make the broker hand unknown certificates to JITP/JITR."""
    lab.on_unknown_certificate = functools.partial(on_unknown_certificate, lab)


def on_unknown_certificate(lab: Any, chain_ders: Sequence[bytes], client_id: str) -> bool:
    """Auto-register the presented certificate if a registered CA allows it; always False (the
    first connection is dropped, as on AWS)."""
    leaf = x509.load_der_x509_certificate(chain_ders[0])
    certificate_id = fingerprint_der(chain_ders[0])
    with lab.changing():
        existing = lab.iot.certificates.get(certificate_id)
        ca = issuing_ca(lab.iot, leaf, chain_ders[1:], existing)
        problem = _refusal(lab, ca)
        if problem is not None:
            log.info("client %r, certificate %s: not auto-registered: %s", client_id, certificate_id, problem)
            return False
        record = existing or lab.iot.register_certificate(
            leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            ca_certificate_pem=ca.certificate_pem, set_as_active=False, status=PENDING_ACTIVATION,
        )
        template = (ca.registration_config or {}).get("templateBody")
        if template:
            _provision(lab, template, leaf, certificate_id, client_id)
        if not template or JITP_PUBLISHES_REGISTERED_EVENT:
            _announce(lab, record, ca.certificate_id)
    return False


def issuing_ca(iot: Any, leaf: x509.Certificate, presented: Sequence[bytes], existing: Any = None) -> Any | None:
    """The registered CA that signed ``leaf``: the one the certificate was registered with, else
    one sent in the chain, else one found by issuer name and signature. An ACTIVE CA wins over
    an inactive one with the same key; None when no registered CA signed it."""
    candidates: list[Any] = []
    for ca_id in [getattr(existing, "ca_certificate_id", None)] + [fingerprint_der(der) for der in presented]:
        ca = iot.ca_certificates.get(ca_id or "")
        if ca is not None and ca not in candidates:
            candidates.append(ca)
    candidates += [ca for ca in list(iot.ca_certificates.values()) if ca not in candidates]
    signers = [ca for ca in candidates if _signed(leaf, ca)]
    return next((ca for ca in signers if ca.status == ACTIVE), signers[0] if signers else None)


def _signed(leaf: x509.Certificate, ca: Any) -> bool:
    ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    if ca_cert.subject != leaf.issuer:
        return False
    try:
        leaf.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _refusal(lab: Any, ca: Any | None) -> str | None:
    if ca is None:
        return "no registered CA certificate signed it"
    if ca.status != ACTIVE:
        return f"its CA certificate {ca.certificate_id} is {ca.status}"
    if ca_settings(lab, ca.certificate_id).auto_registration != ENABLE:
        return f"auto-registration is disabled on its CA certificate {ca.certificate_id}"
    return None


def _provision(lab: Any, template: str, leaf: x509.Certificate, certificate_id: str, client_id: str) -> None:
    """JITP: apply the CA's template; a failure is logged (as AWS logs it to CloudWatch) and
    leaves the certificate PENDING_ACTIVATION."""
    try:
        plan = resolve(template, jitp_parameters(leaf, certificate_id), require_all=True)
        apply_plan(lab, plan)
    except AwsError as error:
        log.warning("JITP of certificate %s (client %r) failed: %s: %s",
                    certificate_id, client_id, error.code, error.message)
        return
    except Exception:  # a lab bug must not break the broker's admission path
        log.exception("JITP of certificate %s (client %r) failed", certificate_id, client_id)
        return
    log.info("JITP provisioned certificate %s (client %r)", certificate_id, client_id)


def _announce(lab: Any, record: Any, ca_id: str) -> None:
    """JITR: publish the registered message for a certificate still PENDING_ACTIVATION."""
    if record.status != PENDING_ACTIVATION:
        return
    if REGISTERED_EVENT_NEEDS_CA_CERTIFICATE_EVENTS and not lab.events_enabled(CA_CERTIFICATE):
        return
    topic, payload = certificate_registered_event(
        record.certificate_id, ca_id, record.status, _ms(record.creation_date), Stamp.now(lab.config.account_id),
    )
    try:
        lab.publish(topic, payload)
    except Exception:  # the registration happened; delivery is best effort
        log.exception("could not publish %s", topic)


def _ms(moment: datetime) -> int:
    """moto keeps naive UTC datetimes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
