"""The calls behind each step of the plan: one function per action, ``fn(ws, step) -> what it did``.

Each action touches only what its step names (the plan's lists of policies, targets, things,
objects), checks first that the resource is still the one the inventory found (``expect``: its
identity), and treats "already gone" as success, so the clean-up can be run again at any time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import ledger as L
from .errors import all_items, error_code, is_gone, settled
from .items import Item
from .planning import Step
from .probes import indexing_modes, indexing_request, probe

STACK_TIMEOUT_S = {"aws": 900.0, "local": 60.0}  # the lab deletes a stack in a second or two
SAY_AFTER_S = 3.0


class Already(Exception):
    """The step found nothing to do (the message says why)."""


class NotOurs(Exception):
    """The resource is no longer the one the inventory found: left alone."""


def nothing(text: str = "nothing attached") -> str:
    raise Already(text)


def _current(ws: Any, kind: str, name: str, args: dict) -> dict | None:
    """The identity of ``kind`` ``name`` now, read as the inventory read it (None: gone)."""
    item = probe(ws, Item(kind, name, detail={"bucket": args.get("bucket", "")}))
    if item.detail.get("unchecked"):
        raise RuntimeError(item.status)
    return item.identity if item.exists else None


def expect(ws: Any, step: Step) -> None:
    """Raise `Already` if the resource is gone, `NotOurs` if its identity changed since the inventory."""
    wanted = step.args.get("expect") or {}
    if not wanted:
        return
    now = _current(ws, step.kind, step.name, dict(step.args))
    if now is None:
        raise Already("already gone: it does not exist (any more)")
    changed = {k: v for k, v in wanted.items() if now.get(k) != v}
    if changed:
        key = next(iter(changed))
        raise NotOurs(f"left alone: its {key} is no longer the one the inventory found ({now.get(key)} instead of "
                      f"{changed[key]}): it was made again outside the workshop in the meantime")


def _listed(done: list[str], verb: str) -> str:
    return f"{verb} {', '.join(done)}" if done else nothing()


def _detach_certificate_policies(ws: Any, step: Step) -> str:
    attached = {p["policyName"] for p in all_items(ws.iot, "list_attached_policies", "policies",
                                                   target=step.args["arn"])}
    done = [p for p in step.args.get("policies", []) if p in attached]
    for policy in done:
        ws.iot.detach_policy(policyName=policy, target=step.args["arn"])
    return _listed(done, "detached")


def _detach_certificate_things(ws: Any, step: Step) -> str:
    attached = set(all_items(ws.iot, "list_principal_things", "things", principal=step.args["arn"]))
    done = [t for t in step.args.get("things", []) if t in attached]
    for thing in done:
        ws.iot.detach_thing_principal(thingName=thing, principal=step.args["arn"])
    return _listed(done, "detached")


def _deactivate_certificate(ws: Any, step: Step) -> str:
    status = ws.iot.describe_certificate(certificateId=step.name)["certificateDescription"]["status"]
    if status == "INACTIVE":
        return nothing("already INACTIVE")
    ws.iot.update_certificate(certificateId=step.name, newStatus="INACTIVE")
    return f"{status} → INACTIVE"


def _delete_certificate(ws: Any, step: Step) -> str:
    extra = {"forceDelete": True} if step.args.get("force") else {}
    settled(ws, lambda: ws.iot.delete_certificate(certificateId=step.name, **extra))
    return "deleted"


def _remove_from_groups(ws: Any, step: Step) -> str:
    expect(ws, step)
    now = {g["groupName"] for g in all_items(ws.iot, "list_thing_groups_for_thing", "thingGroups", thingName=step.name)}
    done = [g for g in step.args.get("groups", []) if g in now]
    for group in done:
        ws.iot.remove_thing_from_thing_group(thingGroupName=group, thingName=step.name)
    return _listed(done, "removed from")


def _delete_shadows(ws: Any, step: Step) -> str:
    expect(ws, step)
    ws.iot.describe_thing(thingName=step.name)  # a thing that is gone: "already gone"
    names = set(step.args.get("shadows", []))
    try:
        names |= set(all_items(ws.iot_data, "list_named_shadows_for_thing", "results", thingName=step.name))
    except Exception as error:
        if not is_gone(error):
            raise
    deleted = []
    for shadow in [None, *sorted(names)]:
        try:
            ws.iot_data.delete_thing_shadow(thingName=step.name, **({"shadowName": shadow} if shadow else {}))
            deleted.append(shadow or "classic")
        except Exception as error:
            if not is_gone(error):
                raise
    return f"deleted {', '.join(deleted)}" if deleted else nothing("no shadow")


def _delete_thing(ws: Any, step: Step) -> str:
    expect(ws, step)
    attached = set(ws.iot.list_thing_principals(thingName=step.name)["principals"])
    for principal in [p for p in step.args.get("principals", []) if p in attached]:
        ws.iot.detach_thing_principal(thingName=step.name, principal=principal)
    settled(ws, lambda: ws.iot.delete_thing(thingName=step.name))
    return "deleted"


def _detach_group_policies(ws: Any, step: Step) -> str:
    expect(ws, step)
    arn = ws.iot.describe_thing_group(thingGroupName=step.name)["thingGroupArn"]
    attached = {p["policyName"] for p in all_items(ws.iot, "list_attached_policies", "policies", target=arn)}
    done = [p for p in step.args.get("policies", []) if p in attached]
    for policy in done:
        ws.iot.detach_policy(policyName=policy, target=arn)
    return _listed(done, "detached")


def _delete_thing_group(ws: Any, step: Step) -> str:
    expect(ws, step)
    described = ws.iot.describe_thing_group(thingGroupName=step.name)
    if described.get("queryString"):
        ws.iot.delete_dynamic_thing_group(thingGroupName=step.name)
    else:
        settled(ws, lambda: ws.iot.delete_thing_group(thingGroupName=step.name))
    return "deleted"


def _deprecate_thing_type(ws: Any, step: Step) -> str:
    expect(ws, step)
    meta = ws.iot.describe_thing_type(thingTypeName=step.name).get("thingTypeMetadata", {})
    if meta.get("deprecated"):
        return nothing("already deprecated")
    ws.iot.deprecate_thing_type(thingTypeName=step.name, undoDeprecate=False)
    return "deprecated" + (" (AWS deletes it 5 minutes from now)" if ws.backend == "aws" else "")


def _detach_policy_targets(ws: Any, step: Step) -> str:
    expect(ws, step)
    attached = set(all_items(ws.iot, "list_targets_for_policy", "targets", policyName=step.name))
    done = [t for t in step.args.get("targets", []) if t in attached]
    for target in done:
        ws.iot.detach_policy(policyName=step.name, target=target)
    return f"detached from {len(done)} target(s)" if done else nothing()


def _delete_policy_versions(ws: Any, step: Step) -> str:
    expect(ws, step)
    old = [v["versionId"] for v in ws.iot.list_policy_versions(policyName=step.name)["policyVersions"]
           if not v.get("isDefaultVersion")]
    for version in old:
        ws.iot.delete_policy_version(policyName=step.name, policyVersionId=version)
    return f"deleted version(s) {', '.join(old)}" if old else nothing("only the default version")


def _delete_policy(ws: Any, step: Step) -> str:
    expect(ws, step)
    settled(ws, lambda: ws.iot.delete_policy(policyName=step.name))
    return "deleted"


def _deactivate_ca(ws: Any, step: Step) -> str:
    status = ws.iot.describe_ca_certificate(certificateId=step.name)["certificateDescription"]["status"]
    if status == "INACTIVE":
        return nothing("already INACTIVE")
    ws.iot.update_ca_certificate(certificateId=step.name, newStatus="INACTIVE")
    return f"{status} → INACTIVE"


def _delete_ca(ws: Any, step: Step) -> str:
    settled(ws, lambda: ws.iot.delete_ca_certificate(certificateId=step.name))
    return "deleted"


def _cancel_job(ws: Any, step: Step) -> str:
    expect(ws, step)
    status = ws.iot.describe_job(jobId=step.name)["job"]["status"]
    if status not in ("IN_PROGRESS", "SCHEDULED"):
        return nothing(f"already {status}")
    ws.iot.cancel_job(jobId=step.name, force=True, comment="workshop clean-up")
    return "canceled"


def _delete_job(ws: Any, step: Step) -> str:
    expect(ws, step)
    ws.iot.delete_job(jobId=step.name, force=True)
    return "deleted (AWS finishes deleting a job in the background)"


def _disable_rule(ws: Any, step: Step) -> str:
    expect(ws, step)
    if ws.iot.get_topic_rule(ruleName=step.name)["rule"].get("ruleDisabled"):
        return nothing("already disabled")
    ws.iot.disable_topic_rule(ruleName=step.name)
    return "disabled"


def _delete_rule(ws: Any, step: Step) -> str:
    expect(ws, step)
    ws.iot.delete_topic_rule(ruleName=step.name)
    return "deleted"


def _unless_restored(ws: Any, step: Step) -> None:
    """Raise `Already` when the setting is back to its value from before the workshop."""
    if not probe(ws, Item(step.kind, step.name, detail=dict(step.args)), {}).exists:
        raise Already("as before the workshop")


def _restore_indexing(ws: Any, step: Step) -> str:
    before = step.args.get("before")
    if not isinstance(before, dict):
        return nothing("its setting before the workshop is unknown: left as it is")
    _unless_restored(ws, step)
    things, groups = indexing_modes(before)
    ws.iot.update_indexing_configuration(**indexing_request(before))
    return f"things {things}, groups {groups}"


def _restore_log_level(ws: Any, step: Step) -> str:
    target_type, target_name, before = step.args.get("targetType"), step.args.get("targetName"), step.args.get("before")
    if before == L.UNKNOWN_BEFORE:
        return nothing("its level before the workshop is unknown: left as it is")
    _unless_restored(ws, step)
    if before is None:
        if target_type == "DEFAULT":
            return nothing("the default level goes with the logging options")
        ws.iot.delete_v2_logging_level(targetType=target_type, targetName=target_name)
        return "level removed"
    target = {"targetType": target_type, **({"targetName": target_name} if target_name else {})}
    ws.iot.set_v2_logging_level(logTarget=target, logLevel=before)
    return f"back to {before}"


def _restore_logging(ws: Any, step: Step) -> str:
    before = step.args.get("before")
    if before == L.UNKNOWN_BEFORE:
        return nothing("the options before the workshop are unknown: left as they are")
    _unless_restored(ws, step)
    if isinstance(before, dict) and before.get("roleArn"):
        ws.iot.set_v2_logging_options(**before)
        return f"back to {before.get('defaultLogLevel')}"
    try:
        ws.iot.set_v2_logging_options(defaultLogLevel="DISABLED", disableAllLogs=True)
    except Exception as error:  # noqa: BLE001 - [unconfirmed] whether AWS insists on a role here
        role = (L.read_logging(ws.iot, {}) or {}).get("roleArn")
        if error_code(error) != "InvalidRequestException" or not role:
            raise
        ws.iot.set_v2_logging_options(roleArn=role, defaultLogLevel="DISABLED", disableAllLogs=True)
    return "logging off, as before the workshop (AWS has no call to forget the options)"


def _restore_events(ws: Any, step: Step) -> str:
    now = ws.iot.describe_event_configurations().get("eventConfigurations", {})
    changes = {t: before for t, before in step.args["configurations"].items()
               if bool(now.get(t, {}).get("Enabled", False)) != before}
    if not changes:
        return nothing("as before the workshop")
    ws.iot.update_event_configurations(eventConfigurations={t: {"Enabled": v} for t, v in changes.items()})
    on = sorted(t for t, v in changes.items() if v)
    return f"{len(changes)} type(s) back to before the workshop: " + (f"on: {', '.join(on)}" if on else "off")


def _delete_log_group(ws: Any, step: Step) -> str:
    expect(ws, step)
    ws.logs.delete_log_group(logGroupName=step.name)
    return "deleted"


def _delete_object(ws: Any, step: Step) -> str:
    expect(ws, step)
    version = (step.args.get("expect") or {}).get("VersionId")
    ws.s3.delete_object(Bucket=step.args.get("bucket", ""), Key=step.name,
                        **({"VersionId": version} if version else {}))
    return "deleted"


def _empty_bucket(ws: Any, step: Step) -> str:
    """Only with side effects allowed: the objects the dry run listed as not the workshop's."""
    bucket, objects = step.args.get("bucket", ""), step.args.get("objects", [])
    keys = [{"Key": o["Key"], **({"VersionId": o["VersionId"]} if o.get("VersionId") else {})} for o in objects]
    for start in range(0, len(keys), 1000):
        ws.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
    if not keys:
        return nothing("empty already")
    return f"deleted {len(keys)} object(s) that were not the workshop's, as you allowed"


