"""A job agent: a device that takes AWS IoT Jobs over MQTT and runs the workshop's job document.

It uses only AWS's documented MQTT jobs API (reference section 7.3), under
``$aws/things/<thing>/jobs/``:

    notify-next                     the service says the next pending job changed
    get → get/accepted|rejected     the device asks for its pending jobs
    start-next → start-next/...     the device takes the next job; it becomes IN_PROGRESS
    <jobId>/update → update/...     the device reports SUCCEEDED or FAILED

    agent = JobAgent.from_workshop(ws, "job-agent")
    agent.start()                               # connect, subscribe, ask for jobs, in the background
    agent.wait_for_job(job_id, "SUCCEEDED")
    agent.log_df()                              # what it did, as a table
    agent.stop()

The job document it understands is the workshop's: ``{"operation": "sys-info", "sys-info":
"uptime", "topic": "sys/info"}``, optionally with ``"file": <URL>`` (a presigned S3 URL that AWS IoT
put in place of a ``${aws:iot:s3-presigned-url:...}`` placeholder), which it downloads and reports
by size and SHA-256. The decisions are plain functions (`classify`, `run_document`); the agent is a
thin shell around them: paho's network thread only queues what arrives, and one background thread
handles the messages in order, so a slow job never blocks the network loop.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import waits
from .device import Device, Message

OPERATION = "sys-info"
PROC_UPTIME = Path("/proc/uptime")
SYS_INFO = ("uptime",)
FETCH_TIMEOUT_S = 30.0
DETAILS_VALUE_MAX = 1024  # a statusDetails value holds 1 to 1024 printable characters (API model)
POLL_INTERVAL_S = {"local": 0.2, "aws": 1.0}  # follow_job: never more than five polls a second
TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT", "REMOVED")
LOG_COLUMNS = ["time", "event", "job id", "details"]
UPDATE_REFUSED = "UPDATE_REJECTED"  # the agent's outcome when the service rejected its update

# Reply kinds `classify` returns.
NOTIFY_NEXT = "notify-next"
GET_ACCEPTED, GET_REJECTED = "get/accepted", "get/rejected"
START_ACCEPTED, START_REJECTED = "start-next/accepted", "start-next/rejected"
UPDATE_ACCEPTED, UPDATE_REJECTED = "update/accepted", "update/rejected"


class JobAgentError(RuntimeError):
    """A job did not end as expected; the message says how it ended."""


class OperationError(Exception):
    """The job document asks for something the agent cannot do; the message is the FAILED reason."""


# ------------------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class JobTopics:
    """The MQTT jobs topics of one thing."""

    thing: str

    @property
    def base(self) -> str:
        return f"$aws/things/{self.thing}/jobs"

    @property
    def get(self) -> str:
        return f"{self.base}/get"

    @property
    def start_next(self) -> str:
        return f"{self.base}/start-next"

    @property
    def notify_next(self) -> str:
        return f"{self.base}/notify-next"

    def update(self, job_id: str) -> str:
        return f"{self.base}/{job_id}/update"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """What the agent subscribes to: notify-next and the replies to its three requests."""
        return (
            self.notify_next,
            f"{self.get}/accepted", f"{self.get}/rejected",
            f"{self.start_next}/accepted", f"{self.start_next}/rejected",
            f"{self.base}/+/update/accepted", f"{self.base}/+/update/rejected",
        )


def classify(topics: JobTopics, topic: str) -> tuple[str | None, str | None]:
    """``(kind, job id)`` of a received topic: kind is one of the reply kinds above, or None."""
    if topic == topics.notify_next:
        return NOTIFY_NEXT, None
    prefix = topics.base + "/"
    if not topic.startswith(prefix):
        return None, None
    rest = topic[len(prefix):].split("/")
    if rest in (["get", "accepted"], ["get", "rejected"], ["start-next", "accepted"], ["start-next", "rejected"]):
        return "/".join(rest), None
    if len(rest) == 3 and rest[1] == "update" and rest[2] in ("accepted", "rejected") and rest[0]:
        return f"update/{rest[2]}", rest[0]
    return None, None


# --------------------------------------------------------------------------------- operations


def system_uptime(proc_uptime: Path = PROC_UPTIME) -> float:
    """Seconds since the system started: ``/proc/uptime`` on Linux, else the monotonic clock.

    The monotonic clock counts from an unspecified moment, which is boot time on Linux, macOS and
    Windows; it is the portable fallback.
    """
    try:
        return float(proc_uptime.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return time.monotonic()


def format_duration(seconds: float) -> str:
    """``"2 d 03:04:05"`` (days only when there are any)."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} d {clock}" if days else clock


