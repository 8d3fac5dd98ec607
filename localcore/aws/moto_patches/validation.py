"""Input checks AWS makes and moto skips, so bad input gets AWS's error and stored data survives.

- Thing, thing type and thing group names must match ``[a-zA-Z0-9:_-]+`` (1-128 characters).
- CreateThing for an existing name: AWS answers with the existing thing when nothing differs and
  ``ResourceAlreadyExistsException`` otherwise; moto silently replaced the thing (losing its id,
  shadows and attachments).
- Policy names match ``[\\w+=,.@-]+`` and policy documents must parse
  (``MalformedPolicyException``), checked by the same evaluator the broker uses.
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


def _create_thing(self, thing_name, thing_type_name=None, attribute_payload=None, *args, **kwargs):
    check_name("Thing", thing_name)
    if thing_type_name:
        check_name("Thing type", thing_type_name)
    thing = self.things.get(f"arn:aws:iot:{self.region_name}:{self.account_id}:thing/{thing_name}")
    if thing is None:
        return None
    same_type = (thing.thing_type.thing_type_name if thing.thing_type else None) == (thing_type_name or None)
    attributes = (attribute_payload or {}).get("attributes") or {}
    if same_type and dict(thing.attributes) == dict(attributes):
        return thing  # idempotent, as AWS
    raise ResourceAlreadyExistsException(f"Thing {thing_name} already exists in account with different attributes")


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
    wrap_around(MODELS, "IoTBackend", "create_thing_type", _guard(_create_thing_type))
    wrap_around(MODELS, "IoTBackend", "create_thing_group", _same_group_properties)
    wrap_around(MODELS, "IoTBackend", "create_thing_group", _guard(_create_thing_group))
    wrap_around(MODELS, "IoTBackend", "create_policy", _guard(_create_policy))
    wrap_around(MODELS, "IoTBackend", "create_policy_version", _guard(_create_policy_version))
    wrap_around(MODELS, "IoTBackend", "_validation_delete", _validation_delete)
    wrap_around(MODELS, "IoTBackend", "delete_thing_type", _guard(_delete_thing_type))
