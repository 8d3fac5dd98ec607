"""Clean-up: remove what the workshop created, in an order AWS accepts, and nothing else.

    found = inventory(ws)                    # what the ledger names, as it is now
    steps = plan(ws, found)                  # ordered steps (a pure function of the inventory)
    run(ws, steps)                           # dry run: what would happen
    run(ws, steps, dry_run=False)            # the deletion, with a progress bar
    leftovers(ws)                            # what is still there (should be nothing)

The safety rule: a resource is deleted only if the ledger (`helpers.ledger`) recorded it, or it
derives from something the ledger recorded (a bulk task's things and certificates, the device
certificates of a CA the workshop registered and the things attached to them, the resources of
the workshop's stack), AND its name carries the workshop's prefix ``ws.prefix`` (when the prefix is
empty, the ledger alone decides). Names chosen by AWS (certificate ids) carry no prefix and are
decided by the ledger alone. Settings the workshop changed (registry events, logging, fleet
indexing) are put back to their value from before the workshop's first change.

Every step is idempotent: a resource that is gone already is "already gone", never an error, so
the clean-up can be run again after an interruption.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import ledger as L
from .certs import certificate_id
from .ui import Progress

LOCAL_FILE = "local file"
ID_KINDS = (L.CERTIFICATE, L.CA_CERTIFICATE)  # AWS chooses these names: no prefix to check
# AWS deletes a thing type only this long after its deprecation (docs: "5 minutes").
THING_TYPE_DELETE_DELAY_S = 300
THING_TYPE_PATIENCE_S = 360  # how long `run` waits for that moment before leaving a clear message
SETTLE_S = 30.0  # AWS applies detach calls asynchronously; deletes right after are retried this long
POLL_S = 1.0
STACK_TIMEOUT_S = 900
PROBE_THREADS = 8
STACK_RESOURCE_KINDS = {"AWS::S3::Bucket": L.S3_BUCKET, "AWS::IoT::Policy": L.POLICY, "AWS::IAM::Role": L.IAM_ROLE}
HEX_ID = re.compile(r"[0-9a-f]{64}")
GONE_CODES = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchKey", "NoSuchBucket", "404", "NotFound"}
COLUMNS = ["kind", "name", "id", "chapter", "created", "exists", "status", "dependencies", "source", "delete",
           "note", "arn", "detail", "deps"]
RESULT_COLUMNS = ["step", "action", "kind", "name", "calls", "result", "detail"]


# ------------------------------------------------------------------------------ the safety rule


def carries_prefix(kind: str, name: str, prefix: str) -> bool:
    """Does ``name`` start with the workshop's prefix? Always true without a prefix, for ids AWS
    chose, for settings and local files. Topic rule names allow only ``[A-Za-z0-9_]``, so for them
    the prefix with other characters replaced by ``_`` counts too."""
    if not prefix or kind in ID_KINDS or kind in L.SETTINGS or kind == LOCAL_FILE:
        return True
    variants = (prefix, re.sub(r"[^A-Za-z0-9_]", "_", prefix)) if kind == L.TOPIC_RULE else (prefix,)
    return name.startswith(variants)


def decide(kind: str, name: str, prefix: str, stack_name: str, by_stack: bool = False) -> tuple[bool, str]:
    """``(may delete, why not)`` for a resource that the ledger recorded or that derives from it."""
    if kind == L.STACK and name != stack_name:
        return False, f"not the workshop's stack ({stack_name})"
    if by_stack:
        return True, ""
    if not carries_prefix(kind, name, prefix):
        return False, f"kept: the name does not start with the workshop's prefix {prefix!r}"
    return True, ""


# ------------------------------------------------------------------------------- error helpers


def error_code(error: BaseException) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) if hasattr(error, "response") else ""


def is_gone(error: BaseException) -> bool:
    """Does this error say that the resource does not exist?"""
    return error_code(error) in GONE_CODES or "does not exist" in str(error)


def describe_error(error: BaseException) -> str:
    code = error_code(error) or type(error).__name__
    message = getattr(error, "response", {}).get("Error", {}).get("Message", "") if hasattr(error, "response") else ""
    return f"{code}: {message or str(error)}"[:300]


def _all(client: Any, operation: str, key: str, **kwargs: Any) -> list:
    """Every item of a listing, following pages when boto3 has a paginator for it."""
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return list(getattr(client, operation)(**kwargs).get(key, []))


def _settled(call: Callable[[], Any], timeout: float = SETTLE_S) -> Any:
    """Run ``call``, retrying while AWS still sees an attachment that was just removed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception as error:
            if error_code(error) not in ("DeleteConflictException", "InvalidRequestException") or time.monotonic() > deadline:
                raise
        time.sleep(POLL_S)


# ----------------------------------------------------------------------------------- inventory


@dataclass
class Item:
    """One resource (or setting, or local file) the workshop is responsible for."""

    kind: str
    name: str
    arn: str = ""
    chapter: str = ""
    created: str = ""
    source: str = "ledger"
    detail: dict = field(default_factory=dict)
    exists: bool = False
    status: str = ""
    deps: dict = field(default_factory=dict)
    delete: bool = False
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name


def _items_from_ledger(entries: list[L.Entry]) -> list[Item]:
    """One item per recorded resource (the first record wins), one per changed setting."""
    items: dict[tuple[str, str], Item] = {}
    shadows: dict[str, set[str]] = {}
    for entry in entries:
        if entry.kind in L.SETTINGS or entry.kind == L.BULK_TASK:
            continue
        if entry.kind == L.SHADOW:
            shadows.setdefault(entry.name, set()).add(entry.detail.get("shadowName", ""))
            continue
        items.setdefault((entry.kind, entry.name), Item(entry.kind, entry.name, entry.arn, entry.chapter,
                                                       entry.time, detail=dict(entry.detail)))
    for (kind, name), first in L.settings_baseline(entries).items():
        last = [e for e in entries if (e.kind, e.name) == (kind, name)][-1]
        items[(kind, name)] = Item(kind, name, chapter=first.chapter, created=first.time, source="ledger (setting)",
                                   detail={**last.detail, "before": first.detail.get("before")})
    for thing, names in shadows.items():
        if (L.THING, thing) in items:
            items[(L.THING, thing)].detail["shadows"] = sorted(names - {""})
    return list(items.values())


