"""Set-up steps the chapters share, so that any chapter can be the first (DESIGN principle 6).

    from helpers.catchup import ensure_setup
    table(ensure_setup(ws))            # what 00_setup leaves: stack, v2 logging, registry events

Every function here is safe to call again: it reads the current state first and changes only what
is missing. Each returns a short status line (or rows) for the set-up cell to show. The lessons
still write out the calls they teach; these are the same calls, run quietly for a late joiner.

- `ensure_stack`, `ensure_logging`, `ensure_events`, `ensure_setup`: what chapter 00 leaves.
  In class mode (``not ws.owns_account_settings``) the account-wide ones only check, and raise
  `ClassSettingMissing` naming what the instructor's `python -m helpers.classroom setup` must set.
- `ensure_indexing`: chapter 07's fleet indexing configuration (check-only in class mode).
- `ensure_group_and_type`: the thing group and thing type a provisioning template names (chapter 02).
- `remove_things`: start a chapter afresh (its things and their certificates go, so events fire again).
- `put_policy`: create a policy, or make a changed document its new default version.
- `policy_document`: a policy from ``data/policies/<name>.json`` with its ``{{placeholders}}`` filled.
- `ensure_thing_group`, `ensure_ca`, `things_of_ca`: the thing group and the registered CA that
  chapter 04 (JITP) leaves for chapter 05 (JITR), and the things a CA's certificates belong to.
- `ensure_bulk_devices`: chapter 03's bulk devices, each with its key and certificate (chapter 07 on).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.x509.oid import NameOID

from .ca import CertificateAuthority, load_ca, make_ca, save_ca, verification_certificate
from .certs import read_device, save_device
from .provisioning import (bulk_input, bulk_transients, follow_task, make_devices, task_reports, upload_input,
                           write_certificates)
from .waits import ROLE_NOT_YET_ASSUMABLE, backend_of, retry_while
from .workshop import ClassSettingMissing, ask_instructor

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


def owns_settings(ws: Any) -> bool:
    """May ``ws`` change account-wide settings? (A stand-in without the attribute: yes, as in solo mode.)"""
    return bool(getattr(ws, "owns_account_settings", True))


def logging_options(ws: Any) -> dict:
    """``get_v2_logging_options()``, or ``{}`` when logging was never configured."""
    try:
        return ws.iot.get_v2_logging_options()
    except ClientError as error:
        if error_code(error) != "NotConfiguredException":
            raise
        return {}


def logging_problem(current: Mapping[str, Any], level: str | None = None) -> str:
    """What keeps v2 logging ``current`` from being on (at ``level``, when given): ``""`` when nothing."""
    if not current.get("roleArn"):
        return "v2 logging is not configured (no logging role)"
    if current.get("disableAllLogs"):
        return "v2 logging is switched off (disableAllLogs)"
    if level is not None and current.get("defaultLogLevel") != level:
        return f"the account's default log level is {current.get('defaultLogLevel')}, not {level}"
    return ""


def ensure_logging(ws: Any, level: str = DEFAULT_LOG_LEVEL) -> str:
    """Configure v2 logging with the stack's logging role unless it is on already (level kept).

    Logging switched off (``disableAllLogs``, as the clean-up leaves it) counts as not configured:
    chapter 00 run again after a clean-up switches it back on. Class mode: only checks that logging
    is on (`ClassSettingMissing` when not)."""
    current = logging_options(ws)
    if not owns_settings(ws):
        problem = logging_problem(current)
        if problem:
            raise ClassSettingMissing(ask_instructor(problem))
        return f"on ({current.get('defaultLogLevel')}), set by the instructor"
    if current.get("roleArn") and not current.get("disableAllLogs"):
        return f"already configured ({current.get('defaultLogLevel')})"
    if LOGGING_ROLE_OUTPUT not in ws.stack_outputs:
        ensure_stack(ws)
    # a stack made seconds ago: AWS IoT may not be able to assume its logging role yet
    retry_while(lambda: ws.iot.set_v2_logging_options(roleArn=ws.stack_outputs[LOGGING_ROLE_OUTPUT],
                                                      defaultLogLevel=level, disableAllLogs=False),
                transient=ROLE_NOT_YET_ASSUMABLE, backend=backend_of(ws))
    return f"configured ({level}, role {ws.stack_outputs[LOGGING_ROLE_OUTPUT].split('/')[-1]})"


def ensure_events(ws: Any, event_types: Iterable[str] = EVENT_TYPES) -> str:
    """Enable the registry event types that are not enabled yet (all eleven by default)."""
    wanted = list(event_types)
    configurations = ws.iot.describe_event_configurations().get("eventConfigurations", {})
    missing = disabled_event_types(configurations, wanted)
    if not missing:
        return f"all {len(wanted)} already enabled"
    if not owns_settings(ws):
        raise ClassSettingMissing(ask_instructor(f"registry events are off for {', '.join(missing)}"))
    ws.iot.update_event_configurations(eventConfigurations={t: {"Enabled": True} for t in missing})
    return f"enabled {len(missing)} of {len(wanted)}"


def ensure_setup(ws: Any) -> dict[str, str]:
    """Everything 00_setup leaves behind: ``{step: status}`` for the set-up cell's table, which
    starts with where the chapter runs (backend, mode, prefix)."""
    summary = getattr(ws, "_summary", None)
    return {
        **({"where": summary()["where"]} if callable(summary) else {}),
        "workshop stack": ensure_stack(ws),
        "v2 logging": ensure_logging(ws),
        "registry events": ensure_events(ws),
    }


def _ensure(label: str, describe: Any, create: Any) -> dict[str, str]:
    """``describe()``; when AWS answers ResourceNotFoundException, ``create()``. ``{label: what}``."""
    try:
        describe()
        return {label: "exists"}
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
    create()
    return {label: "created"}


def ensure_group_and_type(ws: Any, group: str, thing_type: str) -> dict[str, str]:
    """Create the thing group and thing type if they do not exist (a provisioning template needs both)."""
    return {
        **ensure_thing_group(ws, group),
        **_ensure(f"thing type {thing_type}", lambda: ws.iot.describe_thing_type(thingTypeName=thing_type),
                  lambda: ws.iot.create_thing_type(thingTypeName=thing_type)),
    }


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


# ------------------------------------------------- bring your own CA (chapters 04 JITP, 05 JITR)

# The subject of the workshop's CA besides its CN (the original workshop typed these into openssl).
CA_SUBJECT = {"country": "DE", "organization": "IoT", "organizational_unit": "Workshop"}


def ensure_thing_group(ws: Any, group: str) -> dict[str, str]:
    """Create the thing group if it does not exist (a template or a JITP CA puts devices in it)."""
    return _ensure(f"thing group {group}", lambda: ws.iot.describe_thing_group(thingGroupName=group),
                   lambda: ws.iot.create_thing_group(thingGroupName=group))


def ensure_ca(ws: Any, name: str, **subject: str) -> tuple[CertificateAuthority, str]:
    """The workshop's own CA of chapter 04, registered with AWS IoT and ACTIVE: ``(ca, status)``.

    The CA saved as ``name`` in the work folder is reused; without one a new CA is made (CN ``name``,
    ``subject`` as for `make_ca`) and saved. A CA that AWS IoT does not know yet is registered with a
    verification certificate for the account's registration code. Auto-registration is left as it is.
    """
    ca = load_ca(ws, name)
    made = ca is None
    if ca is None:
        ca = make_ca(name, **(subject or CA_SUBJECT))
        save_ca(ws, name, ca)
    try:
        status = ws.iot.describe_ca_certificate(certificateId=ca.certificate_id)["certificateDescription"]["status"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        status = None
    if status is None:
        code = ws.iot.get_registration_code()["registrationCode"]
        ws.iot.register_ca_certificate(caCertificate=ca.pem, verificationCertificate=verification_certificate(ca, code),
                                       setAsActive=True)
        return ca, f"{'made and ' if made else ''}registered {ca.certificate_id[:12]}… (ACTIVE)"
    if status != "ACTIVE":
        ws.iot.update_ca_certificate(certificateId=ca.certificate_id, newStatus="ACTIVE")
        return ca, f"{ca.certificate_id[:12]}… was {status}, now ACTIVE"
    return ca, f"{ca.certificate_id[:12]}… registered and ACTIVE"


def things_of_ca(ws: Any, ca_certificate_id: str, name_prefix: str = "", common_name: str | None = None) -> list[str]:
    """The things whose certificates ``ca_certificate_id`` signed (names starting with ``name_prefix``;
    with ``common_name``, only certificates whose subject's CN is that: one device's certificates)."""
    names: list[str] = []
    for page in ws.iot.get_paginator("list_certificates_by_ca").paginate(caCertificateId=ca_certificate_id):
        for certificate in page.get("certificates", []):
            if common_name is not None and _common_name(ws, certificate["certificateId"]) != common_name:
                continue
            for thing in ws.iot.list_principal_things(principal=certificate["certificateArn"]).get("things", []):
                if thing.startswith(name_prefix) and thing not in names:
                    names.append(thing)
    return names


def _common_name(ws: Any, certificate_id: str) -> str:
    pem = ws.iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]["certificatePem"]
    names = x509.load_pem_x509_certificate(pem.encode()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


# ------------------------------------------- chapter 03's bulk devices (for chapter 07 and later)

BULK_TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "provisioning-template.json"
CATCHUP_KEY_KIND = "ec"  # P-256 keys take microseconds to make (chapter 03's RSA keys take a moment each)


def devices_to_provision(
    names: Iterable[str], existing: Iterable[str], with_files: Iterable[str]
) -> tuple[list[str], list[str]]:
    """``(to provision, to remove first)``: a device needs provisioning unless its thing exists *and*
    its key files are in this work folder; a thing without them is removed first (its key is lost)."""
    existing, with_files = set(existing), set(with_files)
    provision = [name for name in names if name not in existing or name not in with_files]
    return provision, [name for name in provision if name in existing]


def bulk_template(group: str, thing_type: str, policy: str, path: Path = BULK_TEMPLATE) -> str:
    """Chapter 03's template: chapter 02's, with the group, type and policy as parameter defaults."""
    template = json.loads(path.read_text())
    for name, value in {"ThingGroupName": group, "ThingTypeName": thing_type, "PolicyName": policy}.items():
        template["Parameters"][name]["Default"] = value
    return json.dumps(template)


def ensure_bulk_devices(ws: Any, prefix: str, count: int = 20, group: str | None = None,
                        thing_type: str | None = None) -> dict[str, str]:
    """Chapter 03's devices ``<prefix>1`` … ``<prefix><count>``, each a thing with its certificate and
    key in the work folder; what is missing is provisioned with one thing registration task.

    ``prefix``, ``group`` and ``thing_type`` are full names (with ``ws.name``); group and type default
    to chapter 03's ``bulk-group`` and ``bulk-type``. Runs `ensure_setup` first. Raises RuntimeError
    when the task does not provision every device.
    """
    status = ensure_setup(ws)
    group, thing_type = group or ws.name("bulk-group"), thing_type or ws.name("bulk-type")
    status.update(ensure_group_and_type(ws, group, thing_type))
    names = [f"{prefix}{n}" for n in range(1, count + 1)]
    wanted = set(names)
    existing = [t["thingName"] for page in ws.iot.get_paginator("list_things").paginate()
                for t in page.get("things", []) if t["thingName"] in wanted]
    with_files = [name for name in names if read_device(ws, name) is not None]
    provision, remove = devices_to_provision(names, existing, with_files)
    label = f"devices {names[0]} … {names[-1]}"
    if not provision:
        status[label] = f"all {count} exist, with their keys"
        return status
    remove_things(ws, remove)
    devices = [make_devices(prefix, 1, key_kind=CATCHUP_KEY_KIND, start=int(name[len(prefix):]))[0]
               for name in provision]
    input_key = f"{prefix}-catchup-input.json"
    upload_input(ws, ws.stack_outputs["S3Bucket"], input_key, bulk_input(devices))
    # one bulk task per account at a time (a classmate's may be running); the stack's role may be new
    task_id = retry_while(lambda: ws.iot.start_thing_registration_task(
        templateBody=bulk_template(group, thing_type, ws.stack_outputs["IoTPolicy"]),
        inputFileBucket=ws.stack_outputs["S3Bucket"], inputFileKey=input_key,
        roleArn=ws.stack_outputs["ArnIoTProvisioningRole"],
    ), transient=bulk_transients(ws), backend=backend_of(ws))["taskId"]
    finished = follow_task(ws, task_id)
    results, errors = task_reports(ws, task_id)
    written = write_certificates(ws, results, devices)
    if finished["status"] != "Completed" or not errors.empty or not written["written"].all():
        raise RuntimeError(f"The catch-up task {task_id} ended {finished['status']} with {len(errors)} error(s); "
                           f"{int(written['written'].sum())} of {len(devices)} devices were provisioned.")
    remade = f" ({len(remove)} without keys here were made anew)" if remove else ""
    status[label] = f"provisioned {len(devices)} of {count}{remade}"
    return status


__all__ = [
    "EVENT_TYPES", "DEFAULT_LOG_LEVEL", "error_code", "disabled_event_types", "fill_placeholders",
    "version_to_prune", "ensure_stack", "ensure_logging", "ensure_events", "ensure_setup",
    "ensure_group_and_type", "remove_things", "put_policy", "policy_document",
    "CA_SUBJECT", "ensure_thing_group", "ensure_ca", "things_of_ca",
    "devices_to_provision", "bulk_template", "ensure_bulk_devices",
]


# ------------------------- chapter 08's building group and its member, and log levels (chapter 09)

BUILDING_POLICY_TEMPLATE = "smart-building-policy"  # data/policies/smart-building-policy.json
BUILDING_TOPICS = "telemetry/building/one"  # each member publishes on <BUILDING_TOPICS>/<its client id>


def ensure_device(ws: Any, thing: str, *, policy: str | None = None, group: str | None = None) -> str:
    """The thing ``thing`` with an ACTIVE certificate whose key file is in the work folder, ``policy``
    attached to the certificate and the thing in ``group`` (both optional): a short status line.

    A thing whose certificate is not in this work folder (or not ACTIVE) is removed with its
    certificate and made anew, as chapter 01 makes a device.
    """
    certificate_arn = _usable_certificate(ws, thing)
    made = certificate_arn is None
    if certificate_arn is None:
        remove_things(ws, [thing])
        ws.iot.create_thing(thingName=thing)
        created = ws.iot.create_keys_and_certificate(setAsActive=True)
        save_device(ws, thing, created["certificatePem"], created["keyPair"]["PrivateKey"])
        certificate_arn = created["certificateArn"]
        del created  # the private key lives only in its 0600 file
        ws.iot.attach_thing_principal(thingName=thing, principal=certificate_arn)
    status = [f"{'made' if made else 'exists'}, certificate {certificate_arn.rsplit('/', 1)[-1][:12]}…"]
    if policy is not None:
        if policy not in _attached_policies(ws, certificate_arn):
            ws.iot.attach_policy(policyName=policy, target=certificate_arn)
        status.append(f"policy {policy} on its certificate")
    if group is not None:
        ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)  # idempotent
        status.append(f"in {group}")
    return ", ".join(status)


def _usable_certificate(ws: Any, thing: str) -> str | None:
    """The ARN of the ACTIVE certificate of ``thing`` whose files are in the work folder, if any."""
    files = read_device(ws, thing)
    if files is None:
        return None
    wanted = files.cert.read_text().strip()
    try:
        principals = ws.iot.list_thing_principals(thingName=thing)["principals"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return None
    for arn in principals:
        if ":cert/" not in arn:
            continue
        description = ws.iot.describe_certificate(certificateId=arn.rsplit("/", 1)[-1])["certificateDescription"]
        if description["certificatePem"].strip() == wanted:
            return arn if description["status"] == "ACTIVE" else None
    return None


def _attached_policies(ws: Any, target: str) -> list[str]:
    return [p["policyName"] for page in ws.iot.get_paginator("list_attached_policies").paginate(target=target)
            for p in page.get("policies", [])]


def ensure_building_group(ws: Any, group: str | None = None, policy: str | None = None, member: str | None = None,
                          topic_prefix: str = BUILDING_TOPICS) -> dict[str, str]:
    """What chapter 08 leaves: the thing group (``building-one``), the policy with ``${iot:ClientId}``
    (``SmartBuilding_Policy``) attached to the group, and a member (``group-member``) whose
    certificate has no policy of its own. Names are full names; the defaults get ``ws.name``."""
    group, policy = group or ws.name("building-one"), policy or ws.name("SmartBuilding_Policy")
    member = member or ws.name("group-member")
    status = ensure_thing_group(ws, group)
    document = policy_document(BUILDING_POLICY_TEMPLATE, region=ws.region, account_id=ws.account_id,
                               topic_prefix=topic_prefix)
    status[f"policy {policy}"] = put_policy(ws, policy, document)
    group_arn = ws.iot.describe_thing_group(thingGroupName=group)["thingGroupArn"]
    attached = policy in _attached_policies(ws, group_arn)
    if not attached:
        ws.iot.attach_policy(policyName=policy, target=group_arn)
    status[f"{policy} on {group}"] = "attached" if attached else "attached now"
    status[f"device {member}"] = ensure_device(ws, member, group=group)
    return status


def ensure_default_log_level(ws: Any, level: str = DEFAULT_LOG_LEVEL) -> str:
    """v2 logging on (`ensure_logging`) with ``level`` as the account's default level, the role kept.

    Logging that was off (never configured, or switched off by a clean-up) is switched on at ``level``
    with the stack's logging role. Class mode: only checks (`ClassSettingMissing`)."""
    if not owns_settings(ws):
        problem = logging_problem(logging_options(ws), level)
        if problem:
            raise ClassSettingMissing(ask_instructor(problem))
        return f"{level}, set by the instructor"
    if not ensure_logging(ws, level).startswith("already"):
        return f"was off, now {level}"
    options = ws.iot.get_v2_logging_options()
    if options.get("defaultLogLevel") == level:
        return f"{level}, as wanted"
    keep = {"eventConfigurations": options["eventConfigurations"]} if options.get("eventConfigurations") else {}
    retry_while(lambda: ws.iot.set_v2_logging_options(roleArn=options["roleArn"], defaultLogLevel=level,
                                                      disableAllLogs=False, **keep),
                transient=ROLE_NOT_YET_ASSUMABLE, backend=backend_of(ws))
    return f"was {options.get('defaultLogLevel')}, now {level}"


