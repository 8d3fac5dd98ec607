"""Chapter 11's bots, for the clean-up: made on the server side by the bots stack's state machines.

The ledger has none of them (``ProvisionBot`` made the things, certificates and stored keys). Three
places name them, and the clean-up reads all three, so that a bot is found even when one place lost it
(a table item deleted by hand, an interrupted run):

* the bots' table: each item names a thing and its certificate;
* the bots' bucket: ``bots/<thing name>/...`` holds each bot's certificate and key;
* the executions of the stack's ``ProvisionBot``: each input names a thing, and the thing it created
  carries ``provisionedBy`` = the execution's name. A thing found only this way is the workshop's when
  that attribute names one of those executions; its certificates are the ones attached to it.
"""

from __future__ import annotations

import json
from typing import Any

from .. import ledger as L
from .errors import is_gone
from .items import Item, tie
from .probes import bucket_objects

BOT_KEYS = "bots/"  # `helpers.bots.bot.s3_keys`: bots/<thing name>/<file>


def from_bots_stacks(ws: Any, items: Any) -> list[Item]:
    """Items for every bot of every bots stack of the workshop's in ``items`` (a `survey.Items`)."""
    new: list[Item] = []
    for stack in items.of(L.STACK):
        table = stack.detail.get("bots_table")
        if table and stack.exists and stack.ours:
            new += _from_stack(ws, items, stack, table)
    return new


def _from_stack(ws: Any, items: Any, stack: Item, table: str) -> list[Item]:
    bucket = stack.detail.get("bucket", "")
    new: list[Item] = []
    named: set[str] = set()
    source = f"bots table {table}"
    for row in _table_rows(ws, table):
        name = row.get("thingName", {}).get("S", "")
        certificate_arn = row.get("certificateArn", {}).get("S", "")
        certificate_id = row.get("certificateId", {}).get("S", "") or certificate_arn.rsplit("/", 1)[-1]
        if not name:
            continue
        named.add(name)
        new += _bot(items, stack, name, [(certificate_id, certificate_arn)] if certificate_id else [], source,
                    thing=True)
    stored = _stored_bot_names(ws, bucket)
    runs = _provision_runs(ws, stack.detail.get("provision_machine", ""))
    for name in sorted((stored | set(runs.values())) - named):
        thing = _thing(ws, name)
        made_here = thing is not None and thing.get("attributes", {}).get("provisionedBy") in runs
        certificates = _certificates_of(ws, name) if made_here else []
        if made_here or name in stored:
            where = (f"ProvisionBot of the workshop's stack {stack.name} made it" if made_here
                     else f"its keys are in the bots' bucket {bucket}")
            new += _bot(items, stack, name, certificates, where, thing=made_here)
    return new


def _bot(items: Any, stack: Item, name: str, certificates: list[tuple[str, str]], source: str, *,
         thing: bool) -> list[Item]:
    """The items of one bot: its certificates, its thing (tied to them) and its two stored objects."""
    from ..bots.bot import s3_keys

    new = [items.add(Item(L.CERTIFICATE, certificate_id, certificate_arn, stack.chapter, stack.created,
                          source=source)) for certificate_id, certificate_arn in certificates]
    if thing:
        found = items.add(Item(L.THING, name, chapter=stack.chapter, created=stack.created, source=source))
        for _, certificate_arn in certificates:
            tie(found, certificate_arn, f"ProvisionBot of the workshop's stack {stack.name} made it with that "
                                        "certificate")
        if not certificates:
            found.detail["bot_of"] = stack.name
        new.append(found)
    for key in s3_keys(name):
        new.append(items.add(Item(L.S3_OBJECT, key, chapter=stack.chapter, created=stack.created, source=source,
                                  detail={"bucket": stack.detail.get("bucket", ""), "bot_of": stack.name,
                                          "tied_by": source})))
    return new


def _table_rows(ws: Any, table: str) -> list[dict]:
    try:
        return [row for page in ws.client("dynamodb").get_paginator("scan").paginate(TableName=table)
                for row in page.get("Items", [])]
    except Exception as error:  # noqa: BLE001 - a table that is gone names no bots
        if is_gone(error):
            return []
        raise


def _stored_bot_names(ws: Any, bucket: str) -> set[str]:
    if not bucket:
        return set()
    try:
        keys = [o["Key"] for o in bucket_objects(ws, bucket)]
    except Exception as error:  # noqa: BLE001 - a bucket that is gone stores nothing
        if is_gone(error):
            return set()
        raise
    return {key.split("/")[1] for key in keys if key.startswith(BOT_KEYS) and key.count("/") >= 2}


def _provision_runs(ws: Any, machine_arn: str) -> dict[str, str]:
    """``{execution name: thing name}`` of every ``ProvisionBot`` execution of the stack."""
    if not machine_arn:
        return {}
    sfn = ws.client("stepfunctions")
    runs: dict[str, str] = {}
    try:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
            for execution in page.get("executions", []):
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                try:
                    name = json.loads(described.get("input") or "{}").get("thingName", "")
                except ValueError:
                    name = ""
                if isinstance(name, str) and name:
                    runs[execution["name"]] = name
    except Exception as error:  # noqa: BLE001 - a state machine that is gone ran nothing
        if is_gone(error):
            return {}
        raise
    return runs


def _thing(ws: Any, name: str) -> dict | None:
    try:
        return ws.iot.describe_thing(thingName=name)
    except Exception as error:  # noqa: BLE001 - botocore ClientError
        if is_gone(error):
            return None
        raise


def _certificates_of(ws: Any, name: str) -> list[tuple[str, str]]:
    """``(certificate id, ARN)`` of the certificates attached to the thing ``name``."""
    arns = [p for page in ws.iot.get_paginator("list_thing_principals").paginate(thingName=name)
            for p in page.get("principals", []) if ":cert/" in p]
    return [(arn.rsplit("/", 1)[-1], arn) for arn in arns]


__all__ = ["from_bots_stacks"]
