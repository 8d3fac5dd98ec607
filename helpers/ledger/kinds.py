"""The kinds of resources and settings the ledger records, and what identifies each one on AWS.

A name says what a resource is called; its *identity* says which one it is. Delete a thing and
create another of the same name: the name is the same, the ``thingId`` is not. The ledger writes
down the identity of what the workshop created, so that the clean-up can tell the workshop's
resource from a same-named one made outside the workshop (``IDENTITY``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

THING = "thing"
THING_TYPE = "thing type"
THING_GROUP = "thing group"
CERTIFICATE = "certificate"
POLICY = "policy"
CA_CERTIFICATE = "CA certificate"
TOPIC_RULE = "topic rule"
FUNCTION = "Lambda function"
JOB = "job"
JOB_TEMPLATE = "job template"
PROVISIONING_TEMPLATE = "provisioning template"
BULK_TASK = "bulk registration task"
SHADOW = "shadow"
S3_OBJECT = "S3 object"
S3_BUCKET = "S3 bucket"
STACK = "stack"
IAM_ROLE = "IAM role"
LOG_GROUP = "log group"
# Settings: changed, not created; clean-up restores their value from before the first change.
EVENT_CONFIGURATION = "event configuration"
LOG_LEVEL = "log level"
LOGGING = "logging options"
FLEET_INDEXING = "fleet indexing"
SETTINGS = (EVENT_CONFIGURATION, LOG_LEVEL, LOGGING, FLEET_INDEXING)

# What identifies a resource of each kind on AWS: a field AWS gives it when it is created and that a
# same-named successor does not share (ids, creation dates; an object's ETag or version). For
# certificates, CA certificates and bulk tasks AWS chooses the name itself, so the name is the identity.
# A Lambda function has no id nor creation date: its ``LastModified`` changes only with its code or
# configuration [unconfirmed: not with its resource policy], and the ledger records it after each of
# the workshop's own changes; so it does for a topic rule's ``createdAt``, which ReplaceTopicRule
# renews in the lab (`CHAINED`).
IDENTITY: dict[str, str] = {
    THING: "thingId",
    THING_TYPE: "thingTypeId",
    THING_GROUP: "thingGroupId",
    POLICY: "creationDate",
    TOPIC_RULE: "createdAt",
    JOB: "createdAt",
    JOB_TEMPLATE: "createdAt",
    PROVISIONING_TEMPLATE: "creationDate",
    S3_OBJECT: "ETag",
    S3_BUCKET: "CreationDate",
    STACK: "StackId",
    IAM_ROLE: "RoleId",
    FUNCTION: "LastModified",
    LOG_GROUP: "creationTime",
}
NAMED_BY_AWS = (CERTIFICATE, CA_CERTIFICATE, BULK_TASK)
CHAINED = (FUNCTION, TOPIC_RULE)  # identities the workshop's own updates may change


def stamp(value: Any) -> Any:
    """An identity value as the ledger writes it: datetimes in UTC to the millisecond (AWS's own
    precision), everything else as AWS sent it. Recorded and current values go through here both."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return value


__all__ = [
    "THING", "THING_TYPE", "THING_GROUP", "CERTIFICATE", "POLICY", "CA_CERTIFICATE", "TOPIC_RULE", "FUNCTION",
    "JOB", "JOB_TEMPLATE", "PROVISIONING_TEMPLATE", "BULK_TASK", "SHADOW", "S3_OBJECT", "S3_BUCKET", "STACK",
    "IAM_ROLE", "LOG_GROUP", "EVENT_CONFIGURATION", "LOG_LEVEL", "LOGGING", "FLEET_INDEXING", "SETTINGS",
    "CHAINED", "IDENTITY", "NAMED_BY_AWS", "stamp",
]