# Chapter 07's fleet indexing configuration (`helpers.classroom` sets the same one for a class).
INDEXING_CONFIGURATION = {
    "thingIndexingMode": "REGISTRY_AND_SHADOW",
    "thingConnectivityIndexingMode": "STATUS",
    "customFields": [{"name": "shadow.reported.temperature", "type": "Number"}],
}


def indexing_problem(current: Mapping[str, Any], wanted: Mapping[str, Any] = INDEXING_CONFIGURATION) -> str:
    """What ``current`` (a ``thingIndexingConfiguration``) lacks of ``wanted``: ``""`` when nothing."""
    problems = [f"{key} is {current.get(key, 'OFF')}, not {wanted[key]}" for key in ("thingIndexingMode",
                "thingConnectivityIndexingMode") if key in wanted and current.get(key) != wanted[key]]
    fields = {(f["name"], f["type"]) for f in current.get("customFields", [])}
    problems += [f"the custom field {f['name']} ({f['type']}) is not declared"
                 for f in wanted.get("customFields", []) if (f["name"], f["type"]) not in fields]
    return "; ".join(problems)


def ensure_indexing(ws: Any, wanted: Mapping[str, Any] = INDEXING_CONFIGURATION) -> str:
    """Fleet indexing as chapter 07 needs it (registry and shadow, connectivity, the temperature field).

    Solo mode: sets it when it differs (custom fields already declared are kept). Class mode: only
    checks (`ClassSettingMissing`)."""
    current = ws.iot.get_indexing_configuration().get("thingIndexingConfiguration", {})
    problem = indexing_problem(current, wanted)
    if not problem:
        return "as needed" + (", set by the instructor" if not owns_settings(ws) else "")
    if not owns_settings(ws):
        raise ClassSettingMissing(ask_instructor(f"fleet indexing: {problem}"))
    fields = {(f["name"], f["type"]) for f in wanted.get("customFields", [])}
    kept = [f for f in current.get("customFields", []) if (f["name"], f["type"]) not in fields]
    ws.iot.update_indexing_configuration(thingIndexingConfiguration={
        **wanted, "customFields": list(wanted.get("customFields", [])) + kept})
    return f"switched on (was: {problem})"


