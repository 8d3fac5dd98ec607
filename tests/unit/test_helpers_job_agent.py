"""helpers.job_agent without a broker: topics, the job document, and the agent against a fake
transport that answers the MQTT jobs API the way reference section 7.3 describes it."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from types import SimpleNamespace

import pytest

from helpers.device import Message, MessageLog, PublishRefused, topic_matches
from helpers.job_agent import (
    JobAgent,
    JobAgentError,
    JobTopics,
    OperationError,
    cancel_pending_executions,
    check_topic,
    classify,
    failure_details,
    follow_job,
    format_duration,
    run_document,
    short_url,
    system_uptime,
)

THING = "agent-1"
UPTIME = 93784.5  # 1 d 02:03:04
GOOD = {"operation": "sys-info", "sys-info": "uptime", "topic": "sys/info"}


# ------------------------------------------------------------------------------- topics


@pytest.mark.parametrize(
    ("topic", "expected"),
    [(f"$aws/things/{THING}/jobs/notify-next", ("notify-next", None)),
     (f"$aws/things/{THING}/jobs/get/accepted", ("get/accepted", None)),
     (f"$aws/things/{THING}/jobs/get/rejected", ("get/rejected", None)),
     (f"$aws/things/{THING}/jobs/start-next/accepted", ("start-next/accepted", None)),
     (f"$aws/things/{THING}/jobs/start-next/rejected", ("start-next/rejected", None)),
     (f"$aws/things/{THING}/jobs/job-7/update/accepted", ("update/accepted", "job-7")),
     (f"$aws/things/{THING}/jobs/job-7/update/rejected", ("update/rejected", "job-7")),
     (f"$aws/things/{THING}/jobs/notify", (None, None)),
     (f"$aws/things/{THING}/jobs/get", (None, None)),
     (f"$aws/things/{THING}/jobs/job-7/get/accepted", (None, None)),
     ("$aws/things/other/jobs/get/accepted", (None, None)),
     ("sys/info", (None, None))],
    ids=["notify-next", "get-accepted", "get-rejected", "start-next-accepted", "start-next-rejected",
         "update-accepted", "update-rejected", "notify-unused", "own-request", "describe-unused", "other-thing",
         "not-jobs"],
)
def test_classify_names_the_reply_and_its_job(topic, expected):
    assert classify(JobTopics(THING), topic) == expected


def test_the_agent_subscribes_to_notify_next_and_the_replies_of_get_start_next_and_update():
    subscriptions = JobTopics(THING).subscriptions
    base = f"$aws/things/{THING}/jobs"

    assert set(subscriptions) == {
        f"{base}/notify-next", f"{base}/get/accepted", f"{base}/get/rejected", f"{base}/start-next/accepted",
        f"{base}/start-next/rejected", f"{base}/+/update/accepted", f"{base}/+/update/rejected",
    }


# ------------------------------------------------------------------------- the document


def fetch_notes(url: str) -> bytes:
    return b"release notes\n"


@pytest.mark.parametrize(
    ("document", "problem"),
    [({"operation": "reboot", "topic": "sys/info"}, "unknown operation 'reboot'"),
     ({**GOOD, "sys-info": "disk"}, "unknown sys-info item 'disk'"),
     ({"operation": "sys-info", "sys-info": "uptime"}, "no 'topic'"),
     ({**GOOD, "topic": "sys/#"}, "wildcard or reserved"),
     ({**GOOD, "topic": "$aws/things/x/shadow/update"}, "wildcard or reserved"),
     (["sys-info"], "not a JSON object"),
     ("{not json", "not JSON"),
     ({**GOOD, "file": "ftp://example.com/x"}, "must be an http(s) URL"),
     ({**GOOD, "file": "https://bucket.example/x?X-Amz-Signature=secret"}, "could not download https://bucket.example/x?…")],
    ids=["other-operation", "other-item", "no-topic", "wildcard-topic", "reserved-topic", "not-an-object",
         "not-json", "file-not-http", "file-unreachable"],
)
def test_a_document_the_agent_cannot_run_raises_the_reason(document, problem):
    def unreachable(url):
        raise OSError("connection refused")

    with pytest.raises(OperationError) as raised:
        run_document(document, thing=THING, job_id="j", uptime=lambda: UPTIME, fetch=unreachable)

    assert problem in str(raised.value)
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize("document", [GOOD, json.dumps(GOOD)], ids=["object-over-mqtt", "string-over-https"])
def test_the_sys_info_document_reports_the_uptime_on_its_topic(document):
    topic, result, details = run_document(document, thing=THING, job_id="j1", uptime=lambda: UPTIME)

    assert topic == "sys/info"
    assert (result["thingName"], result["jobId"], result["uptime_seconds"], result["uptime"]) == (THING, "j1", UPTIME, "1 d 02:03:04")
    assert details == {"operation": "sys-info", "uptime": "1 d 02:03:04"}


def test_a_file_in_the_document_is_downloaded_and_reported_by_size_and_digest_without_the_signature():
    document = {**GOOD, "file": "https://bucket.s3.amazonaws.com/notes.txt?X-Amz-Signature=abc"}

    _topic, result, details = run_document(document, thing=THING, job_id="j", uptime=lambda: 1.0, fetch=fetch_notes)

    digest = hashlib.sha256(b"release notes\n").hexdigest()
    assert result["file"] == {"url": "https://bucket.s3.amazonaws.com/notes.txt?…", "bytes": 14, "sha256": digest}
    assert (details["file_bytes"], details["file_sha256"]) == ("14", digest)


@pytest.mark.parametrize(("seconds", "text"), [(0, "00:00:00"), (59.9, "00:00:59"), (3661, "01:01:01"),
                                               (86400, "1 d 00:00:00"), (UPTIME, "1 d 02:03:04")],
                         ids=["zero", "under-a-minute", "hours", "one-day", "day-and-time"])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("url", "shown"), [("https://b.s3.amazonaws.com/k?X-Amz-Signature=s", "https://b.s3.amazonaws.com/k?…"),
                                            ("http://127.0.0.1:4510/b/k", "http://127.0.0.1:4510/b/k")],
                         ids=["presigned", "plain"])
def test_short_url_never_shows_the_query(url, shown):
    assert short_url(url) == shown


@pytest.mark.parametrize(("reason", "expected"), [("x" * 2000, "x" * 1024), ("bad\ndocument", "bad document"), ("\n", "failed")],
                         ids=["too-long", "control-characters", "empty"])
def test_failure_details_fit_aws_status_details(reason, expected):
    assert failure_details(reason) == {"operation": "sys-info", "reason": expected}


def test_check_topic_accepts_a_plain_topic():
    assert check_topic("sys/info") == "sys/info"


@pytest.mark.parametrize(("content", "from_proc"), [("1234.56 789.01\n", True), ("garbage", False), (None, False)],
                         ids=["proc-uptime", "unreadable", "missing"])
def test_system_uptime_reads_proc_or_falls_back_to_the_monotonic_clock(tmp_path, content, from_proc):
    path = tmp_path / "uptime"
    if content is not None:
        path.write_text(content)
    before = time.monotonic()

    seconds = system_uptime(path)

    assert seconds == 1234.56 if from_proc else before <= seconds <= time.monotonic()


# ------------------------------------------------------------------- the fake jobs service


class FakeJobsDevice:
    """A `Device` stand-in that answers the MQTT jobs API in-process, as AWS IoT would.

    Replies are delivered only to subscribed filters, like the lab's broker.
    """

    def __init__(self, thing: str = THING, reject_updates: str | None = None) -> None:
        self.name = self.client_id = thing
        self.messages = MessageLog()
        self.connected = False
        self.filters: list[str] = []
        self.published: list[tuple[str, dict]] = []
        self.jobs: list[dict] = []  # {"jobId", "document", "status", "version"}
        self.reject_updates = reject_updates
        self.refused: set[str] = set()
        self.refusal = threading.Event()
        self.base = f"$aws/things/{thing}/jobs"

    def connect(self):
        self.connected = True
        return self

    def disconnect(self):
        self.connected = False

    def subscribe(self, topic_filter, qos=1):
        self.filters.append(topic_filter)
        return 1

    def _deliver(self, topic, payload):
        if any(topic_matches(f, topic) for f in self.filters):
            self.messages.add(Message(topic, json.dumps(payload).encode()))

    def _pending(self):
        return sorted((j for j in self.jobs if j["status"] in ("QUEUED", "IN_PROGRESS")),
                      key=lambda j: j["status"] != "IN_PROGRESS")

    def _execution(self, job):
        return {"jobId": job["jobId"], "thingName": self.name, "jobDocument": job["document"],
                "status": job["status"], "versionNumber": job["version"], "executionNumber": 1}

    def add_job(self, job_id, document=GOOD, notify=True):
        self.jobs.append({"jobId": job_id, "document": document, "status": "QUEUED", "version": 1})
        if notify:
            head = self._pending()[0]
            self._deliver(f"{self.base}/notify-next", {"timestamp": 1, "execution": self._execution(head)})

    def inject(self, topic, payload):
        self._deliver(topic, payload)

    def publish(self, topic, payload=None, qos=1, **_ignored):
        if topic in self.refused:  # refused once
            self.refused.discard(topic)
            self.refusal.set()
            raise PublishRefused("not_authorised", f"The policy does not allow iot:Publish on {topic}.")
        self.published.append((topic, payload))
        token = {"clientToken": payload["clientToken"]} if isinstance(payload, dict) and "clientToken" in payload else {}
        if topic == f"{self.base}/get":
            summaries = lambda status: [{"jobId": j["jobId"]} for j in self._pending() if j["status"] == status]
            self._deliver(f"{topic}/accepted", {"queuedJobs": summaries("QUEUED"),
                                                "inProgressJobs": summaries("IN_PROGRESS"), **token})
        elif topic == f"{self.base}/start-next":
            pending = self._pending()
            body = {}
            if pending:
                job = pending[0]
                if job["status"] == "QUEUED":
                    job.update(status="IN_PROGRESS", version=job["version"] + 1)
                body = {"execution": self._execution(job)}
            self._deliver(f"{topic}/accepted", {**body, **token})
        elif topic.startswith(f"{self.base}/") and topic.endswith("/update"):
            job = next(j for j in self.jobs if j["jobId"] == topic.split("/")[-2])
            if self.reject_updates or payload.get("expectedVersion") not in (None, job["version"]):
                self._deliver(f"{topic}/rejected", {"code": self.reject_updates or "VersionMismatch",
                                                    "message": "refused", **token})
                return 1
            job.update(status=payload["status"], version=job["version"] + 1, details=payload.get("statusDetails"))
            self._deliver(f"{topic}/accepted", {**token})
            head = self._pending()
            self._deliver(f"{self.base}/notify-next",
                          {"timestamp": 2, **({"execution": self._execution(head[0])} if head else {})})
        return 1

    def sent(self, suffix):
        return [payload for topic, payload in self.published if topic.endswith(suffix)]


@pytest.fixture
def device():
    return FakeJobsDevice()


def agent_for(device, **options):
    return JobAgent(device, THING, uptime=lambda: UPTIME, **options)


# ------------------------------------------------------------------------------ the agent


@pytest.mark.parametrize("queued_before_start", [True, False], ids=["queued-before-start", "notified-while-running"])
def test_the_agent_runs_a_job_publishes_the_result_and_reports_success(device, queued_before_start):
    if queued_before_start:
        device.add_job("job-1", notify=False)
    with agent_for(device) as agent:
        if not queued_before_start:
            device.add_job("job-1")
        agent.wait_for_job("job-1", "SUCCEEDED", timeout=5)

    job = device.jobs[0]
    assert (job["status"], job["details"]) == ("SUCCEEDED", {"operation": "sys-info", "uptime": "1 d 02:03:04"})
    assert device.sent("sys/info")[0]["uptime_seconds"] == UPTIME
    assert device.sent("/job-1/update")[0]["expectedVersion"] == 2  # the version start-next returned


def test_the_log_tells_the_story_in_order(device):
    device.add_job("job-1", notify=False)
    with agent_for(device) as agent:
        agent.wait_for_job("job-1", timeout=5)
    events = list(agent.log_df()["event"])

    story = ["connected", "asked", "pending", "asked", "started", "published", "reported", "confirmed"]
    assert events[:len(story)] == story
    assert events[-1] == "stopped"
    assert list(agent.log_df().columns) == ["time", "event", "job id", "details"]


def test_queued_jobs_run_one_after_the_other(device):
    device.add_job("job-1", notify=False)
    device.add_job("job-2", notify=False)
    with agent_for(device) as agent:
        agent.wait_for_job("job-2", timeout=5)

    updates = [topic for topic, _ in device.published if topic.endswith("/update")]
    assert updates == [f"{device.base}/job-1/update", f"{device.base}/job-2/update"]
    assert agent.outcome("job-1") == ("SUCCEEDED", "")


def test_a_document_it_cannot_run_fails_the_job_with_the_reason(device):
    device.add_job("job-bad", document={"operation": "reboot"}, notify=False)
    with agent_for(device) as agent:
        with pytest.raises(JobAgentError, match="ended FAILED .*unknown operation 'reboot'"):
            agent.wait_for_job("job-bad", "SUCCEEDED", timeout=5)
        agent.wait_for_job("job-bad", "FAILED", timeout=5)

    assert device.jobs[0]["status"] == "FAILED"
    assert "unknown operation 'reboot'" in device.jobs[0]["details"]["reason"]
    assert device.sent("sys/info") == []


def test_a_file_named_by_the_document_is_downloaded(device):
    device.add_job("job-file", document={**GOOD, "file": "https://b.example/notes.txt?X-Amz-Signature=s"}, notify=False)
    with JobAgent(device, THING, uptime=lambda: 1.0, fetch=fetch_notes) as agent:
        agent.wait_for_job("job-file", timeout=5)

    assert device.sent("sys/info")[0]["file"]["bytes"] == 14
    assert "downloaded" in list(agent.log_df()["event"])


def test_a_rejected_update_is_an_outcome_not_a_hang(device):
    device.reject_updates = "InvalidStateTransition"
    device.add_job("job-1", notify=False)
    with agent_for(device) as agent, pytest.raises(JobAgentError, match="UPDATE_REJECTED .*InvalidStateTransition"):
        agent.wait_for_job("job-1", timeout=5)


def test_after_an_error_the_agent_goes_on_and_retries_the_job_in_progress(device):
    device.refused.add("sys/info")
    device.add_job("job-1", notify=False)
    with agent_for(device) as agent:
        assert device.refusal.wait(5)
        device.add_job("job-2")  # the notification wakes the agent up again
        agent.wait_for_job("job-2", timeout=5)

    errors = agent.log_df().query("event == 'error'")
    assert list(errors["details"]) == ["PublishRefused: The policy does not allow iot:Publish on sys/info."]
    assert [job["status"] for job in device.jobs] == ["SUCCEEDED", "SUCCEEDED"]


def test_replies_to_other_clients_are_ignored(device):
    agent = agent_for(device).start()
    device.inject(f"{device.base}/get/accepted", {"queuedJobs": [{"jobId": "theirs"}], "clientToken": "someone-else-1"})
    agent.stop()  # the thread handles everything queued before it stops

    assert len(device.sent("/start-next")) == 0
    assert "theirs" not in " ".join(agent.log_df()["details"])


def test_stopping_during_a_job_leaves_it_in_progress(device):
    device.add_job("job-slow", notify=False)
    agent = agent_for(device, work_s=60).start()
    agent.wait_for_job("job-slow", "IN_PROGRESS", timeout=5)
    agent.stop()

    assert device.jobs[0]["status"] == "IN_PROGRESS"
    assert device.sent("/update") == []


def test_waiting_for_a_job_that_never_comes_says_what_the_agent_did(device):
    with agent_for(device) as agent:
        with pytest.raises(TimeoutError, match=r"did not reach SUCCEEDED within 0.05 s(.|\n)*asked"):
            agent.wait_for_job("missing", timeout=0.05)


@pytest.mark.parametrize("already_connected", [False, True], ids=["agent-connects", "caller-connected"])
def test_stop_disconnects_only_what_start_connected(device, already_connected):
    if already_connected:
        device.connect()
    agent = agent_for(device).start()
    assert agent.running and device.connected and repr(agent).startswith(f"JobAgent('{THING}', running, ")
    agent.stop()

    assert not agent.running and repr(agent).startswith(f"JobAgent('{THING}', stopped, ")
    assert device.connected == already_connected
    assert agent._received not in device.messages.listeners


# ------------------------------------------------------------------------- follow_job


class PollingIot:
    """list_job_executions_for_job answering from a list of {thing: status} polls, then the last one."""

    def __init__(self, polls):
        self.polls, self.calls = polls, 0

    def get_paginator(self, name):
        assert name == "list_job_executions_for_job"
        return self

    def paginate(self, jobId):
        statuses = self.polls[min(self.calls, len(self.polls) - 1)]
        self.calls += 1
        return [{"executionSummaries": [
            {"thingArn": f"arn:aws:iot:us-east-1:1:thing/{t}", "jobExecutionSummary": {"status": s}}
            for t, s in statuses.items()]}]

    def describe_job_execution(self, jobId, thingName):
        status = self.polls[min(self.calls, len(self.polls)) - 1][thingName]
        return {"execution": {"status": status, "versionNumber": 3,
                              "statusDetails": {"detailsMap": {"uptime": "1"} if status == "SUCCEEDED" else {}}}}


def test_follow_job_records_each_status_change_until_all_executions_end():
    ws = SimpleNamespace(backend="local", iot=PollingIot([{"a": "IN_PROGRESS", "b": "QUEUED"},
                                                         {"a": "SUCCEEDED", "b": "FAILED"}]))

    rows = follow_job(ws, "job-1", timeout=5)

    assert list(zip(rows["thing"], rows["status"])) == [("a", "IN_PROGRESS"), ("b", "QUEUED"), ("a", "SUCCEEDED"), ("b", "FAILED")]
    assert rows["statusDetails"][2] == {"uptime": "1"}


def test_follow_job_gives_up_with_what_it_saw():
    ws = SimpleNamespace(backend="local", iot=PollingIot([{"a": "QUEUED"}]))

    with pytest.raises(TimeoutError, match="a: QUEUED"):
        follow_job(ws, "job-1", timeout=0)


# ------------------------------------------------------------- cancel_pending_executions


class ExecutionsIot:
    """list_job_executions_for_thing from a {job id: status} dict (None: the thing does not exist)."""

    def __init__(self, statuses):
        self.statuses, self.canceled = statuses, []

    def get_paginator(self, name):
        assert name == "list_job_executions_for_thing"
        return self

    def paginate(self, thingName):
        if self.statuses is None:
            error = Exception("not found")
            error.response = {"Error": {"Code": "ResourceNotFoundException"}}
            raise error
        return [{"executionSummaries": [{"jobId": j, "jobExecutionSummary": {"status": s}} for j, s in self.statuses.items()]}]

    def cancel_job_execution(self, jobId, thingName, force):
        self.canceled.append((jobId, force))


@pytest.mark.parametrize(
    ("statuses", "canceled"),
    [({"a": "QUEUED", "b": "IN_PROGRESS", "c": "SUCCEEDED", "d": "FAILED"}, [("a", False), ("b", True)]),
     ({}, []),
     (None, [])],
    ids=["pending-ones-only", "no-executions", "no-thing"],
)
def test_cancel_pending_executions_cancels_queued_and_forces_in_progress(statuses, canceled):
    ws = SimpleNamespace(iot=ExecutionsIot(statuses))

    assert cancel_pending_executions(ws, THING) == [job for job, _force in canceled]
    assert ws.iot.canceled == canceled


def test_a_restarted_agent_takes_jobs_again(device):
    agent = agent_for(device).start()
    agent.stop()
    device.add_job("job-after-restart", notify=False)

    with agent.start():
        agent.wait_for_job("job-after-restart", timeout=5)

    assert device.jobs[0]["status"] == "SUCCEEDED"
