"""The inventory: what the ledger names and what derives from it, as it is on AWS now, with whose it is.

Reads only (AWS and the ledger file); `helpers.cleanup.planning` decides what to do with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from .. import ledger as L
from ..ui import Progress
from .errors import is_gone
from .bots import from_bots_stacks
from .files import file_items
from .items import COLUMNS, Item, tie
from .ownership import workshop_stacks
from .ownership import (
    IOT_LOG_GROUP, LAMBDA_LOG_GROUP, Verdict, ca_policy, iot_log_group, judge, lambda_log_group, short,
)
from .probes import probe_all

STACK_RESOURCE_KINDS = {"AWS::S3::Bucket": L.S3_BUCKET, "AWS::IoT::Policy": L.POLICY, "AWS::IAM::Role": L.IAM_ROLE}
DERIVED_OPERATION = "found by the clean-up"  # ledger entries the clean-up adds (`learned`)


def item_key(kind: str, name: str, detail: dict | None = None) -> tuple[str, str]:
    """How the inventory tells items apart: by kind and name (objects also by their bucket)."""
    if kind == L.S3_OBJECT:
        return kind, f"{(detail or {}).get('bucket', '')}/{name}"
    return kind, name


class Items:
    """The inventory while it is built: items by key, in the order found."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], Item] = {}

    def add(self, item: Item) -> Item:
        """``item``, or the item of the same key found before (which then keeps its source)."""
        return self.by_key.setdefault(item_key(item.kind, item.name, item.detail), item)

    def get(self, kind: str, name: str) -> Item | None:
        return self.by_key.get((kind, name))

    def of(self, *kinds: str) -> list[Item]:
        return [i for i in self.by_key.values() if i.kind in kinds]

    def __iter__(self):
        return iter(list(self.by_key.values()))


# -- from the ledger


def _from_ledger(entries: list[L.Entry], items: Items) -> None:
    """One item per recorded resource (with all its entries), one per changed setting."""
    shadows: dict[str, set[str]] = {}
    groups: dict[tuple[str, str], list[L.Entry]] = {}
    for entry in entries:
        if entry.kind in L.SETTINGS or entry.kind == L.BULK_TASK:
            continue
        if entry.kind == L.SHADOW:
            shadows.setdefault(entry.name, set()).add(entry.detail.get("shadowName", ""))
            continue
        groups.setdefault(item_key(entry.kind, entry.name, entry.detail), []).append(entry)
    for recorded in groups.values():
        first = recorded[0]
        detail = {k: v for k, v in first.detail.items() if k not in ("previous", "identity")}
        source = first.detail.get("source", "ledger") if first.operation == DERIVED_OPERATION else "ledger"
        items.add(Item(first.kind, first.name, first.arn, first.chapter, first.time, detail=detail, recorded=recorded,
                       source=source))
    for (kind, name), first in L.settings_baseline(entries).items():
        last = [e for e in entries if (e.kind, e.name) == (kind, name)][-1]
        items.add(Item(kind, name, chapter=first.chapter, created=first.time, source="ledger (setting)",
                       detail={**last.detail, "before": first.detail.get("before")}, recorded=[first]))
    for thing, names in shadows.items():
        item = items.get(L.THING, thing)
        if item is not None:
            item.detail["shadows"] = sorted(names - {""})


def _from_bulk_tasks(ws: Any, entries: list[L.Entry], items: Items) -> None:
    """The certificates a bulk task made, and its things (tied to those certificates)."""
    from ..provisioning import fetch_report, report_links, result_rows

    for task in (e for e in entries if e.kind == L.BULK_TASK):
        try:
            lines = [line for url in report_links(ws, task.name, "RESULTS") for line in fetch_report(url)]
        except Exception as error:  # noqa: BLE001 - a task AWS no longer knows has nothing left to list
            if is_gone(error):
                continue
            raise
        source = f"bulk task {task.name[:8]}…"
        for row in result_rows(lines):
            if row["certificate_id"]:
                items.add(Item(L.CERTIFICATE, row["certificate_id"], row["certificate_arn"] or "", task.chapter,
                               task.time, source=source))
            if row["thing_name"]:
                thing = items.add(Item(L.THING, row["thing_name"], chapter=task.chapter, created=task.time,
                                       source=source))
                tie(thing, row["certificate_arn"] or "", f"the bulk task {task.name[:8]}… made it with that "
                                                          "certificate")


