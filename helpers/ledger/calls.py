"""What a successful AWS call created or changed, from its parameters and response (pure functions).

`entries_for` turns one call into ledger entries: ``{"kind", "name", "arn", "identity", "detail"}``.
``identity`` holds what AWS answered that tells this resource from a same-named successor
(`kinds.IDENTITY`); where the response lacks it (CreatePolicy has no creation date, CreateTopicRule
answers nothing), `helpers.ledger.reads` reads it right after the call. Keys, certificate bodies,
policy documents and object contents are never written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .kinds import (
    BULK_TASK, CA_CERTIFICATE, CERTIFICATE, EVENT_CONFIGURATION, FLEET_INDEXING, FUNCTION, IAM_ROLE, JOB,
    JOB_TEMPLATE, LOG_GROUP, LOG_LEVEL, LOGGING, POLICY, PROVISIONING_TEMPLATE, S3_BUCKET, S3_OBJECT, SHADOW,
    STACK, THING, THING_GROUP, THING_TYPE, TOPIC_RULE, stamp,
)

UNKNOWN_BEFORE = "unknown"  # the value before could not be read (a permission missing, say)

# ARN resource types (``arn:aws:iot:region:account:<type>/<name>``) → kinds, for RegisterThing.
ARN_KINDS = {"thing": THING, "cert": CERTIFICATE, "policy": POLICY}


def get(mapping: Any, key: str, default: Any = "") -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def arn_kind(arn: str) -> tuple[str, str] | None:
    """``(kind, name)`` of an IoT ARN such as ``arn:aws:iot:r:a:thing/x`` (None if not a kind we record)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or "/" not in parts[5]:
        return None
    resource_type, name = parts[5].split("/", 1)
    return (ARN_KINDS[resource_type], name) if resource_type in ARN_KINDS else None


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: stamp(v) for k, v in values.items() if v not in (None, "")}


Extract = Callable[[Mapping, Mapping], list[dict]]
Part = Callable[[Mapping, Mapping], Any]


def _one(kind: str, name: Part, arn: Part | None = None, identity: Callable[[Mapping, Mapping], dict] | None = None,
         detail: Callable[[Mapping, Mapping], dict] | None = None) -> Extract:
    def extract(params: Mapping, response: Mapping) -> list[dict]:
        entry = {"kind": kind, "name": str(name(params, response) or ""),
                 "arn": str(arn(params, response) or "") if arn else "",
                 "identity": _clean(identity(params, response)) if identity else {}}
        if detail:
            entry["detail"] = _clean(detail(params, response))
        return [entry] if entry["name"] else []
    return extract


def _param(key: str) -> Part:
    return lambda params, response: get(params, key)


def _out(key: str) -> Part:
    return lambda params, response: get(response, key)


def _ids(*keys: str) -> Callable[[Mapping, Mapping], dict]:
    """The identity: these members of the response."""
    return lambda params, response: {key: get(response, key, None) for key in keys}


def _certificate() -> Extract:
    return _one(CERTIFICATE, _out("certificateId"), _out("certificateArn"), _ids("certificateId"))


def template_resources(params: Mapping) -> dict[str, dict]:
    """The ``Resources`` of a provisioning template in ``templateBody`` ({} if it is not JSON)."""
    try:
        template = json.loads(get(params, "templateBody") or "{}")
    except (TypeError, ValueError):
        return {}
    resources = get(template, "Resources", {}) or {}
    return {k: v for k, v in resources.items() if isinstance(v, Mapping)}


def template_value(params: Mapping, value: Any) -> str:
    """A template property's value: a literal, or ``{"Ref": parameter}`` resolved from the call's
    ``parameters`` (or the parameter's default). ``""`` when it cannot be told without AWS."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        name = value["Ref"]
        given = get(get(params, "parameters", {}) or {}, name, None)
        if given is not None:
            return str(given)
        try:
            declared = json.loads(get(params, "templateBody") or "{}").get("Parameters", {})
        except (TypeError, ValueError, AttributeError):
            return ""
        return str(get(get(declared, name, {}), "Default", ""))
    return ""


def register_thing_name(params: Mapping) -> str:
    """The name of the thing a RegisterThing call's template provisions (``""`` if it cannot tell)."""
    for resource in template_resources(params).values():
        if resource.get("Type") == "AWS::IoT::Thing":
            return template_value(params, get(resource.get("Properties", {}), "ThingName", ""))
    return ""


