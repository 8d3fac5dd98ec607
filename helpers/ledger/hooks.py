"""The botocore event handlers that feed the ledger: `watch` puts them on a client.

Before a recorded call they keep its parameters and read what must be read first (`reads.PRE_READS`,
`reads.SETTING_READERS`); after a *successful* call they turn it into entries (`calls.entries_for`),
read identities the response lacks (`reads.read_identity`), leave out what existed before the call,
and append the entries to the ledger file. The lesson's call is never changed nor stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .calls import UNKNOWN_BEFORE, UPDATES, entries_for, operations
from .kinds import IDENTITY
from .reads import PRE_READS, READERS, SETTING_READERS, read_identity


class Recorder:
    """The event handlers of one client: parameters kept before the call, entries written after it."""

    PARAMS = "workshop_ledger_params"
    BEFORE = "workshop_ledger_before"
    EXISTED = "workshop_ledger_existed"

    def __init__(self, client: Any, ws: Any, write: Any) -> None:
        self.client, self.ws, self.write = client, ws, write
        self.service = client.meta.service_model.service_name

    def before(self, params: Mapping | None = None, model: Any = None, context: dict | None = None, **_: Any) -> None:
        if context is None or model is None:
            return
        params = dict(params or {})
        context[self.PARAMS] = params
        key = (self.service, model.name)
        if key in SETTING_READERS:
            try:
                context[self.BEFORE] = SETTING_READERS[key](self.client, params)
            except Exception:  # noqa: BLE001 - the lesson's call must go on even if we cannot read
                context[self.BEFORE] = UNKNOWN_BEFORE
        existed = {}
        for kind, name in PRE_READS.get(key, lambda p: [])(params):
            if not name:
                continue
            try:
                existed[(kind, name)] = read_identity(kind, self.client, name)
            except Exception:  # noqa: BLE001 - unknown: the call's result is recorded as created
                continue
        context[self.EXISTED] = existed

    def after(self, http_response: Any = None, parsed: Mapping | None = None, model: Any = None,
              context: dict | None = None, **_: Any) -> None:
        if model is None or context is None or http_response is None or http_response.status_code >= 300:
            return
        key = (self.service, model.name)
        found = entries_for(self.service, model.name, context.get(self.PARAMS, {}), parsed or {},
                            context.get(self.BEFORE, UNKNOWN_BEFORE))
        existed = context.get(self.EXISTED, {})
        kept = []
        for entry in found:
            self._complete_identity(entry)
            before = existed.get((entry["kind"], entry["name"]))
            if key in UPDATES:
                if before:
                    entry.setdefault("detail", {})["previous"] = before
            elif before and before == entry.get("identity"):
                continue  # AWS answered with what was there already: used, not created, by the workshop
            kept.append(entry)
        if kept:
            self.write(self.ws, model.name, kept, self.client.meta.region_name or "")

    def _complete_identity(self, entry: dict) -> None:
        kind, identity = entry["kind"], entry.setdefault("identity", {})
        if kind not in IDENTITY or IDENTITY[kind] in identity or kind not in READERS:
            return
        try:
            identity.update(read_identity(kind, self.client, entry["name"]) or {})
        except Exception:  # noqa: BLE001 - recorded without its identity; the clean-up says so
            entry.setdefault("detail", {})["identity"] = "could not be read"


def watch(client: Any, ws: Any, write: Any) -> Any:
    """Register the handlers on ``client`` (once; a second call changes nothing) and return it.
    ``write(ws, operation, entries, region)`` appends what a call recorded."""
    if not hasattr(getattr(client, "meta", None), "events"):
        return client
    recorder = Recorder(client, ws, write)
    service_id = client.meta.service_model.service_id.hyphenize()
    for operation in operations(recorder.service):
        client.meta.events.register(f"before-parameter-build.{service_id}.{operation}", recorder.before,
                                    unique_id=f"workshop-ledger-before-{operation}")
        client.meta.events.register(f"after-call.{service_id}.{operation}", recorder.after,
                                    unique_id=f"workshop-ledger-after-{operation}")
    return client


__all__ = ["Recorder", "watch"]