def _stack_failure(ws: Any, stack_id: str, status: str) -> str:
    events = ws.cloudformation.describe_stack_events(StackName=stack_id).get("StackEvents", [])
    failed = [f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason', '')}" for e in events
              if str(e.get("ResourceStatus", "")).endswith("FAILED")][:3]
    return f"the stack ended in {status}" + (f" ({'; '.join(failed)})" if failed else "")


def delete_stack(ws: Any, step: Step, say: Callable[[str], None] = print) -> str:
    expect(ws, step)
    cfn = ws.cloudformation
    stack_id = cfn.describe_stacks(StackName=step.name)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id)
    started = time.monotonic()
    timeout = STACK_TIMEOUT_S.get(ws.backend, STACK_TIMEOUT_S["aws"])
    while True:
        try:
            status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        except Exception as error:
            if not is_gone(error):
                raise
            status = "DELETE_COMPLETE"
        if status == "DELETE_COMPLETE":
            return "deleted"
        if not status.endswith("_IN_PROGRESS"):
            raise RuntimeError(_stack_failure(ws, stack_id, status) + "; see its events in the CloudFormation console")
        waited = time.monotonic() - started
        if waited > timeout:
            raise TimeoutError(f"the stack is still {status} after {timeout:.0f} s; run the clean-up again later, "
                               f"or see its events in the CloudFormation console")
        if waited >= SAY_AFTER_S:
            say(f"waiting for CloudFormation to delete the stack {step.name}: {status} for {waited:.0f} s "
                f"(at most {timeout:.0f} s)")
        time.sleep(0.2 if ws.backend == "local" else 3.0)


