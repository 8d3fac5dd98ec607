"""The ledger: a record of what the workshop created, by what identifies it on AWS, so that clean-up
removes only those.

    ws = connect()                                  # every client of `ws` writes to the ledger
    ws.iot.create_thing(thingName=ws.name("t"))     # the lesson's own call, unchanged
    read(ws)                                        # [Entry(kind="thing", name="t", identity={"thingId": ...})]

`watch` registers botocore event handlers on a client (``after-call.iot.CreateThing`` and friends,
`hooks`); the notebook's calls stay exactly as written, and each *successful* create call appends one
JSON line per resource to ``<work_dir>/ledger.jsonl`` (0600, append-only, one ``write`` per line):
its kind, name, ARN and *identity* (`kinds.IDENTITY`: the thing id, the policy's creation date, the
object's ETag, the stack id, ...). A same-named resource made later, outside the workshop, has
another identity, and the clean-up leaves it alone. A create that AWS answers with a resource that
was there before (CreateThing of an existing thing) records nothing: the workshop used it, it did
not create it. A client made any other way (``boto3.client("iot")``, ``ws.session.client("iot")``)
has no handlers and records nothing: what it creates is not the workshop's.

Settings the workshop changes (registry events, logging, fleet indexing) are recorded with their
value *before* the change, read just before the call, so clean-up can put back what was there.

Only names, ids, ARNs, dates and a few plain settings are written: never a key, a certificate body,
a policy document or an object's content. `calls.entries_for` is the pure core (call in, entries out).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import hooks
from .calls import CHANGES, CREATES, UNKNOWN_BEFORE, UPDATES, entries_for, operations
from .kinds import *  # noqa: F403 - the kinds are part of the ledger's vocabulary
from .kinds import CHAINED, IDENTITY, NAMED_BY_AWS, SETTINGS, stamp
from .reads import read_events, read_identity, read_indexing, read_log_level, read_logging

LEDGER_FILE = "ledger.jsonl"
FILE_MODE = 0o600


@dataclass(frozen=True)
class Entry:
    """One line of the ledger: a resource (or setting), what identifies it, and where it came from."""

    kind: str
    name: str  # what clean-up deletes it by: a name, or an id for certificates, jobs, tasks
    arn: str = ""
    operation: str = ""
    chapter: str = ""
    time: str = ""  # ISO 8601, UTC, the client's clock
    region: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)  # what AWS answered (kinds.IDENTITY)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        if not isinstance(data, dict) or not data.get("kind") or not data.get("name"):
            raise ValueError("a ledger line needs a kind and a name")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


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


def identity_text(entry: Entry) -> str:
    """The identity of an entry in a few words: ``thingId 5f1c…``, ``ETag "9dd4…"`` (at most 40 characters)."""
    key = IDENTITY.get(entry.kind)
    if entry.kind in NAMED_BY_AWS:
        return "its id is its name"
    if key is None:
        return ""
    value = entry.identity.get(key)
    if value in (None, ""):
        return f"{key} not recorded"
    text = str(value)
    return f"{key} {text if len(text) <= 40 else text[:39] + '…'}"


def table(ws: Any) -> Any:
    """The ledger as a DataFrame: kind, name, identity, chapter, time, operation (newest last)."""
    import pandas as pd

    columns = ["kind", "name", "identity", "chapter", "time", "operation"]
    rows = [{"kind": e.kind, "name": e.name, "identity": identity_text(e), "chapter": e.chapter or "?",
             "time": e.time, "operation": e.operation} for e in read(ws)]
    return pd.DataFrame(rows, columns=columns)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def write(ws: Any, operation: str, found: list[dict], region: str) -> None:
    """Append what one call recorded (``found``: `calls.entries_for`'s dicts) to ``ws``'s ledger."""
    stamp_, chapter = now_iso(), chapter_name(os.environ)
    append(ledger_path(ws), [
        Entry(kind=f["kind"], name=f["name"], arn=f.get("arn", ""), operation=operation, chapter=chapter,
              time=stamp_, region=region, detail=f.get("detail", {}), identity=f.get("identity", {}))
        for f in found
    ])


def watch(client: Any, ws: Any) -> Any:
    """Record what ``client``'s successful calls create into ``ws``'s ledger; returns ``client``.

    Safe to call twice on the same client (the handlers are registered once). Anything that is
    not a botocore client (a test's stand-in, say) is returned unchanged.
    """
    return hooks.watch(client, ws, write)


__all__ = [
    "CHAINED", "CHANGES", "CREATES", "Entry", "IDENTITY", "LEDGER_FILE", "SETTINGS", "UNKNOWN_BEFORE", "UPDATES",
    "append", "chapter_name", "entries_for", "identity_text", "ledger_path", "now_iso", "operations", "read", "read_events",
    "read_file", "read_identity", "read_indexing", "read_log_level", "read_logging", "settings_baseline", "stamp",
    "table", "watch", "write",
]