def _bulk_items(ws: Any, entries: list[L.Entry]) -> list[Item]:
    """The things and certificates of every bulk registration task the workshop started."""
    from .provisioning import fetch_report, report_links, result_rows

    items = []
    for task in (e for e in entries if e.kind == L.BULK_TASK):
        try:
            lines = [line for url in report_links(ws, task.name, "RESULTS") for line in fetch_report(url)]
        except Exception as error:  # noqa: BLE001 - a task AWS no longer knows has nothing left to list
            if is_gone(error):
                continue
            raise
        source = f"bulk task {task.name[:8]}…"
        for row in result_rows(lines):
            if row["thing_name"]:
                items.append(Item(L.THING, row["thing_name"], chapter=task.chapter, created=task.time, source=source))
            if row["certificate_id"]:
                items.append(Item(L.CERTIFICATE, row["certificate_id"], row["certificate_arn"] or "",
                                  task.chapter, task.time, source=source))
    return items


def _ca_items(ws: Any, cas: list[Item]) -> list[Item]:
    """The device certificates registered (JITP/JITR) under the workshop's CA certificates."""
    items = []
    for ca in cas:
        try:
            listed = _all(ws.iot, "list_certificates_by_ca", "certificates", caCertificateId=ca.name)
        except Exception as error:  # noqa: BLE001 - nothing to derive from a CA AWS does not know
            if is_gone(error):
                continue
            raise
        for cert in listed:
            items.append(Item(L.CERTIFICATE, cert["certificateId"], cert["certificateArn"], ca.chapter, ca.created,
                              source=f"CA {ca.name[:8]}…", detail={"ca": ca.name}))
    return items


def _attached_to_ca_certificates(ws: Any, certs: list[Item], cas: Mapping[str, Item], known: set) -> list[Item]:
    """Things and policies that JITP/JITR attached to device certificates of the workshop's CAs.

    A policy counts only if it is attached to nothing but such certificates and, when AWS says
    when it was made, was made after the CA was registered: a policy that a template merely names
    (yours, or the stack's) is not the CA's to take along.
    """
    ca_certs = [c for c in certs if c.detail.get("ca") in cas and c.exists]
    arns = {c.arn for c in ca_certs}
    items = []
    for cert in ca_certs:
        ca = cas[cert.detail["ca"]]
        source = f"attached to a certificate of CA {ca.name[:8]}…"
        items += [Item(L.THING, thing, chapter=ca.chapter, created=ca.created, source=source)
                  for thing in cert.deps.get("things", []) if (L.THING, thing) not in known]
        for policy in cert.deps.get("policies", []):
            if (L.POLICY, policy) in known or policy in {i.name for i in items if i.kind == L.POLICY}:
                continue
            if not set(_all(ws.iot, "list_targets_for_policy", "targets", policyName=policy)) <= arns:
                continue
            created = ws.iot.get_policy(policyName=policy).get("creationDate")
            if created is None or not ca.created or created >= datetime.fromisoformat(ca.created):
                items.append(Item(L.POLICY, policy, chapter=ca.chapter, created=ca.created, source=source))
    return items


def _stack_items(ws: Any, stack: Item) -> list[Item]:
    """The resources of the workshop's stack: deleted with it, checked after."""
    try:
        resources = ws.cloudformation.describe_stack_resources(StackName=stack.name)["StackResources"]
    except Exception:  # noqa: BLE001 - a stack that is gone has no resources to list
        return []
    return [Item(STACK_RESOURCE_KINDS[r["ResourceType"]], r["PhysicalResourceId"], chapter=stack.chapter,
                 created=stack.created, source=f"stack {stack.name}", detail={"by_stack": True})
            for r in resources if r["ResourceType"] in STACK_RESOURCE_KINDS and r.get("PhysicalResourceId")]


# -- probes: does it exist, in which state, what hangs on it (each sets item.exists/status/deps)


