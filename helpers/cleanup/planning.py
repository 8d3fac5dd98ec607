"""The plan: what the clean-up deletes, in which order, and what it leaves alone and why (pure).

`plan` reads an inventory (`helpers.cleanup.survey`) and calls nothing. It follows three rules.

1. **Only the workshop's.** A step is made only for a resource that exists, is the workshop's
   (``ours``: its identity is the recorded one, or it derives from the workshop's own actions) and
   whose name carries the workshop's prefix (`decide`).
2. **Nothing that is not the workshop's changes.** Deleting one of ours may reach beyond it: a
   policy of ours attached to a certificate that is not ours (its device loses permissions), a
   certificate of ours attached to someone else's thing, a thing that is not ours in a group of
   ours, a type of ours that such a thing uses (it would be deprecated), an object that is not ours
   in the stack's bucket (emptying it for the stack). Each such *side effect* is listed, and by
   default the resource of ours that would cause it stays, with the reason (``kept``). With
   ``allow_side_effects=True`` the clean-up does them (it still never deletes a thing, certificate
   or policy that is not ours; it does delete other people's objects in the workshop's bucket).
3. **What must go first stays too.** A resource that stays keeps what depends on it: a thing type
   while a thing of ours that stays uses it, a parent group while a child group of ours stays, the
   stack while its policy or bucket stays, a CA while one of its device certificates stays, and a
   policy stays attached to a certificate or group of ours that stays (detaching it would change what
   the devices behind it may do). Links between two resources of ours that both go are cut freely.

In class mode (``not ws.owns_account_settings``) the account-wide settings are the instructor's: the
plan keeps them (`account_wide`), and it never deletes the class stack (`CLASS_STACK_NAME`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ledger as L
from ..names import rule_name
from .survey import DERIVED_OPERATION
from .items import LOCAL_FILE
from .ownership import workshop_stacks
from ..workshop import CLASS_STACK_NAME

CLASS_KEPT = "an account-wide setting: in class mode the instructor's (`python -m helpers.classroom teardown`)"

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
    "delete log group",
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
    "detach policies from certificate": "iot.detach_policy",
    "detach things from certificate": "iot.detach_thing_principal",
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
    "delete log group": "logs.delete_log_group",
    "delete S3 object": "s3.delete_object", "empty bucket": "s3.delete_objects",
    "delete stack": "cloudformation.delete_stack", "check what the stack left": "(describe; delete if left)",
    "delete S3 bucket": "s3.delete_bucket", "delete IAM role": "iam.delete_role",
    "delete local files": "(files in the work folder)",
    "restore event configuration": "iot.update_event_configurations",
}

FOREIGN = "not the workshop's"
SIDE_EFFECT_COLUMNS = [FOREIGN, "what would happen to it", "because the clean-up would", "the clean-up"]
KEPT_COLUMNS = ["kind", "name", "why it stays"]
NOT_OURS_COLUMNS = ["kind", "name", "why", "source"]


@dataclass(frozen=True)
class Step:
    """One call (or a small group of calls) of the clean-up."""

    action: str
    kind: str
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


# ------------------------------------------------------------------------------ the safety rule


def carries_prefix(kind: str, name: str, prefix: str) -> bool:
    """Does ``name`` start with the workshop's prefix? Always true without a prefix, for ids AWS
    chose, for settings, log groups and local files. Topic rule names allow only ``[A-Za-z0-9_]``, so
    for them the prefix with other characters replaced by ``_`` counts too."""
    if not prefix or kind in L.NAMED_BY_AWS or kind in L.SETTINGS or kind in (LOCAL_FILE, L.LOG_GROUP):
        return True
    variants = (prefix, rule_name(prefix)) if kind == L.TOPIC_RULE else (prefix,)
    return name.startswith(variants)


def decide(kind: str, name: str, prefix: str, stack_name: str, by_stack: bool = False) -> tuple[bool, str]:
    """``(may delete, why not)`` for a resource of the workshop, by its name. ``by_stack``: its name
    was chosen by the stack or by AWS (a JITR thing), so the prefix rule does not apply."""
    if kind == L.STACK and name not in workshop_stacks(stack_name):
        return False, f"not the workshop's stack ({stack_name})"
    if by_stack:
        return True, ""
    if not carries_prefix(kind, name, prefix):
        return False, f"its name does not start with the workshop's prefix {prefix!r}"
    return True, ""


def account_wide(kind: str, detail: Mapping[str, Any] | None = None) -> bool:
    """Is a row of this kind one setting for the whole account (events, logging, indexing, the
    default log level), rather than a trainee's own (a thing group's log level)?"""
    if kind == L.LOG_LEVEL:
        return (detail or {}).get("targetType") == "DEFAULT"
    return kind in L.SETTINGS


def class_keeps(kind: str, name: str, detail: Mapping[str, Any] | None, owns_settings: bool) -> str:
    """Why a trainee's clean-up keeps this row whoever made it (``""``: it need not)."""
    if kind == L.STACK and name == CLASS_STACK_NAME:
        return "the class stack: the instructor's"
    if not owns_settings and account_wide(kind, detail):
        return CLASS_KEPT
    return ""


