"""AWS-like delays the lab can add, so that the kit's waits are exercised before a class meets AWS.

By default the lab answers at once: a role is usable as soon as it exists, the fleet index and the
logs show a change the moment it happens, a bulk task races through its lines. AWS does none of
that. ``LOCALCORE_REALISM=aws`` switches on the delays below, each an estimate of what a sandbox
account shows [unconfirmed: AWS publishes no figures; these are observed orders of magnitude];
``LOCALCORE_DELAY_<NAME>=<seconds>`` sets one of them alone (with or without the profile), so a test
or an instructor can stretch or remove exactly one.

Every delay is a plain number of seconds, read when it is used: nothing here sleeps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# name -> seconds under LOCALCORE_REALISM=aws. Keep the list short and each name what it delays.
AWS_DELAYS: dict[str, float] = {
    "bulk_line": 0.05,  # a bulk registration task provisions ~20 lines a second
    # IAM spreads a new role in seconds; until then AWS IoT cannot assume it (StartThingRegistrationTask,
    # CreateTopicRule/ReplaceTopicRule, SetV2LoggingOptions, a JITP CA's registrationConfig): see
    # `localcore.aws.roles`.
    "role_propagation": 8.0,
    "index_latency": 2.0,  # SearchIndex and the aggregations show the fleet as it was this long ago
    "log_latency": 3.0,  # a CloudWatch Logs event is returned by FilterLogEvents this long after its ingestion
    "policy_propagation": 2.0,  # a live MQTT connection decides with policies this old (`localcore.mqtt.broker`)
}

PROFILES = ("off", "aws")


def profile() -> str:
    raw = (os.environ.get("LOCALCORE_REALISM") or "off").strip().lower()
    if raw not in PROFILES:
        raise SystemExit(f"LOCALCORE_REALISM={raw!r}: use one of {', '.join(PROFILES)}")
    return raw


def delay(name: str) -> float:
    """Seconds the lab waits before ``name`` takes effect (0.0 unless switched on)."""
    if name not in AWS_DELAYS:
        raise KeyError(f"no such delay {name!r}; known: {', '.join(sorted(AWS_DELAYS))}")
    raw = os.environ.get(f"LOCALCORE_DELAY_{name.upper()}", "").strip()
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            raise SystemExit(f"LOCALCORE_DELAY_{name.upper()}={raw!r} is not a number of seconds") from None
        if seconds < 0:
            raise SystemExit(f"LOCALCORE_DELAY_{name.upper()}={raw!r} is negative")
        return seconds
    return AWS_DELAYS[name] if profile() == "aws" else 0.0


def check() -> dict[str, float]:
    """Every delay as configured; a bad setting stops the lab at start, never a request later."""
    profile()
    return {name: delay(name) for name in AWS_DELAYS}


def still_pending(name: str, since: float, now: float) -> float:
    """Seconds left before something that happened at ``since`` takes effect under delay ``name``
    (0.0 once it has: ``since`` and ``now`` on one clock, e.g. epoch seconds)."""
    return max(since + delay(name) - now, 0.0)


class Lagging(Generic[T]):
    """What readers see of a changing value when the reading side lags ``lag()`` seconds behind.

    ``look(now, current)`` records ``current()`` as seen at ``now`` (unless it equals the last
    record) and answers the newest record made at least ``lag()`` seconds before ``now`` (the oldest
    record when none is that old yet, so a change is never shown before the lag has passed since the
    look that first saw it). Records no reader can need any more are dropped. With no lag it answers
    ``current()`` and records nothing.
    """

    def __init__(self, lag: Callable[[], float]) -> None:
        self._lag = lag
        self._records: list[tuple[float, T]] = []
        self._lock = threading.Lock()

    def look(self, now: float, current: Callable[[], T]) -> T:
        lag = self._lag()
        if lag <= 0:
            self._records.clear()
            return current()
        value = current()
        with self._lock:
            records = self._records
            if not records or records[-1][1] != value:
                records.append((now, value))
            newest_visible = next((i for i in range(len(records) - 1, -1, -1) if records[i][0] <= now - lag), 0)
            del records[:newest_visible]
            return records[0][1]
