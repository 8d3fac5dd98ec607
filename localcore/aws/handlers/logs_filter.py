"""CloudWatch Logs FilterLogEvents with CloudWatch's filter patterns.

moto stores the events and selects them by group, stream and time; its pattern matching knows
plain terms only and lets every JSON pattern through (so ``{$.logLevel = INFO}`` would return
everything). This handler asks moto for the events with no pattern, matches them with
`localcore.iot.log_filter`, and pages the result itself.

With the ``log_latency`` delay of `localcore.realism` (``LOCALCORE_REALISM=aws``) an event is
returned only that many seconds after its ingestion, as CloudWatch Logs makes new events searchable
after a while [unconfirmed figure].
"""

from __future__ import annotations

import time
from typing import Any

from ... import realism
from ...errors import ResourceNotFoundException
from ...iot.log_filter import InvalidParameterException, compile_pattern
from . import handles

MAX_LIMIT = 10_000  # events per page, CloudWatch's maximum and default
TOKEN_SEPARATOR = "@"


@handles("logs", "FilterLogEvents")
def filter_log_events(lab, params: dict) -> dict:
    group = _group_name(params)
    limit = params.get("limit") or MAX_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterException(f"limit must be between 1 and {MAX_LIMIT}.")
    matcher = compile_pattern(params.get("filterPattern"))
    logs = lab.backend("logs")
    with lab.lock:  # the AWS IoT log writer adds streams under the same lock
        if group not in logs.groups:
            raise ResourceNotFoundException("The specified log group does not exist.")
        streams = _stream_names(logs.groups[group], params)
        events = _all_events(logs, group, streams, params.get("startTime"), params.get("endTime")) if streams else []
    latency = realism.delay("log_latency")
    if latency:
        searchable = searchable_before(time.time(), latency)
        events = [event for event in events if event["ingestionTime"] <= searchable]
    matched = [event for event in events if matcher(event["message"])]
    start = _start_after(matched, params.get("nextToken"), group)
    page = matched[start:start + limit]
    output: dict[str, Any] = {
        "events": [
            {name: event[name] for name in ("logStreamName", "timestamp", "message", "ingestionTime", "eventId")}
            for event in page
        ],
        "searchedLogStreams": [{"logStreamName": name, "searchedCompletely": True} for name in streams],
    }
    if start + limit < len(matched):
        output["nextToken"] = f"{group}{TOKEN_SEPARATOR}{page[-1]['eventId']}"
    return output


def searchable_before(now_s: float, latency_s: float) -> int:
    """The latest ingestion time (epoch ms) of an event FilterLogEvents returns at ``now_s``."""
    return int((now_s - latency_s) * 1000)


def _group_name(params: dict) -> str:
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if bool(name) == bool(identifier):
        raise InvalidParameterException("Specify exactly one of logGroupName and logGroupIdentifier.")
    if identifier and identifier.startswith("arn:"):  # arn:aws:logs:<region>:<account>:log-group:<name>[:*]
        parts = identifier.split(":")
        if len(parts) < 7 or parts[5] != "log-group":
            raise InvalidParameterException(f"{identifier} is not a log group ARN.")
        return parts[6]
    return name or identifier


def _stream_names(group: Any, params: dict) -> list[str]:
    """The streams searched: those named, those with the prefix, or all (in moto's order)."""
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise InvalidParameterException("logStreamNames and logStreamNamePrefix cannot both be given.")
    existing = list(group.streams)
    if names:
        return [name for name in existing if name in names]
    return [name for name in existing if not prefix or name.startswith(prefix)]


def _all_events(logs: Any, group: str, streams: list[str], start: int | None, end: int | None) -> list[dict]:
    """Every event of ``streams`` between the times, oldest first, through moto's own paging."""
    events: list[dict] = []
    token = None
    while True:
        page, token, _searched = logs.filter_log_events(group, streams, start, end, MAX_LIMIT, token, "", True)
        events += page
        if not token or not page:
            return events


def _start_after(events: list[dict], token: str | None, group: str) -> int:
    """The index after the event a nextToken names (AWS returns nothing for a token it cannot read)."""
    if not token:
        return 0
    token_group, _, event_id = token.rpartition(TOKEN_SEPARATOR)
    if token_group == group:
        for index, event in enumerate(events):
            if event["eventId"] == event_id:
                return index + 1
    return len(events)
