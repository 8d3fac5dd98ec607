"""Apply a resolved provisioning template to the registry: RegisterThing, bulk tasks and JITP.

Everything is checked before anything is created (thing type and groups exist, the CSR is valid,
named policies exist, documents parse), so a failing template creates nothing half-way. The
resources are then created through moto's backend, so registry events and authorisation-cache
invalidation fire exactly as when the individual APIs are called, as on AWS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AwsError,
    ConflictingResourceUpdateException,
    InvalidRequestException,
)
from ..iot.policy import parse_policy
from ..iot.templates import ProvisioningPlan, parse_template, resolve, resource_arns
from . import registry


class ResourceRegistrationFailureException(AwsError):
    code, status = "ResourceRegistrationFailureException", 400


@dataclass
class Registered:
    certificate_pem: str | None
    resource_arns: dict[str, str]


def register(lab: Any, template_body: str | dict, parameters: dict[str, str]) -> Registered:
    """RegisterThing: resolve the template with ``parameters`` and provision, all or nothing."""
    plan = resolve(parse_template(template_body), parameters or {})
    return apply_plan(lab, plan)


def apply_plan(lab: Any, plan: ProvisioningPlan) -> Registered:
    with lab.changing():
        prepared = _prepare(lab, plan)
        return _create(lab, plan, prepared)


@dataclass
class _Prepared:
    certificate_pem: str | None = None
    certificate_id: str | None = None  # an existing certificate to use
    certificate_status: str = "ACTIVE"
    thing_exists: bool = False
    policy_names: list[str] | None = None
    new_policies: dict[str, str] | None = None  # name -> document to create


def _prepare(lab: Any, plan: ProvisioningPlan) -> _Prepared:
    """Check every reference and do the pure work (certificate issuance); mutate nothing."""
    prepared = _Prepared(policy_names=[], new_policies={})
    thing = plan.thing
    if thing is not None:
        if thing.thing_type_name:
            thing_type = registry.thing_type(lab, thing.thing_type_name)
            if thing_type is None:
                raise ResourceRegistrationFailureException(f"Thing type not found: {thing.thing_type_name}")
            if thing_type.metadata.get("deprecated"):
                raise ResourceRegistrationFailureException(
                    f"Thing type {thing.thing_type_name} is deprecated; new things cannot use it."
                )
        for group in thing.thing_groups:
            if registry.thing_group(lab, group) is None:
                raise ResourceRegistrationFailureException(f"Thing group not found: {group}")
        existing = registry.thing(lab, thing.thing_name)
        if existing is not None:
            prepared.thing_exists = True
            if any(str(v).upper() == "FAIL" for v in (thing.override_settings or {}).values()):
                raise ConflictingResourceUpdateException(
                    f"Thing {thing.thing_name} already exists and the template's OverrideSettings say FAIL."
                )

    certificate = plan.certificate
    if certificate is not None:
        prepared.certificate_status = (certificate.status or "ACTIVE").upper()
        if prepared.certificate_status not in ("ACTIVE", "INACTIVE"):
            raise InvalidRequestException(f"Certificate Status {certificate.status!r} must be ACTIVE or INACTIVE.")
        if certificate.csr:
            prepared.certificate_pem = lab.pki.issue_from_csr(certificate.csr)
        elif certificate.certificate_id:
            if registry.certificate(lab, certificate.certificate_id) is None:
                raise ResourceRegistrationFailureException(
                    f"Certificate not found: {certificate.certificate_id}"
                )
            prepared.certificate_id = certificate.certificate_id
        elif certificate.certificate_pem:
            from ..pki import certificate_id

            try:
                cert_id = certificate_id(certificate.certificate_pem)
            except Exception:  # noqa: BLE001 - any parse failure is the caller's bad input
                raise InvalidRequestException("CertificatePem is not a valid PEM certificate.") from None
            prepared.certificate_pem = certificate.certificate_pem
            if registry.certificate(lab, cert_id) is not None:
                prepared.certificate_id = cert_id

    for policy in plan.policies:
        if policy.policy_name:
            if registry.policy(lab, policy.policy_name) is None:
                raise ResourceRegistrationFailureException(f"Policy not found: {policy.policy_name}")
            prepared.policy_names.append(policy.policy_name)
        else:
            document = policy.policy_document
            if not isinstance(document, str):
                document = json.dumps(document)
            parse_policy(document)  # MalformedPolicyException, before anything exists
            name = hashlib.sha1(document.encode()).hexdigest().upper()  # [unconfirmed] AWS's hash
            if registry.policy(lab, name) is None:
                prepared.new_policies[name] = document
            prepared.policy_names.append(name)
    return prepared


def _create(lab: Any, plan: ProvisioningPlan, prepared: _Prepared) -> Registered:
    iot = lab.iot
    thing_arn = certificate_arn = None
    policy_arns: dict[str, str] = {}
    created: list[tuple[str, str]] = []  # for rollback if moto refuses half-way
    try:
        thing = plan.thing
        if thing is not None:
            if not prepared.thing_exists:
                iot.create_thing(
                    thing_name=thing.thing_name,
                    thing_type_name=thing.thing_type_name,
                    attribute_payload={"attributes": dict(thing.attributes)},
                    billing_group_name=None,
                )
                created.append(("thing", thing.thing_name))
            else:
                _override_thing(lab, thing)
            for group in thing.thing_groups:
                iot.add_thing_to_thing_group(group, None, thing.thing_name, None)
            thing_arn = lab.arn("thing", thing.thing_name)

        if plan.certificate is not None:
            if prepared.certificate_id is not None:
                cert = iot.certificates[prepared.certificate_id]
                if plan.certificate.status and cert.status != prepared.certificate_status:
                    iot.update_certificate(cert.certificate_id, prepared.certificate_status)
            else:
                cert = iot.register_certificate(
                    prepared.certificate_pem,
                    ca_certificate_pem=plan.certificate.ca_certificate_pem,
                    set_as_active=prepared.certificate_status == "ACTIVE",
                    status=prepared.certificate_status,
                )
                created.append(("certificate", cert.certificate_id))
            certificate_arn = cert.arn

        for (name, document) in prepared.new_policies.items():
            iot.create_policy(policy_name=name, policy_document=document)
            created.append(("policy", name))
        for policy, name in zip(plan.policies, prepared.policy_names):
            policy_arns[policy.logical_id] = lab.arn("policy", name)
            if certificate_arn:
                iot.attach_policy(name, certificate_arn)
        if certificate_arn and thing is not None:
            iot.attach_thing_principal(thing.thing_name, certificate_arn)
    except AwsError:
        _rollback(lab, created)
        raise
    except Exception as error:  # moto refused something the checks missed: undo, report plainly
        _rollback(lab, created)
        raise ResourceRegistrationFailureException(f"Provisioning failed: {_moto_message(error)}") from None
    pem = prepared.certificate_pem
    if pem is None and prepared.certificate_id:
        pem = iot.certificates[prepared.certificate_id].certificate_pem
    arns = resource_arns(plan, thing_arn=thing_arn, certificate_arn=certificate_arn, policy_arns=policy_arns)
    return Registered(certificate_pem=pem, resource_arns=arns)


def _override_thing(lab: Any, thing: Any) -> None:
    """An existing thing: OverrideSettings decide (default: leave it as it is)."""
    settings = {k: str(v).upper() for k, v in (thing.override_settings or {}).items()}
    attributes = settings.get("AttributePayload") or settings.get("ATTRIBUTE_PAYLOAD")
    if attributes in ("REPLACE", "MERGE"):
        lab.iot.update_thing(
            thing_name=thing.thing_name,
            thing_type_name=None,
            attribute_payload={"attributes": dict(thing.attributes), "merge": attributes == "MERGE"},
            remove_thing_type=False,
        )


def _rollback(lab: Any, created: list[tuple[str, str]]) -> None:
    iot = lab.iot
    for kind, name in reversed(created):
        try:
            if kind == "thing":
                iot.delete_thing(name)
            elif kind == "certificate":
                cert = iot.certificates.get(name)
                if cert is not None:
                    for key in [k for k in iot.principal_policies if k[0] == cert.arn]:
                        del iot.principal_policies[key]
                    for key in [k for k in iot.principal_things if k[0] == cert.arn]:
                        del iot.principal_things[key]
                    del iot.certificates[name]
            elif kind == "policy":
                for key in [k for k in iot.principal_policies if k[1] == name]:
                    del iot.principal_policies[key]
                iot.policies.pop(name, None)
        except Exception:  # noqa: BLE001 - best effort; the original error is what the user sees
            pass
    lab.registry_changed()


def _moto_message(error: Exception) -> str:
    return getattr(error, "message", None) or getattr(error, "description", None) or str(error)