def _from_cas(ws: Any, items: Items) -> None:
    """The device certificates registered (JITP/JITR) under the workshop's CA certificates."""
    from .errors import all_items

    for ca in items.of(L.CA_CERTIFICATE):
        try:
            listed = all_items(ws.iot, "list_certificates_by_ca", "certificates", caCertificateId=ca.name)
        except Exception as error:  # noqa: BLE001 - nothing to derive from a CA AWS does not know
            if is_gone(error):
                continue
            raise
        for cert in listed:
            items.add(Item(L.CERTIFICATE, cert["certificateId"], cert["certificateArn"], ca.chapter, ca.created,
                           source=f"CA {ca.name[:8]}…", detail={"ca": ca.name}))


def _attached_to_ca_certificates(items: Items) -> list[Item]:
    """Things and policy candidates attached to device certificates of the workshop's CAs."""
    cas = {i.name: i for i in items.of(L.CA_CERTIFICATE) if i.exists and i.ours}
    new = []
    for cert in items.of(L.CERTIFICATE):
        ca = cas.get(cert.detail.get("ca", ""))
        if ca is None or not cert.exists:
            continue
        source = f"attached to a certificate of CA {ca.name[:8]}…"
        for thing in cert.deps.get("things", []):
            found = items.add(Item(L.THING, thing, chapter=ca.chapter, created=ca.created, source=source))
            tie(found, cert.arn, f"it holds a device certificate of the workshop's CA {ca.name[:8]}…")
            new.append(found)
        for policy in cert.deps.get("policies", []):
            if items.get(L.POLICY, policy) is None:
                new.append(items.add(Item(L.POLICY, policy, chapter=ca.chapter, created=ca.created, source=source,
                                          detail={"ca": ca.name})))
    return new


def _stack_resources(ws: Any, items: Items) -> list[Item]:
    """The resources of the workshop's stack: deleted with it, checked after."""
    new = []
    for stack in items.of(L.STACK):
        if not (stack.exists and stack.ours and stack.name in workshop_stacks(ws.stack_name)):
            continue
        try:
            resources = ws.cloudformation.describe_stack_resources(StackName=stack.name)["StackResources"]
        except Exception:  # noqa: BLE001 - a stack that is gone has no resources to list
            continue
        for resource in resources:
            kind = STACK_RESOURCE_KINDS.get(resource["ResourceType"])
            if kind is None or not resource.get("PhysicalResourceId"):
                continue
            item = items.add(Item(kind, resource["PhysicalResourceId"], chapter=stack.chapter, created=stack.created,
                                  source=f"stack {stack.name}"))
            item.detail.update(by_stack=stack.name)
            new.append(item)
    return new


def _log_groups(items: Items, entries: list[L.Entry]) -> list[Item]:
    """The log groups AWS made for the workshop: its functions' logs, and AWS IoT's own when the
    workshop switched v2 logging on."""
    new = []
    for function in {i.name for i in items.of(L.FUNCTION)}:
        new.append(items.add(Item(L.LOG_GROUP, LAMBDA_LOG_GROUP.format(function),
                                  source=f"log of the function {function}", detail={"function": function})))
    if any(e.kind == L.LOGGING for e in entries):
        new.append(items.add(Item(L.LOG_GROUP, IOT_LOG_GROUP, source="AWS IoT's v2 logging")))
    return new


# -- whose is it


def _verdict(item: Item, items: Items, entries: list[L.Entry]) -> Verdict:
    ties = set(item.detail.get("tied_certificates", []))
    if ties and ties & set(item.deps.get("certificates", [])):
        return Verdict(True, f"the workshop's: {item.detail.get('tied_by', 'tied to a certificate of the workshop')}")
    if item.detail.get("by_stack"):
        return Verdict(True, f"a resource of the workshop's stack {item.detail['by_stack']}")
    if item.kind == L.S3_OBJECT and item.detail.get("bot_of"):
        return Verdict(True, f"a bot's stored keys, in the bucket of the workshop's stack {item.detail['bot_of']}")
    if item.kind == L.THING and item.detail.get("bot_of"):
        return Verdict(True, f"a bot that ProvisionBot of the workshop's stack {item.detail['bot_of']} made")
    if item.recorded:
        return judge(item.kind, item.recorded, item.identity)
    if item.kind in (L.CERTIFICATE, L.CA_CERTIFICATE):
        return Verdict(True, f"made by the workshop's {item.source}")
    if item.kind == L.THING and ties:
        return Verdict(False, "not the workshop's: it does not hold the certificate the workshop made for a thing of "
                              "this name (it was made again outside the workshop)")
    if item.kind == L.POLICY and item.detail.get("ca"):
        ca = items.get(L.CA_CERTIFICATE, item.detail["ca"])
        ca_certs = {c.arn for c in items.of(L.CERTIFICATE) if c.detail.get("ca") == item.detail["ca"] and c.exists}
        return ca_policy(item.identity.get("creationDate"), ca.detail.get("creationDate") if ca else None,
                         item.deps.get("targets", []), ca_certs)
    if item.kind == L.LOG_GROUP and item.detail.get("function"):
        function = items.get(L.FUNCTION, item.detail["function"])
        there = function is not None and function.exists
        current = Verdict(function.ours, function.why) if there else None
        return lambda_log_group(item.identity.get("creationTime"), function.recorded if function else [], current,
                                function.identity.get("LastModified") if there else None)
    if item.kind == L.LOG_GROUP and item.name == IOT_LOG_GROUP:
        first = L.settings_baseline(entries).get((L.LOGGING, "v2 logging"))
        return iot_log_group(item.identity.get("creationTime"), first)
    return Verdict(False, "not in the ledger")


