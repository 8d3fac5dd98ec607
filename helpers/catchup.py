"""Set-up steps the chapters share, so that any chapter can be the first (DESIGN principle 6).

    from helpers.catchup import ensure_setup
    table(ensure_setup(ws))            # what 00_setup leaves: stack, v2 logging, registry events

Every function here is safe to call again: it reads the current state first and changes only what
is missing. Each returns a short status line (or rows) for the set-up cell to show. The lessons
still write out the calls they teach; these are the same calls, run quietly for a late joiner.

- `ensure_stack`, `ensure_logging`, `ensure_events`, `ensure_setup`: what chapter 00 leaves.
- `ensure_group_and_type`: the thing group and thing type a provisioning template names (chapter 02).
- `remove_things`: start a chapter afresh (its things and their certificates go, so events fire again).
- `put_policy`: create a policy, or make a changed document its new default version.
- `policy_document`: a policy from ``data/policies/<name>.json`` with its ``{{placeholders}}`` filled.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from botocore.exceptions import ClientError

POLICY_FOLDER = Path(__file__).resolve().parents[1] / "data" / "policies"

# The `EventType` enum of the IoT API (botocore's service model); tests/unit/test_catchup.py checks it.
EVENT_TYPES = (
    "THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY", "CERTIFICATE", "CA_CERTIFICATE",
)
DEFAULT_LOG_LEVEL = "WARN"  # the original workshop's "Warnings" verbosity
LOGGING_ROLE_OUTPUT = "ArnIoTLoggingRole"
MAX_POLICY_VERSIONS = 5  # AWS IoT keeps at most five versions of a policy
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# AWS applies detach calls asynchronously; a delete right after may still see the attachment.
DETACH_SETTLE_S = 30.0
DETACH_POLL_S = 1.0


# ------------------------------------------------------------------------------- pure helpers


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError (``""`` for anything else)."""
    return getattr(error, "response", {}).get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def disabled_event_types(configurations: Mapping[str, Mapping[str, Any]], wanted: Iterable[str] = EVENT_TYPES) -> list[str]:
    """The types in ``wanted`` that ``describe_event_configurations()["eventConfigurations"]`` does not enable."""
    return [t for t in wanted if not configurations.get(t, {}).get("Enabled", False)]


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """Replace every ``{{name}}`` in ``text`` by ``values[name]``; a name without a value raises KeyError."""
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise KeyError(f"No value for the placeholder(s) {', '.join(missing)}; pass them as keyword arguments.")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def version_to_prune(versions: list[Mapping[str, Any]], limit: int = MAX_POLICY_VERSIONS) -> str | None:
    """The oldest non-default version id to delete so one more version fits, or None if there is room."""
    if len(versions) < limit:
        return None
    candidates = [str(v["versionId"]) for v in versions if not v.get("isDefaultVersion")]
    return min(candidates, key=int) if candidates else None  # version ids count up: "1", "2", ...


# ------------------------------------------------------------------ what chapter 00 leaves


def ensure_stack(ws: Any) -> str:
    """Deploy the workshop stack if needed (``ws.deploy_stack()`` is idempotent); fills ``ws.stack_outputs``."""
    outputs = ws.deploy_stack()
    return f"{ws.stack_name}: ready, {len(outputs)} outputs"


def ensure_logging(ws: Any, level: str = DEFAULT_LOG_LEVEL) -> str:
    """Configure v2 logging with the stack's logging role unless it is configured already (level kept)."""
    try:
        current = ws.iot.get_v2_logging_options()
    except ClientError as error:
        if error_code(error) != "NotConfiguredException":
            raise
        current = {}
    if current.get("roleArn"):
        return f"already configured ({current.get('defaultLogLevel')})"
    if LOGGING_ROLE_OUTPUT not in ws.stack_outputs:
        ensure_stack(ws)
    ws.iot.set_v2_logging_options(roleArn=ws.stack_outputs[LOGGING_ROLE_OUTPUT], defaultLogLevel=level,
                                  disableAllLogs=False)
    return f"configured ({level}, role {ws.stack_outputs[LOGGING_ROLE_OUTPUT].split('/')[-1]})"


def ensure_events(ws: Any, event_types: Iterable[str] = EVENT_TYPES) -> str:
    """Enable the registry event types that are not enabled yet (all eleven by default)."""
    wanted = list(event_types)
    configurations = ws.iot.describe_event_configurations().get("eventConfigurations", {})
    missing = disabled_event_types(configurations, wanted)
    if not missing:
        return f"all {len(wanted)} already enabled"
    ws.iot.update_event_configurations(eventConfigurations={t: {"Enabled": True} for t in missing})
    return f"enabled {len(missing)} of {len(wanted)}"