# ---------------------------------------------------------------------------------- the graph


def records(found: Any) -> list[dict]:
    if hasattr(found, "to_dict") and hasattr(found, "columns"):
        return found.to_dict("records")
    return [dict(r) for r in found]


def arn_ref(arn: str) -> tuple[str, str]:
    """``(kind, name)`` of an IoT target or principal ARN (certificates by id, groups by name)."""
    tail = str(arn).split(":", 5)[-1]
    if tail.startswith("cert/"):
        return L.CERTIFICATE, tail.split("/", 1)[1]
    if tail.startswith("thinggroup/"):
        return L.THING_GROUP, tail.split("/", 1)[1]
    if tail.startswith("thing/"):
        return L.THING, tail.split("/", 1)[1]
    return "principal", str(arn)


def _label(kind: str, name: str) -> str:
    shown = name[:12] + "…" if kind in L.NAMED_BY_AWS and len(name) > 13 else name
    return f"{kind} {shown}"


@dataclass
class _World:
    """The inventory's rows, with who is whose."""

    rows: list[dict]
    prefix: str
    stack_name: str

    def __post_init__(self) -> None:
        self.there = [r for r in self.rows if r.get("exists")]
        self.by_key = {(r["kind"], r["name"]): r for r in self.there if r["kind"] != L.S3_OBJECT}
        self.workshop = {(r["kind"], r["name"]) for r in self.there if r.get("ours") and r["kind"] != L.S3_OBJECT}
        self.our_objects = {((r.get("detail") or {}).get("bucket", ""), r["name"]) for r in self.there
                            if r.get("ours") and r["kind"] == L.S3_OBJECT}

    def ours(self, kind: str, name: str) -> bool:
        return (kind, name) in self.workshop

    def links(self, row: Mapping) -> list[tuple[str, str, str]]:
        """What deleting ``row`` cuts: ``(kind, name, what happens to it)`` for each linked resource."""
        kind, name, deps = row["kind"], row["name"], row.get("deps") or {}
        mine = _label(kind, name)
        if kind == L.CERTIFICATE:
            return ([(L.POLICY, p, f"would be detached from {mine}") for p in deps.get("policies", [])]
                    + [(L.THING, t, f"would lose {mine}: its device could no longer connect with it")
                       for t in deps.get("things", [])])
        if kind == L.THING:
            return ([(*arn_ref(c), f"would be detached from {mine}") for c in deps.get("certificates", [])]
                    + [(L.THING_GROUP, g, f"would lose its member {mine}") for g in deps.get("groups", [])])
        if kind == L.THING_GROUP:
            members = [] if (row.get("detail") or {}).get("dynamic") else deps.get("things", [])
            return ([(L.THING, t, f"would leave {mine} and lose the group's policies and jobs") for t in members]
                    + [(L.THING_GROUP, c, f"would lose its parent group {mine} (AWS deletes no group that has child "
                                          "groups)") for c in deps.get("children", [])]
                    + [(L.POLICY, p, f"would be detached from {mine}") for p in deps.get("policies", [])])
        if kind == L.POLICY:
            return [(*arn_ref(t), f"would lose the policy {name}: what it allowed would be refused")
                    for t in deps.get("targets", [])]
        if kind == L.THING_TYPE:
            return [(L.THING, t, f"uses {mine}: the type would be deprecated (no new things of it), and AWS deletes "
                                 "no type a thing uses") for t in deps.get("things", [])]
        return []

    def foreign_objects(self, bucket: str, deps: Mapping) -> list[dict]:
        return [o for o in deps.get("objects", []) if (bucket, o["Key"]) not in self.our_objects]


