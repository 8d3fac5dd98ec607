"""The ledger: a record of every resource the workshop created, so that clean-up removes only those.

    ws = connect()                                  # every client of `ws` writes to the ledger
    ws.iot.create_thing(thingName=ws.name("t"))     # the lesson's own call, unchanged
    read(ws)                                        # [Entry(kind="thing", name="t", ...)]

`watch` registers botocore event handlers on a client (``after-call.iot.CreateThing`` and friends);
the notebook's calls stay exactly as written, and each *successful* create call appends one JSON
line per resource to ``<work_dir>/ledger.jsonl`` (0600, append-only, one ``write`` per line). A
client made any other way (``boto3.client("iot")``, ``ws.session.client("iot")``) has its own
event handlers and records nothing: what it creates is not the workshop's.

Settings the workshop changes (registry events, logging, fleet indexing) are recorded with their
value *before* the change, read just before the call, so clean-up can put back what was there.

Only names, ids, ARNs and a few plain settings are written: never a key, a certificate body, a
policy document or an object's content. `entries_for` is the pure core (call in, entries out).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LEDGER_FILE = "ledger.jsonl"
FILE_MODE = 0o600

# Kinds of resources, as the inventory and the clean-up plan name them.
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
# Settings: changed, not created; clean-up restores their value from before the first change.
EVENT_CONFIGURATION = "event configuration"
LOG_LEVEL = "log level"
LOGGING = "logging options"
FLEET_INDEXING = "fleet indexing"
SETTINGS = (EVENT_CONFIGURATION, LOG_LEVEL, LOGGING, FLEET_INDEXING)

# ARN resource types (``arn:aws:iot:region:account:<type>/<name>``) → kinds, for RegisterThing.
ARN_KINDS = {"thing": THING, "cert": CERTIFICATE, "policy": POLICY}


@dataclass(frozen=True)
class Entry:
    """One line of the ledger: a resource (or setting) and where it came from."""

    kind: str
    name: str  # what clean-up deletes it by: a name, or an id for certificates, jobs, tasks
    arn: str = ""
    operation: str = ""
    chapter: str = ""
    time: str = ""  # ISO 8601, UTC
    region: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        if not isinstance(data, dict) or not data.get("kind") or not data.get("name"):
            raise ValueError("a ledger line needs a kind and a name")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


# ------------------------------------------------------------------------------ the pure core


def _get(mapping: Any, key: str, default: Any = "") -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _arn_kind(arn: str) -> tuple[str, str] | None:
    """``(kind, name)`` of an IoT ARN such as ``arn:aws:iot:r:a:thing/x`` (None if not a kind we record)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or "/" not in parts[5]:
        return None
    resource_type, name = parts[5].split("/", 1)
    return (ARN_KINDS[resource_type], name) if resource_type in ARN_KINDS else None


def _register_thing(params: Mapping, response: Mapping) -> list[dict]:
    entries = []
    for arn in (_get(response, "resourceArns", {}) or {}).values():
        found = _arn_kind(str(arn))
        if found is not None:
            entries.append({"kind": found[0], "name": found[1], "arn": arn})
    return entries


def _one(kind: str, name: Callable[[Mapping, Mapping], str], arn: Callable[[Mapping, Mapping], str] | None = None,
         detail: Callable[[Mapping, Mapping], dict] | None = None) -> Callable[[Mapping, Mapping], list[dict]]:
    def extract(params: Mapping, response: Mapping) -> list[dict]:
        entry = {"kind": kind, "name": name(params, response), "arn": arn(params, response) if arn else ""}
        if detail:
            entry["detail"] = {k: v for k, v in detail(params, response).items() if v not in (None, "")}
        return [entry] if entry["name"] else []
    return extract


def _param(key: str) -> Callable[[Mapping, Mapping], str]:
    return lambda params, response: str(_get(params, key))


def _out(key: str) -> Callable[[Mapping, Mapping], str]:
    return lambda params, response: str(_get(response, key))


def _certificate() -> Callable[[Mapping, Mapping], list[dict]]:
    return _one(CERTIFICATE, _out("certificateId"), _out("certificateArn"))


