"""Input checks AWS makes and moto skips, so bad input gets AWS's error and stored data survives.

- Thing, thing type and thing group names must match ``[a-zA-Z0-9:_-]+`` (1-128 characters).
- CreateThing for an existing name: AWS answers with the existing thing when nothing differs and
  ``ResourceAlreadyExistsException`` otherwise; moto silently replaced the thing (losing its id,
  shadows and attachments).
- Policy names match ``[\\w+=,.@-]+`` and policy documents must parse
  (``MalformedPolicyException``), checked by the same evaluator the broker uses.
- Thing and thing group attributes, however they arrive (the API, provisioning templates, bulk
  registration, CloudFormation): the API model's constraints (``localcore.aws.validation``) and
  AWS IoT's attribute counts (``localcore.iot.registry_limits``: 3 without a thing type, 50 with
  one, 50 per group), checked before moto stores anything. moto stored a thing whose attributes
  were ``5`` and then failed every ListThings.
- Nothing half-written: CreateThing with a billing group that does not exist, and
  UpdateThingGroupsForThing with a group that does not exist, are refused before moto stores the
  thing or adds it to the groups listed before the missing one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import (
    AwsError,
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from ...iot import registry_limits
from . import as_moto_error, wrap_around

MODELS = "moto.iot.models"
NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")


def check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidRequestException(
            f"{kind} name {name!r} is not valid: use 1-128 characters from a-z, A-Z, 0-9, ':', '_' and '-'."
        )


def check_policy(name: Any, document: Any) -> None:
    from ...iot.policy import parse_policy

    if not isinstance(name, str) or not POLICY_NAME.match(name):
        raise InvalidRequestException(
            f"Policy name {name!r} is not valid: use 1-128 characters from letters, digits and +=,.@_-"
        )
    parse_policy(document if isinstance(document, (str, dict)) else json.dumps(document))


def _guard(check):
    """Run ``check`` before moto's method; our AwsError becomes moto's error type."""

    def around(original, self, *args, **kwargs):
        try:
            existing = check(self, *args, **kwargs)
        except AwsError as error:
            raise as_moto_error(error) from None
        if existing is not None:
            return existing
        return original(self, *args, **kwargs)

    return around


def check_attribute_payload(payload: Any) -> dict:
    """The attributes of an ``AttributePayload``, refused (``InvalidRequestException``, in AWS's
    validation wording) when they break the API model's constraints."""
    from ..codec import load_service_model
    from ..validation import validate_value, validation_message

    if payload is None:
        return {}
    problems = validate_value(_attribute_payload_shape(load_service_model("iot")), payload, "attributePayload")
    if problems:
        raise InvalidRequestException(validation_message(problems))
    return dict(payload.get("attributes") or {})


_shapes: dict[int, Any] = {}


def _attribute_payload_shape(model: Any) -> Any:
    """botocore builds a new Shape per ``shape_for`` call; keep one (the validator caches per shape)."""
    if id(model) not in _shapes:
        _shapes[id(model)] = (model, model.shape_for("AttributePayload"))
    return _shapes[id(model)][1]


def _create_thing(self, thing_name, thing_type_name=None, attribute_payload=None, billing_group_name=None,
                  *args, **kwargs):
    check_name("Thing", thing_name)
    if thing_type_name:
        check_name("Thing type", thing_type_name)
    attributes = check_attribute_payload(attribute_payload)
    problem = registry_limits.thing_attribute_limit_error(thing_name, attributes, thing_type_name)
    if problem:
        raise InvalidRequestException(problem)
    if billing_group_name and billing_group_name not in self.billing_groups:
        raise ResourceNotFoundException(f"Billing group {billing_group_name} does not exist.")
    thing = self.things.get(f"arn:aws:iot:{self.region_name}:{self.account_id}:thing/{thing_name}")
    if thing is None:
        return None
    same_type = (thing.thing_type.thing_type_name if thing.thing_type else None) == (thing_type_name or None)
    attributes = (attribute_payload or {}).get("attributes") or {}
    if same_type and dict(thing.attributes) == dict(attributes):
        return thing  # idempotent, as AWS
    raise ResourceAlreadyExistsException(f"Thing {thing_name} already exists in account with different attributes")


def _update_thing(self, thing_name, thing_type_name=None, attribute_payload=None, remove_thing_type=False,
                  *args, **kwargs):
    """The thing as UpdateThing would leave it must keep within AWS IoT's attribute counts."""
    attributes = check_attribute_payload(attribute_payload)
    thing = self.things.get(f"arn:aws:iot:{self.region_name}:{self.account_id}:thing/{thing_name}")
    if thing is None:
        return None  # moto answers ResourceNotFoundException
    stored_type = thing.thing_type.thing_type_name if thing.thing_type else None
    new_type = None if remove_thing_type else (thing_type_name or stored_type)
    after = dict(thing.attributes)
    if attribute_payload is not None and "attributes" in attribute_payload:
        after = registry_limits.updated_attributes(thing.attributes, attributes, bool(attribute_payload.get("merge")))
    problem = registry_limits.thing_attribute_limit_error(thing_name, after, new_type)
    if problem:
        raise InvalidRequestException(problem)
    return None


def _group_attributes(properties: Any) -> tuple[dict, bool, bool]:
    payload = (properties or {}).get("attributePayload") if isinstance(properties, dict) else None
    attributes = check_attribute_payload(payload)
    return attributes, payload is not None and "attributes" in payload, bool((payload or {}).get("merge"))


def _create_thing_group_attributes(self, thing_group_name, parent_group_name=None, thing_group_properties=None,
                                   *args, **kwargs):
    attributes, _, _ = _group_attributes(thing_group_properties)
    problem = registry_limits.thing_group_attribute_limit_error(thing_group_name, attributes)
    if problem:
        raise InvalidRequestException(problem)