def _template_creates_policy(params: Mapping) -> bool:
    """A template's policy is created by the call only when the template holds its document;
    ``PolicyName`` alone names a policy that exists already (AWS's provisioning templates)."""
    return any(resource.get("Type") == "AWS::IoT::Policy" and "PolicyDocument" in (resource.get("Properties") or {})
               for resource in template_resources(params).values())


def _register_thing(params: Mapping, response: Mapping) -> list[dict]:
    entries = []
    for arn in (get(response, "resourceArns", {}) or {}).values():
        found = arn_kind(str(arn))
        if found is None or (found[0] == POLICY and not _template_creates_policy(params)):
            continue
        identity = {"certificateId": found[1]} if found[0] == CERTIFICATE else {}
        entries.append({"kind": found[0], "name": found[1], "arn": str(arn), "identity": identity})
    return entries


# (service name, operation) → what the successful call created.
CREATES: dict[tuple[str, str], Extract] = {
    ("iot", "CreateThing"): _one(THING, _param("thingName"), _out("thingArn"), _ids("thingId"),
                                 lambda p, r: {"thingType": get(p, "thingTypeName")}),
    ("iot", "CreateThingType"): _one(THING_TYPE, _param("thingTypeName"), _out("thingTypeArn"), _ids("thingTypeId")),
    ("iot", "CreateThingGroup"): _one(THING_GROUP, _param("thingGroupName"), _out("thingGroupArn"),
                                      _ids("thingGroupId"), lambda p, r: {"parent": get(p, "parentGroupName")}),
    ("iot", "CreateDynamicThingGroup"): _one(THING_GROUP, _param("thingGroupName"), _out("thingGroupArn"),
                                             _ids("thingGroupId"), lambda p, r: {"dynamic": True}),
    ("iot", "CreateKeysAndCertificate"): _certificate(),
    ("iot", "CreateCertificateFromCsr"): _certificate(),
    ("iot", "RegisterCertificate"): _certificate(),
    ("iot", "RegisterCertificateWithoutCA"): _certificate(),
    ("iot", "RegisterThing"): _register_thing,
    ("iot", "CreatePolicy"): _one(POLICY, _param("policyName"), _out("policyArn")),
    ("iot", "RegisterCACertificate"): _one(CA_CERTIFICATE, _out("certificateId"), _out("certificateArn"),
                                           _ids("certificateId")),
    ("iot", "CreateTopicRule"): _one(TOPIC_RULE, _param("ruleName")),
    ("iot", "CreateJob"): _one(JOB, _out("jobId"), _out("jobArn")),
    ("iot", "CreateJobTemplate"): _one(JOB_TEMPLATE, _out("jobTemplateId"), _out("jobTemplateArn")),
    ("iot", "CreateProvisioningTemplate"): _one(PROVISIONING_TEMPLATE, _out("templateName"), _out("templateArn")),
    ("iot", "StartThingRegistrationTask"): _one(BULK_TASK, _out("taskId")),
    ("iot-data", "UpdateThingShadow"): _one(SHADOW, _param("thingName"),
                                            detail=lambda p, r: {"shadowName": get(p, "shadowName")}),
    ("s3", "PutObject"): _one(S3_OBJECT, _param("Key"), identity=_ids("ETag", "VersionId"),
                              detail=lambda p, r: {"bucket": get(p, "Bucket")}),
    ("s3", "CompleteMultipartUpload"): _one(S3_OBJECT, _param("Key"), identity=_ids("ETag", "VersionId"),
                                            detail=lambda p, r: {"bucket": get(p, "Bucket")}),
    ("s3", "CreateBucket"): _one(S3_BUCKET, _param("Bucket")),
    ("lambda", "CreateFunction"): _one(FUNCTION, _out("FunctionName"), _out("FunctionArn"), _ids("LastModified")),
    ("cloudformation", "CreateStack"): _one(STACK, _param("StackName"), _out("StackId"), _ids("StackId")),
    ("iam", "CreateRole"): _one(IAM_ROLE, _param("RoleName"), lambda p, r: get(get(r, "Role", {}), "Arn"),
                                lambda p, r: {"RoleId": get(get(r, "Role", {}), "RoleId", None)}),
    ("logs", "CreateLogGroup"): _one(LOG_GROUP, _param("logGroupName")),
}