# (service name, operation) → what the successful call created. Keys, bodies, documents: never.
CREATES: dict[tuple[str, str], Callable[[Mapping, Mapping], list[dict]]] = {
    ("iot", "CreateThing"): _one(THING, _param("thingName"), _out("thingArn"),
                                 lambda p, r: {"thingId": _get(r, "thingId"), "thingType": _get(p, "thingTypeName")}),
    ("iot", "CreateThingType"): _one(THING_TYPE, _param("thingTypeName"), _out("thingTypeArn")),
    ("iot", "CreateThingGroup"): _one(THING_GROUP, _param("thingGroupName"), _out("thingGroupArn"),
                                      lambda p, r: {"parent": _get(p, "parentGroupName")}),
    ("iot", "CreateDynamicThingGroup"): _one(THING_GROUP, _param("thingGroupName"), _out("thingGroupArn"),
                                             lambda p, r: {"dynamic": True}),
    ("iot", "CreateKeysAndCertificate"): _certificate(),
    ("iot", "CreateCertificateFromCsr"): _certificate(),
    ("iot", "RegisterCertificate"): _certificate(),
    ("iot", "RegisterCertificateWithoutCA"): _certificate(),
    ("iot", "RegisterThing"): _register_thing,
    ("iot", "CreatePolicy"): _one(POLICY, _param("policyName"), _out("policyArn")),
    ("iot", "RegisterCACertificate"): _one(CA_CERTIFICATE, _out("certificateId"), _out("certificateArn")),
    ("iot", "CreateTopicRule"): _one(TOPIC_RULE, _param("ruleName")),
    ("iot", "CreateJob"): _one(JOB, _out("jobId"), _out("jobArn")),
    ("iot", "CreateJobTemplate"): _one(JOB_TEMPLATE, _out("jobTemplateId"), _out("jobTemplateArn")),
    ("iot", "CreateProvisioningTemplate"): _one(PROVISIONING_TEMPLATE, _out("templateName"), _out("templateArn")),
    ("iot", "StartThingRegistrationTask"): _one(BULK_TASK, _out("taskId")),
    ("iot-data", "UpdateThingShadow"): _one(SHADOW, _param("thingName"),
                                            detail=lambda p, r: {"shadowName": _get(p, "shadowName")}),
    ("s3", "PutObject"): _one(S3_OBJECT, _param("Key"), detail=lambda p, r: {"bucket": _get(p, "Bucket")}),
    ("s3", "CreateBucket"): _one(S3_BUCKET, _param("Bucket")),
    ("lambda", "CreateFunction"): _one(FUNCTION, _out("FunctionName"), _out("FunctionArn")),
    ("cloudformation", "CreateStack"): _one(STACK, _param("StackName"), _out("StackId")),
    ("iam", "CreateRole"): _one(IAM_ROLE, _param("RoleName"),
                                lambda p, r: str(_get(_get(r, "Role", {}), "Arn"))),
}


def _event_changes(params: Mapping, before: Any) -> list[dict]:
    wanted = _get(params, "eventConfigurations", {}) or {}
    entries = []
    for event_type, configuration in wanted.items():
        if not isinstance(configuration, Mapping) or "Enabled" not in configuration:
            continue
        old = None if before is None else bool(_get(_get(before, event_type, {}), "Enabled", False))
        new = bool(configuration["Enabled"])
        if old != new:
            entries.append({"kind": EVENT_CONFIGURATION, "name": event_type, "detail": {"before": old, "after": new}})
    return entries


def _logging_options(params: Mapping, before: Any) -> list[dict]:
    after = {k: params[k] for k in ("roleArn", "defaultLogLevel", "disableAllLogs") if k in params}
    return [{"kind": LOGGING, "name": "v2 logging", "detail": {"before": before, "after": after}}]


def _log_level(params: Mapping, before: Any) -> list[dict]:
    target = _get(params, "logTarget", {}) or {}
    name = f"{_get(target, 'targetType')}:{_get(target, 'targetName')}".rstrip(":")
    return [{"kind": LOG_LEVEL, "name": name,
             "detail": {"targetType": _get(target, "targetType"), "targetName": _get(target, "targetName"),
                        "before": before, "after": _get(params, "logLevel")}}]