def _reasons(world: _World, allow: bool) -> tuple[dict[tuple[str, str], str], list[dict]]:
    """What stays (``{key: why}``) and every side effect, as rows of the side-effect table."""
    kept: dict[tuple[str, str], str] = {}
    effects: list[dict] = []
    for row in world.there:
        key = (row["kind"], row["name"])
        if key not in world.workshop or row["kind"] in L.SETTINGS:
            continue
        detail = row.get("detail") or {}
        exempt = bool(detail.get("by_stack")) or bool(detail.get("tied_by"))  # names the workshop did not choose
        allowed, why = decide(row["kind"], row["name"], world.prefix, world.stack_name, exempt)
        if not allowed:
            kept[key] = why
            continue
        mine = _label(*key)
        for kind, name, what in world.links(row):
            if world.ours(kind, name):
                continue
            impossible = kind == L.THING_GROUP and row["kind"] == L.THING_GROUP  # AWS keeps a group with children
            effects.append({FOREIGN: _label(kind, name), "what would happen to it": what,
                            "because the clean-up would": f"delete {mine}", "key": key,
                            "blocks": not allow or impossible})
        if row["kind"] == L.S3_BUCKET:
            for obj in world.foreign_objects(row["name"], row.get("deps") or {}):
                effects.append({FOREIGN: f"S3 object {obj['Key']}",
                                "what would happen to it": "would be deleted: AWS deletes no bucket that holds "
                                                           "objects, nor a stack whose bucket it cannot delete",
                                "because the clean-up would": f"delete {mine}", "key": key, "blocks": not allow})
    for effect in effects:
        if effect["blocks"]:
            kept.setdefault(effect["key"], f"{effect[FOREIGN]} is not the workshop's and "
                                           f"{effect['what would happen to it']}")
    return kept, effects


def _cascade(world: _World, kept: dict[tuple[str, str], str]) -> None:
    """Rule 3: what needs a resource that stays, stays too (until nothing changes)."""
    def stays(kind: str, name: str) -> str | None:
        return kept.get((kind, name)) if world.ours(kind, name) else None

    roots: dict[tuple[str, str], str] = {}  # the first reason behind a chain of "stays"
    changed = True
    while changed:
        changed = False
        for row in world.there:
            key = (row["kind"], row["name"])
            if key not in world.workshop or key in kept:
                continue
            deps, detail = row.get("deps") or {}, row.get("detail") or {}
            needs: list[tuple[str, str]] = []
            if row["kind"] == L.THING_TYPE:
                needs = [(L.THING, t) for t in deps.get("things", [])]
            elif row["kind"] == L.THING_GROUP:
                needs = [(L.THING_GROUP, c) for c in deps.get("children", [])]
            elif row["kind"] == L.POLICY:
                needs = [arn_ref(t) for t in deps.get("targets", [])]
            elif row["kind"] == L.CA_CERTIFICATE:
                needs = [(r["kind"], r["name"]) for r in world.there
                         if r["kind"] == L.CERTIFICATE and (r.get("detail") or {}).get("ca") == row["name"]]
            elif row["kind"] == L.STACK:
                needs = [(r["kind"], r["name"]) for r in world.there
                         if (r.get("detail") or {}).get("by_stack") == row["name"] and r["kind"] != L.IAM_ROLE]
            elif detail.get("by_stack") and (L.STACK, detail["by_stack"]) in kept:
                needs = [(L.STACK, detail["by_stack"])]
            for kind, name in needs:
                why = stays(kind, name)
                if why is not None:
                    roots[key] = roots.get((kind, name), why)
                    kept[key] = f"{_label(kind, name)} stays: {roots[key]}"
                    changed = True
                    break


# ---------------------------------------------------------------------------------------- steps


def _identity(row: Mapping) -> dict:
    key = L.IDENTITY.get(row["kind"])
    value = (row.get("identity") or {}).get(key) if key else None
    return {key: value} if value not in (None, "") else {}