def fetch_url(url: str, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """GET ``url`` and return the body (a presigned S3 URL needs no credentials)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the URL of the job document
        return response.read()


def short_url(url: str) -> str:
    """The URL without its query: a presigned URL's signature grants access, so it is never shown."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def check_topic(topic: Any) -> str:
    """The document's result topic, or OperationError when a device could not publish there."""
    if not isinstance(topic, str) or not topic:
        raise OperationError("the job document has no 'topic' to publish the result to")
    if "+" in topic or "#" in topic or topic.startswith("$"):
        raise OperationError(f"the topic {topic!r} is not one a device can publish to (wildcard or reserved)")
    return topic


def run_document(
    document: Any, *, thing: str, job_id: str, uptime: Callable[[], float] = system_uptime,
    fetch: Callable[[str], bytes] = fetch_url,
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """Run a job document: ``(result topic, result payload, statusDetails for SUCCEEDED)``.

    Raises OperationError (whose message becomes the FAILED reason) for a document the agent
    cannot run: another operation, another sys-info item, no usable topic, a file it cannot fetch.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise OperationError("the job document is not JSON") from None
    if not isinstance(document, Mapping):
        raise OperationError("the job document is not a JSON object")
    operation = document.get("operation")
    if operation != OPERATION:
        raise OperationError(f"unknown operation {operation!r}; this agent runs only {OPERATION!r}")
    item = document.get(OPERATION)
    if item not in SYS_INFO:
        raise OperationError(f"unknown {OPERATION} item {item!r}; this agent reports {', '.join(SYS_INFO)}")
    topic = check_topic(document.get("topic"))
    seconds = round(uptime(), 1)
    result: dict[str, Any] = {
        "thingName": thing, "jobId": job_id, "operation": OPERATION, OPERATION: item,
        "uptime_seconds": seconds, "uptime": format_duration(seconds), "timestamp": int(time.time()),
    }
    details = {"operation": OPERATION, "uptime": format_duration(seconds)}
    if "file" in document:
        url = document["file"]
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise OperationError(f"'file' must be an http(s) URL, not {str(url)[:80]!r}")
        try:
            body = fetch(url)
        except Exception as error:  # noqa: BLE001 - any failure to fetch fails the job, with the reason
            raise OperationError(f"could not download {short_url(url)}: {error}") from None
        digest = hashlib.sha256(body).hexdigest()
        result["file"] = {"url": short_url(url), "bytes": len(body), "sha256": digest}
        details.update(file_bytes=str(len(body)), file_sha256=digest)
    return topic, result, details


def failure_details(reason: str) -> dict[str, str]:
    """statusDetails of a FAILED update: the reason, cut to what AWS accepts."""
    text = "".join(c if c.isprintable() else " " for c in reason).strip() or "failed"
    return {"operation": OPERATION, "reason": text[:DETAILS_VALUE_MAX]}


# ---------------------------------------------------------------------------------- the agent


_START, _STOP = object(), object()


class JobAgent:
    """A device that takes jobs over MQTT, runs them and reports the outcome (see the module doc).

    ``device`` is a `Device` (or anything with its ``connect``, ``connected``, ``subscribe``,
    ``publish``, ``disconnect`` and ``messages``); its client id should be the thing name.
    ``work_s`` is how long each job pretends to take, so that IN_PROGRESS can be watched.
    """

    def __init__(
        self, device: Any, thing_name: str | None = None, *, work_s: float = 0.0,
        uptime: Callable[[], float] = system_uptime, fetch: Callable[[str], bytes] = fetch_url,
        name: str = "job-agent",
    ) -> None:
        self.device = device
        self.thing_name = thing_name or device.name
        self.topics = JobTopics(self.thing_name)
        self.work_s = work_s
        self.name = name
        self._uptime, self._fetch = uptime, fetch
        self._inbox: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._log: list[dict[str, Any]] = []
        self._outcomes: dict[str, tuple[str, str]] = {}  # job id → (status, details) as the agent knows it
        self._reported: dict[str, tuple[str, str]] = {}  # job id → (status, reason) sent, not yet confirmed
        self._token_prefix = f"{name}-{uuid.uuid4().hex[:6]}"
        self._tokens = 0
        self._asking = self._ask_again = self._busy = False
        self._connected_here = False

    @classmethod
    def from_workshop(cls, ws: Any, thing_name: str, **options: Any) -> "JobAgent":
        """An agent for ``thing_name`` whose files `save_device` wrote (client id = thing name)."""
        return cls(Device.from_workshop(ws, thing_name), thing_name, **options)

    def __repr__(self) -> str:
        entries = len(self._log)
        return (f"JobAgent({self.thing_name!r}, {'running' if self.running else 'stopped'}, "
                f"{entries} log {'entry' if entries == 1 else 'entries'})")

    # -- lifecycle

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "JobAgent":
        """Connect (if needed), subscribe to the jobs topics, and ask for jobs in the background."""
        if self.running:
            return self
        if not self.device.connected:
            self.device.connect()
            self._connected_here = True
        for topic_filter in self.topics.subscriptions:
            self.device.subscribe(topic_filter)
        count = len(self.topics.subscriptions)
        self._record("connected", "", f"as {self.device.client_id}; subscribed to {count} jobs topics")
        self._stopping.clear()
        self._inbox = queue.Queue()  # a restart forgets what an earlier run left unanswered
        self._asking = self._ask_again = self._busy = False
        self.device.messages.listeners.append(self._received)
        self._thread = threading.Thread(target=self._run, name=f"{self.name}:{self.thing_name}", daemon=True)
        self._thread.start()
        self._inbox.put(_START)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread and disconnect (if `start` connected). A job being worked on
        stays IN_PROGRESS, as when a real device loses power."""
        if self._thread is None:
            return
        self._stopping.set()
        self._inbox.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        if self._received in self.device.messages.listeners:
            self.device.messages.listeners.remove(self._received)
        if self._connected_here:
            self.device.disconnect()
            self._connected_here = False
        self._record("stopped", "", "")

    def __enter__(self) -> "JobAgent":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    # -- what the notebook reads

    def log_df(self) -> Any:
        """What the agent did, oldest first: time, event, job id, details."""
        import pandas as pd

        with self._cond:
            return pd.DataFrame(list(self._log), columns=LOG_COLUMNS)

    def outcome(self, job_id: str) -> tuple[str, str] | None:
        """``(status, details)`` of a job as the service confirmed it to the agent, if any yet."""
        with self._cond:
            return self._outcomes.get(job_id)

    def wait_for_job(self, job_id: str, status: str = "SUCCEEDED", timeout: float | None = None) -> dict[str, Any]:
        """Wait until the service confirmed ``status`` for the job; return that log entry.

        Raises JobAgentError when the job ended otherwise, `helpers.waits.WaitTimedOut` (a
        TimeoutError, with the agent's last log entries) when nothing ended in time. The wait is
        sized to the backend (`helpers.waits.JOB`) unless ``timeout`` is given, and says what it
        awaits after a few seconds.
        """
        backend = "local" if getattr(self.device, "local", False) else waits.backend_of()
        timeout = waits.JOB.seconds(backend) if timeout is None else timeout
        deadline = time.monotonic() + timeout

        def look() -> dict[str, Any] | None:  # sleeps on the agent's condition up to a second: no polling
            with self._cond:
                while True:
                    outcome = self._outcomes.get(job_id)
                    if outcome is not None and outcome[0] == status:
                        return next(row for row in reversed(self._log) if row["job id"] == job_id)
                    if outcome is not None and outcome[0] != "IN_PROGRESS":
                        raise JobAgentError(f"Job {job_id} ended {outcome[0]} ({outcome[1]}), not {status}.")
                    left = min(1.0, deadline - time.monotonic())
                    if left <= 0:
                        return None
                    self._cond.wait(left)

        def where(_none: Any) -> str:
            outcome = self.outcome(job_id)
            return f"the agent has it {outcome[0]}" if outcome else "the agent has not started it"

        try:
            return waits.wait_until(look, lambda row: row is not None, what=f"job {job_id} to be {status}",
                                    timeout=timeout, interval=0, describe=where)
        except waits.WaitTimedOut:
            with self._cond:
                recent = "\n".join(f"  {r['event']:<10} {r['job id']:<20} {r['details']}" for r in self._log[-8:])
            running = "" if self.running else " The agent is not running: call start()."
            raise waits.WaitTimedOut(f"Job {job_id} did not reach {status} within {timeout:g} s.{running} "
                                     f"The agent's last entries:\n{recent or '  (none)'}") from None

    # -- the background thread

    def _received(self, message: Message) -> None:
        """paho's thread: queue jobs messages, nothing else (never publish from here)."""
        if message.topic.startswith(self.topics.base + "/"):
            self._inbox.put(message)

    def _run(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            try:
                if item is _START:
                    self._request(self.topics.get, {}, "asked", "for the pending jobs (get)")
                else:
                    self._handle(item)
            except Exception as error:  # noqa: BLE001 - the agent keeps running and says what went wrong
                self._asking = self._busy = False  # a later notification starts afresh
                self._record("error", "", f"{type(error).__name__}: {error}")

    def _handle(self, message: Message) -> None:
        kind, job_id = classify(self.topics, message.topic)
        body = message.json if isinstance(message.json, dict) else {}
        if kind is None or (kind != NOTIFY_NEXT and not self._mine(body)):
            return  # a reply to another client's request, or a topic the agent does not use
        if kind == NOTIFY_NEXT:
            execution = body.get("execution")
            self._record("notified", (execution or {}).get("jobId", ""),
                         "next job: " + execution["jobId"] if execution else "no pending job")
            if execution:
                self._ask_for_next()
        elif kind == GET_ACCEPTED:
            queued, running = body.get("queuedJobs", []), body.get("inProgressJobs", [])
            ids = ", ".join(j.get("jobId", "?") for j in running + queued)
            listed = f": {ids}" if ids else ""
            self._record("pending", "", f"{len(queued)} queued, {len(running)} in progress{listed}")
            if queued or running:
                self._ask_for_next()
        elif kind == START_ACCEPTED:
            self._asking = False
            if body.get("execution"):
                self._run_job(body["execution"])
            elif self._ask_again:
                self._ask_for_next()
            else:
                self._record("idle", "", "no job to do; waiting for notify-next")
        elif kind == UPDATE_ACCEPTED:
            self._busy = False
            self._confirmed(job_id or "")
            self._ask_for_next()
        else:  # a rejection: get, start-next or update
            self._record("rejected", job_id or "", f"{kind}: {body.get('code')}: {body.get('message')}")
            if kind == START_REJECTED:
                self._asking = False
            if kind == UPDATE_REJECTED:
                self._busy = False
                self._reported.pop(job_id or "", None)
                self._settle(job_id or "", UPDATE_REFUSED, f"{body.get('code')}: {body.get('message')}")
                self._ask_for_next()

    def _mine(self, body: Mapping[str, Any]) -> bool:
        token = body.get("clientToken")
        return isinstance(token, str) and token.startswith(self._token_prefix)

    def _ask_for_next(self) -> None:
        """Publish start-next, unless a request is out (then ask once more after its reply) or a job
        is being worked on (its update reply asks anyway)."""
        if self._asking:
            self._ask_again = True
            return
        if self._busy:
            return
        self._asking, self._ask_again = True, False
        self._request(self.topics.start_next, {}, "asked", "for the next job (start-next)")

    def _run_job(self, execution: Mapping[str, Any]) -> None:
        job_id = execution.get("jobId", "")
        version = execution.get("versionNumber")
        self._busy = True
        self._record("started", job_id, f"{execution.get('status')}, version {version}, "
                                        f"execution #{execution.get('executionNumber')}")
        self._settle(job_id, "IN_PROGRESS", "")
        if self.work_s > 0 and self._stopping.wait(self.work_s):
            self._busy = False
            return  # stopped during the job: it stays IN_PROGRESS
        try:
            topic, result, details = run_document(execution.get("jobDocument"), thing=self.thing_name,
                                                  job_id=job_id, uptime=self._uptime, fetch=self._fetch)
        except OperationError as error:
            self._record("failed", job_id, str(error))
            update = {"status": "FAILED", "statusDetails": failure_details(str(error))}
        else:
            if "file" in result:
                self._record("downloaded", job_id, f"{result['file']['bytes']} bytes from {result['file']['url']}")
            self.device.publish(topic, result)
            self._record("published", job_id, f"to {topic}: uptime {result['uptime']}")
            update = {"status": "SUCCEEDED", "statusDetails": details}
        if isinstance(version, int):
            update["expectedVersion"] = version
        self._reported[job_id] = (update["status"], update["statusDetails"].get("reason", ""))
        self._request(self.topics.update(job_id), update, "reported", update["status"], job_id)

    def _confirmed(self, job_id: str) -> None:
        status, reason = self._reported.pop(job_id, ("UPDATED", ""))
        self._record("confirmed", job_id, f"the service accepted {status}")
        self._settle(job_id, status, reason)

    def _request(self, topic: str, payload: dict[str, Any], event: str, details: str, job_id: str = "") -> None:
        self._tokens += 1
        self.device.publish(topic, {**payload, "clientToken": f"{self._token_prefix}-{self._tokens}"})
        self._record(event, job_id, details)

    def _record(self, event: str, job_id: str, details: str) -> None:
        with self._cond:
            self._log.append({"time": datetime.now(), "event": event, "job id": job_id, "details": details})
            self._cond.notify_all()

    def _settle(self, job_id: str, status: str, details: str) -> None:
        with self._cond:
            self._outcomes[job_id] = (status, details)
            self._cond.notify_all()


# ------------------------------------------------------------------------- following a job


def follow_job(ws: Any, job_id: str, timeout: float | None = None, interval: float | None = None) -> Any:
    """Poll ``list_job_executions_for_job`` until every execution of the job is terminal.

    Returns one row per status change seen: time, thing, status, versionNumber, statusDetails
    (read with ``describe_job_execution`` when the change is seen). The wait is sized to the backend
    (`helpers.waits.JOB`) unless ``timeout`` is given, says what it awaits after a few seconds, and
    raises `helpers.waits.WaitTimedOut` (a TimeoutError) with the statuses seen and a hint.
    """
    import pandas as pd

    interval = max(interval if interval is not None else POLL_INTERVAL_S.get(ws.backend, 1.0), 0.2)
    rows: list[dict[str, Any]] = []
    last: dict[str, str] = {}
    columns = ["time", "thing", "status", "versionNumber", "statusDetails"]

    def look() -> bool:
        pages = ws.iot.get_paginator("list_job_executions_for_job").paginate(jobId=job_id)
        summaries = [s for page in pages for s in page.get("executionSummaries", [])]
        for summary in summaries:
            thing = summary["thingArn"].rsplit("/", 1)[-1]
            status = summary["jobExecutionSummary"]["status"]
            if last.get(thing) != status:
                last[thing] = status
                execution = ws.iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]
                rows.append({"time": datetime.now(), "thing": thing, "status": execution["status"],
                             "versionNumber": execution.get("versionNumber"),
                             "statusDetails": (execution.get("statusDetails") or {}).get("detailsMap", {})})
        return bool(summaries) and all(status in TERMINAL for status in last.values())

    def seen(_finished: bool) -> str:
        return ", ".join(f"{thing}: {status}" for thing, status in last.items()) or "no executions"

    waits.wait_until(
        look, what=f"job {job_id} to finish", timeout=timeout, budget=waits.JOB, backend=waits.backend_of(ws),
        interval=interval, describe=seen,
        hint="A QUEUED execution waits for its device: is the job agent running (agent.start())? "
             "What it did: agent.log_df().",
    )
    return pd.DataFrame(rows, columns=columns)


def cancel_pending_executions(ws: Any, thing_name: str) -> list[str]:
    """Cancel the thing's QUEUED and IN_PROGRESS job executions (``force`` for IN_PROGRESS); return
    their job ids. A thing that does not exist has none. For a fresh start of a chapter."""
    try:
        pages = ws.iot.get_paginator("list_job_executions_for_thing").paginate(thingName=thing_name)
        executions = [e for page in pages for e in page.get("executionSummaries", [])]
    except Exception as error:  # botocore ClientError; anything else is raised again
        if getattr(error, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
    canceled = []
    for execution in executions:
        status = execution["jobExecutionSummary"]["status"]
        if status in ("QUEUED", "IN_PROGRESS"):
            ws.iot.cancel_job_execution(jobId=execution["jobId"], thingName=thing_name, force=status == "IN_PROGRESS")
            canceled.append(execution["jobId"])
    return canceled


__all__ = [
    "JobAgent", "JobAgentError", "OperationError", "JobTopics", "classify", "run_document", "failure_details",
    "system_uptime", "format_duration", "fetch_url", "short_url", "check_topic", "follow_job",
    "cancel_pending_executions",
]