def _delete_role(ws: Any, name: str) -> None:
    for policy in all_items(ws.iam, "list_role_policies", "PolicyNames", RoleName=name):
        ws.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in all_items(ws.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
        ws.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    ws.iam.delete_role(RoleName=name)


def _delete_policy_everywhere(ws: Any, name: str) -> None:
    for version in ws.iot.list_policy_versions(policyName=name)["policyVersions"]:
        if not version.get("isDefaultVersion"):
            ws.iot.delete_policy_version(policyName=name, policyVersionId=version["versionId"])
    settled(ws, lambda: ws.iot.delete_policy(policyName=name))


LEFT_BY_STACK = {L.S3_BUCKET: lambda ws, name: ws.s3.delete_bucket(Bucket=name), L.IAM_ROLE: _delete_role,
                 L.POLICY: _delete_policy_everywhere}


def _check_stack_leftover(ws: Any, step: Step) -> str:
    """After DeleteStack: a resource the stack left behind is deleted directly."""
    if not probe(ws, Item(step.kind, step.name), {}).exists:
        return nothing("already gone: removed with the stack")
    LEFT_BY_STACK[step.kind](ws, step.name)
    return "the stack left it behind: deleted it directly"


def _delete_s3_bucket(ws: Any, step: Step) -> str:
    expect(ws, step)
    ws.s3.delete_bucket(Bucket=step.name)
    return "deleted"


def _delete_iam_role(ws: Any, step: Step) -> str:
    expect(ws, step)
    _delete_role(ws, step.name)
    return "deleted, with its policies"


def _simple(call: Callable[[Any, Step], Any]) -> Callable[[Any, Step], str]:
    def action(ws: Any, step: Step) -> str:
        expect(ws, step)
        call(ws, step)
        return "deleted"
    return action


def _delete_local_files(ws: Any, step: Step) -> str:
    gone = 0
    for path in step.args["paths"]:
        try:
            Path(path).unlink()
            gone += 1
        except FileNotFoundError:
            continue
    if not gone:
        raise Already("already gone: no such files any more")
    return f"deleted {gone} of {len(step.args['paths'])} file(s)"


ACTIONS: dict[str, Callable[[Any, Step], str]] = {
    "deprecate thing type": _deprecate_thing_type,
    "cancel job": _cancel_job, "delete job": _delete_job,
    "disable topic rule": _disable_rule, "delete topic rule": _delete_rule,
    "detach policies from certificate": _detach_certificate_policies,
    "detach things from certificate": _detach_certificate_things,
    "deactivate certificate": _deactivate_certificate, "delete certificate": _delete_certificate,
    "remove thing from its groups": _remove_from_groups, "delete shadows": _delete_shadows,
    "delete thing": _delete_thing,
    "detach policies from thing group": _detach_group_policies, "delete thing group": _delete_thing_group,
    "detach policy from its targets": _detach_policy_targets, "delete old policy versions": _delete_policy_versions,
    "delete policy": _delete_policy,
    "deactivate CA certificate": _deactivate_ca,
    "restore fleet indexing": _restore_indexing, "restore log level": _restore_log_level,
    "restore logging options": _restore_logging, "restore event configuration": _restore_events,
    "delete log group": _delete_log_group,
    "delete S3 object": _delete_object, "empty bucket": _empty_bucket, "delete stack": delete_stack,
    "check what the stack left": _check_stack_leftover, "delete local files": _delete_local_files,
    "delete job template": _simple(lambda ws, s: ws.iot.delete_job_template(jobTemplateId=s.name)),
    "delete Lambda function": _simple(lambda ws, s: ws.lambda_.delete_function(FunctionName=s.name)),
    "delete provisioning template": _simple(lambda ws, s: ws.iot.delete_provisioning_template(templateName=s.name)),
    "delete CA certificate": _delete_ca,
    "delete S3 bucket": _delete_s3_bucket, "delete IAM role": _delete_iam_role,
}

__all__ = ["ACTIONS", "Already", "NotOurs", "delete_stack", "expect"]