def _update_thing_group(self, thing_group_name, thing_group_properties=None, *args, **kwargs):
    attributes, given, merge = _group_attributes(thing_group_properties)
    group = next((g for g in list(self.thing_groups.values()) if g.thing_group_name == thing_group_name), None)
    if group is None or not given:
        return None
    stored = (group.thing_group_properties.get("attributePayload") or {}).get("attributes") or {}
    problem = registry_limits.thing_group_attribute_limit_error(
        thing_group_name, registry_limits.updated_attributes(stored, attributes, merge)
    )
    if problem:
        raise InvalidRequestException(problem)
    return None


def _update_thing_groups_for_thing(self, thing_name, thing_groups_to_add=None, thing_groups_to_remove=None,
                                   *args, **kwargs):
    """Every group must exist before moto adds the thing to the first one."""
    names = {g.thing_group_name for g in list(self.thing_groups.values())}
    for group in list(thing_groups_to_add or []) + list(thing_groups_to_remove or []):
        if group not in names:
            raise ResourceNotFoundException(f"Thing group {group} does not exist.")


def _create_thing_type(self, thing_type_name, *args, **kwargs):
    check_name("Thing type", thing_type_name)


def _create_thing_group(self, thing_group_name, parent_group_name=None, *args, **kwargs):
    check_name("Thing group", thing_group_name)
    if parent_group_name and not any(
        g.thing_group_name == parent_group_name for g in list(self.thing_groups.values())
    ):  # moto crashes with UnboundLocalError here
        raise ResourceNotFoundException(f"Thing group {parent_group_name} does not exist.")


def _create_policy(self, policy_name, policy_document, *args, **kwargs):
    check_policy(policy_name, policy_document)


def _create_policy_version(self, policy_name, policy_document, *args, **kwargs):
    check_policy(policy_name, policy_document)


def _same_group_properties(original, self, thing_group_name, parent_group_name=None, thing_group_properties=None):
    """moto stores absent properties as {} but compares the next call's None with them, so creating
    the same group twice failed; AWS returns the existing group when nothing differs."""
    return original(self, thing_group_name, parent_group_name, thing_group_properties or {})


# AWS waits five minutes after DeprecateThingType before DeleteThingType may succeed; the lab does
# not make a class wait (0 s). Set a number of seconds here to rehearse the AWS timing.
THING_TYPE_DELETE_DELAY_S = 0.0


def _delete_thing_type(self, thing_type_name, *args, **kwargs):
    """DeleteThingType: only a deprecated type without things (moto deleted any type at once)."""
    import time

    for thing_type in list(self.thing_types.values()):
        if thing_type.thing_type_name != thing_type_name:
            continue
        metadata = thing_type.metadata
        if not metadata.get("deprecated"):
            raise InvalidRequestException(
                f"Can not delete non-deprecated thing type {thing_type_name}: deprecate it first (DeprecateThingType)."
            )
        since = metadata.get("deprecationDate")
        since_s = since.timestamp() if hasattr(since, "timestamp") else since
        if since_s and time.time() - since_s < THING_TYPE_DELETE_DELAY_S:
            raise InvalidRequestException(
                f"Thing type {thing_type_name} was deprecated less than {THING_TYPE_DELETE_DELAY_S:.0f} s ago; try again later."
            )
        users = [t.thing_name for t in list(self.things.values())
                 if t.thing_type is not None and t.thing_type.thing_type_name == thing_type_name]
        if users:
            raise InvalidRequestException(
                f"Can not delete thing type {thing_type_name}: things still use it ({', '.join(users[:5])}); "
                "change their type with UpdateThing first."
            )
    return None


def _validation_delete(original, self, cert, force_delete: bool = False) -> None:
    """moto's check crashes (500) when any policy is attached to a thing group; same rules, by ARN."""
    from moto.iot.exceptions import CertificateStateException, DeleteConflictException

    if cert.status == "ACTIVE":
        raise CertificateStateException(
            "Certificate must be deactivated (not ACTIVE) before deletion.", cert.certificate_id
        )
    things = [principal for principal, _thing in list(self.principal_things) if principal == cert.arn]
    if things:
        raise DeleteConflictException(f"Things must be detached before deletion (arn: {things[0]})")
    policies = [principal for principal, _policy in list(self.principal_policies) if principal == cert.arn]
    if policies and not force_delete:
        raise DeleteConflictException(f"Certificate policies must be detached before deletion (arn: {policies[0]})")


def install(lab: Any) -> None:
    wrap_around(MODELS, "IoTBackend", "create_thing", _guard(_create_thing))
    wrap_around(MODELS, "IoTBackend", "update_thing", _guard(_update_thing))
    wrap_around(MODELS, "IoTBackend", "update_thing_group", _guard(_update_thing_group))
    wrap_around(MODELS, "IoTBackend", "update_thing_groups_for_thing", _guard(_update_thing_groups_for_thing))
    wrap_around(MODELS, "IoTBackend", "create_thing_type", _guard(_create_thing_type))
    wrap_around(MODELS, "IoTBackend", "create_thing_group", _same_group_properties)
    wrap_around(MODELS, "IoTBackend", "create_thing_group", _guard(_create_thing_group))
    wrap_around(MODELS, "IoTBackend", "create_thing_group", _guard(_create_thing_group_attributes))
    wrap_around(MODELS, "IoTBackend", "create_policy", _guard(_create_policy))
    wrap_around(MODELS, "IoTBackend", "create_policy_version", _guard(_create_policy_version))
    wrap_around(MODELS, "IoTBackend", "_validation_delete", _validation_delete)
    wrap_around(MODELS, "IoTBackend", "delete_thing_type", _guard(_delete_thing_type))