def _indexing(params: Mapping, before: Any) -> list[dict]:
    after = {k: params[k] for k in ("thingIndexingConfiguration", "thingGroupIndexingConfiguration") if k in params}
    return [{"kind": FLEET_INDEXING, "name": "indexing configuration", "detail": {"before": before, "after": after}}]


# Readers of a setting's current value: ``fn(iot_client, params of the changing call)``.


def read_events(client: Any, params: Mapping) -> Any:
    return client.describe_event_configurations().get("eventConfigurations", {})


def read_logging(client: Any, params: Mapping) -> Any:
    try:
        options = client.get_v2_logging_options()
    except client.exceptions.NotConfiguredException:
        return None  # never configured: clean-up switches logging off again
    return {k: options[k] for k in ("roleArn", "defaultLogLevel", "disableAllLogs") if k in options}


def read_log_level(client: Any, params: Mapping) -> Any:
    target = _get(params, "logTarget", {}) or {}
    try:
        pages = client.get_paginator("list_v2_logging_levels").paginate(targetType=_get(target, "targetType"))
        for page in pages:
            for row in page.get("logTargetConfigurations", []):
                if _get(row["logTarget"], "targetName", "") == _get(target, "targetName", ""):
                    return row.get("logLevel")
    except client.exceptions.NotConfiguredException:
        return None
    return None


def read_indexing(client: Any, params: Mapping) -> Any:
    answer = client.get_indexing_configuration()
    return {k: answer[k] for k in ("thingIndexingConfiguration", "thingGroupIndexingConfiguration") if k in answer}


# (service, operation) → (read the value before the call, entries from params and that value).
CHANGES: dict[tuple[str, str], tuple[Callable[[Any, Mapping], Any], Callable[[Mapping, Any], list[dict]]]] = {
    ("iot", "UpdateEventConfigurations"): (read_events, _event_changes),
    ("iot", "SetV2LoggingOptions"): (read_logging, _logging_options),
    ("iot", "SetV2LoggingLevel"): (read_log_level, _log_level),
    ("iot", "UpdateIndexingConfiguration"): (read_indexing, _indexing),
}

UNKNOWN_BEFORE = "unknown"  # the value before could not be read (a permission missing, say)


def entries_for(service: str, operation: str, params: Mapping, response: Mapping,
                before: Any = UNKNOWN_BEFORE) -> list[dict]:
    """What a successful call created or changed: ``[{"kind", "name", "arn"?, "detail"?}]``.

    ``before`` is the setting's value read just before a settings call (`CHANGES`). Calls that
    create nothing the workshop keeps track of give ``[]``.
    """
    if (service, operation) in CREATES:
        return CREATES[(service, operation)](params, response)
    if (service, operation) in CHANGES:
        if before == UNKNOWN_BEFORE:
            return [dict(e, detail={**e.get("detail", {}), "before": UNKNOWN_BEFORE})
                    for e in CHANGES[(service, operation)][1](params, None)]
        return CHANGES[(service, operation)][1](params, before)
    return []


def chapter_name(environ: Mapping[str, str]) -> str:
    """The running notebook's name (``03_bulk_provisioning``) when Jupyter says it, else ``""``."""
    session = environ.get("JPY_SESSION_NAME", "")
    return Path(session).stem if session else ""


def settings_baseline(entries: Iterable[Entry]) -> dict[tuple[str, str], Entry]:
    """For each setting, its first recorded change (which holds the value from before the workshop)."""
    first: dict[tuple[str, str], Entry] = {}
    for entry in sorted((e for e in entries if e.kind in SETTINGS), key=lambda e: e.time):
        first.setdefault((entry.kind, entry.name), entry)
    return first


# ------------------------------------------------------------------------------------ the file


def ledger_path(ws: Any) -> Path:
    return Path(ws.work_dir) / LEDGER_FILE