def log_targets_present(configurations: Iterable[Mapping[str, Any]],
                        wanted: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(targetType, targetName)`` pairs of ``wanted`` that ``list_v2_logging_levels`` lists."""
    listed = {(c["logTarget"]["targetType"], c["logTarget"].get("targetName")) for c in configurations}
    return [target for target in wanted if target in listed]


def remove_log_levels(ws: Any, targets: Iterable[tuple[str, str]]) -> list[str]:
    """Delete the log levels of those ``(targetType, targetName)`` targets that have one: what was removed."""
    try:
        configurations = [c for page in ws.iot.get_paginator("list_v2_logging_levels").paginate()
                          for c in page.get("logTargetConfigurations", [])]
    except ClientError as error:
        if error_code(error) != "NotConfiguredException":
            raise
        return []  # logging never configured: no levels either
    removed = []
    for target_type, target_name in log_targets_present(configurations, targets):
        ws.iot.delete_v2_logging_level(targetType=target_type, targetName=target_name)
        removed.append(f"{target_type} {target_name}")
    return removed


__all__ += [
    "ClassSettingMissing", "INDEXING_CONFIGURATION", "ensure_indexing", "indexing_problem", "logging_problem",
    "logging_options", "owns_settings",
    "BUILDING_TOPICS", "ensure_building_group", "ensure_default_log_level", "ensure_device",
    "log_targets_present", "remove_log_levels",
]