def ensure_setup(ws: Any) -> dict[str, str]:
    """Everything 00_setup leaves behind: ``{step: status}`` for the set-up cell's table."""
    return {
        "workshop stack": ensure_stack(ws),
        "v2 logging": ensure_logging(ws),
        "registry events": ensure_events(ws),
    }


def ensure_group_and_type(ws: Any, group: str, thing_type: str) -> dict[str, str]:
    """Create the thing group and thing type if they do not exist (a provisioning template needs both)."""
    status: dict[str, str] = {}
    try:
        ws.iot.describe_thing_group(thingGroupName=group)
        status[f"thing group {group}"] = "exists"
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        ws.iot.create_thing_group(thingGroupName=group)
        status[f"thing group {group}"] = "created"
    try:
        ws.iot.describe_thing_type(thingTypeName=thing_type)
        status[f"thing type {thing_type}"] = "exists"
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        ws.iot.create_thing_type(thingTypeName=thing_type)
        status[f"thing type {thing_type}"] = "created"
    return status


# ------------------------------------------------------------------------- starting afresh


def remove_things(ws: Any, names: Iterable[str]) -> list[dict[str, Any]]:
    """Delete each thing that exists, with the certificates attached only to it; policies stay.

    A certificate is detached from the thing and its policies, set INACTIVE and deleted. One row per
    removed thing: ``{"thing", "certificates removed"}`` (things that do not exist are skipped).
    """
    rows = []
    for name in names:
        try:
            principals = ws.iot.list_thing_principals(thingName=name)["principals"]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                continue
            raise
        removed = 0
        for arn in principals:
            ws.iot.detach_thing_principal(thingName=name, principal=arn)
            if ":cert/" in arn and not _other_things(ws, arn, name):
                _delete_certificate(ws, arn)
                removed += 1
        _settled(lambda: ws.iot.delete_thing(thingName=name))
        rows.append({"thing": name, "certificates removed": removed})
    return rows


def _other_things(ws: Any, certificate_arn: str, name: str) -> list[str]:
    return [t for t in ws.iot.list_principal_things(principal=certificate_arn).get("things", []) if t != name]


def _delete_certificate(ws: Any, certificate_arn: str) -> None:
    for page in ws.iot.get_paginator("list_attached_policies").paginate(target=certificate_arn):
        for policy in page.get("policies", []):
            ws.iot.detach_policy(policyName=policy["policyName"], target=certificate_arn)
    certificate_id = certificate_arn.rsplit("/", 1)[-1]
    ws.iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
    _settled(lambda: ws.iot.delete_certificate(certificateId=certificate_id))


def _settled(call: Any, timeout: float = DETACH_SETTLE_S) -> Any:
    """Run ``call``, retrying while AWS still sees an attachment that was just removed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ClientError as error:
            if error_code(error) not in ("DeleteConflictException", "InvalidRequestException") or time.monotonic() > deadline:
                raise
        time.sleep(DETACH_POLL_S)


# -------------------------------------------------------------------------------- policies


def policy_document(name: str, folder: Path = POLICY_FOLDER, **values: Any) -> dict:
    """``<folder>/<name>.json`` with its ``{{placeholders}}`` filled from ``values``, parsed."""
    path = folder / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.json"))) or "none"
        raise FileNotFoundError(f"No policy template {path}; the templates are: {known}.")
    return json.loads(fill_placeholders(path.read_text(), values))


def put_policy(ws: Any, name: str, document: Mapping[str, Any] | str) -> str:
    """Create the policy, or make ``document`` its default version if it differs: ``created|updated|unchanged``.

    When the policy already has five versions the oldest non-default one is deleted first.
    """
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    try:
        ws.iot.create_policy(policyName=name, policyDocument=text)
        return "created"
    except ClientError as error:
        if error_code(error) != "ResourceAlreadyExistsException":
            raise
    if json.loads(ws.iot.get_policy(policyName=name)["policyDocument"]) == json.loads(text):
        return "unchanged"
    stale = version_to_prune(ws.iot.list_policy_versions(policyName=name)["policyVersions"])
    if stale is not None:
        ws.iot.delete_policy_version(policyName=name, policyVersionId=stale)
    version = ws.iot.create_policy_version(policyName=name, policyDocument=text, setAsDefault=True)
    return f"updated (version {version['policyVersionId']})"


__all__ = [
    "EVENT_TYPES", "DEFAULT_LOG_LEVEL", "error_code", "disabled_event_types", "fill_placeholders",
    "version_to_prune", "ensure_stack", "ensure_logging", "ensure_events", "ensure_setup",
    "ensure_group_and_type", "remove_things", "put_policy", "policy_document",
]
