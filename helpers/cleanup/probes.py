"""Probes: does a resource exist, which one is it (its identity), in which state, what hangs on it.

Each probe reads AWS for one `Item` and sets ``identity``, ``status`` and ``deps``; `probe` adds
``exists``. ``deps`` name what the resource is linked to (attached policies and certificates, group
members and child groups, things of a type, objects in a bucket), so that the plan can tell which
of those links lead to something that is not the workshop's.
"""

from __future__ import annotations

import json

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import ledger as L
from ..ledger.reads import read_logging
from .errors import all_items, describe_error, error_code, is_gone
from .items import LOCAL_FILE, Gone, Item

PROBE_THREADS = 8


def _policies(ws: Any, target: str) -> list[str]:
    return [p["policyName"] for p in all_items(ws.iot, "list_attached_policies", "policies", target=target)]


def _thing(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing(thingName=item.name)
    item.arn = described.get("thingArn", item.arn)
    item.identity = {"thingId": described.get("thingId")}
    item.deps = {"certificates": all_items(ws.iot, "list_thing_principals", "principals", thingName=item.name),
                 "groups": [g["groupName"] for g in all_items(ws.iot, "list_thing_groups_for_thing", "thingGroups",
                                                              thingName=item.name)]}
    item.status = f"type {described['thingTypeName']}" if described.get("thingTypeName") else ""


def _thing_type(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing_type(thingTypeName=item.name)
    meta = described.get("thingTypeMetadata", {})
    item.arn = described.get("thingTypeArn", item.arn)
    item.identity = {"thingTypeId": described.get("thingTypeId")}
    item.detail["deprecated"] = bool(meta.get("deprecated"))
    if meta.get("deprecationDate"):
        item.detail["deprecationDate"] = L.stamp(meta["deprecationDate"])
    item.status = "deprecated" if meta.get("deprecated") else "active"
    users = all_items(ws.iot, "list_things", "things", thingTypeName=item.name)
    item.deps = {"things": [t["thingName"] for t in users]}


def _thing_group(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing_group(thingGroupName=item.name)
    meta = described.get("thingGroupMetadata", {})
    item.arn = described.get("thingGroupArn", item.arn)
    item.identity = {"thingGroupId": described.get("thingGroupId")}
    item.detail.update(depth=len(meta.get("rootToParentThingGroups", []) or []),
                       dynamic=bool(described.get("queryString")))
    item.status = "dynamic" if described.get("queryString") else "static"
    item.deps = {"parent": meta.get("parentGroupName", ""),
                 "children": [g["groupName"] for g in all_items(ws.iot, "list_thing_groups", "thingGroups",
                                                                parentGroup=item.name, recursive=False)],
                 "things": all_items(ws.iot, "list_things_in_thing_group", "things", thingGroupName=item.name),
                 "policies": _policies(ws, item.arn)}


def _certificate(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_certificate(certificateId=item.name)["certificateDescription"]
    item.arn = described["certificateArn"]
    item.identity = {"certificateId": item.name}
    item.status = described["status"]
    if described.get("caCertificateId"):
        item.detail["ca"] = described["caCertificateId"]
    item.deps = {"things": all_items(ws.iot, "list_principal_things", "things", principal=item.arn),
                 "policies": _policies(ws, item.arn)}


def _policy(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.get_policy(policyName=item.name)
    item.arn = described.get("policyArn", item.arn)
    item.identity = {"creationDate": L.stamp(described.get("creationDate"))}
    versions = ws.iot.list_policy_versions(policyName=item.name)["policyVersions"]
    item.deps = {"targets": all_items(ws.iot, "list_targets_for_policy", "targets", policyName=item.name),
                 "versions": len(versions)}
    item.status = f"{len(versions)} version(s)"


def _ca(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_ca_certificate(certificateId=item.name)["certificateDescription"]
    item.arn = described.get("certificateArn", item.arn)
    item.identity = {"certificateId": item.name}
    item.detail["creationDate"] = L.stamp(described.get("creationDate"))
    item.status = f"{described['status']}, auto-registration {described.get('autoRegistrationStatus', '?')}"


def _rule(ws: Any, item: Item, cache: dict) -> None:
    answer = ws.iot.get_topic_rule(ruleName=item.name)
    rule = answer["rule"]
    item.arn = answer.get("ruleArn", item.arn)
    item.identity = {"createdAt": L.stamp(rule.get("createdAt"))}
    item.status = "disabled" if rule.get("ruleDisabled") else "enabled"
    item.deps = {"functions": [a["lambda"]["functionArn"].split(":")[-1]
                               for a in rule.get("actions", []) if "lambda" in a]}


def _function(ws: Any, item: Item, cache: dict) -> None:
    configuration = ws.lambda_.get_function_configuration(FunctionName=item.name)
    item.arn = configuration.get("FunctionArn", item.arn)
    item.identity = {"LastModified": configuration.get("LastModified")}
    item.status = configuration.get("Runtime", "")


def _job(ws: Any, item: Item, cache: dict) -> None:
    job = ws.iot.describe_job(jobId=item.name)["job"]
    item.identity = {"createdAt": L.stamp(job.get("createdAt"))}
    item.status = job["status"]
    if item.status == "DELETION_IN_PROGRESS":
        raise Gone("being deleted")


def _job_template(ws: Any, item: Item, cache: dict) -> None:
    item.identity = {"createdAt": L.stamp(ws.iot.describe_job_template(jobTemplateId=item.name).get("createdAt"))}


def _provisioning_template(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_provisioning_template(templateName=item.name)
    item.identity = {"creationDate": L.stamp(described.get("creationDate"))}
    item.status = "enabled" if described.get("enabled") else "disabled"


def _object(ws: Any, item: Item, cache: dict) -> None:
    head = ws.s3.head_object(Bucket=item.detail.get("bucket", ""), Key=item.name)
    item.identity = {k: head[k] for k in ("ETag", "VersionId") if head.get(k)}
    item.status = f"{head['ContentLength']} bytes"


def bucket_objects(ws: Any, bucket: str) -> list[dict]:
    """Every object (and object version) in ``bucket``: ``{"Key", "ETag", "VersionId"}``."""
    found = []
    for page in ws.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            found.append({"Key": version["Key"], "ETag": version.get("ETag", ""),
                          "VersionId": version.get("VersionId")})
        for marker in page.get("DeleteMarkers", []):
            found.append({"Key": marker["Key"], "ETag": "", "VersionId": marker.get("VersionId"), "marker": True})
    return found


def _bucket(ws: Any, item: Item, cache: dict) -> None:
    ws.s3.head_bucket(Bucket=item.name)
    item.deps = {"objects": bucket_objects(ws, item.name)}
    item.status = f"{len(item.deps['objects'])} object(s)"


def _stack(ws: Any, item: Item, cache: dict) -> None:
    stack = ws.cloudformation.describe_stacks(StackName=item.name)["Stacks"][0]
    item.status = stack["StackStatus"]
    if item.status == "DELETE_COMPLETE":
        raise Gone("deleted")
    item.arn = stack.get("StackId", item.arn)
    item.identity = {"StackId": stack.get("StackId")}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    item.detail["bucket"] = outputs.get("S3Bucket") or outputs.get("BotsBucketName", "")  # workshop or bots stack
    if outputs.get("ProvisionBotArn"):
        item.detail["provision_machine"] = outputs["ProvisionBotArn"]
    if outputs.get("BotsTableName"):
        item.detail["bots_table"] = outputs["BotsTableName"]


def _role(ws: Any, item: Item, cache: dict) -> None:
    role = ws.iam.get_role(RoleName=item.name)["Role"]
    item.arn = role.get("Arn", item.arn)
    item.identity = {"RoleId": role.get("RoleId")}


def _log_group(ws: Any, item: Item, cache: dict) -> None:
    for group in all_items(ws.logs, "describe_log_groups", "logGroups", logGroupNamePrefix=item.name):
        if group.get("logGroupName") == item.name:
            item.identity = {"creationTime": group.get("creationTime")}
            item.status = f"{group.get('storedBytes', 0):,} bytes stored"
            return
    raise Gone("gone")


def _setting(value: Any, on_off: bool = False) -> str:
    if value == L.UNKNOWN_BEFORE:
        return "unknown"
    if value is None:
        return "not set"
    if on_off:
        return "on" if value else "off"
    return str(value)


def _events(ws: Any, item: Item, cache: dict) -> None:
    if "events" not in cache:
        cache["events"] = ws.iot.describe_event_configurations().get("eventConfigurations", {})
    now = bool(cache["events"].get(item.name, {}).get("Enabled", False))
    before = item.detail.get("before")
    item.status = f"now {'on' if now else 'off'}, before the workshop {_setting(before, on_off=True)}"
    if before in (True, False) and now == before:
        raise Gone("as before the workshop")


def _log_level(ws: Any, item: Item, cache: dict) -> None:
    wanted = (item.detail.get("targetType", ""), item.detail.get("targetName", ""))
    try:
        rows = all_items(ws.iot, "list_v2_logging_levels", "logTargetConfigurations", targetType=wanted[0])
    except Exception as error:
        if error_code(error) != "NotConfiguredException":
            raise
        rows = []
    now = next((r.get("logLevel") for r in rows
                if (r["logTarget"].get("targetType"), r["logTarget"].get("targetName", "")) == wanted), None)
    before = item.detail.get("before")
    item.status = f"now {now or 'not set'}, before the workshop {_setting(before)}"
    if now == before:
        raise Gone("as before the workshop")


def logging_is_off(now: Mapping | None) -> bool:
    return now is None or bool(now.get("disableAllLogs")) or now.get("defaultLogLevel") == "DISABLED"


def _logging(ws: Any, item: Item, cache: dict) -> None:
    now = read_logging(ws.iot, {})
    before = item.detail.get("before")
    off = logging_is_off(now)
    item.status = (("now off" if off else f"now {now.get('defaultLogLevel')}")
                   + f", before the workshop {_setting(before)}")
    if (before is None and off) or (isinstance(before, dict) and now is not None
                                    and all(now.get(k) == v for k, v in before.items())):
        raise Gone("as before the workshop")


def indexing_modes(configuration: Mapping | None) -> tuple[str, str]:
    configuration = configuration or {}
    return (configuration.get("thingIndexingConfiguration", {}).get("thingIndexingMode", "OFF"),
            configuration.get("thingGroupIndexingConfiguration", {}).get("thingGroupIndexingMode", "OFF"))


# What UpdateIndexingConfiguration accepts back of what GetIndexingConfiguration answered
# (managedFields are AWS's own: read-only).
RESTORABLE_THING_KEYS = ("thingIndexingMode", "thingConnectivityIndexingMode", "deviceDefenderIndexingMode",
                         "namedShadowIndexingMode", "customFields", "filter")
RESTORABLE_GROUP_KEYS = ("thingGroupIndexingMode", "customFields")


def indexing_request(configuration: Mapping | None) -> dict[str, dict]:
    """The UpdateIndexingConfiguration arguments that put ``configuration`` (a GetIndexingConfiguration
    answer) back: modes and custom fields; with indexing OFF, only the mode (AWS refuses the rest)."""
    configuration = configuration or {}
    things_in = configuration.get("thingIndexingConfiguration") or {}
    groups_in = configuration.get("thingGroupIndexingConfiguration") or {}
    things = {"thingIndexingMode": things_in.get("thingIndexingMode", "OFF")}
    if things["thingIndexingMode"] != "OFF":
        things.update({k: things_in[k] for k in RESTORABLE_THING_KEYS[1:] if things_in.get(k)})
    groups = {"thingGroupIndexingMode": groups_in.get("thingGroupIndexingMode", "OFF")}
    if groups["thingGroupIndexingMode"] != "OFF" and groups_in.get("customFields"):
        groups["customFields"] = groups_in["customFields"]
    return {"thingIndexingConfiguration": things, "thingGroupIndexingConfiguration": groups}


def _same_indexing(a: Mapping | None, b: Mapping | None) -> bool:
    def canonical(request: dict) -> dict:
        return {part: {k: sorted(v, key=json.dumps) if k == "customFields" else v for k, v in fields.items()}
                for part, fields in request.items()}
    return canonical(indexing_request(a)) == canonical(indexing_request(b))


def _indexing(ws: Any, item: Item, cache: dict) -> None:
    current = L.read_indexing(ws.iot, {})
    now = indexing_modes(current)
    before = item.detail.get("before")
    was = "things {}, groups {}".format(*indexing_modes(before)) if isinstance(before, dict) else _setting(before)
    item.status = f"now things {now[0]}, groups {now[1]}; before the workshop {was}"
    if isinstance(before, dict) and _same_indexing(before, current):
        raise Gone("as before the workshop")


def _file(ws: Any, item: Item, cache: dict) -> None:
    if not Path(item.detail["path"]).exists():
        raise Gone("deleted")


PROBES: dict[str, Callable[[Any, Item, dict], None]] = {
    L.THING: _thing, L.THING_TYPE: _thing_type, L.THING_GROUP: _thing_group, L.CERTIFICATE: _certificate,
    L.POLICY: _policy, L.CA_CERTIFICATE: _ca, L.TOPIC_RULE: _rule, L.FUNCTION: _function, L.JOB: _job,
    L.JOB_TEMPLATE: _job_template, L.PROVISIONING_TEMPLATE: _provisioning_template, L.S3_OBJECT: _object,
    L.S3_BUCKET: _bucket, L.STACK: _stack, L.IAM_ROLE: _role, L.LOG_GROUP: _log_group,
    L.EVENT_CONFIGURATION: _events, L.LOG_LEVEL: _log_level, L.LOGGING: _logging, L.FLEET_INDEXING: _indexing,
    LOCAL_FILE: _file,
}


def probe(ws: Any, item: Item, cache: dict | None = None) -> Item:
    """Read ``item`` from AWS: ``exists``, ``identity``, ``status``, ``deps`` (never raises)."""
    check = PROBES.get(item.kind)
    if check is None:
        item.status = "not checked"
        return item
    try:
        check(ws, item, {} if cache is None else cache)
        item.exists = True
    except Gone as gone:
        item.exists, item.status = False, str(gone)
    except Exception as error:  # noqa: BLE001 - botocore ClientError and friends
        if is_gone(error):
            item.exists, item.status = False, "gone"
        else:
            item.exists, item.status = True, f"could not check: {describe_error(error)}"
            item.detail["unchecked"] = True
    return item


def probe_all(ws: Any, items: list[Item], cache: dict) -> None:
    if "events" not in cache and any(i.kind == L.EVENT_CONFIGURATION for i in items):
        probe(ws, next(i for i in items if i.kind == L.EVENT_CONFIGURATION), cache)  # fills the cache once
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        list(pool.map(lambda item: probe(ws, item, cache), items))


__all__ = ["PROBES", "bucket_objects", "indexing_modes", "logging_is_off", "probe", "probe_all"]