def _probe_thing(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing(thingName=item.name)
    item.arn = item.arn or described.get("thingArn", "")
    item.detail.setdefault("thingId", described.get("thingId", ""))
    item.deps = {"certificates": _all(ws.iot, "list_thing_principals", "principals", thingName=item.name),
                 "groups": [g["groupName"] for g in _all(ws.iot, "list_thing_groups_for_thing", "thingGroups",
                                                          thingName=item.name)]}
    item.status = f"type {described['thingTypeName']}" if described.get("thingTypeName") else ""


def _probe_thing_type(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing_type(thingTypeName=item.name)
    meta = described.get("thingTypeMetadata", {})
    item.arn = item.arn or described.get("thingTypeArn", "")
    item.detail["deprecated"] = bool(meta.get("deprecated"))
    if meta.get("deprecationDate"):
        item.detail["deprecationDate"] = meta["deprecationDate"].isoformat()
    item.status = "deprecated" if meta.get("deprecated") else "active"
    item.deps = {"things": [t["thingName"] for t in ws.iot.list_things(thingTypeName=item.name).get("things", [])]}


def _probe_thing_group(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_thing_group(thingGroupName=item.name)
    meta = described.get("thingGroupMetadata", {})
    item.arn = described.get("thingGroupArn", item.arn)
    item.detail.update(depth=len(meta.get("rootToParentThingGroups", []) or []),
                       dynamic=bool(described.get("queryString")))
    item.status = "dynamic" if described.get("queryString") else "static"
    item.deps = {"parent": meta.get("parentGroupName", ""),
                 "policies": [p["policyName"] for p in _all(ws.iot, "list_attached_policies", "policies",
                                                             target=item.arn)]}


def _probe_certificate(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_certificate(certificateId=item.name)["certificateDescription"]
    item.arn = described["certificateArn"]
    item.status = described["status"]
    if described.get("caCertificateId"):
        item.detail["ca"] = described["caCertificateId"]
    item.deps = {"things": _all(ws.iot, "list_principal_things", "things", principal=item.arn),
                 "policies": [p["policyName"] for p in _all(ws.iot, "list_attached_policies", "policies",
                                                             target=item.arn)]}


def _probe_policy(ws: Any, item: Item, cache: dict) -> None:
    ws.iot.get_policy(policyName=item.name)
    versions = ws.iot.list_policy_versions(policyName=item.name)["policyVersions"]
    item.deps = {"targets": _all(ws.iot, "list_targets_for_policy", "targets", policyName=item.name),
                 "versions": len(versions)}
    item.status = f"{len(versions)} version(s)"


def _probe_ca(ws: Any, item: Item, cache: dict) -> None:
    described = ws.iot.describe_ca_certificate(certificateId=item.name)["certificateDescription"]
    item.arn = described.get("certificateArn", item.arn)
    item.status = f"{described['status']}, auto-registration {described.get('autoRegistrationStatus', '?')}"


def _probe_rule(ws: Any, item: Item, cache: dict) -> None:
    rule = ws.iot.get_topic_rule(ruleName=item.name)["rule"]
    item.status = "disabled" if rule.get("ruleDisabled") else "enabled"
    item.deps = {"functions": [a["lambda"]["functionArn"].split(":")[-1]
                               for a in rule.get("actions", []) if "lambda" in a]}


def _probe_function(ws: Any, item: Item, cache: dict) -> None:
    item.status = ws.lambda_.get_function(FunctionName=item.name)["Configuration"].get("Runtime", "")


def _probe_job(ws: Any, item: Item, cache: dict) -> None:
    item.status = ws.iot.describe_job(jobId=item.name)["job"]["status"]
    if item.status == "DELETION_IN_PROGRESS":
        raise _Gone("being deleted")


def _probe_job_template(ws: Any, item: Item, cache: dict) -> None:
    ws.iot.describe_job_template(jobTemplateId=item.name)


def _probe_provisioning_template(ws: Any, item: Item, cache: dict) -> None:
    item.status = "enabled" if ws.iot.describe_provisioning_template(templateName=item.name).get("enabled") else "disabled"


def _probe_object(ws: Any, item: Item, cache: dict) -> None:
    item.status = f"{ws.s3.head_object(Bucket=item.detail.get('bucket', ''), Key=item.name)['ContentLength']} bytes"


def _probe_bucket(ws: Any, item: Item, cache: dict) -> None:
    ws.s3.head_bucket(Bucket=item.name)
    item.deps = {"objects": ws.s3.list_objects_v2(Bucket=item.name).get("KeyCount", 0)}


def _probe_stack(ws: Any, item: Item, cache: dict) -> None:
    stack = ws.cloudformation.describe_stacks(StackName=item.name)["Stacks"][0]
    item.status = stack["StackStatus"]
    if item.status == "DELETE_COMPLETE":
        raise _Gone("deleted")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    item.detail["bucket"] = outputs.get("S3Bucket", "")


def _probe_role(ws: Any, item: Item, cache: dict) -> None:
    ws.iam.get_role(RoleName=item.name)


def _probe_events(ws: Any, item: Item, cache: dict) -> None:
    if "events" not in cache:
        cache["events"] = ws.iot.describe_event_configurations().get("eventConfigurations", {})
    now = bool(cache["events"].get(item.name, {}).get("Enabled", False))
    before = item.detail.get("before")
    item.status = f"now {'on' if now else 'off'}, before the workshop {_setting(before, on_off=True)}"
    if before in (True, False) and now == before:
        raise _Gone("as before the workshop")


def _probe_log_level(ws: Any, item: Item, cache: dict) -> None:
    wanted = (item.detail.get("targetType", ""), item.detail.get("targetName", ""))
    try:
        rows = _all(ws.iot, "list_v2_logging_levels", "logTargetConfigurations", targetType=wanted[0])
    except Exception as error:
        if error_code(error) != "NotConfiguredException":
            raise
        rows = []
    now = next((r.get("logLevel") for r in rows
                if (r["logTarget"].get("targetType"), r["logTarget"].get("targetName", "")) == wanted), None)
    before = item.detail.get("before")
    item.status = f"now {now or 'not set'}, before the workshop {_setting(before)}"
    if now == before:
        raise _Gone("as before the workshop")


def _probe_logging(ws: Any, item: Item, cache: dict) -> None:
    now = L.read_logging(ws.iot, {})
    before = item.detail.get("before")
    off = now is None or now.get("disableAllLogs") or now.get("defaultLogLevel") == "DISABLED"
    item.status = ("now off" if off else f"now {now.get('defaultLogLevel')}") + f", before the workshop {_setting(before)}"
    if (before is None and off) or (isinstance(before, dict) and now is not None
                                    and all(now.get(k) == v for k, v in before.items())):
        raise _Gone("as before the workshop")


def _indexing_modes(configuration: Mapping | None) -> tuple[str, str]:
    configuration = configuration or {}
    return (configuration.get("thingIndexingConfiguration", {}).get("thingIndexingMode", "OFF"),
            configuration.get("thingGroupIndexingConfiguration", {}).get("thingGroupIndexingMode", "OFF"))


def _probe_indexing(ws: Any, item: Item, cache: dict) -> None:
    now = _indexing_modes(L.read_indexing(ws.iot, {}))
    before = item.detail.get("before")
    was = "things {}, groups {}".format(*_indexing_modes(before)) if isinstance(before, dict) else _setting(before)
    item.status = f"now things {now[0]}, groups {now[1]}; before the workshop {was}"
    if isinstance(before, dict) and _indexing_modes(before) == now:
        raise _Gone("as before the workshop")


def _probe_files(ws: Any, item: Item, cache: dict) -> None:
    if not Path(item.detail["path"]).exists():
        raise _Gone("deleted")


def _setting(value: Any, on_off: bool = False) -> str:
    if value == L.UNKNOWN_BEFORE:
        return "unknown"
    if value is None:
        return "not set"
    if on_off:
        return "on" if value else "off"
    return str(value)


class _Gone(Exception):
    """A probe found the resource gone (or the setting as it was) in a way that is not an AWS error."""


PROBES: dict[str, Callable[[Any, Item, dict], None]] = {
    L.THING: _probe_thing, L.THING_TYPE: _probe_thing_type, L.THING_GROUP: _probe_thing_group,
    L.CERTIFICATE: _probe_certificate, L.POLICY: _probe_policy, L.CA_CERTIFICATE: _probe_ca,
    L.TOPIC_RULE: _probe_rule, L.FUNCTION: _probe_function, L.JOB: _probe_job, L.JOB_TEMPLATE: _probe_job_template,
    L.PROVISIONING_TEMPLATE: _probe_provisioning_template, L.S3_OBJECT: _probe_object, L.S3_BUCKET: _probe_bucket,
    L.STACK: _probe_stack, L.IAM_ROLE: _probe_role, L.EVENT_CONFIGURATION: _probe_events,
    L.LOG_LEVEL: _probe_log_level, L.LOGGING: _probe_logging, L.FLEET_INDEXING: _probe_indexing,
    LOCAL_FILE: _probe_files,
}


def _probe(ws: Any, item: Item, cache: dict) -> Item:
    probe = PROBES.get(item.kind)
    if probe is None:
        item.status = "not checked"
        return item
    try:
        probe(ws, item, cache)
        item.exists = True
    except _Gone as gone:
        item.exists, item.status = False, str(gone)
    except Exception as error:  # noqa: BLE001 - botocore ClientError and friends
        if is_gone(error):
            item.exists, item.status = False, "gone"
        else:
            item.exists, item.status = True, f"could not check: {describe_error(error)}"
    return item


def _probe_all(ws: Any, items: list[Item], cache: dict) -> None:
    if "events" not in cache and any(i.kind == L.EVENT_CONFIGURATION for i in items):
        _probe(ws, next(i for i in items if i.kind == L.EVENT_CONFIGURATION), cache)  # fills the cache once
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        list(pool.map(lambda item: _probe(ws, item, cache), items))


# -- local files: certificates of deleted certificates/CAs, and the private keys that match them


def _certificates_in(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (ValueError, OSError):
        return []


def _public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def local_files(work_dir: Path, certificate_ids: set[str], keep: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """``(path, what)`` for each file under ``work_dir`` holding one of these certificates, and each
    private key belonging to one of them. Files in ``keep`` (the ledger, a root CA) never count."""
    keep = {Path(p).resolve() for p in keep}
    files = [p for p in sorted(Path(work_dir).rglob("*")) if p.is_file() and p.resolve() not in keep]
    found, public_keys = [], {}
    for path in files:
        if path.suffix.lower() not in (".crt", ".pem", ".cert"):
            continue
        certs = _certificates_in(path)
        ids = {certificate_id(c.public_bytes(serialization.Encoding.PEM)) for c in certs}
        if ids & certificate_ids:
            found.append((path, "certificate"))
            public_keys.update({_public_der(c.public_key()): path for c in certs
                                if certificate_id(c.public_bytes(serialization.Encoding.PEM)) in certificate_ids})
    for path in files:
        if path.suffix.lower() != ".key":
            continue
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, OSError):
            continue
        if _public_der(key.public_key()) in public_keys:
            found.append((path, "private key"))
    return found


def _file_items(ws: Any, items: list[Item]) -> list[Item]:
    ids = {i.name for i in items if i.kind in ID_KINDS}
    keep = [L.ledger_path(ws), Path(ws.root_ca)]
    return [Item(LOCAL_FILE, str(path.relative_to(ws.work_dir)), source="matches a ledger certificate",
                 detail={"path": str(path), "what": what})
            for path, what in local_files(Path(ws.work_dir), ids, keep)]


# -- the inventory


def _id(item: Item) -> str:
    if item.kind in ID_KINDS:
        return item.name
    return item.detail.get("thingId") or item.arn


def _cut_ids(text: str) -> str:
    """``text`` with every 64-hex certificate id in it cut to 12 characters."""
    return HEX_ID.sub(lambda m: m.group()[:12] + "…", text)


def _short(value: str) -> str:
    """An ARN's last part, certificate ids cut."""
    return _cut_ids(str(value).rsplit("/", 1)[-1])


def _dependencies(item: Item) -> str:
    parts = []
    for key, value in item.deps.items():
        if isinstance(value, list):
            if value:
                parts.append(f"{key}: " + ", ".join(map(_short, value[:3])) + (f" (+{len(value) - 3})" if len(value) > 3 else ""))
        elif value not in ("", 0, None):
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _frame(items: list[Item]) -> Any:
    import pandas as pd

    rows = [{**asdict(i), "id": _id(i), "dependencies": _dependencies(i)} for i in items]
    return pd.DataFrame(rows, columns=COLUMNS).astype({"exists": bool, "delete": bool})


def _add(items: list[Item], new: Iterable[Item], known: set) -> list[Item]:
    """The items of ``new`` not seen before (recorded in ``known``), appended to ``items``."""
    added = []
    for item in new:
        if item.key not in known:
            known.add(item.key)
            added.append(item)
    items += added
    return added


def _decide_all(ws: Any, items: list[Item]) -> None:
    for item in items:
        allowed, why = decide(item.kind, item.name, ws.prefix, ws.stack_name, bool(item.detail.get("by_stack")))
        if allowed and item.kind in L.SETTINGS and item.detail.get("before") == L.UNKNOWN_BEFORE:
            allowed, why = False, "kept: its value before the workshop is unknown"
        item.delete, item.note = item.exists and allowed, (why if item.exists else "")


def inventory(ws: Any, progress: bool = True) -> Any:
    """Everything the ledger says the workshop created or changed, as it is now: a DataFrame with
    kind, name, id, chapter, created, exists, status, dependencies, source, delete (will the
    clean-up remove or restore it), note (why not), arn, detail, deps."""
    bar = Progress(4, "inventory") if progress else None
    entries = [e for e in L.read(ws) if e.region in ("", ws.region)]
    items: list[Item] = []
    known: set = set()
    _add(items, _items_from_ledger(entries), known)
    _add(items, _bulk_items(ws, entries), known)
    cas = {i.name: i for i in items if i.kind == L.CA_CERTIFICATE}
    _add(items, _ca_items(ws, list(cas.values())), known)
    if bar:
        bar.update(1, f"{len(items)} resources in the ledger")
    cache: dict = {}
    _probe_all(ws, items, cache)
    if bar:
        bar.update(2, "checked which still exist")
    stacks = [i for i in items if i.kind == L.STACK and i.exists and i.name == ws.stack_name]
    more = _add(items, [r for stack in stacks for r in _stack_items(ws, stack)], known)
    more += _add(items, _attached_to_ca_certificates(ws, [i for i in items if i.kind == L.CERTIFICATE], cas, known),
                 known)
    _probe_all(ws, more, cache)
    if bar:
        bar.update(3, "looked for key files")
    _probe_all(ws, _add(items, _file_items(ws, items), known), cache)
    _decide_all(ws, items)
    if bar:
        bar.close(f"{len(items)} resources, {sum(i.exists for i in items)} still there, "
                  f"{sum(i.delete for i in items)} to clean up")
    return _frame(items)


def view(frame: Any, columns: Iterable[str] | None = None, rows: int = 40, width: int = 70) -> Any:
    """The first ``rows`` rows of an inventory or result table, for reading: certificate ids cut to
    12 characters, long texts to ``width``."""
    shown = frame[list(columns)] if columns is not None else frame

    def cut(value: Any) -> Any:
        if isinstance(value, str):
            value = _cut_ids(value)
            return value if len(value) <= width else value[: width - 1] + "…"
        return value

    return shown.head(rows).map(cut) if len(shown) else shown


def summary(found: Any) -> Any:
    """Per kind and source: how many the ledger names, how many still exist, how many the clean-up
    removes or keeps, and a few of their names."""
    import pandas as pd

    columns = ["kind", "source", "recorded", "still there", "to clean up", "kept", "names"]
    if found.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (kind, source), group in found.groupby(["kind", "source"], sort=False):
        there = group[group["exists"]]
        shown = [_short(name) for name in (there if len(there) else group)["name"]]
        rows.append({"kind": kind, "source": source, "recorded": len(group), "still there": len(there),
                     "to clean up": int(group["delete"].sum()), "kept": len(there) - int(group["delete"].sum()),
                     "names": ", ".join(shown[:3]) + (f" (+{len(shown) - 3})" if len(shown) > 3 else "")})
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Step:
    """One call (or a small group of calls) of the clean-up."""

    action: str
    kind: str
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


# The order of the clean-up: each action only once everything that blocks it is gone.
ORDER = [
    "deprecate thing type",
    "cancel job", "delete job", "delete job template",
    "disable topic rule", "delete topic rule",
    "delete Lambda function",
    "detach policies from certificate", "detach things from certificate", "deactivate certificate",
    "delete certificate",
    "remove thing from its groups", "delete shadows", "delete thing",
    "detach policies from thing group", "delete thing group",
    "delete thing type",
    "detach policy from its targets", "delete old policy versions", "delete policy",
    "delete provisioning template",
    "deactivate CA certificate", "delete CA certificate",
    "restore fleet indexing", "restore log level", "restore logging options",
    "delete S3 object", "empty bucket", "delete stack", "check what the stack left",
    "delete S3 bucket", "delete IAM role",
    "delete local files",
    "restore event configuration",
]

# What each action calls (shown in the dry run).
CALLS = {
    "deprecate thing type": "iot.deprecate_thing_type",
    "cancel job": "iot.cancel_job(force=True)", "delete job": "iot.delete_job(force=True)",
    "delete job template": "iot.delete_job_template",
    "disable topic rule": "iot.disable_topic_rule", "delete topic rule": "iot.delete_topic_rule",
    "delete Lambda function": "lambda.delete_function",
    "detach policies from certificate": "iot.detach_policy", "detach things from certificate": "iot.detach_thing_principal",
    "deactivate certificate": "iot.update_certificate(newStatus='INACTIVE')",
    "delete certificate": "iot.delete_certificate",
    "remove thing from its groups": "iot.remove_thing_from_thing_group",
    "delete shadows": "iot-data.delete_thing_shadow", "delete thing": "iot.delete_thing",
    "detach policies from thing group": "iot.detach_policy", "delete thing group": "iot.delete_thing_group",
    "delete thing type": "iot.delete_thing_type",
    "detach policy from its targets": "iot.detach_policy", "delete old policy versions": "iot.delete_policy_version",
    "delete policy": "iot.delete_policy",
    "delete provisioning template": "iot.delete_provisioning_template",
    "deactivate CA certificate": "iot.update_ca_certificate(newStatus='INACTIVE')",
    "delete CA certificate": "iot.delete_ca_certificate",
    "restore fleet indexing": "iot.update_indexing_configuration",
    "restore log level": "iot.delete_v2_logging_level / set_v2_logging_level",
    "restore logging options": "iot.set_v2_logging_options",
    "delete S3 object": "s3.delete_object", "empty bucket": "s3.delete_objects",
    "delete stack": "cloudformation.delete_stack", "check what the stack left": "(describe; delete if left)",
    "delete S3 bucket": "s3.delete_bucket", "delete IAM role": "iam.delete_role",
    "delete local files": "(files in the work folder)",
    "restore event configuration": "iot.update_event_configurations",
}


def _records(found: Any) -> list[dict]:
    if hasattr(found, "to_dict") and hasattr(found, "columns"):
        return found.to_dict("records")
    return [dict(r) for r in found]


def _steps_for(row: Mapping[str, Any]) -> list[Step]:
    """The steps that remove (or restore) one inventory row, in ``ORDER``'s terms."""
    kind, name, detail, deps = row["kind"], row["name"], row.get("detail") or {}, row.get("deps") or {}
    arn = row.get("arn", "")
    if detail.get("by_stack"):
        return [Step("check what the stack left", kind, name, {"stack_kind": kind})]
    if kind == L.THING_TYPE:
        steps = [] if detail.get("deprecated") else [Step("deprecate thing type", kind, name)]
        return steps + [Step("delete thing type", kind, name, {"deprecationDate": detail.get("deprecationDate")},
                             "AWS deletes a thing type only 5 minutes after its deprecation")]
    if kind == L.JOB:
        steps = [Step("cancel job", kind, name)] if row.get("status") in ("IN_PROGRESS", "SCHEDULED") else []
        return steps + [Step("delete job", kind, name)]
    if kind == L.TOPIC_RULE:
        steps = [Step("disable topic rule", kind, name)] if row.get("status") != "disabled" else []
        return steps + [Step("delete topic rule", kind, name)]
    if kind == L.CERTIFICATE:
        return [Step("detach policies from certificate", kind, name, {"arn": arn}, ", ".join(deps.get("policies", []))),
                Step("detach things from certificate", kind, name, {"arn": arn}, ", ".join(deps.get("things", []))),
                Step("deactivate certificate", kind, name),
                Step("delete certificate", kind, name, {"force": bool(detail.get("ca"))},
                     "forceDelete: issued by the workshop's CA" if detail.get("ca") else "")]
    if kind == L.THING:
        return [Step("remove thing from its groups", kind, name, {}, ", ".join(deps.get("groups", []))),
                Step("delete shadows", kind, name, {"shadows": list(detail.get("shadows", []))}),
                Step("delete thing", kind, name)]
    if kind == L.THING_GROUP:
        return [Step("detach policies from thing group", kind, name, {"arn": arn}, ", ".join(deps.get("policies", []))),
                Step("delete thing group", kind, name, {"depth": int(detail.get("depth", 0) or 0),
                                                        "dynamic": bool(detail.get("dynamic"))})]
    if kind == L.POLICY:
        return [Step("detach policy from its targets", kind, name),
                Step("delete old policy versions", kind, name),
                Step("delete policy", kind, name)]
    if kind == L.CA_CERTIFICATE:
        return [Step("deactivate CA certificate", kind, name), Step("delete CA certificate", kind, name)]
    if kind == L.STACK:
        return [Step("empty bucket", kind, name, {"bucket": detail.get("bucket", "")}),
                Step("delete stack", kind, name)]
    single = {
        L.JOB_TEMPLATE: "delete job template", L.FUNCTION: "delete Lambda function",
        L.PROVISIONING_TEMPLATE: "delete provisioning template", L.S3_OBJECT: "delete S3 object",
        L.S3_BUCKET: "delete S3 bucket", L.IAM_ROLE: "delete IAM role", L.FLEET_INDEXING: "restore fleet indexing",
        L.LOG_LEVEL: "restore log level", L.LOGGING: "restore logging options",
    }
    if kind in single:
        return [Step(single[kind], kind, name, dict(detail))]
    return []


def plan(ws: Any, found: Any) -> list[Step]:
    """The ordered steps that remove what ``inventory`` marked for deletion (a pure function).

    Rows not marked ``delete`` are skipped, and the safety rule is checked again here: a row whose
    name lacks ``ws.prefix``, or a stack other than ``ws.stack_name``, never becomes a step.
    Thing groups go children first; event configurations are restored in one call; local files go
    in one step.
    """
    rows = [r for r in _records(found) if r.get("delete") and decide(
        r["kind"], r["name"], ws.prefix, ws.stack_name, bool((r.get("detail") or {}).get("by_stack")))[0]]
    steps = [step for row in rows for step in _steps_for(row)]
    events = {r["name"]: (r.get("detail") or {}).get("before") for r in rows if r["kind"] == L.EVENT_CONFIGURATION}
    events = {name: before for name, before in events.items() if before in (True, False)}
    if events:
        steps.append(Step("restore event configuration", L.EVENT_CONFIGURATION, ", ".join(sorted(events)),
                          {"configurations": events}))
    files = sorted((r.get("detail") or {}).get("path", "") for r in rows if r["kind"] == LOCAL_FILE)
    if files:
        steps.append(Step("delete local files", LOCAL_FILE, f"{len(files)} file(s)", {"paths": files}))
    rank = {action: n for n, action in enumerate(ORDER)}
    return sorted(steps, key=lambda s: (rank[s.action], -int(s.args.get("depth", 0)) if s.action == "delete thing group" else 0))


# ------------------------------------------------------------------------------------------ run


class _Already(Exception):
    """The step found nothing to do."""


def _detach_certificate_policies(ws: Any, step: Step) -> str:
    policies = [p["policyName"] for p in _all(ws.iot, "list_attached_policies", "policies", target=step.args["arn"])]
    for policy in policies:
        ws.iot.detach_policy(policyName=policy, target=step.args["arn"])
    return f"detached {', '.join(policies)}" if policies else _nothing()


def _detach_certificate_things(ws: Any, step: Step) -> str:
    things = _all(ws.iot, "list_principal_things", "things", principal=step.args["arn"])
    for thing in things:
        ws.iot.detach_thing_principal(thingName=thing, principal=step.args["arn"])
    return f"detached {', '.join(things)}" if things else _nothing()


def _deactivate_certificate(ws: Any, step: Step) -> str:
    status = ws.iot.describe_certificate(certificateId=step.name)["certificateDescription"]["status"]
    if status == "INACTIVE":
        return _nothing("already INACTIVE")
    ws.iot.update_certificate(certificateId=step.name, newStatus="INACTIVE")
    return f"{status} → INACTIVE"


def _delete_certificate(ws: Any, step: Step) -> str:
    extra = {"forceDelete": True} if step.args.get("force") else {}
    _settled(lambda: ws.iot.delete_certificate(certificateId=step.name, **extra))
    return "deleted"


def _remove_from_groups(ws: Any, step: Step) -> str:
    groups = [g["groupName"] for g in _all(ws.iot, "list_thing_groups_for_thing", "thingGroups", thingName=step.name)]
    for group in groups:
        ws.iot.remove_thing_from_thing_group(thingGroupName=group, thingName=step.name)
    return f"removed from {', '.join(groups)}" if groups else _nothing()


def _delete_shadows(ws: Any, step: Step) -> str:
    ws.iot.describe_thing(thingName=step.name)  # a thing that is gone: "already gone"
    names = set(step.args.get("shadows", []))
    try:
        names |= set(_all(ws.iot_data, "list_named_shadows_for_thing", "results", thingName=step.name))
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
    return f"deleted {', '.join(deleted)}" if deleted else _nothing("no shadow")


def _delete_thing(ws: Any, step: Step) -> str:
    ws.iot.describe_thing(thingName=step.name)  # DeleteThing succeeds for a missing thing; say so
    for principal in ws.iot.list_thing_principals(thingName=step.name)["principals"]:
        ws.iot.detach_thing_principal(thingName=step.name, principal=principal)
    _settled(lambda: ws.iot.delete_thing(thingName=step.name))
    return "deleted"


def _detach_group_policies(ws: Any, step: Step) -> str:
    arn = ws.iot.describe_thing_group(thingGroupName=step.name)["thingGroupArn"]
    policies = [p["policyName"] for p in _all(ws.iot, "list_attached_policies", "policies", target=arn)]
    for policy in policies:
        ws.iot.detach_policy(policyName=policy, target=arn)
    return f"detached {', '.join(policies)}" if policies else _nothing()


def _delete_thing_group(ws: Any, step: Step) -> str:
    described = ws.iot.describe_thing_group(thingGroupName=step.name)
    if described.get("queryString"):
        ws.iot.delete_dynamic_thing_group(thingGroupName=step.name)
    else:
        _settled(lambda: ws.iot.delete_thing_group(thingGroupName=step.name))
    return "deleted"


def _deprecate_thing_type(ws: Any, step: Step) -> str:
    meta = ws.iot.describe_thing_type(thingTypeName=step.name).get("thingTypeMetadata", {})
    if meta.get("deprecated"):
        return _nothing("already deprecated")
    ws.iot.deprecate_thing_type(thingTypeName=step.name, undoDeprecate=False)
    return "deprecated (AWS deletes it 5 minutes from now)"


def thing_type_deletable_at(deprecated_at: datetime, delay_s: float = THING_TYPE_DELETE_DELAY_S) -> datetime:
    """When AWS accepts DeleteThingType for a type deprecated at ``deprecated_at``."""
    return deprecated_at + timedelta(seconds=delay_s)


def _delete_thing_type(ws: Any, step: Step, patience_s: float, bar: Progress | None) -> str:
    deadline = time.monotonic() + patience_s
    while True:
        try:
            ws.iot.delete_thing_type(thingTypeName=step.name)
            return "deleted"
        except Exception as error:
            if is_gone(error) or error_code(error) != "InvalidRequestException":
                raise
            meta = ws.iot.describe_thing_type(thingTypeName=step.name).get("thingTypeMetadata", {})
            if not meta.get("deprecationDate"):
                raise
            ready = thing_type_deletable_at(meta["deprecationDate"])
            wait = (ready - datetime.now(timezone.utc)).total_seconds()
            if wait <= 0:
                raise  # refused for another reason (things still use the type, say)
            if time.monotonic() + wait > deadline:
                return (f"not yet: AWS deletes a thing type only 5 minutes after its deprecation, here at "
                        f"{ready.astimezone():%H:%M:%S}; run the clean-up again after that")
            if bar is not None:
                bar.update(bar.value, f"waiting until {ready.astimezone():%H:%M:%S} to delete {step.name} (AWS's 5 minutes)")
            time.sleep(min(wait + 2, 15))


def _detach_policy_targets(ws: Any, step: Step) -> str:
    targets = _all(ws.iot, "list_targets_for_policy", "targets", policyName=step.name)
    for target in targets:
        ws.iot.detach_policy(policyName=step.name, target=target)
    return f"detached from {len(targets)} target(s)" if targets else _nothing()


def _delete_policy_versions(ws: Any, step: Step) -> str:
    old = [v["versionId"] for v in ws.iot.list_policy_versions(policyName=step.name)["policyVersions"]
           if not v.get("isDefaultVersion")]
    for version in old:
        ws.iot.delete_policy_version(policyName=step.name, policyVersionId=version)
    return f"deleted version(s) {', '.join(old)}" if old else _nothing("only the default version")


def _delete_policy(ws: Any, step: Step) -> str:
    ws.iot.get_policy(policyName=step.name)
    _settled(lambda: ws.iot.delete_policy(policyName=step.name))
    return "deleted"


def _deactivate_ca(ws: Any, step: Step) -> str:
    status = ws.iot.describe_ca_certificate(certificateId=step.name)["certificateDescription"]["status"]
    if status == "INACTIVE":
        return _nothing("already INACTIVE")
    ws.iot.update_ca_certificate(certificateId=step.name, newStatus="INACTIVE")
    return f"{status} → INACTIVE"


def _cancel_job(ws: Any, step: Step) -> str:
    status = ws.iot.describe_job(jobId=step.name)["job"]["status"]
    if status not in ("IN_PROGRESS", "SCHEDULED"):
        return _nothing(f"already {status}")
    ws.iot.cancel_job(jobId=step.name, force=True, comment="workshop clean-up")
    return "canceled"


def _delete_job(ws: Any, step: Step) -> str:
    if ws.iot.describe_job(jobId=step.name)["job"]["status"] == "DELETION_IN_PROGRESS":
        raise _Already("already gone: being deleted")
    ws.iot.delete_job(jobId=step.name, force=True)
    return "deleted (AWS finishes deleting a job in the background)"


def _disable_rule(ws: Any, step: Step) -> str:
    if ws.iot.get_topic_rule(ruleName=step.name)["rule"].get("ruleDisabled"):
        return _nothing("already disabled")
    ws.iot.disable_topic_rule(ruleName=step.name)
    return "disabled"


def _delete_rule(ws: Any, step: Step) -> str:
    ws.iot.get_topic_rule(ruleName=step.name)
    ws.iot.delete_topic_rule(ruleName=step.name)
    return "deleted"


def _unless_restored(ws: Any, step: Step) -> None:
    """Raise `_Already` when the setting is back to its value from before the workshop."""
    if not _probe(ws, Item(step.kind, step.name, detail=dict(step.args)), {}).exists:
        raise _Already("as before the workshop")


def _restore_indexing(ws: Any, step: Step) -> str:
    before = step.args.get("before")
    if not isinstance(before, dict):
        return _nothing("its setting before the workshop is unknown: left as it is")
    _unless_restored(ws, step)
    things, groups = _indexing_modes(before)
    configuration = {"thingIndexingMode": things}
    connectivity = before.get("thingIndexingConfiguration", {}).get("thingConnectivityIndexingMode")
    if things != "OFF" and connectivity:
        configuration["thingConnectivityIndexingMode"] = connectivity
    ws.iot.update_indexing_configuration(thingIndexingConfiguration=configuration,
                                         thingGroupIndexingConfiguration={"thingGroupIndexingMode": groups})
    return f"things {things}, groups {groups}"


def _restore_log_level(ws: Any, step: Step) -> str:
    target_type, target_name, before = step.args.get("targetType"), step.args.get("targetName"), step.args.get("before")
    if before == L.UNKNOWN_BEFORE:
        return _nothing("its level before the workshop is unknown: left as it is")
    _unless_restored(ws, step)
    if before is None:
        if target_type == "DEFAULT":
            return _nothing("the default level goes with the logging options")
        ws.iot.delete_v2_logging_level(targetType=target_type, targetName=target_name)
        return "level removed"
    target = {"targetType": target_type, **({"targetName": target_name} if target_name else {})}
    ws.iot.set_v2_logging_level(logTarget=target, logLevel=before)
    return f"back to {before}"


def _restore_logging(ws: Any, step: Step) -> str:
    before = step.args.get("before")
    if before == L.UNKNOWN_BEFORE:
        return _nothing("the options before the workshop are unknown: left as they are")
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
        return _nothing("as before the workshop")
    ws.iot.update_event_configurations(eventConfigurations={t: {"Enabled": v} for t, v in changes.items()})
    on = sorted(t for t, v in changes.items() if v)
    return f"{len(changes)} type(s) back to before the workshop: " + (f"on: {', '.join(on)}" if on else "off")


def _delete_object(ws: Any, step: Step) -> str:
    ws.s3.head_object(Bucket=step.args.get("bucket", ""), Key=step.name)
    ws.s3.delete_object(Bucket=step.args.get("bucket", ""), Key=step.name)
    return "deleted"


def _empty(ws: Any, bucket: str) -> int:
    """Delete every object (and object version) in ``bucket``; returns how many."""
    removed = 0
    for page in ws.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(keys), 1000):
            ws.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
        removed += len(keys)
    return removed


def _empty_bucket(ws: Any, step: Step) -> str:
    bucket = step.args.get("bucket")
    if not bucket:
        return _nothing("the stack has no bucket")
    count = _empty(ws, bucket)
    return f"deleted {count} object(s)" if count else _nothing("empty already")


def _delete_stack(ws: Any, step: Step) -> str:
    cfn = ws.cloudformation
    stack_id = cfn.describe_stacks(StackName=step.name)["Stacks"][0]["StackId"]
    warning = ""
    try:
        cfn.delete_stack(StackName=stack_id)
    except Exception as error:  # noqa: BLE001 - the stack's state below tells what happened
        warning = f" (DeleteStack answered {describe_error(error)})"
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while True:
        try:
            status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        except Exception as error:
            if not is_gone(error):
                raise
            status = "DELETE_COMPLETE"
        if status == "DELETE_COMPLETE":
            return "deleted" + warning
        if not status.endswith("_IN_PROGRESS"):
            raise RuntimeError(f"the stack ended in {status}{warning}; see its events in the CloudFormation console")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stack is still {status} after {STACK_TIMEOUT_S} s")
        time.sleep(0.2 if ws.backend == "local" else 3.0)


def _delete_role(ws: Any, name: str) -> None:
    for policy in _all(ws.iam, "list_role_policies", "PolicyNames", RoleName=name):
        ws.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in _all(ws.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
        ws.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    ws.iam.delete_role(RoleName=name)


def _delete_bucket(ws: Any, name: str) -> None:
    _empty(ws, name)
    ws.s3.delete_bucket(Bucket=name)


def _delete_policy_everywhere(ws: Any, name: str) -> None:
    for target in _all(ws.iot, "list_targets_for_policy", "targets", policyName=name):
        ws.iot.detach_policy(policyName=name, target=target)
    for version in ws.iot.list_policy_versions(policyName=name)["policyVersions"]:
        if not version.get("isDefaultVersion"):
            ws.iot.delete_policy_version(policyName=name, policyVersionId=version["versionId"])
    _settled(lambda: ws.iot.delete_policy(policyName=name))


LEFT_BY_STACK = {L.S3_BUCKET: _delete_bucket, L.IAM_ROLE: _delete_role, L.POLICY: _delete_policy_everywhere}


def _check_stack_leftover(ws: Any, step: Step) -> str:
    """After DeleteStack: a resource the stack left behind is deleted directly."""
    if not _probe(ws, Item(step.kind, step.name), {}).exists:
        return _nothing("already gone: removed with the stack")
    LEFT_BY_STACK[step.kind](ws, step.name)
    return "the stack left it behind: deleted it directly"


def _delete_job_template(ws: Any, step: Step) -> str:
    ws.iot.delete_job_template(jobTemplateId=step.name)
    return "deleted"


def _delete_function(ws: Any, step: Step) -> str:
    ws.lambda_.delete_function(FunctionName=step.name)
    return "deleted"


def _delete_provisioning_template(ws: Any, step: Step) -> str:
    ws.iot.delete_provisioning_template(templateName=step.name)
    return "deleted"


def _delete_ca(ws: Any, step: Step) -> str:
    _settled(lambda: ws.iot.delete_ca_certificate(certificateId=step.name))
    return "deleted"


def _delete_s3_bucket(ws: Any, step: Step) -> str:
    ws.s3.head_bucket(Bucket=step.name)
    _delete_bucket(ws, step.name)
    return "emptied and deleted"


def _delete_iam_role(ws: Any, step: Step) -> str:
    ws.iam.get_role(RoleName=step.name)
    _delete_role(ws, step.name)
    return "deleted, with its policies"


def _delete_local_files(ws: Any, step: Step) -> str:
    gone = 0
    for path in step.args["paths"]:
        try:
            Path(path).unlink()
            gone += 1
        except FileNotFoundError:
            continue
    if not gone:
        raise _Already("already gone: no such files any more")
    return f"deleted {gone} of {len(step.args['paths'])} file(s)"


def _nothing(text: str = "nothing attached") -> str:
    raise _Already(text)


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
    "delete S3 object": _delete_object, "empty bucket": _empty_bucket, "delete stack": _delete_stack,
    "check what the stack left": _check_stack_leftover, "delete local files": _delete_local_files,
    "delete job template": _delete_job_template, "delete Lambda function": _delete_function,
    "delete provisioning template": _delete_provisioning_template, "delete CA certificate": _delete_ca,
    "delete S3 bucket": _delete_s3_bucket, "delete IAM role": _delete_iam_role,
}


def run_step(ws: Any, step: Step, patience_s: float = THING_TYPE_PATIENCE_S, bar: Progress | None = None) -> tuple[str, str]:
    """``(result, detail)`` of one step: ``done``, ``already gone``, ``not yet`` or ``error``; never raises."""
    try:
        if step.action == "delete thing type":
            detail = _delete_thing_type(ws, step, patience_s, bar)
            return ("not yet" if detail.startswith("not yet") else "done"), detail
        return "done", ACTIONS[step.action](ws, step)
    except _Already as already:
        return ("already gone" if str(already).startswith("already gone") else "nothing to do"), str(already)
    except Exception as error:  # noqa: BLE001 - every step is reported, the others go on
        if is_gone(error):
            return "already gone", "it does not exist (any more)"
        return "error", describe_error(error)


def run(ws: Any, steps: list[Step], dry_run: bool = True, progress: bool = True,
        patience_s: float = THING_TYPE_PATIENCE_S) -> Any:
    """Run the steps in order (``dry_run``: only list them); one row per step with its result.

    A real run shows a progress bar. Nothing raises: a failed step says why in ``detail`` and the
    others go on. A thing type deprecated less than 5 minutes ago is waited for up to ``patience_s``.
    """
    import pandas as pd

    rows = []
    bar = Progress(len(steps), "clean-up") if progress and not dry_run and steps else None
    for number, step in enumerate(steps, start=1):
        row = {"step": number, "action": step.action, "kind": step.kind, "name": step.name,
               "calls": CALLS[step.action]}
        if dry_run:
            row.update(result="would run", detail=step.note)
        else:
            if bar is not None:
                bar.update(number - 1, f"{step.action} {step.name[:40]}")
            result, detail = run_step(ws, step, patience_s, bar)
            row.update(result=result, detail=detail)
        rows.append(row)
    if bar is not None:
        errors = sum(r["result"] == "error" for r in rows)
        bar.update(len(steps), "")
        bar.close(f"{len(steps)} steps, {errors} error(s)" if errors else f"{len(steps)} steps done")
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def leftovers(ws: Any, progress: bool = False) -> Any:
    """The final check: everything the ledger names that still exists (or is still changed), with
    ``delete`` telling whether the clean-up should have removed it and ``note`` why it kept it."""
    found = inventory(ws, progress=progress)
    return found[found["exists"]].reset_index(drop=True)


__all__ = [
    "CALLS", "ORDER", "Step", "carries_prefix", "decide", "inventory", "is_gone", "leftovers", "local_files",
    "plan", "run", "run_step", "summary", "thing_type_deletable_at", "view",
]
