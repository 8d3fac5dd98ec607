"""Registry events (``$aws/events/...``): topics and payloads as AWS IoT publishes them.

Pure builders over plain records: each returns ``(topic, payload)`` and knows nothing of moto or
the broker. ``localcore.aws.moto_patches.hooks`` turns moto's objects into these records, checks
that the event type is enabled, and publishes. Shapes follow reference section 1 (AWS "Registry
events" page): timestamps in milliseconds, ``null`` for absent values, ``versionNumber`` 1 on
create and +1 per update.

Each family has its event-configuration key (``UpdateEventConfigurations``) next to its builder;
job, job-execution and CA-certificate events belong here too when they come.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Event = tuple[str, dict[str, Any]]
PREFIX = "$aws/events"

CREATED, UPDATED, DELETED = "CREATED", "UPDATED", "DELETED"
ADDED, REMOVED = "ADDED", "REMOVED"
Change = Literal["CREATED", "UPDATED", "DELETED"]
Link = Literal["ADDED", "REMOVED"]

# Event-configuration keys (the ``EventType`` enum), one per family below.
THING = "THING"
THING_TYPE = "THING_TYPE"
THING_TYPE_ASSOCIATION = "THING_TYPE_ASSOCIATION"
THING_GROUP = "THING_GROUP"
THING_GROUP_MEMBERSHIP = "THING_GROUP_MEMBERSHIP"
THING_GROUP_HIERARCHY = "THING_GROUP_HIERARCHY"


@dataclass(frozen=True)
class Stamp:
    """What every event carries besides its subject: account, time (ms) and a fresh id."""

    account_id: str
    timestamp_ms: int
    event_id: str

    @classmethod
    def now(
        cls,
        account_id: str,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> "Stamp":
        return cls(account_id, int(clock() * 1000), new_id())


@dataclass(frozen=True)
class ThingRecord:
    name: str
    id: str
    arn: str
    version: int
    type_name: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ThingTypeRecord:
    name: str
    id: str
    deprecated: bool = False
    deprecation_ms: int | None = None
    searchable_attributes: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class GroupRef:
    """A thing group as the hierarchy and membership events name it."""

    name: str
    id: str
    arn: str


@dataclass(frozen=True)
class ThingGroupRecord:
    group: GroupRef
    version: int
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    ancestors: tuple[GroupRef, ...] = ()  # root first, direct parent last


def _head(event_type: str, operation: str, stamp: Stamp) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventId": stamp.event_id,
        "timestamp": stamp.timestamp_ms,
        "operation": operation,
        "accountId": stamp.account_id,
    }


# -- THING ------------------------------------------------------------------------------------------
def thing_event(operation: Change, thing: ThingRecord, stamp: Stamp) -> Event:
    """``$aws/events/thing/<name>/<created|updated|deleted>``."""
    payload = _head("THING_EVENT", operation, stamp) | {
        "thingId": thing.id,
        "thingName": thing.name,
        "versionNumber": thing.version,
        "thingTypeName": thing.type_name,
        "attributes": dict(thing.attributes),
    }
    return f"{PREFIX}/thing/{thing.name}/{operation.lower()}", payload


# -- THING_TYPE ---------------------------------------------------------------------------------------
def thing_type_event(operation: Change, thing_type: ThingTypeRecord, stamp: Stamp) -> Event:
    """``$aws/events/thingType/<name>/<created|updated|deleted>``; (un)deprecation is ``updated``."""
    payload = _head("THING_TYPE_EVENT", operation, stamp) | {
        "thingTypeId": thing_type.id,
        "thingTypeName": thing_type.name,
        "isDeprecated": thing_type.deprecated,
        "deprecationDate": thing_type.deprecation_ms,
        "searchableAttributes": list(thing_type.searchable_attributes),
        "description": thing_type.description,
    }
    return f"{PREFIX}/thingType/{thing_type.name}/{operation.lower()}", payload


# -- THING_TYPE_ASSOCIATION ----------------------------------------------------------------------------
def thing_type_association_event(operation: Link, thing: ThingRecord, type_name: str, stamp: Stamp) -> Event:
    """``$aws/events/thingTypeAssociation/thing/<thing>/thingType/<type>/<added|removed>``.

    The current AWS page uses ADDED/REMOVED and this long topic; an older revision showed
    CREATED/DELETED on ``.../thing/<thing>/<type>``. The payload has no ``accountId``.
    """
    payload = {
        "eventId": stamp.event_id,
        "eventType": "THING_TYPE_ASSOCIATION_EVENT",
        "operation": operation,
        "thingId": thing.id,
        "thingName": thing.name,
        "thingTypeName": type_name,
        "timestamp": stamp.timestamp_ms,
    }
    topic = f"{PREFIX}/thingTypeAssociation/thing/{thing.name}/thingType/{type_name}/{operation.lower()}"
    return topic, payload


# -- THING_GROUP --------------------------------------------------------------------------------------
def thing_group_event(operation: Change, record: ThingGroupRecord, stamp: Stamp) -> Event:
    """``$aws/events/thingGroup/<name>/<created|updated|deleted>``.

    A root group has ``null`` parent fields and an empty ``rootToParentThingGroups`` [unconfirmed:
    AWS shows only a child group's payload].
    """
    parent = record.ancestors[-1] if record.ancestors else None
    payload = _head("THING_GROUP_EVENT", operation, stamp) | {
        "thingGroupId": record.group.id,
        "thingGroupName": record.group.name,
        "versionNumber": record.version,
        "parentGroupName": parent.name if parent else None,
        "parentGroupId": parent.id if parent else None,
        "description": record.description,
        "rootToParentThingGroups": [{"groupArn": g.arn, "groupId": g.id} for g in record.ancestors],
        "attributes": dict(record.attributes),
        "dynamicGroupMappingId": None,
    }
    return f"{PREFIX}/thingGroup/{record.group.name}/{operation.lower()}", payload


# -- THING_GROUP_MEMBERSHIP ---------------------------------------------------------------------------
def thing_group_membership_event(
    operation: Link, group: GroupRef, thing: ThingRecord, membership_id: str, stamp: Stamp
) -> Event:
    """``$aws/events/thingGroupMembership/thingGroup/<group>/thing/<thing>/<added|removed>``.

    Names appear only in the topic; the payload carries ARNs and ids.
    """
    payload = _head("THING_GROUP_MEMBERSHIP_EVENT", operation, stamp) | {
        "groupArn": group.arn,
        "groupId": group.id,
        "thingArn": thing.arn,
        "thingId": thing.id,
        "membershipId": membership_id,
    }
    topic = f"{PREFIX}/thingGroupMembership/thingGroup/{group.name}/thing/{thing.name}/{operation.lower()}"
    return topic, payload


# -- THING_GROUP_HIERARCHY ----------------------------------------------------------------------------
def thing_group_hierarchy_event(operation: Link, parent: GroupRef, child: GroupRef, stamp: Stamp) -> Event:
    """``$aws/events/thingGroupHierarchy/thingGroup/<parent>/childThingGroup/<child>/<added|removed>``."""
    payload = _head("THING_GROUP_HIERARCHY_EVENT", operation, stamp) | {
        "thingGroupId": parent.id,
        "thingGroupName": parent.name,
        "childGroupId": child.id,
        "childGroupName": child.name,
    }
    topic = (
        f"{PREFIX}/thingGroupHierarchy/thingGroup/{parent.name}/childThingGroup/{child.name}/{operation.lower()}"
    )
    return topic, payload


# -- CA_CERTIFICATE -----------------------------------------------------------------------------------
CA_CERTIFICATE = "CA_CERTIFICATE"

# [unconfirmed] Units of the JITR message's two times. AWS's example shows ``timestamp`` as a bare
# 10-digit number (seconds) and ``certificateRegistrationTimestamp`` as a quoted 13-digit string
# (milliseconds); the lab follows that example.
REGISTERED_TIMESTAMP_DIVISOR = 1000  # ms → the unit of ``timestamp``
REGISTRATION_TIMESTAMP_AS_STRING = True


def certificate_registered_event(
    certificate_id: str, ca_certificate_id: str, status: str, registered_ms: int, stamp: Stamp
) -> Event:
    """``$aws/events/certificates/registered/<caCertificateId>``: JITR's message about a device
    certificate that a registered CA signed and that AWS IoT has just registered (``status`` is
    ``PENDING_ACTIVATION``). ``registered_ms`` is when the certificate was registered."""
    registered = str(registered_ms) if REGISTRATION_TIMESTAMP_AS_STRING else registered_ms
    payload = {
        "certificateId": certificate_id,
        "caCertificateId": ca_certificate_id,
        "timestamp": stamp.timestamp_ms // REGISTERED_TIMESTAMP_DIVISOR,
        "certificateStatus": status,
        "awsAccountId": stamp.account_id,
        "certificateRegistrationTimestamp": registered,
    }
    return f"{PREFIX}/certificates/registered/{ca_certificate_id}", payload


# == Jobs (JOB, JOB_EXECUTION) ========================================================================
# Reference section 1.5 (AWS "Jobs events"). The top-level ``timestamp`` is in seconds here, as in
# AWS's examples, while createdAt/lastUpdatedAt/completedAt are in milliseconds.
JOB = "JOB"
JOB_EXECUTION = "JOB_EXECUTION"
JobOperation = Literal["completed", "canceled", "deleted", "cancellation_in_progress", "deletion_in_progress"]
JobExecutionOperation = Literal["succeeded", "failed", "rejected", "canceled", "timed_out", "removed", "deleted"]
# jobProcessDetails of a ``completed`` event: the counts AWS's example shows (no queued/in-progress
# count can be non-zero once a job is complete).
COMPLETED_COUNTS = (
    "numberOfCanceledThings", "numberOfRejectedThings", "numberOfFailedThings", "numberOfRemovedThings",
    "numberOfSucceededThings",
)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    target_selection: str
    targets: tuple[str, ...]
    description: str | None
    created_ms: int
    last_updated_ms: int
    completed_ms: int | None = None
    comment: str | None = None
    process_details: dict[str, int] = field(default_factory=dict)


def job_event(operation: JobOperation, job: JobRecord, stamp: Stamp) -> Event:
    """``$aws/events/job/<jobId>/<operation>``; ``status`` is the operation in upper case
    (``CANCELLATION_IN_PROGRESS``, ``CANCELED``, ...). ``completed`` carries completedAt and
    jobProcessDetails, the others (cancel and delete, each in two phases) carry ``comment``."""
    payload: dict[str, Any] = {
        "eventType": "JOB",
        "eventId": stamp.event_id,
        "timestamp": stamp.timestamp_ms // 1000,
        "operation": operation,
        "jobId": job.job_id,
        "status": operation.upper(),
        "targetSelection": job.target_selection,
        "targets": list(job.targets),
        "description": job.description,
        "createdAt": job.created_ms,
        "lastUpdatedAt": job.last_updated_ms,
    }
    if operation == "completed":
        payload["completedAt"] = job.completed_ms
        payload["jobProcessDetails"] = {name: job.process_details.get(name, 0) for name in COMPLETED_COUNTS}
    else:
        payload["comment"] = job.comment
    return f"{PREFIX}/job/{job.job_id}/{operation}", payload


def job_execution_event(
    operation: JobExecutionOperation, job_id: str, thing_arn: str, status: str,
    status_details: dict[str, str], stamp: Stamp,
) -> Event:
    """``$aws/events/jobExecution/<jobId>/<operation>``, when an execution ends or is deleted."""
    payload = {
        "eventType": "JOB_EXECUTION",
        "eventId": stamp.event_id,
        "timestamp": stamp.timestamp_ms // 1000,
        "operation": operation,
        "jobId": job_id,
        "thingArn": thing_arn,
        "status": status,
        "statusDetails": dict(status_details),
    }
    return f"{PREFIX}/jobExecution/{job_id}/{operation}", payload
