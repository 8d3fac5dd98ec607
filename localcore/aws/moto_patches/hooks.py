"""Registry events and authorisation-cache invalidation, hooked into moto's IoT backend.

Events must fire whoever changed the registry (the HTTP API, CloudFormation, the lab's own
RegisterThing and bulk provisioning), so the hooks sit on ``IoTBackend`` itself and act once moto's
method has succeeded. Only the backend of the lab's account and region publishes events (when their
type is enabled) and bumps ``lab.generation``; other backends stay silent.

Three AWS behaviours moto lacks are fixed here, for every backend:

* ``update_thing`` increments the thing's ``version`` (moto keeps 1 forever), so
  ``DescribeThing.version`` and the event's ``versionNumber`` agree.
* ``deprecate_thing_type`` records ``thingTypeMetadata.deprecationDate``; un-deprecating clears it.
* ``delete_thing`` takes the thing out of its thing groups. moto leaves it listed, so a new thing of
  the same name would inherit the memberships (and the groups' policies). No membership events are
  published for this [unconfirmed: AWS does not document events for it].
* ``delete_thing_group`` removes the group's policy attachments. moto kept them: DeletePolicy then
  failed with ``DeleteConflictException``, DetachPolicy with the deleted group's ARN could not undo
  it (``ResourceNotFoundException``), and a new group of the same name (same ARN) inherited them.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from moto.core.utils import utcnow
from moto.iot.exceptions import IoTClientError

from ...iot.events import (
    ADDED, CREATED, DELETED, REMOVED, THING, THING_GROUP, THING_GROUP_HIERARCHY, THING_GROUP_MEMBERSHIP,
    THING_TYPE, THING_TYPE_ASSOCIATION, UPDATED, GroupRef, Stamp, ThingGroupRecord, ThingRecord,
    ThingTypeRecord, thing_event, thing_group_event, thing_group_hierarchy_event,
    thing_group_membership_event, thing_type_association_event, thing_type_event,
)
from . import require, wrap_after, wrap_around

MODELS, BACKEND = "moto.iot.models", "IoTBackend"

# Mutations whose only hook is ``lab.registry_changed()``: each can change an authorisation decision.
AUTHORISATION_MUTATIONS = (
    "attach_policy", "detach_policy", "attach_principal_policy", "detach_principal_policy",
    "create_policy_version", "set_default_policy_version", "delete_policy_version", "delete_policy",
    "register_certificate", "register_certificate_without_ca", "update_certificate", "delete_certificate",
    "register_ca_certificate", "update_ca_certificate", "delete_ca_certificate",
    "attach_thing_principal", "detach_thing_principal",
)
# Mutations that publish registry events. update_thing, delete_thing, delete_thing_group and the two
# membership methods also call ``lab.registry_changed()``. update_thing_groups_for_thing needs no
# wrapper: moto implements it with add_thing_to_thing_group / remove_thing_from_thing_group.
EVENT_SOURCES = (
    "create_thing", "update_thing", "delete_thing",
    "create_thing_type", "deprecate_thing_type", "delete_thing_type",
    "create_thing_group", "update_thing_group", "delete_thing_group",
    "add_thing_to_thing_group", "remove_thing_from_thing_group",
)
# Read-only moto helpers the hooks call.
LOOKUPS = ("describe_thing_type", "describe_thing_group", "_identify_thing", "_identify_thing_group")

# lab.state key: membershipId of every (thing group id, thing id) pair, generated when the thing is
# added, so that the ``removed`` event repeats it.
MEMBERSHIP_IDS = "thing_group_membership_ids"

log = logging.getLogger(__name__)


def install(lab: Any) -> None:
    """Wrap moto's IoT backend so that registry changes reach ``lab`` (``apply`` resets first)."""
    for name in LOOKUPS:
        require(MODELS, BACKEND, name)
    hooks = RegistryHooks(lab)
    for name in EVENT_SOURCES:
        wrap_around(MODELS, BACKEND, name, hooks.around(name))
    for name in AUTHORISATION_MUTATIONS:
        wrap_after(MODELS, BACKEND, name, hooks.after_mutation)