def _steps_for(row: Mapping, world: _World, allow: bool) -> list[Step]:
    """The steps that remove (or restore) one row of the workshop's, in ``ORDER``'s terms."""
    kind, name, detail, deps = row["kind"], row["name"], row.get("detail") or {}, row.get("deps") or {}
    arn, expect = row.get("arn", ""), {"expect": _identity(row)}

    def linked(names: Iterable[str], other: str) -> list[str]:
        return [n for n in names if allow or world.ours(other, n)]

    if detail.get("by_stack"):
        left = [Step("check what the stack left", kind, name, {"stack_kind": kind, "stack": detail["by_stack"]})]
        if kind != L.POLICY:
            return left
        targets = [t for t in deps.get("targets", []) if allow or world.ours(*arn_ref(t))]
        detach = Step("detach policy from its targets", kind, name, {"targets": targets}, f"{len(targets)} target(s)")
        return [detach, *left]
    if kind == L.THING_TYPE:
        steps = [] if detail.get("deprecated") else [Step("deprecate thing type", kind, name, expect)]
        if any(not world.ours(L.THING, t) for t in deps.get("things", [])):
            return steps  # allowed to deprecate; AWS deletes no type a thing still uses
        return steps + [Step("delete thing type", kind, name, expect, "on AWS, 5 minutes after its deprecation")]
    if kind == L.JOB:
        steps = [Step("cancel job", kind, name, expect)] if row.get("status") in ("IN_PROGRESS", "SCHEDULED") else []
        return steps + [Step("delete job", kind, name, expect)]
    if kind == L.TOPIC_RULE:
        steps = [Step("disable topic rule", kind, name, expect)] if row.get("status") != "disabled" else []
        return steps + [Step("delete topic rule", kind, name, expect)]
    if kind == L.CERTIFICATE:
        policies, things = linked(deps.get("policies", []), L.POLICY), linked(deps.get("things", []), L.THING)
        return [Step("detach policies from certificate", kind, name, {"arn": arn, "policies": policies},
                     ", ".join(policies)),
                Step("detach things from certificate", kind, name, {"arn": arn, "things": things}, ", ".join(things)),
                Step("deactivate certificate", kind, name),
                Step("delete certificate", kind, name, {"force": bool(detail.get("ca"))},
                     "forceDelete: issued by the workshop's CA" if detail.get("ca") else "")]
    if kind == L.THING:
        groups = linked(deps.get("groups", []), L.THING_GROUP)
        principals = [c for c in deps.get("certificates", []) if allow or world.ours(*arn_ref(c))]
        return [Step("remove thing from its groups", kind, name, {**expect, "groups": groups}, ", ".join(groups)),
                Step("delete shadows", kind, name, {**expect, "shadows": list(detail.get("shadows", []))}),
                Step("delete thing", kind, name, {**expect, "principals": principals})]
    if kind == L.THING_GROUP:
        policies = linked(deps.get("policies", []), L.POLICY)
        return [Step("detach policies from thing group", kind, name, {**expect, "arn": arn, "policies": policies},
                     ", ".join(policies)),
                Step("delete thing group", kind, name, {**expect, "depth": int(detail.get("depth", 0) or 0)})]
    if kind == L.POLICY:
        targets = [t for t in deps.get("targets", []) if allow or world.ours(*arn_ref(t))]
        return [Step("detach policy from its targets", kind, name, {**expect, "targets": targets},
                     f"{len(targets)} target(s)"),
                Step("delete old policy versions", kind, name, expect),
                Step("delete policy", kind, name, expect)]
    if kind == L.CA_CERTIFICATE:
        return [Step("deactivate CA certificate", kind, name), Step("delete CA certificate", kind, name)]
    if kind == L.STACK:
        steps = []
        bucket = detail.get("bucket", "")
        bucket_deps = world.by_key.get((L.S3_BUCKET, bucket), {}).get("deps") or {}
        others = world.foreign_objects(bucket, bucket_deps) if bucket else []
        if others:
            steps.append(Step("empty bucket", kind, name, {"bucket": bucket, "objects": others},
                              f"{len(others)} object(s) not the workshop's: you allowed it"))
        return steps + [Step("delete stack", kind, name, expect)]
    if kind == L.S3_OBJECT:
        return [Step("delete S3 object", kind, name, {**_identity_of_object(row), "bucket": detail.get("bucket", "")})]
    single = {
        L.JOB_TEMPLATE: "delete job template", L.FUNCTION: "delete Lambda function", L.LOG_GROUP: "delete log group",
        L.PROVISIONING_TEMPLATE: "delete provisioning template", L.S3_BUCKET: "delete S3 bucket",
        L.IAM_ROLE: "delete IAM role", L.FLEET_INDEXING: "restore fleet indexing", L.LOG_LEVEL: "restore log level",
        L.LOGGING: "restore logging options",
    }
    if kind in single:
        return [Step(single[kind], kind, name, {**dict(detail), **expect})]
    return []


def _identity_of_object(row: Mapping) -> dict:
    identity = row.get("identity") or {}
    return {"expect": {k: identity[k] for k in ("ETag", "VersionId") if identity.get(k)}}


