"""AWS IoT Jobs in the lab: the jobs store, targets, documents, timers, notifications and events.

Why not moto's jobs: moto 5.2.5 keeps CreateJob's parameters but little else that AWS does. It
never resolves thing-group targets (it makes one execution keyed by the group's name), leaves the
job QUEUED with ``numberOfQueuedThings`` fixed at 1, gives every execution number and version 123,
accepts a job id that already exists (replacing the job), cancels jobs regardless of ``force`` and
has no device API at all. So the lab keeps jobs and executions here (``lab.jobs``), answers every
job operation with its own handlers (`localcore.aws.handlers.jobs`), and uses moto only for what it
does hold faithfully: things, thing groups and their members, S3 objects and job templates.

What happens here, around the pure rules of `localcore.iot.jobs`:

* targets: thing ARNs and thing-group ARNs (a group's child groups included); a CONTINUOUS job gives
  an execution to a thing that joins a target group later, and marks a pending one REMOVED when the
  thing leaves (hooks on moto's membership methods, via `moto_patches.wrap_after`);
* documents: ``document``, ``documentSource`` (an object in the lab's S3, read at CreateJob) or a job
  template; ``${aws:iot:s3-presigned-url:<S3 URL>}`` becomes a working presigned URL to the lab's S3
  each time a device receives the document (GetJobDocument keeps the placeholder, as AWS does);
* the MQTT device API (`on_jobs_request`) and iot-jobs-data share one implementation; replies,
  ``notify``/``notify-next`` and JOB/JOB_EXECUTION registry events are published in order, under the
  store's lock, with `Lab.publish` (thread-safe: the broker's loop, HTTP threads and timers use it);
* timers: ``timeoutConfig`` and ``stepTimeoutInMinutes`` turn IN_PROGRESS executions TIMED_OUT;
  ``jobExecutionsRetryConfig`` queues another attempt after FAILED/TIMED_OUT;
* a SNAPSHOT job is COMPLETED when all its executions are terminal. Cancel and delete run at once
  (AWS's ``*_in_progress`` phase is only the first of the two events).

Not done, each refused with a clear error rather than ignored: ``abortConfig``, ``schedulingConfig``,
``namespaceId``, ``destinationPackageVersions``. ``jobExecutionsRolloutConfig`` is kept and shown,
but every execution is queued at once. Replies go through the broker to subscribers of the reply
topics; AWS delivers them to the requesting client even without a subscription.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    InvalidRequestException,
    NotImplementedInLab,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from ..iot import jobs as core
from ..iot.events import (
    JOB,
    JOB_EXECUTION,
    JobRecord,
    Stamp,
    job_event,
    job_execution_event,
)
from ..iot.jobs import Execution, JobsError
from . import registry

log = logging.getLogger("localcore.jobs")

Reply = tuple[str, dict[str, Any]]
REPLY_QOS = 0  # [unconfirmed] QoS of the service's replies and notifications
DEFAULT_EXPIRES_IN_SEC = 3600  # [unconfirmed] presignedUrlConfig without expiresInSec
EXPIRES_IN_SEC = (60, 3600)
IN_PROGRESS_TIMEOUT_MINUTES = (1, 10080)
RETRIES_MAX = 10
UNSUPPORTED = {
    "abortConfig": "job abort criteria",
    "schedulingConfig": "scheduled jobs and maintenance windows",
    "namespaceId": "customer-managed job namespaces (AWS IoT Greengrass)",
    "destinationPackageVersions": "software package catalog versions",
}
MODELS, BACKEND = "moto.iot.models", "IoTBackend"


@dataclass
class Job:
    """A job as the lab keeps it; ``document`` is the text as created (placeholders kept)."""

    job_id: str
    arn: str
    targets: list[str]
    document: str
    target_selection: str
    created_at: float
    document_source: str | None = None
    description: str | None = None
    presigned_url_config: dict[str, Any] | None = None
    rollout_config: dict[str, Any] | None = None
    timeout_config: dict[str, Any] | None = None
    retry_config: dict[str, Any] | None = None
    document_parameters: dict[str, str] | None = None
    job_template_arn: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    status: str = core.JOB_IN_PROGRESS
    force_canceled: bool = False
    comment: str | None = None
    reason_code: str | None = None
    last_updated_at: float = 0.0
    completed_at: float | None = None

    @property
    def in_progress_timeout(self) -> int | None:
        return (self.timeout_config or {}).get("inProgressTimeoutInMinutes")

    def describe(self, executions: list[Execution]) -> dict[str, Any]:
        """DescribeJob's ``job``."""
        return _dropping_none({
            "jobArn": self.arn, "jobId": self.job_id, "targetSelection": self.target_selection,
            "status": self.status, "forceCanceled": self.force_canceled, "reasonCode": self.reason_code,
            "comment": self.comment, "targets": list(self.targets), "description": self.description,
            "presignedUrlConfig": self.presigned_url_config, "jobExecutionsRolloutConfig": self.rollout_config,
            "createdAt": self.created_at, "lastUpdatedAt": self.last_updated_at, "completedAt": self.completed_at,
            "jobProcessDetails": core.process_details(executions), "timeoutConfig": self.timeout_config,
            "jobTemplateArn": self.job_template_arn, "jobExecutionsRetryConfig": self.retry_config,
            "documentParameters": self.document_parameters,
        })

    def summary(self, group_ids: dict[str, str]) -> dict[str, Any]:
        """ListJobs' JobSummary; ``thingGroupId`` when a target is a group (``group_ids`` by ARN)."""
        group_id = next((group_ids[t] for t in self.targets if t in group_ids), None)
        return _dropping_none({
            "jobArn": self.arn, "jobId": self.job_id, "thingGroupId": group_id,
            "targetSelection": self.target_selection, "status": self.status, "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at, "completedAt": self.completed_at,
        })

    def event_record(self, executions: list[Execution]) -> JobRecord:
        return JobRecord(
            job_id=self.job_id, target_selection=self.target_selection,
            targets=tuple(self.targets), description=self.description, created_ms=_ms(self.created_at),
            last_updated_ms=_ms(self.last_updated_at),
            completed_ms=_ms(self.completed_at) if self.completed_at is not None else None,
            comment=self.comment, process_details=core.process_details(executions),
        )


