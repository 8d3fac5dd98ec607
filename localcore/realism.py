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

# name -> seconds under LOCALCORE_REALISM=aws. Keep the list short and each name what it delays.
AWS_DELAYS: dict[str, float] = {
    "bulk_line": 0.05,  # a bulk registration task provisions ~20 lines a second
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