# (service name, operation) → a change to a resource the workshop may have created that may change what
# identifies it: recorded with the identity it has afterwards and the one it had before
# (``detail.previous``), so that a chain of the workshop's own changes leads from its creation to what
# is there now. (The lab gives a replaced rule a new ``createdAt``; a function's ``LastModified``
# changes with its code and configuration.)
UPDATES: dict[tuple[str, str], Extract] = {
    ("iot", "ReplaceTopicRule"): _one(TOPIC_RULE, _param("ruleName")),
    ("lambda", "UpdateFunctionCode"): _one(FUNCTION, _out("FunctionName"), _out("FunctionArn"), _ids("LastModified")),
    ("lambda", "UpdateFunctionConfiguration"): _one(FUNCTION, _out("FunctionName"), _out("FunctionArn"),
                                                    _ids("LastModified")),
}


# ------------------------------------------------------------------------------------- settings


def _event_changes(params: Mapping, before: Any) -> list[dict]:
    wanted = get(params, "eventConfigurations", {}) or {}
    entries = []
    for event_type, configuration in wanted.items():
        if not isinstance(configuration, Mapping) or "Enabled" not in configuration:
            continue
        old = None if before is None else bool(get(get(before, event_type, {}), "Enabled", False))
        new = bool(configuration["Enabled"])
        if old != new:
            entries.append({"kind": EVENT_CONFIGURATION, "name": event_type, "detail": {"before": old, "after": new}})
    return entries


def _logging_options(params: Mapping, before: Any) -> list[dict]:
    after = {k: params[k] for k in ("roleArn", "defaultLogLevel", "disableAllLogs") if k in params}
    return [{"kind": LOGGING, "name": "v2 logging", "detail": {"before": before, "after": after}}]


def _log_level(params: Mapping, before: Any) -> list[dict]:
    target = get(params, "logTarget", {}) or {}
    name = f"{get(target, 'targetType')}:{get(target, 'targetName')}".rstrip(":")
    return [{"kind": LOG_LEVEL, "name": name,
             "detail": {"targetType": get(target, "targetType"), "targetName": get(target, "targetName"),
                        "before": before, "after": get(params, "logLevel")}}]


def _indexing(params: Mapping, before: Any) -> list[dict]:
    after = {k: params[k] for k in ("thingIndexingConfiguration", "thingGroupIndexingConfiguration") if k in params}
    return [{"kind": FLEET_INDEXING, "name": "indexing configuration", "detail": {"before": before, "after": after}}]


# (service, operation) → entries from the call's parameters and the setting's value before it.
CHANGES: dict[tuple[str, str], Callable[[Mapping, Any], list[dict]]] = {
    ("iot", "UpdateEventConfigurations"): _event_changes,
    ("iot", "SetV2LoggingOptions"): _logging_options,
    ("iot", "SetV2LoggingLevel"): _log_level,
    ("iot", "UpdateIndexingConfiguration"): _indexing,
}


def entries_for(service: str, operation: str, params: Mapping, response: Mapping,
                before: Any = UNKNOWN_BEFORE) -> list[dict]:
    """What a successful call created or changed: ``[{"kind", "name", "arn", "identity", "detail"?}]``.

    ``before`` is the setting's value read just before a settings call (`CHANGES`). Calls that
    create nothing the workshop keeps track of give ``[]``.
    """
    key = (service, operation)
    if key in CREATES:
        return CREATES[key](params, response)
    if key in UPDATES:
        return UPDATES[key](params, response)
    if key in CHANGES:
        if before == UNKNOWN_BEFORE:
            return [dict(e, detail={**e.get("detail", {}), "before": UNKNOWN_BEFORE})
                    for e in CHANGES[key](params, None)]
        return CHANGES[key](params, before)
    return []


def operations(service: str) -> list[str]:
    """The operations of ``service`` whose calls the ledger records."""
    return sorted({op for svc, op in [*CREATES, *UPDATES, *CHANGES] if svc == service})


__all__ = ["ARN_KINDS", "CHANGES", "CREATES", "UNKNOWN_BEFORE", "UPDATES", "arn_kind", "entries_for", "operations",
           "register_thing_name", "template_resources", "template_value"]