# ----------------------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """The clean-up, before it runs: its steps in order, every side effect on what is not the
    workshop's, what of the workshop's stays and why, what is there but not the workshop's, and the
    identities the clean-up learned (written to the ledger when it runs)."""

    steps: list[Step]
    side_effects: Any
    kept: Any
    not_ours: Any
    learned: list[L.Entry]
    allow_side_effects: bool = False

    def __iter__(self):
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)


def _learned(rows: list[dict]) -> list[L.Entry]:
    """Identities of the workshop's resources that no call recorded (a bulk task's things, a JITP
    thing, a JITR function's policy): known now, they keep being known after an interruption."""
    learned = []
    for row in rows:
        key = L.IDENTITY.get(row["kind"])
        value = (row.get("identity") or {}).get(key) if key else None
        if not (row.get("exists") and row.get("ours") and value) or row["kind"] not in (L.THING, L.POLICY):
            continue
        if row.get("source") in ("ledger", None) or (row.get("detail") or {}).get("by_stack"):
            continue
        learned.append(L.Entry(row["kind"], row["name"], arn=row.get("arn", ""), operation=DERIVED_OPERATION,
                               detail={"source": row.get("source", "")}, identity={key: value}))
    return learned


def plan(ws: Any, found: Any, allow_side_effects: bool = False) -> Plan:
    """The ordered steps that remove the workshop's resources in ``found`` (a pure function).

    A resource is removed when it is there, is the workshop's, carries ``ws.prefix`` (a stack: is
    ``ws.stack_name``), and deleting it changes nothing that is not the workshop's, unless
    ``allow_side_effects`` (see the module's rules). Thing groups go children first; event
    configurations are restored in one call; local files go in one step.
    """
    import pandas as pd

    world = _World(records(found), ws.prefix, ws.stack_name)
    kept, effects = _reasons(world, allow_side_effects)
    _cascade(world, kept)
    owns_settings = bool(getattr(ws, "owns_account_settings", True))
    for row in world.there:  # settings whose value before the workshop is unknown stay as they are
        if row["kind"] in L.SETTINGS and (row.get("detail") or {}).get("before") == L.UNKNOWN_BEFORE:
            kept[(row["kind"], row["name"])] = "its value before the workshop is unknown"
        why = class_keeps(row["kind"], row["name"], row.get("detail"), owns_settings)
        if why and row.get("ours"):
            kept[(row["kind"], row["name"])] = why
    rows = [r for r in world.there if r.get("ours") and (r["kind"], r["name"]) not in kept]
    steps = [step for row in rows if row["kind"] not in (L.EVENT_CONFIGURATION, LOCAL_FILE)
             for step in _steps_for(row, world, allow_side_effects)]
    events = {r["name"]: (r.get("detail") or {}).get("before") for r in rows if r["kind"] == L.EVENT_CONFIGURATION}
    events = {name: before for name, before in events.items() if before in (True, False)}
    if events:
        steps.append(Step("restore event configuration", L.EVENT_CONFIGURATION, ", ".join(sorted(events)),
                          {"configurations": events}))
    kept_certificates = {name for kind, name in kept if kind in (L.CERTIFICATE, L.CA_CERTIFICATE)}
    files = sorted((r.get("detail") or {}).get("path", "") for r in rows if r["kind"] == LOCAL_FILE
                   and not set((r.get("detail") or {}).get("certificates", [])) & kept_certificates)
    if files:
        steps.append(Step("delete local files", LOCAL_FILE, f"{len(files)} file(s)", {"paths": files}))
    rank = {action: n for n, action in enumerate(ORDER)}
    steps.sort(key=lambda s: (rank[s.action], -int(s.args.get("depth", 0)) if s.action == "delete thing group" else 0))
    for effect in effects:
        effect["the clean-up"] = (f"leaves it alone: {_label(*effect['key'])} stays" if effect["key"] in kept
                                  else "does it (you allowed side effects)")
    for row in rows:  # allowed to deprecate a type a thing that is not ours uses, not to delete it
        users = (row.get("deps") or {}).get("things", [])
        if row["kind"] == L.THING_TYPE and any(not world.ours(L.THING, t) for t in users):
            kept[(row["kind"], row["name"])] = "deprecated only: AWS deletes no thing type that a thing still uses"
    side_effects = pd.DataFrame([{k: e[k] for k in SIDE_EFFECT_COLUMNS} for e in effects], columns=SIDE_EFFECT_COLUMNS)
    kept_frame = pd.DataFrame([{"kind": k, "name": n, "why it stays": why} for (k, n), why in kept.items()],
                              columns=KEPT_COLUMNS)
    not_ours = pd.DataFrame([{"kind": r["kind"], "name": r["name"], "why": r.get("why", ""),
                              "source": r.get("source", "")}
                             for r in world.there if not r.get("ours") and r["kind"] not in L.SETTINGS],
                            columns=NOT_OURS_COLUMNS)
    return Plan(steps, side_effects, kept_frame, not_ours, _learned(world.there), allow_side_effects)


__all__ = ["CALLS", "ORDER", "Plan", "Step", "account_wide", "arn_ref", "carries_prefix", "class_keeps", "decide",
           "plan", "records"]