def _judge_all(items: Iterable[Item], inventory: Items, entries: list[L.Entry]) -> None:
    for item in items:
        if not item.exists:
            item.ours, item.why = False, ""
        elif item.detail.get("unchecked"):
            item.ours, item.why = False, "kept: AWS did not say what it is now"
        else:
            verdict = _verdict(item, inventory, entries)
            item.ours, item.why = verdict.ours, verdict.why


# -- the frame


def _id(item: Item) -> str:
    key = L.IDENTITY.get(item.kind)
    if item.kind in L.NAMED_BY_AWS:
        return item.name
    value = item.identity.get(key) if key else None
    return "" if value in (None, "") else f"{key} {value}"


def _dependencies(item: Item) -> str:
    parts = []
    for key, value in item.deps.items():
        if isinstance(value, list):
            names = [v["Key"] if isinstance(v, dict) else short(str(v).rsplit("/", 1)[-1], 20) for v in value]
            if names:
                parts.append(f"{key}: " + ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else ""))
        elif value not in ("", 0, None):
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def frame(items: Iterable[Item]) -> Any:
    import pandas as pd

    rows = []
    for item in items:
        row = {k: v for k, v in asdict(item).items() if k != "recorded"}
        row.update(id=_id(item), dependencies=_dependencies(item))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).astype({"exists": bool, "ours": bool})


def ledger_entries(ws: Any, until: str | None = None) -> list[L.Entry]:
    """The ledger's entries for ``ws``'s region (recorded no later than ``until``, ISO 8601, if given)."""
    return [e for e in L.read(ws) if e.region in ("", ws.region) and (until is None or not e.time or e.time <= until)]


def inventory(ws: Any, progress: bool = True, until: str | None = None) -> Any:
    """Everything the ledger says the workshop created or changed, and what derives from it, as it is
    now: a DataFrame with kind, name, id (its identity now), exists, ours (is the one there now the
    workshop's), why, status, dependencies, source, arn, detail, deps, identity.

    ``until``: only what was recorded up to that time (ISO 8601), e.g. before an exercise began.
    """
    bar = Progress(4, "inventory") if progress else None
    entries = ledger_entries(ws, until)
    items = Items()
    _from_ledger(entries, items)
    _from_bulk_tasks(ws, entries, items)
    cache: dict = {}
    probe_all(ws, list(items), cache)
    _judge_all(items, items, entries)
    _from_cas(ws, items)
    if bar:
        bar.update(1, f"{len(items.by_key)} resources in the ledger")
    fresh = [i for i in items if not i.exists and not i.status]
    probe_all(ws, fresh, cache)
    _judge_all(fresh, items, entries)
    if bar:
        bar.update(2, "checked which still exist, and whose they are")
    more = (_stack_resources(ws, items) + from_bots_stacks(ws, items) + _attached_to_ca_certificates(items)
            + _log_groups(items, entries))
    more = [i for i in {id(i): i for i in more}.values() if not i.status]  # probed before when found twice
    probe_all(ws, more, cache)
    _judge_all([*more, *items.of(L.THING)], items, entries)
    if bar:
        bar.update(3, "looked for key files")
    ids = {i.name for i in items.of(L.CERTIFICATE, L.CA_CERTIFICATE) if i.ours or not i.exists}
    files = [items.add(f) for f in file_items(ws, ids)]
    probe_all(ws, files, cache)
    for file in files:
        file.ours, file.why = file.exists, "a file of one of the workshop's certificates" if file.exists else ""
    if bar:
        there = [i for i in items if i.exists]
        bar.close(f"{len(items.by_key)} resources, {len(there)} still there, {sum(i.ours for i in there)} of them the "
                  f"workshop's")
    return frame(items)


__all__ = ["DERIVED_OPERATION", "inventory", "item_key", "ledger_entries", "frame"]
