"""AWS IoT Jobs, the pure part: job-execution state machine, request parsing, payload builders.

Plain frozen dataclasses and functions, no clock and no I/O: every function that needs the time takes
``now`` (epoch seconds, a float). `localcore.aws.jobs_service` keeps the records and publishes what
these builders return. Shapes follow reference section 7 (AWS "Jobs device MQTT and HTTPS APIs"):

* execution statuses QUEUED → IN_PROGRESS → SUCCEEDED | FAILED | REJECTED (set by the device), and
  CANCELED, TIMED_OUT, REMOVED (set by the service); terminal statuses never change again;
* ``versionNumber`` starts at 1 and grows by one with every change; ``expectedVersion`` must match it;
* ``statusDetails`` is replaced when a request gives it and kept otherwise;
* device-API timestamps are whole epoch seconds; a JobExecution carries ``jobDocument`` as a JSON
  object over MQTT and as a string over HTTPS;
* rejections carry an ErrorResponse ``code`` (``InvalidTopic``, ``InvalidJson``, ...). Each error
  class here also carries the HTTP error the iot / iot-jobs-data APIs return for the same fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse

from localcore.errors import AwsError

# -- statuses ---------------------------------------------------------------------------------
QUEUED, IN_PROGRESS = "QUEUED", "IN_PROGRESS"
SUCCEEDED, FAILED, REJECTED = "SUCCEEDED", "FAILED", "REJECTED"
CANCELED, TIMED_OUT, REMOVED = "CANCELED", "TIMED_OUT", "REMOVED"
EXECUTION_STATUSES = (QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED)
PENDING = (IN_PROGRESS, QUEUED)  # the order of the pending list
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, CANCELED, TIMED_OUT, REMOVED})
DEVICE_STATUSES = (IN_PROGRESS, SUCCEEDED, FAILED, REJECTED)  # what UpdateJobExecution may set
# Status a device may set, by current status. QUEUED straight to a terminal status is accepted
# [unconfirmed: AWS documents QUEUED → IN_PROGRESS → terminal; it does not forbid the jump].
DEVICE_TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset(DEVICE_STATUSES),
    IN_PROGRESS: frozenset(DEVICE_STATUSES),
}

JOB_IN_PROGRESS, JOB_COMPLETED, JOB_CANCELED = "IN_PROGRESS", "COMPLETED", "CANCELED"
JOB_DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"
SNAPSHOT, CONTINUOUS = "SNAPSHOT", "CONTINUOUS"
NEXT = "$next"  # the job id that means "the next pending execution"

# -- limits (API model unless marked) --------------------------------------------------------
JOB_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DETAILS_KEY = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
DETAILS_VALUE_MAX = 1024
DETAILS_MAX_ENTRIES = 10  # [unconfirmed] AWS: "at most 10 can be specified"
DOCUMENT_MAX = 32768
STEP_TIMEOUT_MIN, STEP_TIMEOUT_MAX, STEP_TIMEOUT_CLEAR = 1, 10080, -1
# Device-API timestamps (queuedAt, lastUpdatedAt, timestamp, ...) are whole epoch seconds as AWS
# documents them [unconfirmed: AWS's GetPendingJobExecutions example shows milliseconds]; set 1000
# for milliseconds.
DEVICE_TIME_SCALE = 1
NOTIFY_LIST_MAX = 10  # ListNotification holds up to 10 executions of unscheduled jobs
# [unconfirmed] Describing a terminal execution (MQTT .../<jobId>/get, iot-jobs-data
# DescribeJobExecution) is refused with TerminalStateReached / TerminalStateException; AWS lists
# that error for "a command to describe a job ... in a terminal state". Set False to answer instead.
DESCRIBE_TERMINAL_IS_ERROR = True

PRESIGNED_PLACEHOLDER = re.compile(r"\$\{aws:iot:s3-presigned-url:([^}]+)\}")
PARAMETER_PLACEHOLDER = re.compile(r"\$\{aws:iot:parameter:([a-zA-Z0-9_-]+)\}")


# -- errors -----------------------------------------------------------------------------------
class JobsError(AwsError):
    """A refused jobs request: ``mqtt_code`` for the MQTT ErrorResponse, ``code``/``status`` for HTTP.

    ``execution_state`` (a JobExecutionState) goes with InvalidStateTransition and VersionMismatch.
    """

    code, status, mqtt_code = "InvalidRequestException", 400, "InvalidRequest"

    def __init__(self, message: str, *, execution_state: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.execution_state = execution_state


class JobsInvalidRequest(JobsError):
    code, status, mqtt_code = "InvalidRequestException", 400, "InvalidRequest"


class JobsInvalidJson(JobsError):
    code, status, mqtt_code = "InvalidRequestException", 400, "InvalidJson"


class JobsInvalidTopic(JobsError):
    code, status, mqtt_code = "InvalidRequestException", 400, "InvalidTopic"


class JobsResourceNotFound(JobsError):
    code, status, mqtt_code = "ResourceNotFoundException", 404, "ResourceNotFound"


class InvalidStateTransitionException(JobsError):
    code, status, mqtt_code = "InvalidStateTransitionException", 409, "InvalidStateTransition"


class VersionConflictException(JobsError):
    """expectedVersion differs. iot's CancelJobExecution models VersionConflictException (409); the
    iot-jobs-data model names no HTTP error for it [unconfirmed: the same code is used there]."""

    code, status, mqtt_code = "VersionConflictException", 409, "VersionMismatch"


class TerminalStateException(JobsError):
    code, status, mqtt_code = "TerminalStateException", 410, "TerminalStateReached"


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Execution:
    """One job execution on one thing (a retry or a re-queue is a new one, with the next number)."""

    job_id: str
    thing_name: str
    queued_at: float
    execution_number: int = 1
    status: str = QUEUED
    status_details: Mapping[str, str] = field(default_factory=dict)
    version: int = 1
    started_at: float | None = None
    last_updated_at: float | None = None
    force_canceled: bool = False
    retry_attempt: int = 0
    step_deadline: float | None = None  # stepTimeoutInMinutes, reset by each update that gives one
    timeout_deadline: float | None = None  # the job's inProgressTimeoutInMinutes, from the start

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def updated_at(self) -> float:
        return self.last_updated_at if self.last_updated_at is not None else self.queued_at

    @property
    def deadline(self) -> float | None:
        """When an IN_PROGRESS execution times out (the earlier of its two timers), if ever."""
        if self.status != IN_PROGRESS:
            return None
        timers = [t for t in (self.step_deadline, self.timeout_deadline) if t is not None]
        return min(timers) if timers else None

    def seconds_before_timeout(self, now: float) -> int | None:
        deadline = self.deadline
        return None if deadline is None else max(0, int(deadline - now))


@dataclass(frozen=True)
class UpdateRequest:
    """UpdateJobExecution (MQTT ``.../<jobId>/update`` or iot-jobs-data)."""

    status: str
    status_details: Mapping[str, str] | None = None  # None: keep the current details
    expected_version: int | None = None
    execution_number: int | None = None
    include_state: bool = False
    include_document: bool = False
    step_timeout: int | None = None
    client_token: str | None = None


@dataclass(frozen=True)
class StartNextRequest:
    """StartNextPendingJobExecution (MQTT ``.../start-next`` or iot-jobs-data)."""

    status_details: Mapping[str, str] | None = None
    step_timeout: int | None = None
    client_token: str | None = None


@dataclass(frozen=True)
class DescribeRequest:
    """DescribeJobExecution (MQTT ``.../<jobId>/get`` or iot-jobs-data); jobId may be ``$next``."""

    execution_number: int | None = None
    include_document: bool = True
    client_token: str | None = None


# -- the state machine ----------------------------------------------------------------------
def execution_state(execution: Execution) -> dict[str, Any]:
    """JobExecutionState: status, statusDetails (when any) and versionNumber."""
    state: dict[str, Any] = {"status": execution.status}
    if execution.status_details:
        state["statusDetails"] = dict(execution.status_details)
    state["versionNumber"] = execution.version
    return state


def check_device_status(new_status: str) -> None:
    """Raise InvalidRequest unless ``new_status`` is one a device may set at all."""
    if new_status not in EXECUTION_STATUSES:
        raise JobsInvalidRequest(f"status {new_status!r} is not a job execution status")
    if new_status not in DEVICE_STATUSES:
        raise JobsInvalidRequest(f"A device can only set the status to {', '.join(DEVICE_STATUSES)}, not {new_status}")


def check_device_transition(current: Execution, new_status: str) -> None:
    """Raise unless a device may move ``current`` to ``new_status``."""
    check_device_status(new_status)
    if new_status not in DEVICE_TRANSITIONS.get(current.status, frozenset()):
        raise InvalidStateTransitionException(
            f"Job execution {current.job_id} on {current.thing_name} is {current.status}; "
            f"it cannot change to {new_status}",
            execution_state=execution_state(current),
        )


def check_version(current: Execution, expected: int | None) -> None:
    if expected is not None and expected != current.version:
        raise VersionConflictException(
            f"expectedVersion {expected} does not match the current version {current.version} of job "
            f"execution {current.job_id} on {current.thing_name}",
            execution_state=execution_state(current),
        )


def _step_deadline(step_timeout: int | None, previous: float | None, now: float) -> float | None:
    if step_timeout is None:
        return previous
    if step_timeout == STEP_TIMEOUT_CLEAR:
        return None
    return now + 60 * step_timeout


def _start_fields(current: Execution, now: float, in_progress_timeout_min: int | None) -> dict[str, Any]:
    """What changes when an execution starts (only the first time it becomes IN_PROGRESS)."""
    if current.status != QUEUED:
        return {}
    deadline = now + 60 * in_progress_timeout_min if in_progress_timeout_min else None
    return {"started_at": now, "timeout_deadline": deadline}


def apply_update(
    current: Execution, request: UpdateRequest, now: float, in_progress_timeout_min: int | None = None
) -> Execution:
    """The execution after a device's UpdateJobExecution, or a JobsError for AWS's rejection.

    Checks, in order: the status is one a device may set, ``expectedVersion``, the transition.
    """
    check_device_status(request.status)
    check_version(current, request.expected_version)
    check_device_transition(current, request.status)
    changes: dict[str, Any] = {"status": request.status, "version": current.version + 1, "last_updated_at": now}
    if request.status == IN_PROGRESS:
        changes.update(_start_fields(current, now, in_progress_timeout_min))
    if request.status_details is not None:
        changes["status_details"] = dict(request.status_details)
    terminal = request.status in TERMINAL
    changes["step_deadline"] = None if terminal else _step_deadline(request.step_timeout, current.step_deadline, now)
    if terminal:
        changes["timeout_deadline"] = None
    return replace(current, **changes)


def start(
    current: Execution, request: StartNextRequest, now: float, in_progress_timeout_min: int | None = None
) -> Execution:
    """StartNextPendingJobExecution on the next pending execution: QUEUED becomes IN_PROGRESS.

    An execution already IN_PROGRESS is returned unchanged [unconfirmed: AWS does not say whether
    its statusDetails or step timer change].
    """
    if current.status != QUEUED:
        return current
    changes: dict[str, Any] = {
        "status": IN_PROGRESS, "version": current.version + 1, "last_updated_at": now,
        "step_deadline": _step_deadline(request.step_timeout, None, now),
        **_start_fields(current, now, in_progress_timeout_min),
    }
    if request.status_details is not None:
        changes["status_details"] = dict(request.status_details)
    return replace(current, **changes)


def cancel(
    current: Execution, *, force: bool, now: float, expected_version: int | None = None,
    status_details: Mapping[str, str] | None = None,
) -> Execution:
    """CancelJobExecution: QUEUED is canceled; IN_PROGRESS only with ``force``; terminal never."""
    check_version(current, expected_version)
    if current.terminal or (current.status == IN_PROGRESS and not force):
        hint = " without force" if current.status == IN_PROGRESS else ""
        raise InvalidStateTransitionException(
            f"Job execution {current.job_id} on {current.thing_name} is {current.status}; it cannot be canceled{hint}",
            execution_state=execution_state(current),
        )
    return _service_end(current, CANCELED, now, status_details=status_details,
                        force_canceled=current.status == IN_PROGRESS)


def _service_end(current: Execution, status: str, now: float, **extra: Any) -> Execution:
    details = extra.pop("status_details", None)
    changes = {"status": status, "version": current.version + 1, "last_updated_at": now,
               "step_deadline": None, "timeout_deadline": None, **extra}
    if details is not None:
        changes["status_details"] = dict(details)
    return replace(current, **changes)


def time_out(current: Execution, now: float) -> Execution:
    """TIMED_OUT if a timer has run out, else the execution unchanged."""
    deadline = current.deadline
    if deadline is None or deadline > now:
        return current
    return _service_end(current, TIMED_OUT, now)


def remove(current: Execution, now: float) -> Execution:
    """REMOVED (the thing left the target group of a continuous job); terminal ones stay as they are."""
    return current if current.terminal else _service_end(current, REMOVED, now)


def check_deletable(current: Execution, force: bool) -> None:
    """DeleteJobExecution: a terminal execution, or any with ``force``."""
    if not current.terminal and not force:
        raise InvalidStateTransitionException(
            f"Job execution {current.job_id} on {current.thing_name} is {current.status}; "
            "only a terminal execution can be deleted without force",
            execution_state=execution_state(current),
        )


def retry_due(retry_config: Mapping[str, Any] | None, execution: Execution) -> bool:
    """Whether jobExecutionsRetryConfig asks for another attempt after this FAILED/TIMED_OUT one."""
    if not retry_config or execution.status not in (FAILED, TIMED_OUT):
        return False
    allowed = max(
        (c.get("numberOfRetries", 0) for c in retry_config.get("criteriaList") or ()
         if c.get("failureType") in (execution.status, "ALL")),
        default=0,
    )
    return execution.retry_attempt < allowed


def next_attempt(previous: Execution, now: float) -> Execution:
    """A fresh QUEUED execution after ``previous`` (a retry, or a thing re-joining a continuous job)."""
    retry = previous.retry_attempt + 1 if previous.status in (FAILED, TIMED_OUT) else 0
    return Execution(previous.job_id, previous.thing_name, queued_at=now,
                     execution_number=previous.execution_number + 1, retry_attempt=retry)


# -- pending lists ----------------------------------------------------------------------------
def pending(executions: Iterable[Execution]) -> list[Execution]:
    """Non-terminal executions: IN_PROGRESS first, then QUEUED, each oldest first."""
    live = [e for e in executions if e.status in PENDING]
    return sorted(live, key=lambda e: (PENDING.index(e.status), e.queued_at, e.job_id))


def next_pending(executions: Iterable[Execution]) -> Execution | None:
    ordered = pending(executions)
    return ordered[0] if ordered else None


# -- job-level rules ----------------------------------------------------------------------------
PROCESS_COUNTS = {
    CANCELED: "numberOfCanceledThings", SUCCEEDED: "numberOfSucceededThings", FAILED: "numberOfFailedThings",
    REJECTED: "numberOfRejectedThings", QUEUED: "numberOfQueuedThings", IN_PROGRESS: "numberOfInProgressThings",
    REMOVED: "numberOfRemovedThings", TIMED_OUT: "numberOfTimedOutThings",
}


def process_details(executions: Iterable[Execution]) -> dict[str, int]:
    """jobProcessDetails counts over the current execution of each thing."""
    counts = dict.fromkeys(PROCESS_COUNTS.values(), 0)
    for execution in executions:
        counts[PROCESS_COUNTS[execution.status]] += 1
    return counts


def snapshot_done(target_selection: str, executions: Iterable[Execution]) -> bool:
    """A SNAPSHOT job is COMPLETED once every execution is terminal; a CONTINUOUS one never is."""
    return target_selection == SNAPSHOT and all(e.terminal for e in executions)


# -- MQTT requests ----------------------------------------------------------------------------
GET_PENDING, START_NEXT, DESCRIBE, UPDATE = "get", "start-next", "describe", "update"


@dataclass(frozen=True)
class JobsTopic:
    """A request on ``$aws/things/<thing>/jobs/...``; replies go to ``<topic>/accepted|rejected``."""

    thing: str
    operation: str
    job_id: str | None = None
    topic: str = ""

    def reply_topic(self, outcome: str) -> str:
        return f"{self.topic}/{outcome}"


def parse_jobs_topic(topic: str) -> JobsTopic | None:
    """The request a topic names; None for the service's own reply and notification topics.

    Raises JobsInvalidTopic for a jobs topic that maps to no operation.
    """
    parts = topic.split("/")
    if len(parts) < 5 or parts[:2] != ["$aws", "things"] or parts[3] != "jobs" or not parts[2]:
        raise JobsInvalidTopic(f"{topic} is not a jobs topic")
    thing, rest = parts[2], parts[4:]
    if rest[-1] in ("accepted", "rejected") or rest in (["notify"], ["notify-next"]):
        return None
    if rest == ["get"]:
        return JobsTopic(thing, GET_PENDING, None, topic)
    if rest == ["start-next"]:
        return JobsTopic(thing, START_NEXT, None, topic)
    if len(rest) == 2 and rest[1] in ("get", "update") and rest[0]:
        job_id = rest[0]
        if rest[1] == "update" and job_id == NEXT:
            raise JobsInvalidTopic(f"{topic}: an update names its job; {NEXT} is only for get")
        return JobsTopic(thing, DESCRIBE if rest[1] == "get" else UPDATE, job_id, topic)
    raise JobsInvalidTopic(f"{topic} does not map to any jobs operation")


def parse_payload(payload: bytes) -> dict[str, Any]:
    """The request's JSON object (an empty payload is ``{}`` [unconfirmed])."""
    if not payload.strip():
        return {}
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise JobsInvalidJson(f"The request is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise JobsInvalidJson("The request must be a JSON object")
    return document


def client_token_of(payload: bytes) -> str | None:
    """The clientToken of a request, if it has a readable one (for rejections)."""
    try:
        token = json.loads(payload).get("clientToken")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def _typed(document: Mapping[str, Any], name: str, kind: type, *, default: Any = None) -> Any:
    value = document.get(name, default)
    if value is None:
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise JobsInvalidRequest(f"{name} must be an integer")
    if kind is not int and not isinstance(value, kind):
        raise JobsInvalidRequest(f"{name} must be a {kind.__name__}")
    return value


def check_status_details(details: Any) -> dict[str, str] | None:
    if details is None:
        return None
    if not isinstance(details, dict):
        raise JobsInvalidRequest("statusDetails must be an object of strings")
    if len(details) > DETAILS_MAX_ENTRIES:
        raise JobsInvalidRequest(f"statusDetails can hold at most {DETAILS_MAX_ENTRIES} entries")
    for key, value in details.items():
        if not DETAILS_KEY.match(key):
            raise JobsInvalidRequest(f"statusDetails key {key!r} is not valid ([a-zA-Z0-9:_-], 1-128 characters)")
        if not isinstance(value, str) or not value or len(value) > DETAILS_VALUE_MAX or not value.isprintable():
            raise JobsInvalidRequest(f"statusDetails value of {key!r} must be a printable string of 1-1024 characters")
    return dict(details)


def check_step_timeout(minutes: int | None) -> int | None:
    if minutes is None or minutes == STEP_TIMEOUT_CLEAR or STEP_TIMEOUT_MIN <= minutes <= STEP_TIMEOUT_MAX:
        return minutes
    raise JobsInvalidRequest(f"stepTimeoutInMinutes must be -1 or between {STEP_TIMEOUT_MIN} and {STEP_TIMEOUT_MAX}")


def request_token(document: Mapping[str, Any]) -> str | None:
    """The clientToken of a request without other fields (GetPendingJobExecutions)."""
    return _typed(document, "clientToken", str)


def update_request(document: Mapping[str, Any]) -> UpdateRequest:
    status = document.get("status")
    if not isinstance(status, str):
        raise JobsInvalidRequest("status is required")
    return UpdateRequest(
        status=status,
        status_details=check_status_details(document.get("statusDetails")),
        expected_version=_typed(document, "expectedVersion", int),
        execution_number=_typed(document, "executionNumber", int),
        include_state=_typed(document, "includeJobExecutionState", bool, default=False),
        include_document=_typed(document, "includeJobDocument", bool, default=False),
        step_timeout=check_step_timeout(_typed(document, "stepTimeoutInMinutes", int)),
        client_token=_typed(document, "clientToken", str),
    )


def start_next_request(document: Mapping[str, Any]) -> StartNextRequest:
    return StartNextRequest(
        status_details=check_status_details(document.get("statusDetails")),
        step_timeout=check_step_timeout(_typed(document, "stepTimeoutInMinutes", int)),
        client_token=_typed(document, "clientToken", str),
    )


def describe_request(document: Mapping[str, Any]) -> DescribeRequest:
    return DescribeRequest(
        execution_number=_typed(document, "executionNumber", int),
        include_document=_typed(document, "includeJobDocument", bool, default=True),
        client_token=_typed(document, "clientToken", str),
    )


# -- payload builders (device APIs) ---------------------------------------------------------
def _device_time(moment: float | None) -> int | None:
    return None if moment is None else int(moment * DEVICE_TIME_SCALE)


def _dropping_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def summary(execution: Execution) -> dict[str, Any]:
    """JobExecutionSummary (GetPendingJobExecutions, notify)."""
    return _dropping_none({
        "jobId": execution.job_id,
        "queuedAt": _device_time(execution.queued_at),
        "startedAt": _device_time(execution.started_at),
        "lastUpdatedAt": _device_time(execution.updated_at),
        "versionNumber": execution.version,
        "executionNumber": execution.execution_number,
    })


def execution_payload(execution: Execution, document: Any, now: float) -> dict[str, Any]:
    """JobExecution; ``document`` is the job document (an object over MQTT, a string over HTTPS),
    or None to leave it out."""
    return _dropping_none({
        "jobId": execution.job_id,
        "thingName": execution.thing_name,
        "jobDocument": document,
        "status": execution.status,
        "statusDetails": dict(execution.status_details) or None,
        "queuedAt": _device_time(execution.queued_at),
        "startedAt": _device_time(execution.started_at),
        "lastUpdatedAt": _device_time(execution.updated_at),
        "versionNumber": execution.version,
        "executionNumber": execution.execution_number,
        "approximateSecondsBeforeTimedOut": execution.seconds_before_timeout(now),
    })


def _answer(body: dict[str, Any], now: float, client_token: str | None) -> dict[str, Any]:
    token = {"clientToken": client_token} if client_token is not None else {}
    return {**body, "timestamp": _device_time(now), **token}


def pending_accepted(executions: Iterable[Execution], now: float, client_token: str | None) -> dict[str, Any]:
    """``.../jobs/get/accepted``: inProgressJobs and queuedJobs."""
    ordered = pending(executions)
    return _answer({
        "inProgressJobs": [summary(e) for e in ordered if e.status == IN_PROGRESS],
        "queuedJobs": [summary(e) for e in ordered if e.status == QUEUED],
    }, now, client_token)


def execution_accepted(
    execution: Execution | None, document: Any, now: float, client_token: str | None
) -> dict[str, Any]:
    """``start-next/accepted`` and ``<jobId>/get/accepted``: no ``execution`` when there is none."""
    body = {"execution": execution_payload(execution, document, now)} if execution is not None else {}
    return _answer(body, now, client_token)


def update_accepted(
    execution: Execution, request: UpdateRequest, document: Any, now: float
) -> dict[str, Any]:
    """``<jobId>/update/accepted``: executionState and jobDocument only when asked for."""
    body: dict[str, Any] = {}
    if request.include_state:
        body["executionState"] = execution_state(execution)
    if request.include_document and document is not None:
        body["jobDocument"] = document
    return _answer(body, now, request.client_token)


def rejection(error: JobsError, now: float, client_token: str | None) -> dict[str, Any]:
    """ErrorResponse on ``.../rejected``."""
    body: dict[str, Any] = {"code": error.mqtt_code, "message": error.message}
    if error.execution_state is not None:
        body["executionState"] = error.execution_state
    return _answer(body, now, client_token)


def notify_payload(executions: Iterable[Execution], now: float) -> dict[str, Any]:
    """``.../jobs/notify``: the pending list by status (empty statuses left out [unconfirmed])."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for execution in pending(executions)[:NOTIFY_LIST_MAX]:
        jobs.setdefault(execution.status, []).append(summary(execution))
    return {"timestamp": _device_time(now), "jobs": jobs}


def notify_next_payload(execution: Execution | None, document: Any, now: float) -> dict[str, Any]:
    """``.../jobs/notify-next``: the next execution, or no ``execution`` when none is pending [unconfirmed]."""
    return execution_accepted(execution, document, now, None)


def pending_view(executions: Iterable[Execution]) -> tuple[tuple[tuple[str, int, str], ...], tuple[str, int] | None]:
    """What notifications depend on: the pending (jobId, executionNumber, status) list and its head."""
    ordered = pending(executions)
    listed = tuple((e.job_id, e.execution_number, e.status) for e in ordered)
    return listed, (listed[0][0], listed[0][1]) if listed else None


def job_topic(thing: str, suffix: str) -> str:
    return f"$aws/things/{thing}/jobs/{suffix}"


# -- job documents ----------------------------------------------------------------------------
def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 object URL: ``s3://b/k``, ``https://s3[.<region>].amazonaws.com/b/k``
    or ``https://b.s3[.<region>].amazonaws.com/k``."""
    parsed = urlparse(url.strip())
    host, path = (parsed.hostname or ""), unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "s3" and host and path:
        return host, path
    if parsed.scheme in ("https", "http") and host.endswith(".amazonaws.com"):
        labels = host[: -len(".amazonaws.com")].split(".")
        if labels[0] == "s3" or labels[0].startswith("s3-"):
            bucket, _, key = path.partition("/")
            if bucket and key:
                return bucket, key
        elif len(labels) >= 2 and (labels[1] == "s3" or labels[1].startswith("s3-")) and path:
            return labels[0], path
    raise JobsInvalidRequest(
        f"{url!r} is not an S3 object URL (https://s3.amazonaws.com/<bucket>/<key> or s3://<bucket>/<key>)"
    )


def check_document(text: str) -> None:
    """A job document is a JSON object of at most 32768 characters."""
    if len(text) > DOCUMENT_MAX:
        raise JobsInvalidRequest(f"The job document is longer than {DOCUMENT_MAX} characters")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise JobsInvalidRequest(f"The job document is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise JobsInvalidRequest("The job document must be a JSON object")


def presigned_urls(text: str) -> list[str]:
    """The S3 URLs named by ``${aws:iot:s3-presigned-url:<url>}`` placeholders."""
    return PRESIGNED_PLACEHOLDER.findall(text)


def substitute_presigned(text: str, presign: Callable[[str, str], str]) -> str:
    """Replace each presigned-URL placeholder with ``presign(bucket, key)``.

    The URL is written JSON-escaped, so the document stays valid JSON whatever the URL holds.
    """
    def one(found: re.Match[str]) -> str:
        bucket, key = parse_s3_url(found.group(1))
        return json.dumps(presign(bucket, key))[1:-1]

    return PRESIGNED_PLACEHOLDER.sub(one, text)


def substitute_parameters(text: str, parameters: Mapping[str, str] | None) -> str:
    """Replace ``${aws:iot:parameter:<name>}`` with documentParameters (job templates); unknown names stay."""
    if not parameters:
        return text
    return PARAMETER_PLACEHOLDER.sub(
        lambda found: json.dumps(parameters[found.group(1)])[1:-1] if found.group(1) in parameters else found.group(0),
        text,
    )
