"""AWS IoT's log entries in CloudWatch Logs, for chapter 09: every page of a FilterLogEvents answer,
a bounded wait until the entries a lesson expects are there, and the entries as a pandas table.

    everything = log_entries(ws.logs.filter_log_events, logGroupName="AWSIotLogsV2",
                             startTime=start_time, filterPattern="{$.logLevel = ERROR}")

The lesson's call stays visible: the notebook hands over the client's method and its parameters;
`log_entries` repeats the call for each ``nextToken`` and, with ``until=``, asks again until the
entries it waits for have arrived (`helpers.waits`). On AWS, AWS IoT's entries reach CloudWatch Logs a
minute or two after the fact (and the log group exists only once the first entry is written): the
wait counts down AWS's minutes. In the local lab they are there at once, so the first look usually
succeeds, nothing sleeps, and a search for entries that never come gives up within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from . import waits
from .ui import Table, table

# The columns of an entries table: what an AWS IoT log entry says, in the order a reader wants it.
COLUMNS = ("timestamp", "logLevel", "eventType", "clientId", "topicName", "status", "reason", "details")
# Kept for telling this run's entries from older ones (the certificate id of the connection).
EXTRA_COLUMNS = ("principalId",)
LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")  # least to most verbose; DISABLED writes nothing
# Error codes that mean "not there yet, ask again": no entry written yet (so no log group), throttling.
NOT_YET_CODES = ("ResourceNotFoundException", "ThrottlingException")
HINT = ("Were the actions that write them made (the cells above), at a log level that records them? "
        "Re-run those cells, then this one.")
FIRST_INTERVAL_S, MAX_INTERVAL_S = 0.25, 10.0  # asks again after 0.25 s, 0.5 s, 1 s, … at most every 10 s
NEWEST = 20  # rows an entries table shows


# ------------------------------------------------------------------------------ pure parts


def parse_entry(event: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one FilterLogEvents event's message; a message that is not a JSON object
    becomes ``{"details": message}``."""
    message = event.get("message", "")
    try:
        fields = json.loads(message)
    except ValueError:
        fields = None
    return dict(fields) if isinstance(fields, dict) else {"details": message}


def entries_frame(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """FilterLogEvents events → one row per entry (`COLUMNS` then `EXTRA_COLUMNS`), oldest first.

    A field an entry lacks (``reason`` of a success, ``topicName`` of a connect) is ``""``.
    """
    ordered = sorted(enumerate(events), key=lambda item: (item[1].get("timestamp", 0), item[0]))
    names = COLUMNS + EXTRA_COLUMNS
    rows = [[_text(parse_entry(event).get(name)) for name in names] for _position, event in ordered]
    return pd.DataFrame(rows, columns=list(names))


def _text(value: Any) -> str:
    """A cell's text: ``""`` for a missing field, JSON for an object (``resources``), else ``str``."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def level_counts(frame: pd.DataFrame, clients: Sequence[str]) -> pd.DataFrame:
    """How many entries each client id has at each level: one row per client (in the order given,
    zeros included), a column per level of `LEVELS`, and the total."""
    rows = []
    for client in clients:
        levels = frame.loc[frame["clientId"] == client, "logLevel"].value_counts()
        counts = {level: int(levels.get(level, 0)) for level in LEVELS}
        rows.append({"clientId": client, **counts, "total": sum(counts.values())})
    return pd.DataFrame(rows, columns=["clientId", *LEVELS, "total"])


def entries_table(frame: pd.DataFrame, title: str, newest: int = NEWEST) -> Table:
    """A table of the newest ``newest`` entries (`COLUMNS`); the title says how many there are."""
    count = f"the newest {newest} of {len(frame)} entries" if len(frame) > newest else f"{len(frame)} entries"
    return table(frame[list(COLUMNS)].tail(newest), title=f"{title}: {count}")


# ------------------------------------------------------------------------------ the calls


def all_events(filter_log_events: Callable[..., Mapping[str, Any]], **request: Any) -> list[dict[str, Any]]:
    """Call ``filter_log_events(**request)`` and again with each ``nextToken``; every page's events.

    CloudWatch Logs may answer a page with few events, or none, and a token for the rest.
    """
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = filter_log_events(**request, **({"nextToken": token} if token else {}))
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events


def log_entries(
    filter_log_events: Callable[..., Mapping[str, Any]],
    *,
    until: Callable[[pd.DataFrame], Any] | None = None,
    timeout: float | None = None,
    hint: str = "",
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    **request: Any,
) -> pd.DataFrame:
    """The entries ``filter_log_events(**request)`` finds (all pages), as an `entries_frame`.

    With ``until``, asks again (after 0.25 s, then twice as long each time, at most every 10 s)
    until ``until(frame)`` holds, treating `NOT_YET_CODES` as "not yet". The wait is sized to the
    backend (`helpers.waits.LOG_ENTRIES`: seconds on the lab, AWS's minutes of delivery on aws,
    with a countdown) unless ``timeout`` is given; after it, `helpers.waits.WaitTimedOut` (a
    TimeoutError) says what it saw last, then ``hint``. Without ``until``, asks once.
    """
    if until is None:
        return entries_frame(all_events(filter_log_events, **request))
    pattern = request.get("filterPattern") or "no filter pattern"
    return waits.wait_until(
        lambda: entries_frame(all_events(filter_log_events, **request)), until,
        what=f"log entries in {request.get('logGroupName')} ({pattern})",
        timeout=timeout, budget=waits.LOG_ENTRIES, interval=FIRST_INTERVAL_S, max_interval=MAX_INTERVAL_S,
        retry_codes=NOT_YET_CODES, describe=lambda frame: f"{len(frame)} entries, but not yet the ones awaited",
        hint=hint or HINT, clock=clock, sleep=sleep,
    )


__all__ = ["COLUMNS", "LEVELS", "all_events", "entries_frame", "entries_table", "level_counts", "log_entries",
           "parse_entry"]
