"""Reads the ledger makes around a recorded call, with the calling client.

- *Identity after the call*, where the response lacks it: CreatePolicy answers no creation date,
  CreateTopicRule nothing at all, RegisterThing only ARNs (`read_identity`).
- *Identity before the call*, for the creates that AWS answers with the existing resource when it is
  there already (CreateThing with the same attributes, CreateThingGroup, CreateThingType,
  RegisterThing): a resource that was there before was not created by the workshop, only used by
  it (`PRE_READS`). Before an update (Lambda's UpdateFunctionCode) the same read tells which
  version of the resource the workshop changed.
- *A setting's value before the call*, so the clean-up can put it back (`SETTING_READERS`).

A read that fails leaves the identity unknown; the lesson's own call always goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .calls import get, register_thing_name
from .kinds import (
    FUNCTION, JOB, JOB_TEMPLATE, LOG_GROUP, POLICY, PROVISIONING_TEMPLATE, S3_BUCKET, THING, THING_GROUP, THING_TYPE,
    TOPIC_RULE, stamp,
)

MISSING_CODES = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "NoSuchKey", "404", "NotFound"}


def is_missing(error: BaseException) -> bool:
    """Does this error say that the resource does not exist?"""
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) if hasattr(error, "response") else ""
    return code in MISSING_CODES or "does not exist" in str(error)


def _log_group(client: Any, name: str) -> dict | None:
    for page in client.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        for group in page.get("logGroups", []):
            if group.get("logGroupName") == name:
                return {"creationTime": group.get("creationTime")}
    return None


def _bucket(client: Any, name: str) -> dict | None:
    for bucket in client.list_buckets().get("Buckets", []):
        if bucket.get("Name") == name:
            return {"CreationDate": bucket.get("CreationDate")}
    return None


# kind → read its identity by name with a client of its service (None: it does not exist).
READERS: dict[str, Callable[[Any, str], dict | None]] = {
    THING: lambda c, n: {"thingId": c.describe_thing(thingName=n).get("thingId")},
    THING_TYPE: lambda c, n: {"thingTypeId": c.describe_thing_type(thingTypeName=n).get("thingTypeId")},
    THING_GROUP: lambda c, n: {"thingGroupId": c.describe_thing_group(thingGroupName=n).get("thingGroupId")},
    POLICY: lambda c, n: {"creationDate": c.get_policy(policyName=n).get("creationDate")},
    TOPIC_RULE: lambda c, n: {"createdAt": c.get_topic_rule(ruleName=n).get("rule", {}).get("createdAt")},
    JOB: lambda c, n: {"createdAt": c.describe_job(jobId=n).get("job", {}).get("createdAt")},
    JOB_TEMPLATE: lambda c, n: {"createdAt": c.describe_job_template(jobTemplateId=n).get("createdAt")},
    PROVISIONING_TEMPLATE: lambda c, n: {"creationDate": c.describe_provisioning_template(templateName=n)
                                         .get("creationDate")},
    FUNCTION: lambda c, n: {"LastModified": c.get_function_configuration(FunctionName=n).get("LastModified")},
    LOG_GROUP: _log_group,
    S3_BUCKET: _bucket,
}


def read_identity(kind: str, client: Any, name: str) -> dict | None:
    """The identity of ``kind`` ``name`` as AWS has it now (stamped); None when it does not exist.
    Raises what the read raised otherwise (a missing permission, say)."""
    try:
        found = READERS[kind](client, name)
    except Exception as error:  # noqa: BLE001 - botocore ClientError
        if is_missing(error):
            return None
        raise
    return None if found is None else {k: stamp(v) for k, v in found.items() if v not in (None, "")}


def function_name(name_or_arn: str) -> str:
    """``my-fn`` of ``my-fn`` or ``arn:aws:lambda:r:a:function:my-fn[:qualifier]``."""
    return str(name_or_arn).split(":function:")[-1].split(":")[0]


# (service, operation) → the resources whose identity is read before the call: [(kind, name)].
PRE_READS: dict[tuple[str, str], Callable[[Mapping], list[tuple[str, str]]]] = {
    ("iot", "CreateThing"): lambda p: [(THING, get(p, "thingName"))],
    ("iot", "CreateThingType"): lambda p: [(THING_TYPE, get(p, "thingTypeName"))],
    ("iot", "CreateThingGroup"): lambda p: [(THING_GROUP, get(p, "thingGroupName"))],
    ("iot", "CreateDynamicThingGroup"): lambda p: [(THING_GROUP, get(p, "thingGroupName"))],
    ("iot", "RegisterThing"): lambda p: [(THING, register_thing_name(p))],
    ("iot", "ReplaceTopicRule"): lambda p: [(TOPIC_RULE, get(p, "ruleName"))],
    ("lambda", "UpdateFunctionCode"): lambda p: [(FUNCTION, function_name(get(p, "FunctionName")))],
    ("lambda", "UpdateFunctionConfiguration"): lambda p: [(FUNCTION, function_name(get(p, "FunctionName")))],
}


# ----------------------------------------------------------------- settings: the value before a change


def read_events(client: Any, params: Mapping) -> Any:
    return client.describe_event_configurations().get("eventConfigurations", {})


def read_logging(client: Any, params: Mapping) -> Any:
    try:
        options = client.get_v2_logging_options()
    except client.exceptions.NotConfiguredException:
        return None  # never configured: clean-up switches logging off again
    return {k: options[k] for k in ("roleArn", "defaultLogLevel", "disableAllLogs") if k in options}


def read_log_level(client: Any, params: Mapping) -> Any:
    target = get(params, "logTarget", {}) or {}
    try:
        pages = client.get_paginator("list_v2_logging_levels").paginate(targetType=get(target, "targetType"))
        for page in pages:
            for row in page.get("logTargetConfigurations", []):
                if get(row["logTarget"], "targetName", "") == get(target, "targetName", ""):
                    return row.get("logLevel")
    except client.exceptions.NotConfiguredException:
        return None
    return None


def read_indexing(client: Any, params: Mapping) -> Any:
    answer = client.get_indexing_configuration()
    return {k: answer[k] for k in ("thingIndexingConfiguration", "thingGroupIndexingConfiguration") if k in answer}


# (service, operation) → read the setting's value before the call: ``fn(iot_client, params)``.
SETTING_READERS: dict[tuple[str, str], Callable[[Any, Mapping], Any]] = {
    ("iot", "UpdateEventConfigurations"): read_events,
    ("iot", "SetV2LoggingOptions"): read_logging,
    ("iot", "SetV2LoggingLevel"): read_log_level,
    ("iot", "UpdateIndexingConfiguration"): read_indexing,
}

__all__ = ["PRE_READS", "READERS", "SETTING_READERS", "function_name", "is_missing", "read_events", "read_identity",
           "read_indexing", "read_log_level", "read_logging"]