@dataclass
class _Changes:
    """What one operation changed: the pending views before it, and the messages it produced."""

    before: dict[str, Any] = field(default_factory=dict)  # thing → core.pending_view before
    jobs: set[str] = field(default_factory=set)
    replies: list[Reply] = field(default_factory=list)
    events: list[Reply] = field(default_factory=list)


class JobsService:
    """The lab's jobs: one store behind the iot and iot-jobs-data handlers and the MQTT device API."""

    def __init__(self, lab: Any, clock: Callable[[], float] = time.time) -> None:
        self.lab = lab
        self.clock = clock
        # The lab's lock: a snapshot of the lab never sees a job half-changed.
        self.lock = getattr(lab, "lock", None) or threading.RLock()
        self.jobs: dict[str, Job] = {}
        # thing → job id → that thing's executions of the job, oldest first (the last is current)
        self.executions: dict[str, dict[str, list[Execution]]] = {}
        self.job_things: dict[str, list[str]] = {}  # job id → thing names, in the order queued
        self._deadlines: dict[tuple[str, str], float] = {}
        self._timer: threading.Timer | None = None
        self._timer_at: float | None = None
        self._s3_presigner: Any = None

    # -- control plane: jobs ------------------------------------------------------------------
    def create_job(self, params: dict[str, Any]) -> Job:
        job_id = params["jobId"]
        if not core.JOB_ID.match(job_id):
            raise InvalidRequestException(
                f"Job id {job_id!r} is not valid: use 1-64 characters from a-z, A-Z, 0-9, '_' and '-'"
            )
        for name, what in UNSUPPORTED.items():
            if params.get(name):
                raise NotImplementedInLab(
                    f"The lab does not support {name} ({what}) in CreateJob; create the job without it."
                )
        template = self._template(params.get("jobTemplateArn"))
        settings = {**template, **{k: v for k, v in params.items() if v is not None}}
        document = self._document_text(settings.get("document"), settings.get("documentSource"))
        presigned = _presigned_config(settings.get("presignedUrlConfig"), document)
        selection = settings.get("targetSelection") or core.SNAPSHOT
        if selection not in (core.SNAPSHOT, core.CONTINUOUS):
            raise InvalidRequestException(f"targetSelection must be SNAPSHOT or CONTINUOUS, not {selection!r}")
        timeout = _timeout_config(settings.get("timeoutConfig"))
        retry = _retry_config(settings.get("jobExecutionsRetryConfig"))
        targets = list(dict.fromkeys(params.get("targets") or ()))
        if not targets:
            raise InvalidRequestException("targets must name at least one thing or thing group")
        with self._transaction() as changes:
            if job_id in self.jobs:
                raise ResourceAlreadyExistsException(f"Job {job_id} already exists")
            things = self._resolve(targets)
            now = self.clock()
            job = Job(
                job_id=job_id, arn=self.lab.arn("job", job_id), targets=targets, document=document,
                target_selection=selection, created_at=now, last_updated_at=now,
                document_source=settings.get("documentSource"), description=settings.get("description"),
                presigned_url_config=presigned, rollout_config=settings.get("jobExecutionsRolloutConfig"),
                timeout_config=timeout, retry_config=retry, document_parameters=settings.get("documentParameters"),
                job_template_arn=params.get("jobTemplateArn"), tags=list(params.get("tags") or ()),
            )
            if presigned is not None:
                self._presigner()  # make the S3 client now, not on the broker's loop later
            self.jobs[job_id] = job
            self.job_things[job_id] = []
            changes.jobs.add(job_id)
            for thing in things:
                self._queue(changes, job, thing, now)
            return job

    def update_job(self, params: dict[str, Any]) -> None:
        """UpdateJob: description, presignedUrlConfig, rollout and retry configuration."""
        if params.get("abortConfig"):
            raise NotImplementedInLab("The lab does not support abortConfig (job abort criteria) in UpdateJob.")
        if params.get("timeoutConfig"):
            raise InvalidRequestException("timeoutConfig cannot be changed after a job is created")
        with self._transaction():
            job = self.job(params["jobId"])
            if "description" in params:
                job.description = params["description"]
            if params.get("presignedUrlConfig"):
                job.presigned_url_config = _presigned_config(params["presignedUrlConfig"], job.document)
            if params.get("jobExecutionsRolloutConfig"):
                job.rollout_config = params["jobExecutionsRolloutConfig"]
            if params.get("jobExecutionsRetryConfig"):
                job.retry_config = _retry_config(params["jobExecutionsRetryConfig"])
            job.last_updated_at = self.clock()

    def associate_targets(self, job_id: str, targets: list[str], comment: str | None) -> Job:
        """AssociateTargetsWithJob: more targets for a CONTINUOUS job still in progress."""
        with self._transaction() as changes:
            job = self.job(job_id)
            if job.target_selection != core.CONTINUOUS or job.status != core.JOB_IN_PROGRESS:
                raise InvalidRequestException(
                    f"Job {job_id} is not a CONTINUOUS job in progress; targets cannot be added"
                )
            things = self._resolve(targets)
            job.targets.extend(t for t in dict.fromkeys(targets) if t not in job.targets)
            job.comment = comment if comment is not None else job.comment
            now = job.last_updated_at = self.clock()
            for thing in things:
                if job_id not in self.executions.get(thing, {}):
                    self._queue(changes, job, thing, now)
            return job

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ResourceNotFoundException(f"Job {job_id} does not exist")
        return job

    def describe_job(self, job_id: str) -> dict[str, Any]:
        with self._transaction():
            job = self.job(job_id)
            return {"documentSource": job.document_source, "job": job.describe(self._current(job_id))}

    def list_jobs(self, status: str | None = None, target_selection: str | None = None,
                  thing_group: str | None = None, thing_group_id: str | None = None) -> list[dict[str, Any]]:
        groups = {group.arn: group for group in list(self.lab.iot.thing_groups.values())}
        group_ids = {arn: group.thing_group_id for arn, group in groups.items()}
        wanted = {arn for arn, group in groups.items()
                  if group.thing_group_name == thing_group or group.thing_group_id == thing_group_id}
        with self._transaction():
            jobs = [job for job in self.jobs.values()
                    if (status is None or job.status == status)
                    and (target_selection is None or job.target_selection == target_selection)
                    and (thing_group is None and thing_group_id is None or wanted & set(job.targets))]
            return [job.summary(group_ids) for job in jobs]

    def job_document(self, job_id: str, before_substitution: bool = False) -> str:
        """GetJobDocument: parameters substituted unless asked not to; presigned placeholders kept."""
        job = self.job(job_id)
        if before_substitution:
            return job.document
        return core.substitute_parameters(job.document, job.document_parameters)

    def cancel_job(self, job_id: str, *, reason_code: str | None, comment: str | None, force: bool) -> Job:
        with self._transaction() as changes:
            job = self.job(job_id)
            if job.status == core.JOB_COMPLETED:  # [unconfirmed] error code
                raise InvalidRequestException(f"Job {job_id} is COMPLETED and cannot be canceled")
            now = self.clock()
            job.status, job.last_updated_at = core.JOB_CANCELED, now
            job.force_canceled = job.force_canceled or force
            job.reason_code = reason_code if reason_code is not None else job.reason_code
            job.comment = comment if comment is not None else job.comment
            self._job_event(changes, "cancellation_in_progress", job)
            for thing in self.job_things[job_id]:
                current = self.executions[thing][job_id][-1]
                if current.status == core.QUEUED or (current.status == core.IN_PROGRESS and force):
                    self._put(changes, core.cancel(current, force=force, now=now))
            self._job_event(changes, "canceled", job)
            return job

    def delete_job(self, job_id: str, *, force: bool) -> None:
        with self._transaction() as changes:
            job = self.job(job_id)
            if job.status == core.JOB_IN_PROGRESS and not force:
                raise core.InvalidStateTransitionException(
                    f"Job {job_id} is IN_PROGRESS: cancel it first, or delete it with force"
                )
            job.status, job.last_updated_at = core.JOB_DELETION_IN_PROGRESS, self.clock()
            self._job_event(changes, "deletion_in_progress", job)
            for thing in self.job_things.pop(job_id):
                self._watch(changes, thing)
                for execution in self.executions[thing].pop(job_id):
                    self._execution_event(changes, "deleted", execution)
                    self._deadlines.pop((thing, job_id), None)
            del self.jobs[job_id]
            changes.jobs.discard(job_id)
            self._job_event(changes, "deleted", job)

    # -- control plane: executions ------------------------------------------------------------
    def executions_for_job(self, job_id: str, status: str | None = None) -> list[Execution]:
        with self._transaction():
            self.job(job_id)
            return [e for e in self._current(job_id) if status is None or e.status == status]

    def executions_for_thing(self, thing: str, status: str | None = None, job_id: str | None = None) -> list[Execution]:
        with self._transaction():
            return [
                history[-1] for jid, history in self.executions.get(thing, {}).items()
                if (job_id is None or jid == job_id) and (status is None or history[-1].status == status)
            ]

    def execution(self, job_id: str, thing: str, execution_number: int | None = None) -> Execution:
        """One execution (the current one unless a number is given), or ResourceNotFound."""
        with self.lock:
            history = self.executions.get(thing, {}).get(job_id, [])
            found = [e for e in history if execution_number is None or e.execution_number == execution_number]
            if not found:
                number = f" number {execution_number}" if execution_number is not None else ""
                raise core.JobsResourceNotFound(
                    f"Job execution{number} of job {job_id} on thing {thing} does not exist"
                )
            return found[-1]

    def describe_execution(self, job_id: str, thing: str, execution_number: int | None = None) -> Execution:
        with self._transaction():
            return self.execution(job_id, thing, execution_number)

    def cancel_execution(self, job_id: str, thing: str, *, force: bool, expected_version: int | None,
                         status_details: dict[str, str] | None) -> None:
        details = core.check_status_details(status_details)
        with self._transaction() as changes:
            current = self.execution(job_id, thing)
            self._put(changes, core.cancel(current, force=force, now=self.clock(),
                                           expected_version=expected_version, status_details=details))

    def delete_execution(self, job_id: str, thing: str, execution_number: int, *, force: bool) -> None:
        with self._transaction() as changes:
            execution = self.execution(job_id, thing, execution_number)
            core.check_deletable(execution, force)
            self._watch(changes, thing)
            history = self.executions[thing][job_id]
            history.remove(execution)
            if not history:
                del self.executions[thing][job_id]
                self.job_things[job_id].remove(thing)
            self._deadlines.pop((thing, job_id), None)
            changes.jobs.add(job_id)
            self._execution_event(changes, "deleted", execution)

    def thing_arn(self, thing: str) -> str:
        return self.lab.arn("thing", thing)

    # -- device API (MQTT and iot-jobs-data) ----------------------------------------------------
    def pending_for(self, thing: str) -> list[Execution]:
        with self._transaction():
            self._require_thing(thing)
            return core.pending(self._thing_executions(thing))

    def start_next(self, thing: str, request: core.StartNextRequest) -> Execution | None:
        with self._transaction() as changes:
            return self._start_next(changes, thing, request)

    def describe_for_device(self, thing: str, job_id: str, request: core.DescribeRequest) -> Execution | None:
        with self._transaction():
            return self._describe_for_device(thing, job_id, request)

    def update_execution(self, thing: str, job_id: str, request: core.UpdateRequest) -> Execution:
        with self._transaction() as changes:
            return self._update(changes, thing, job_id, request)

    def device_document(self, job_id: str) -> str:
        """The job document as a device receives it: parameters and presigned URLs substituted."""
        job = self.job(job_id)
        text = core.substitute_parameters(job.document, job.document_parameters)
        if not core.presigned_urls(text):
            return text
        expires = int((job.presigned_url_config or {}).get("expiresInSec") or DEFAULT_EXPIRES_IN_SEC)
        return core.substitute_presigned(text, lambda bucket, key: self.presign(bucket, key, expires))

    def presign(self, bucket: str, key: str, expires_in: int) -> str:
        """A SigV4 presigned GET URL for an object in the lab's S3 (plain HTTP, the lab's endpoint)."""
        return self._presigner().generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )

    def _start_next(self, changes: _Changes, thing: str, request: core.StartNextRequest) -> Execution | None:
        self._require_thing(thing)
        head = core.next_pending(self._thing_executions(thing))
        if head is None:
            return None
        started = core.start(head, request, self.clock(), self.jobs[head.job_id].in_progress_timeout)
        if started is not head:
            self._put(changes, started)
        return started

    def _describe_for_device(self, thing: str, job_id: str, request: core.DescribeRequest) -> Execution | None:
        self._require_thing(thing)
        if job_id == core.NEXT:
            return core.next_pending(self._thing_executions(thing))
        execution = self.execution(job_id, thing, request.execution_number)
        if execution.terminal and core.DESCRIBE_TERMINAL_IS_ERROR:
            raise core.TerminalStateException(
                f"Job execution {job_id} on {thing} is {execution.status}, a terminal state"
            )
        return execution

    def _update(self, changes: _Changes, thing: str, job_id: str, request: core.UpdateRequest) -> Execution:
        self._require_thing(thing)
        current = self.execution(job_id, thing, request.execution_number)
        updated = core.apply_update(current, request, self.clock(), self.jobs[job_id].in_progress_timeout)
        self._put(changes, updated)
        return updated

    # -- MQTT -------------------------------------------------------------------------------------
    def on_jobs_request(self, thing: str, topic: str, payload: bytes, client_id: str | None = None) -> None:
        """The broker's hook: answer a publish to ``$aws/things/<thing>/jobs/...``."""
        now = self.clock()
        token = core.client_token_of(payload)
        try:
            request = core.parse_jobs_topic(topic)
        except JobsError as error:
            self._publish([(f"{topic}/rejected", core.rejection(error, now, token))])
            return
        if request is None:  # the service's own reply or notification topic
            return
        with self._transaction() as changes:
            try:
                changes.replies.append(self._answer(changes, request, core.parse_payload(payload), now))
            except JobsError as error:
                changes.replies.append((request.reply_topic("rejected"), core.rejection(error, now, token)))

    def _answer(self, changes: _Changes, request: core.JobsTopic, document: dict[str, Any], now: float) -> Reply:
        accepted = request.reply_topic("accepted")
        if request.operation == core.GET_PENDING:
            token = core.request_token(document)
            self._require_thing(request.thing)
            return accepted, core.pending_accepted(self._thing_executions(request.thing), now, token)
        if request.operation == core.START_NEXT:
            start = core.start_next_request(document)
            execution = self._start_next(changes, request.thing, start)
            return accepted, core.execution_accepted(execution, self._mqtt_document(execution), now, start.client_token)
        if request.operation == core.DESCRIBE:
            describe = core.describe_request(document)
            execution = self._describe_for_device(request.thing, request.job_id or "", describe)
            shown = self._mqtt_document(execution) if describe.include_document else None
            return accepted, core.execution_accepted(execution, shown, now, describe.client_token)
        update = core.update_request(document)
        execution = self._update(changes, request.thing, request.job_id or "", update)
        shown = self._mqtt_document(execution) if update.include_document else None
        return accepted, core.update_accepted(execution, update, shown, now)

    def _mqtt_document(self, execution: Execution | None) -> Any:
        """Over MQTT the job document is a JSON object."""
        if execution is None or execution.job_id not in self.jobs:
            return None
        return json.loads(self.device_document(execution.job_id))

    # -- registry hooks (CONTINUOUS jobs) ---------------------------------------------------------
    def thing_joined_group(self, thing: str) -> None:
        """Queue executions of CONTINUOUS jobs whose targets now include ``thing``."""
        with self._transaction() as changes:
            now = self.clock()
            for job in self._continuous_jobs():
                history = self.executions.get(thing, {}).get(job.job_id)
                if history and history[-1].status != core.REMOVED:
                    continue
                if self._reaches(job.targets, thing):
                    self._queue(changes, job, thing, now)

    def thing_left_group(self, thing: str) -> None:
        """Mark REMOVED the pending executions of CONTINUOUS jobs that no longer target ``thing``."""
        with self._transaction() as changes:
            now = self.clock()
            for job in self._continuous_jobs():
                history = self.executions.get(thing, {}).get(job.job_id)
                if history and not history[-1].terminal and not self._reaches(job.targets, thing):
                    self._put(changes, core.remove(history[-1], now))

    def _continuous_jobs(self) -> list[Job]:
        return [job for job in self.jobs.values()
                if job.target_selection == core.CONTINUOUS and job.status == core.JOB_IN_PROGRESS]

    # -- the store ----------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[_Changes]:
        """Pass the lab's gate and hold the lock; time executions out first; afterwards complete jobs
        and publish, in order."""
        gate = getattr(self.lab, "gate", None)
        with gate.writing() if gate is not None else nullcontext(), self.lock:
            changes = _Changes()
            self._expire(changes)
            try:
                yield changes
            finally:
                self._finish(changes)

    def _thing_executions(self, thing: str) -> list[Execution]:
        return [history[-1] for history in self.executions.get(thing, {}).values()]

    def _current(self, job_id: str) -> list[Execution]:
        return [self.executions[thing][job_id][-1] for thing in self.job_things.get(job_id, ())]

    def _watch(self, changes: _Changes, thing: str) -> None:
        if thing not in changes.before:
            changes.before[thing] = core.pending_view(self._thing_executions(thing))

    def _queue(self, changes: _Changes, job: Job, thing: str, now: float) -> None:
        history = self.executions.setdefault(thing, {}).get(job.job_id)
        execution = core.next_attempt(history[-1], now) if history else Execution(job.job_id, thing, queued_at=now)
        self._put(changes, execution)

    def _put(self, changes: _Changes, execution: Execution) -> None:
        """Store a new or changed execution; note what it means for notifications, events, retries."""
        thing, job_id = execution.thing_name, execution.job_id
        self._watch(changes, thing)
        history = self.executions.setdefault(thing, {}).setdefault(job_id, [])
        previous = history[-1] if history and history[-1].execution_number == execution.execution_number else None
        if previous is not None:
            history[-1] = execution
        else:
            history.append(execution)
            if thing not in self.job_things[job_id]:
                self.job_things[job_id].append(thing)
        changes.jobs.add(job_id)
        deadline = execution.deadline
        if deadline is None:
            self._deadlines.pop((thing, job_id), None)
        else:
            self._deadlines[(thing, job_id)] = deadline
        if execution.terminal and (previous is None or not previous.terminal):
            self._execution_event(changes, execution.status.lower(), execution)
            job = self.jobs[job_id]
            if job.status == core.JOB_IN_PROGRESS and core.retry_due(job.retry_config, execution):
                self._put(changes, core.next_attempt(execution, execution.updated_at))

    def _expire(self, changes: _Changes) -> None:
        now = self.clock()
        for (thing, job_id), deadline in list(self._deadlines.items()):
            if deadline <= now:
                self._put(changes, core.time_out(self.executions[thing][job_id][-1], now))

    def _finish(self, changes: _Changes) -> None:
        """Complete finished SNAPSHOT jobs, then publish replies, notifications and events."""
        now = self.clock()
        for job_id in sorted(changes.jobs):
            job = self.jobs.get(job_id)
            if job is not None and job.status == core.JOB_IN_PROGRESS and core.snapshot_done(
                job.target_selection, self._current(job_id)
            ):
                job.status, job.completed_at, job.last_updated_at = core.JOB_COMPLETED, now, now
                self._job_event(changes, "completed", job)
        notifications: list[Reply] = []
        for thing, (listed, head) in changes.before.items():
            executions = self._thing_executions(thing)
            after_listed, after_head = core.pending_view(executions)
            if after_listed != listed:
                notifications.append((core.job_topic(thing, "notify"), core.notify_payload(executions, now)))
            if after_head != head:
                first = core.next_pending(executions)
                notifications.append((core.job_topic(thing, "notify-next"),
                                      core.notify_next_payload(first, self._mqtt_document(first), now)))
        if changes.jobs or changes.before:
            changed = getattr(self.lab, "changed", None)
            if changed is not None:
                changed()  # durable state: the saver writes it
        self._publish(changes.replies + notifications + changes.events)
        self._arm_timer()

    # -- durable state ------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "executions": self.executions, "job_things": self.job_things,
                "deadlines": self._deadlines}

    def load(self, saved: dict[str, Any]) -> None:
        """Jobs saved by an earlier run of the lab; executions whose deadline passed meanwhile time out."""
        with self.lock:
            self.jobs, self.executions = saved["jobs"], saved["executions"]
            self.job_things, self._deadlines = saved["job_things"], saved["deadlines"]
            self._arm_timer()

    def _publish(self, messages: list[Reply]) -> None:
        for topic, payload in messages:
            try:
                self.lab.publish(topic, payload, REPLY_QOS)
            except Exception:  # the state changed; delivery is best effort
                log.exception("could not publish on %s", topic)

    def _arm_timer(self) -> None:
        """One timer, for the earliest execution deadline."""
        earliest = min(self._deadlines.values(), default=None)
        if earliest == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, earliest
        if earliest is not None:
            self._timer = threading.Timer(max(0.0, earliest - self.clock()) + 0.05, self._tick)
            self._timer.daemon = True
            self._timer.start()

    def _tick(self) -> None:
        """Timer thread: time out what is due (the transaction does it), then re-arm."""
        with self.lock:
            self._timer, self._timer_at = None, None
            with self._transaction():
                pass

    # -- events -------------------------------------------------------------------------------------
    def _job_event(self, changes: _Changes, operation: str, job: Job) -> None:
        if self.lab.events_enabled(JOB):
            record = job.event_record(self._current(job.job_id))
            changes.events.append(job_event(operation, record, self._stamp()))  # type: ignore[arg-type]

    def _execution_event(self, changes: _Changes, operation: str, execution: Execution) -> None:
        if self.lab.events_enabled(JOB_EXECUTION):
            changes.events.append(job_execution_event(
                operation, execution.job_id, self.thing_arn(execution.thing_name),  # type: ignore[arg-type]
                execution.status, dict(execution.status_details), self._stamp(),
            ))

    def _stamp(self) -> Stamp:
        return Stamp.now(self.lab.config.account_id, clock=self.clock)

    # -- registry look-ups ------------------------------------------------------------------------
    def _require_thing(self, thing: str) -> None:
        if registry.thing(self.lab, thing) is None:  # [unconfirmed] AWS's answer for an unknown thing
            raise core.JobsResourceNotFound(f"Thing {thing} does not exist")

    def _resolve(self, targets: list[str]) -> list[str]:
        """Thing names the targets reach, in order, each once (groups include their child groups);
        a target that does not exist is an error [unconfirmed: ResourceNotFoundException]."""
        iot, names = self.lab.iot, {}
        for target in targets:
            kind, name = self._target(target)
            if kind == "thing":
                if target not in iot.things:
                    raise ResourceNotFoundException(f"Thing {name} does not exist")
                names[name] = True
            else:
                group = iot.thing_groups.get(target)
                if group is None:
                    raise ResourceNotFoundException(f"Thing group {name} does not exist")
                for member in self._group_tree(group):
                    names.update(dict.fromkeys(thing.thing_name for thing in list(member.things.values())))
        return list(names)

    def _reaches(self, targets: list[str], thing: str) -> bool:
        """Whether the targets (as they are now) include ``thing``."""
        arn = self.thing_arn(thing)
        for target in targets:
            group = self.lab.iot.thing_groups.get(target)
            if target == arn or (group is not None and any(arn in g.things for g in self._group_tree(group))):
                return True
        return False

    def _target(self, target: str) -> tuple[str, str]:
        kind, _, name = target.rpartition(":")[2].partition("/")
        prefix = f"arn:aws:iot:{self.lab.config.region}:{self.lab.config.account_id}:"
        if not target.startswith(prefix) or kind not in ("thing", "thinggroup") or not name:
            raise InvalidRequestException(
                f"{target!r} is not the ARN of a thing or a thing group in this account and region"
            )
        return kind, name

    def _group_tree(self, group: Any) -> list[Any]:
        """A thing group and all its descendants."""
        groups = list(self.lab.iot.thing_groups.values())
        tree, index = [group], 0
        while index < len(tree):
            name = tree[index].thing_group_name
            tree.extend(g for g in groups if g.parent_group_name == name)
            index += 1
        return tree

    def _template(self, arn: str | None) -> dict[str, Any]:
        """CreateJob settings from a job template (moto keeps templates faithfully)."""
        if not arn:
            return {}
        template = self.lab.iot.jobs_templates.get(arn.rpartition("/")[2])
        if template is None or template.job_template_arn != arn:
            raise ResourceNotFoundException(f"Job template {arn} does not exist")
        if template.abort_config:
            raise NotImplementedInLab("The lab does not support abortConfig (job abort criteria) of job templates.")
        return {k: v for k, v in {
            "document": template.document, "documentSource": template.document_source,
            "description": template.description, "presignedUrlConfig": template.presigned_url_config,
            "jobExecutionsRolloutConfig": template.job_executions_rollout_config,
            "jobExecutionsRetryConfig": template.job_execution_retry_config, "timeoutConfig": template.timeout_config,
        }.items() if v}

    def _document_text(self, document: str | None, source: str | None) -> str:
        if bool(document) == bool(source):
            raise InvalidRequestException("Give exactly one of document and documentSource")
        if source:
            bucket, key = core.parse_s3_url(source)
            try:  # [unconfirmed] AWS's error code for an unreadable document source
                found = self.lab.backend("s3").get_object(bucket, key)
                document = found.value.decode("utf-8") if found is not None else None
            except Exception as exc:  # noqa: BLE001 - moto's S3 errors (no such bucket, ...) are its own types
                raise InvalidRequestException(
                    f"The job document at {source} could not be read from the lab's S3: {exc}"
                ) from None
            if document is None:
                raise InvalidRequestException(
                    f"The job document at {source} does not exist in the lab's S3 (bucket {bucket}, key {key})"
                )
        core.check_document(document or "")
        return document or ""

    def _presigner(self) -> Any:
        if self._s3_presigner is None:
            import boto3
            from botocore.config import Config

            exports = self.lab.config.env_exports()
            self._s3_presigner = boto3.session.Session().client(  # own session: the default one is not thread-safe
                "s3", endpoint_url=self.lab.config.http_url, region_name=self.lab.config.region,
                aws_access_key_id=exports["AWS_ACCESS_KEY_ID"], aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        return self._s3_presigner


# -- installation ----------------------------------------------------------------------------------
def install(lab: Any) -> JobsService:
    """Give ``lab`` its jobs service (``lab.jobs``, ``lab.on_jobs_request``) and the membership hooks.

    Call after `moto_patches.apply` (which restores moto's methods before patching).
    """
    from .moto_patches import wrap_after

    service = JobsService(lab)
    lab.jobs = service
    lab.durable("jobs", service.dump, service.load)
    lab.on_jobs_request = service.on_jobs_request
    config = lab.config

    def membership(joined: bool) -> Callable[..., None]:
        def after(backend: Any, _result: Any, *args: Any, **kwargs: Any) -> None:
            if backend.account_id != config.account_id or backend.region_name != config.region:
                return
            thing = _membership_thing(*args, **kwargs)
            jobs = lab.jobs  # whichever service the lab has now
            (jobs.thing_joined_group if joined else jobs.thing_left_group)(thing)
        return after

    wrap_after(MODELS, BACKEND, "add_thing_to_thing_group", membership(True))
    wrap_after(MODELS, BACKEND, "remove_thing_from_thing_group", membership(False))
    return service


def _membership_thing(thing_group_name: Any = None, thing_group_arn: Any = None,
                      thing_name: str | None = None, thing_arn: str | None = None) -> str:
    """The thing name from moto's (thing_group_name, thing_group_arn, thing_name, thing_arn)."""
    return thing_name or (thing_arn or "").rpartition("/")[2]


# -- helpers -----------------------------------------------------------------------------------------
def _presigned_config(config: dict[str, Any] | None, document: str) -> dict[str, Any] | None:
    if config:
        expires = config.get("expiresInSec")
        if expires is not None and not EXPIRES_IN_SEC[0] <= expires <= EXPIRES_IN_SEC[1]:
            low, high = EXPIRES_IN_SEC
            raise InvalidRequestException(f"presignedUrlConfig.expiresInSec must be between {low} and {high}")
        return dict(config)
    if core.presigned_urls(document):  # [unconfirmed] AWS needs the role to sign the URLs
        raise InvalidRequestException(
            "The job document has ${aws:iot:s3-presigned-url:...} placeholders: give presignedUrlConfig"
        )
    return None


def _timeout_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    minutes = (config or {}).get("inProgressTimeoutInMinutes")
    if minutes is not None and not IN_PROGRESS_TIMEOUT_MINUTES[0] <= minutes <= IN_PROGRESS_TIMEOUT_MINUTES[1]:
        raise InvalidRequestException("timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080")
    return dict(config) if config else None


def _retry_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    for criteria in (config or {}).get("criteriaList") or ():
        if criteria.get("failureType") not in ("FAILED", "TIMED_OUT", "ALL"):
            raise InvalidRequestException("jobExecutionsRetryConfig failureType must be FAILED, TIMED_OUT or ALL")
        if not 0 <= criteria.get("numberOfRetries", 0) <= RETRIES_MAX:
            raise InvalidRequestException(f"numberOfRetries must be between 0 and {RETRIES_MAX}")
    return dict(config) if config else None


def _dropping_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _ms(moment: float) -> int:
    return int(moment * 1000)