class RegistryHooks:
    """One ``around`` per event source; ``after_mutation`` for the rest."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab

    def around(self, method: str) -> Callable[..., Any]:
        if method in ("add_thing_to_thing_group", "remove_thing_from_thing_group"):
            return self.membership
        return getattr(self, method)

    # -- plumbing -------------------------------------------------------------------------------
    def ours(self, backend: Any) -> bool:
        config = self.lab.config
        return backend.account_id == config.account_id and backend.region_name == config.region

    def emit(self, event_type: str, build: Callable[..., tuple[str, dict]], *args: Any) -> None:
        """Build and publish one event if its type is enabled; a failed delivery is logged, not raised."""
        if not self.lab.events_enabled(event_type):
            return
        topic, payload = build(*args, Stamp.now(self.lab.config.account_id))
        try:
            self.lab.publish(topic, payload)
        except Exception:  # noqa: BLE001 - the registry change happened; delivery is best effort
            log.exception("could not publish registry event on %s", topic)

    def after_mutation(self, backend: Any, _result: Any, *_args: Any, **_kwargs: Any) -> None:
        if self.ours(backend):
            self.lab.registry_changed()

    # -- things ---------------------------------------------------------------------------------
    def create_thing(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        existed = _thing(backend, _argument(original, args, kwargs, "thing_name")) is not None
        thing = original(backend, *args, **kwargs)
        if self.ours(backend) and not existed:
            record = thing_record(thing)
            self.emit(THING, thing_event, CREATED, record)
            if record.type_name:
                self.emit(THING_TYPE_ASSOCIATION, thing_type_association_event, ADDED, record, record.type_name)
        return thing

    def update_thing(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = _argument(original, args, kwargs, "thing_name")
        before = _thing(backend, name)
        old_type = thing_record(before).type_name if before is not None else None
        result = original(backend, *args, **kwargs)
        thing = _thing(backend, name)
        thing.version += 1  # AWS: +1 per update; moto never bumps it
        if self.ours(backend):
            record = thing_record(thing)
            self.emit(THING, thing_event, UPDATED, record)
            if old_type != record.type_name:
                if old_type:
                    self.emit(THING_TYPE_ASSOCIATION, thing_type_association_event, REMOVED, record, old_type)
                if record.type_name:
                    self.emit(THING_TYPE_ASSOCIATION, thing_type_association_event, ADDED, record, record.type_name)
            self.lab.registry_changed()
        return result

    def delete_thing(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        thing = _thing(backend, _argument(original, args, kwargs, "thing_name"))
        record = thing_record(thing) if thing is not None else None
        result = original(backend, *args, **kwargs)
        if record is None:
            return result
        groups = _leave_groups(backend, record.arn)
        if self.ours(backend):
            ids = self._membership_ids()
            for group in groups:
                ids.pop((group.thing_group_id, record.id), None)
            self.emit(THING, thing_event, DELETED, record)
            if record.type_name:
                self.emit(THING_TYPE_ASSOCIATION, thing_type_association_event, REMOVED, record, record.type_name)
            self.lab.registry_changed()
        return result

    # -- thing types ----------------------------------------------------------------------------
    def create_thing_type(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = _argument(original, args, kwargs, "thing_type_name")
        existed = _find(backend.describe_thing_type, name) is not None
        result = original(backend, *args, **kwargs)
        if self.ours(backend) and not existed:
            self.emit(THING_TYPE, thing_type_event, CREATED, thing_type_record(backend.describe_thing_type(name)))
        return result

    def deprecate_thing_type(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        thing_type = original(backend, *args, **kwargs)
        if thing_type.metadata["deprecated"]:
            thing_type.metadata.setdefault("deprecationDate", utcnow())
        else:
            thing_type.metadata.pop("deprecationDate", None)
        if self.ours(backend):
            self.emit(THING_TYPE, thing_type_event, UPDATED, thing_type_record(thing_type))
        return thing_type

    def delete_thing_type(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        before = _find(backend.describe_thing_type, _argument(original, args, kwargs, "thing_type_name"))
        record = thing_type_record(before) if before is not None else None
        result = original(backend, *args, **kwargs)
        if self.ours(backend) and record is not None:
            self.emit(THING_TYPE, thing_type_event, DELETED, record)
        return result

    # -- thing groups ---------------------------------------------------------------------------
    def create_thing_group(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = _argument(original, args, kwargs, "thing_group_name")
        existed = _find(backend.describe_thing_group, name) is not None
        result = original(backend, *args, **kwargs)
        if self.ours(backend) and not existed:  # moto (like AWS) answers an identical re-create quietly
            record = thing_group_record(backend, backend.describe_thing_group(name))
            self.emit(THING_GROUP, thing_group_event, CREATED, record)
            if record.ancestors:
                parent = record.ancestors[-1]
                self.emit(THING_GROUP_HIERARCHY, thing_group_hierarchy_event, ADDED, parent, record.group)
        return result

    def update_thing_group(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(backend, *args, **kwargs)
        if self.ours(backend):
            group = backend.describe_thing_group(_argument(original, args, kwargs, "thing_group_name"))
            self.emit(THING_GROUP, thing_group_event, UPDATED, thing_group_record(backend, group))
        return result

    def delete_thing_group(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        before = _find(backend.describe_thing_group, _argument(original, args, kwargs, "thing_group_name"))
        record = thing_group_record(backend, before) if before is not None else None
        result = original(backend, *args, **kwargs)
        if before is not None:
            _detach_all_policies(backend, before.arn)
        if self.ours(backend) and record is not None:  # moto (like AWS) accepts deleting a missing group
            ids = self._membership_ids()
            for key in [key for key in ids if key[0] == record.group.id]:
                del ids[key]
            self.emit(THING_GROUP, thing_group_event, DELETED, record)
            if record.ancestors:
                parent = record.ancestors[-1]
                self.emit(THING_GROUP_HIERARCHY, thing_group_hierarchy_event, REMOVED, parent, record.group)
            self.lab.registry_changed()
        return result

    def membership(self, original: Callable, backend: Any, *args: Any, **kwargs: Any) -> Any:
        """add_thing_to_thing_group / remove_thing_from_thing_group: an event only if membership changed."""
        if not self.ours(backend):
            return original(backend, *args, **kwargs)
        arguments = _arguments(original, args, kwargs)
        try:
            group = backend._identify_thing_group(arguments["thing_group_name"], arguments["thing_group_arn"])
            thing = backend._identify_thing(arguments["thing_name"], arguments["thing_arn"])
        except IoTClientError:
            return original(backend, *args, **kwargs)  # moto raises the same error itself
        was_member = thing.arn in group.things
        result = original(backend, *args, **kwargs)
        is_member = thing.arn in group.things
        if is_member != was_member:
            ids = self._membership_ids()
            key = (group.thing_group_id, thing.thing_id)
            if is_member:
                ids[key] = membership_id = str(uuid.uuid4())
            else:
                membership_id = ids.pop(key, None) or str(uuid.uuid4())
            operation = ADDED if is_member else REMOVED
            self.emit(
                THING_GROUP_MEMBERSHIP, thing_group_membership_event,
                operation, group_ref(group), thing_record(thing), membership_id,
            )
        self.lab.registry_changed()
        return result

    def _membership_ids(self) -> dict[tuple[str, str], str]:
        return self.lab.state.setdefault(MEMBERSHIP_IDS, {})


# -- moto objects → event records ------------------------------------------------------------------
def thing_record(thing: Any) -> ThingRecord:
    type_name = thing.thing_type.thing_type_name if thing.thing_type is not None else None
    return ThingRecord(thing.thing_name, thing.thing_id, thing.arn, thing.version, type_name, dict(thing.attributes))


def thing_type_record(thing_type: Any) -> ThingTypeRecord:
    properties = thing_type.thing_type_properties or {}
    deprecated_at = thing_type.metadata.get("deprecationDate")
    return ThingTypeRecord(
        name=thing_type.thing_type_name,
        id=thing_type.thing_type_id,
        deprecated=bool(thing_type.metadata.get("deprecated")),
        deprecation_ms=_ms(deprecated_at) if deprecated_at is not None else None,
        searchable_attributes=tuple(properties.get("searchableAttributes") or ()),
        description=properties.get("thingTypeDescription"),
    )


def group_ref(group: Any) -> GroupRef:
    return GroupRef(group.thing_group_name, group.thing_group_id, group.arn)


def thing_group_record(backend: Any, group: Any) -> ThingGroupRecord:
    properties = group.thing_group_properties or {}
    ancestors: list[GroupRef] = []
    parent_name = group.parent_group_name
    while parent_name:
        parent = _find(backend.describe_thing_group, parent_name)
        if parent is None:
            break
        ancestors.append(group_ref(parent))
        parent_name = parent.parent_group_name
    return ThingGroupRecord(
        group=group_ref(group),
        version=group.version,
        description=properties.get("thingGroupDescription"),
        attributes=dict((properties.get("attributePayload") or {}).get("attributes") or {}),
        ancestors=tuple(reversed(ancestors)),
    )


# -- helpers --------------------------------------------------------------------------------------
def _thing(backend: Any, name: str) -> Any | None:
    """O(1) look-up by ARN (moto's describe_thing scans every thing; bulk registration adds thousands)."""
    return backend.things.get(f"arn:{backend.partition}:iot:{backend.region_name}:{backend.account_id}:thing/{name}")


def _find(describe: Callable[[str], Any], name: str) -> Any | None:
    try:
        return describe(name)
    except IoTClientError:
        return None


def _detach_all_policies(backend: Any, target_arn: str) -> None:
    for key in [key for key in list(backend.principal_policies) if key[0] == target_arn]:
        backend.principal_policies.pop(key, None)


def _leave_groups(backend: Any, thing_arn: str) -> list[Any]:
    groups = [group for group in backend.thing_groups.values() if thing_arn in group.things]
    for group in groups:
        del group.things[thing_arn]
    return groups


@functools.lru_cache(maxsize=None)
def _signature(function: Callable) -> inspect.Signature:
    return inspect.signature(function)


def _arguments(original: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    """moto's arguments by parameter name, however the caller passed them."""
    bound = _signature(original).bind(None, *args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def _argument(original: Callable, args: tuple, kwargs: dict, name: str) -> Any:
    return _arguments(original, args, kwargs)[name]


def _ms(moment: datetime) -> int:
    """moto keeps naive UTC datetimes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
