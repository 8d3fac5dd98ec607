"""One way to wait for the world: a condition polled against a deadline sized to the backend.

    index = wait_until(lambda: ws.iot.describe_index(indexName="AWS_Things"),
                       lambda d: d["indexStatus"] == "ACTIVE",
                       what="the index AWS_Things to be ACTIVE", budget=INDEX_BUILD, backend=ws.backend)

* It returns as soon as the condition holds (the first look usually succeeds on the lab: nothing
  sleeps, nothing is shown).
* After `QUIET_S` seconds it shows one line, rewritten in place, saying what it awaits and for how
  long already; on ``aws`` the line counts down the time AWS may take (its documented delays).
* When the deadline passes it raises `WaitTimedOut` (a ``TimeoutError``) in a few lines: what was
  awaited, what it saw last, and the caller's hint about what to do.

A `Budget` holds the two deadlines of one kind of wait: seconds on the lab, which does everything
at once, and AWS's real delays. The backend is the caller's ``ws.backend``, else the backend of the
kernel's last `helpers.workshop.connect()` (`set_backend`), else ``aws`` (the longer wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .failures import Explained

T = TypeVar("T")

QUIET_S = 3.0  # a wait shorter than this shows nothing
REFRESH_S = 1.0  # the progress line changes at most once a second


@dataclass(frozen=True)
class Budget:
    """How long one kind of wait may take: on the lab (seconds), and on AWS (with why, for the countdown)."""

    local: float
    aws: float
    why: str = ""

    def seconds(self, backend: str | None) -> float:
        return self.local if backend == "local" else self.aws


# The waits of the workshop. AWS's figures come from its documentation (see each `why`).
MESSAGE = Budget(10, 30, "messages usually arrive within a second")
LOG_ENTRIES = Budget(10, 300, "AWS IoT's log entries reach CloudWatch Logs within a few minutes")
INDEX_BUILD = Budget(15, 900, "AWS builds a new index in a minute or more, a large fleet's in several")
INDEX_UPDATE = Budget(15, 300, "updates reach AWS's fleet index within seconds to a minute")
JOB = Budget(30, 120, "a job reaches a connected device within seconds")
PROVISIONING = Budget(30, 60, "JITP and JITR finish within seconds once the device has connected")
BULK_TASK = Budget(900, 1800, "AWS runs a registration task of a few devices in a minute or two")
THING_TYPE_DEPRECATION = Budget(10, 330, "AWS deletes a deprecated thing type only 5 minutes after deprecating it")

_backend: str | None = None


def set_backend(backend: str | None) -> None:
    """The backend waits are sized for when the caller names none (`connect()` sets it)."""
    global _backend
    _backend = backend


def backend_of(ws: Any = None) -> str:
    """``ws.backend``, else the last `connect()`'s backend, else ``aws``."""
    return getattr(ws, "backend", None) or _backend or "aws"


class WaitTimedOut(Explained, TimeoutError):
    """A wait's deadline passed; the message says what was awaited, what was seen last, and what to do."""


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (or anything with its ``response``), else ``""``."""
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _clock_text(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 0)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def wait_until(
    probe: Callable[[], T],
    done: Callable[[T], Any] = bool,
    *,
    what: str,
    timeout: float | None = None,
    budget: Budget | None = None,
    backend: str | None = None,
    interval: float = 0.2,
    max_interval: float | None = None,
    retry_codes: Sequence[str] = (),
    describe: Callable[[T], str] | None = None,
    hint: str = "",
    status: Any = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``probe`` until ``done(result)`` holds and return that result.

    ``timeout`` in seconds, else ``budget`` for ``backend`` (else `backend_of()`). ``interval``
    between looks (doubling up to ``max_interval`` when given). An error whose AWS code is in
    ``retry_codes`` counts as "not yet"; any other error is raised at once. ``describe(result)``
    says how far things got (default "not yet"). ``status`` is the progress line (a
    `helpers.ui.StatusLine` by default, made only once `QUIET_S` have passed). ``clock`` and
    ``sleep`` default to ``time.monotonic`` and ``time.sleep`` (tests pass fakes).
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    backend = backend or backend_of()
    if timeout is None:
        timeout = (budget or MESSAGE).seconds(backend)
    countdown = backend != "local"
    why = f" ({budget.why})" if budget is not None and budget.why and countdown else ""
    started = clock()
    deadline = started + timeout
    pause = interval
    shown_at: float | None = None
    last = "nothing yet"
    while True:
        try:
            result = probe()
            if done(result):
                if shown_at is not None:
                    status.done(f"✓ {what}: after {_clock_text(clock() - started)}")
                return result
            last = describe(result) if describe is not None else "not yet"
        except Exception as error:  # botocore's ClientError; anything else is raised again below
            if not retry_codes or aws_error_code(error) not in retry_codes:
                raise
            last = f"{aws_error_code(error)}: {error}"
        now = clock()
        left = deadline - now
        if left <= 0:
            message = f"Waited {timeout:g} s for {what}; the last answer was {last}."
            if status is not None and shown_at is not None:
                status.fail(f"✗ {what}: not within {_clock_text(timeout)}")
            raise WaitTimedOut(message + (f"\n{hint}" if hint else ""))
        if now - started >= QUIET_S and (shown_at is None or now - shown_at >= REFRESH_S):
            if status is None:
                from .ui import StatusLine

                status = StatusLine()
            waited = _clock_text(now - started)
            if countdown:
                status.update(f"⏳ Waiting for {what}: {_clock_text(left)} left{why}; so far: {last}")
            else:
                status.update(f"⏳ Waiting for {what}: {waited} (the lab gives up after {_clock_text(timeout)}); "
                              f"so far: {last}")
            shown_at = now
        sleep(min(pause, left))
        if max_interval is not None:
            pause = min(pause * 2, max_interval)


__all__ = ["Budget", "MESSAGE", "LOG_ENTRIES", "INDEX_BUILD", "INDEX_UPDATE", "JOB", "PROVISIONING", "BULK_TASK",
           "THING_TYPE_DEPRECATION", "WaitTimedOut", "aws_error_code", "backend_of", "set_backend", "wait_until"]