def append(path: Path, entries: Iterable[Entry]) -> None:
    """Append one line per entry; each line is a single ``write`` to an O_APPEND file (0600)."""
    data = "".join(entry.to_json() + "\n" for entry in entries)
    if not data:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        for line in data.splitlines(keepends=True):
            os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_file(path: Path) -> tuple[list[Entry], int]:
    """The entries of a ledger file, oldest first, and how many lines could not be read."""
    if not path.is_file():
        return [], 0
    entries, broken = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            entries.append(Entry.from_json(line))
        except (ValueError, TypeError):
            broken += 1
    return entries, broken


def read(ws: Any) -> list[Entry]:
    """Every entry the workshop recorded in ``ws.work_dir``, oldest first."""
    return read_file(ledger_path(ws))[0]


def table(ws: Any) -> Any:
    """The ledger as a DataFrame: kind, name, chapter, time, operation (newest last)."""
    import pandas as pd

    rows = [{"kind": e.kind, "name": e.name, "chapter": e.chapter or "?", "time": e.time, "operation": e.operation}
            for e in read(ws)]
    return pd.DataFrame(rows, columns=["kind", "name", "chapter", "time", "operation"])


# ------------------------------------------------------------------------------ the event hooks


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Recorder:
    """The event handlers of one client: parameters kept before the call, entries written after it."""

    PARAMS = "workshop_ledger_params"
    BEFORE = "workshop_ledger_before"

    def __init__(self, client: Any, ws: Any) -> None:
        self.client, self.ws = client, ws
        self.service = client.meta.service_model.service_name

    def before(self, params: Mapping | None = None, model: Any = None, context: dict | None = None, **_: Any) -> None:
        if context is None or model is None:
            return
        context[self.PARAMS] = dict(params or {})
        change = CHANGES.get((self.service, model.name))
        if change is not None:
            try:
                context[self.BEFORE] = change[0](self.client, params or {})
            except Exception:  # noqa: BLE001 - the lesson's call must go on even if we cannot read
                context[self.BEFORE] = UNKNOWN_BEFORE

    def after(self, http_response: Any = None, parsed: Mapping | None = None, model: Any = None,
              context: dict | None = None, **_: Any) -> None:
        if model is None or context is None or http_response is None or http_response.status_code >= 300:
            return
        found = entries_for(self.service, model.name, context.get(self.PARAMS, {}), parsed or {},
                            context.get(self.BEFORE, UNKNOWN_BEFORE))
        if not found:
            return
        stamp, chapter, region = now_iso(), chapter_name(os.environ), self.client.meta.region_name or ""
        append(ledger_path(self.ws), [
            Entry(kind=f["kind"], name=f["name"], arn=f.get("arn", ""), operation=model.name, chapter=chapter,
                  time=stamp, region=region, detail=f.get("detail", {}))
            for f in found
        ])


def operations(service: str) -> list[str]:
    """The operations of ``service`` whose calls the ledger records."""
    return sorted({op for svc, op in [*CREATES, *CHANGES] if svc == service})


def watch(client: Any, ws: Any) -> Any:
    """Record what ``client``'s successful calls create into ``ws``'s ledger; returns ``client``.

    Safe to call twice on the same client (the handlers are registered once). Anything that is
    not a botocore client (a test's stand-in, say) is returned unchanged.
    """
    if not hasattr(getattr(client, "meta", None), "events"):
        return client
    recorder = _Recorder(client, ws)
    service_id = client.meta.service_model.service_id.hyphenize()
    for operation in operations(recorder.service):
        client.meta.events.register(f"before-parameter-build.{service_id}.{operation}", recorder.before,
                                    unique_id=f"workshop-ledger-before-{operation}")
        client.meta.events.register(f"after-call.{service_id}.{operation}", recorder.after,
                                    unique_id=f"workshop-ledger-after-{operation}")
    return client


__all__ = [
    "Entry", "LEDGER_FILE", "SETTINGS", "UNKNOWN_BEFORE", "append", "chapter_name", "entries_for", "ledger_path",
    "operations", "read", "read_events", "read_file", "read_indexing", "read_log_level", "read_logging",
    "settings_baseline", "table", "watch",
]
