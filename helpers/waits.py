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

The other way to wait: `retry_while` repeats one AWS call while AWS answers that it cannot do it
*yet* (a `Transient` answer), with backoff, one line saying why the first time, and a clear
`AwsNotReady` when the wait has lasted too long:

    task = retry_while(lambda: ws.iot.start_thing_registration_task(...), transient=bulk_task_running(ws))

The transient answers of the workshop: `ROLE_NOT_YET_ASSUMABLE` (a role made seconds ago),
`THROTTLED`, and `bulk_task_running(ws)` (one bulk registration task per account at a time).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .failures import Explained, WorkshopError

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
# Retries while AWS says "not yet" (`retry_while`): how long each kind of "not yet" may last.
ROLE_PROPAGATION = Budget(30, 120, "IAM spreads a new role within seconds, now and then within a minute or two")
THROTTLING = Budget(30, 120, "AWS IoT's API rate quotas refill every second")
BULK_TURN = Budget(300, 3600, "AWS runs one bulk registration task per account at a time; "
                   "each of a class's takes a minute or two")

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


# ----------------------------------------------------------------- retrying while AWS says "not yet"


def aws_error_message(error: BaseException) -> str:
    """The message of a botocore ``ClientError`` (or anything with its ``response``), else ``str(error)``."""
    return str(getattr(error, "response", {}).get("Error", {}).get("Message", "") or error)


@dataclass(frozen=True)
class Transient:
    """An AWS answer that means "not yet": which errors (``matches``), the line shown the first time
    (``waiting``), how long it may last (``budget``) and what to do when it lasts longer (``advice``)."""

    name: str
    matches: Callable[[BaseException], bool]
    waiting: str
    budget: Budget
    advice: str


class AwsNotReady(WorkshopError):
    """AWS kept answering "not yet" for longer than it should; the message says what to do."""


def _answer_is(codes: Sequence[str], pattern: str | None = None) -> Callable[[BaseException], bool]:
    wording = re.compile(pattern, re.IGNORECASE) if pattern else None

    def matches(error: BaseException) -> bool:
        return aws_error_code(error) in codes and (wording is None or bool(wording.search(aws_error_message(error))))

    return matches


ROLE_NOT_YET_ASSUMABLE = Transient(
    "role not yet assumable",
    # AWS IoT: InvalidRequestException "... is unable to assume role (sts:AssumeRole) ... If the role was just
    # created or updated, please try again in a few seconds"; Lambda: InvalidParameterValueException "The role
    # defined for the function cannot be assumed by Lambda".
    _answer_is(("InvalidRequestException", "InvalidParameterValueException", "InvalidParameterException"),
               r"unable to assume role|cannot be assumed|not authorized to perform: sts:AssumeRole"),
    "the role was made seconds ago and AWS cannot use it yet (IAM is spreading it) — trying again…",
    ROLE_PROPAGATION,
    "Check that the role exists and trusts the service (iam.get_role(RoleName=...)); if it does, run the cell again.",
)
THROTTLED = Transient(
    "throttled",
    _answer_is(("ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded")),
    "AWS asks to slow down (the account's API rate quota is used up, by you or your classmates) — trying again…",
    THROTTLING,
    "Many calls at once from this account: wait a minute, then run the cell again.",
)
BULK_TASK_WORDING = r"only one .*task|already in progress|still in progress|at a time"


def bulk_task_running(ws: Any) -> Transient:
    """StartThingRegistrationTask refused because another task of this account is still running.

    AWS documents the limit (one bulk registration task at a time per account), not its answer:
    an ``InvalidRequestException`` whose wording mentions it, or, whatever the wording, while
    ``list_thing_registration_tasks(status="InProgress")`` lists a task, counts as "not yet".
    """
    worded = _answer_is(("InvalidRequestException", "LimitExceededException"), BULK_TASK_WORDING)

    def matches(error: BaseException) -> bool:
        if worded(error):
            return True
        if aws_error_code(error) not in ("InvalidRequestException", "LimitExceededException"):
            return False
        try:
            return bool(ws.iot.list_thing_registration_tasks(status="InProgress").get("taskIds"))
        except Exception:  # noqa: BLE001 - cannot tell: the original answer is raised
            return False

    return Transient(
        "bulk task running",
        matches,
        "another bulk registration task is running in this account (AWS runs one at a time) — "
        "waiting for its turn…",
        BULK_TURN,
        "iot.list_thing_registration_tasks(status='InProgress') lists the running task; "
        "ask whoever started it (the instructor in class), or stop your own earlier one with "
        "iot.stop_thing_registration_task(taskId=...), then run the cell again.",
    )


def retry_while(
    call: Callable[[], T],
    *,
    transient: Transient | Sequence[Transient] = (ROLE_NOT_YET_ASSUMABLE, THROTTLED),
    message: str | None = None,
    backend: str | None = None,
    interval: float | None = None,
    max_interval: float | None = None,
    status: Any = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Call ``call()`` and return its answer, calling again while AWS answers one of ``transient``
    (the first that matches an answer counts: put the most specific first).

    The first "not yet" shows one line (``message``, else the transient's own), rewritten in place
    when another kind of "not yet" follows; a success after waiting says how long it took. Pauses double from ``interval``
    up to ``max_interval`` (sized to the backend), each stretched by up to half at random so a
    class's kernels do not retry in step. A "not yet" that lasts longer than its `Budget` for the
    backend raises `AwsNotReady` with AWS's last answer and what to do; any other error is raised
    as it is.
    """
    kinds = (transient,) if isinstance(transient, Transient) else tuple(transient)
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    backend = backend or backend_of()
    local = backend == "local"
    pause = interval if interval is not None else (0.25 if local else 2.0)
    max_interval = max_interval if max_interval is not None else (2.0 if local else 20.0)
    started: dict[str, float] = {}
    first_seen: float | None = None
    shown: str | None = None
    while True:
        try:
            result = call()
        except Exception as error:
            kind = next((k for k in kinds if k.matches(error)), None)
            if kind is None:
                raise
            now = clock()
            since = started.setdefault(kind.name, now)
            limit = kind.budget.seconds(backend)
            if now - since >= limit:
                if status is not None:
                    status.fail(f"✗ still not possible after {_clock_text(now - since)}")
                raise AwsNotReady(
                    f"AWS still answers {aws_error_code(error)} after {_clock_text(now - since)} of retries "
                    f"({kind.name}): {aws_error_message(error)}\n{kind.advice}"
                ) from None
            if first_seen is None:
                first_seen = now
                if status is None:
                    from .ui import StatusLine

                    status = StatusLine()
            line = f"⏳ {message or kind.waiting}"
            if line != shown:  # once per kind of "not yet": a role, then a classmate's task, ...
                status.update(line)
                shown = line
            sleep(min(pause * (1 + jitter() / 2), max(limit - (now - since), 0.0)))
            pause = min(pause * 2, max_interval)
            continue
        if first_seen is not None:
            status.done(f"✓ done after {_clock_text(clock() - first_seen)} of waiting")
        return result


__all__ = ["Budget", "MESSAGE", "LOG_ENTRIES", "INDEX_BUILD", "INDEX_UPDATE", "JOB", "PROVISIONING", "BULK_TASK",
           "THING_TYPE_DEPRECATION", "ROLE_PROPAGATION", "THROTTLING", "BULK_TURN", "Transient", "AwsNotReady",
           "ROLE_NOT_YET_ASSUMABLE", "THROTTLED", "bulk_task_running", "retry_while", "aws_error_message",
           "WaitTimedOut", "aws_error_code", "backend_of", "set_backend", "wait_until"]
