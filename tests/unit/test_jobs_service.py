"""The lab's jobs service in-process: real moto registry and S3, a fake clock, publishes recorded.

Handlers are called as the HTTP layer calls them, and their output is serialised and parsed back
through botocore's models, so a shape error fails here before it reaches boto3.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.parsers import create_parser
from moto.iot.models import iot_backends

from localcore.aws import codec, jobs_service, moto_patches
from localcore.aws.handlers import load_all
from localcore.errors import AwsError
from labfixture import in_process_lab

T0 = 1_700_000_000.0
ACCOUNT = "123456789012"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with in_process_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture
def clock(lab):
    """A fresh registry, a fresh jobs service on a fake clock, every event type on."""
    iot_backends[ACCOUNT].reset()
    clock = Clock()
    lab.jobs = jobs_service.JobsService(lab, clock=clock)
    lab.on_jobs_request = lab.jobs.on_jobs_request
    lab.published.clear()
    lab.event_configurations.update(JOB=True, JOB_EXECUTION=True)
    yield clock
    if lab.jobs._timer is not None:
        lab.jobs._timer.cancel()


def call(lab, service: str, operation: str, **params):
    """Run the lab's handler; return what boto3 would parse from the HTTP response."""
    model = codec.load_service_model(service).operation_model(operation)
    try:
        output = load_all()[(service, operation)](lab, params)
    except AwsError as error:
        status, headers, body = codec.serialize_error(error, "rest-json")
        return {"Error": error.code, "status": status}
    status, headers, body = codec.serialize_response(model, output)
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": headers, "body": body}, model.output_shape
    ) if model.output_shape is not None else {}
    parsed.pop("ResponseMetadata", None)
    return parsed


def thing(lab, name: str, *groups: str) -> str:
    arn = lab.iot.create_thing(name, None, None).arn
    for group in groups:
        lab.iot.add_thing_to_thing_group(group, None, name, None)
    return arn


def group(lab, name: str, parent: str | None = None) -> str:
    return lab.iot.create_thing_group(name, parent, {})[1]


def create(lab, job_id: str, targets: list[str], document: dict | None = None, **params) -> dict:
    if "documentSource" not in params:
        params["document"] = json.dumps(document or {"operation": "sys-info"})
    return call(lab, "iot", "CreateJob", jobId=job_id, targets=targets, **params)


def mqtt(lab, thing_name: str, suffix: str, payload: dict | bytes | None = None) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
    lab.on_jobs_request(thing_name, f"$aws/things/{thing_name}/jobs/{suffix}", data, thing_name)


def messages(lab, topic: str) -> list[dict]:
    return [payload for t, payload in lab.published if t == topic]


def last(lab, topic: str) -> dict:
    found = messages(lab, topic)
    assert found, f"nothing published on {topic}; got {[t for t, _ in lab.published]}"
    return found[-1]


def counts(lab, job_id: str) -> dict:
    return call(lab, "iot", "DescribeJob", jobId=job_id)["job"]["jobProcessDetails"]


# -- creating jobs -----------------------------------------------------------------------------
def test_a_new_job_queues_an_execution_and_notifies_the_device(lab, clock):
    arn = thing(lab, "dev1")
    out = create(lab, "job-1", [arn], description="uptime")
    assert out == {"jobArn": f"arn:aws:iot:us-east-1:{ACCOUNT}:job/job-1", "jobId": "job-1", "description": "uptime"}
    notify = last(lab, "$aws/things/dev1/jobs/notify")
    assert notify["jobs"]["QUEUED"][0]["jobId"] == "job-1"
    nxt = last(lab, "$aws/things/dev1/jobs/notify-next")["execution"]
    assert (nxt["status"], nxt["versionNumber"], nxt["jobDocument"]) == ("QUEUED", 1, {"operation": "sys-info"})
    job = call(lab, "iot", "DescribeJob", jobId="job-1")["job"]
    assert job["status"] == "IN_PROGRESS" and job["jobProcessDetails"]["numberOfQueuedThings"] == 1


def test_a_group_target_reaches_members_of_child_groups_once(lab, clock):
    parent = group(lab, "building")
    group(lab, "floor-1", "building")
    thing(lab, "a", "building")
    thing(lab, "b", "floor-1")
    thing(lab, "c", "building", "floor-1")
    thing(lab, "outsider")
    create(lab, "grp-job", [parent])
    listed = call(lab, "iot", "ListJobExecutionsForJob", jobId="grp-job")["executionSummaries"]
    assert sorted(s["thingArn"].rpartition("/")[2] for s in listed) == ["a", "b", "c"]
    assert call(lab, "iot", "ListJobs", thingGroupName="building")["jobs"][0]["jobId"] == "grp-job"


@pytest.mark.parametrize(("selection", "executions_after_join"), [("SNAPSHOT", 0), ("CONTINUOUS", 1)])
def test_only_a_continuous_job_reaches_things_that_join_its_group_later(lab, clock, selection, executions_after_join):
    target = group(lab, "fleet")
    create(lab, "later", [target], targetSelection=selection)
    thing(lab, "newcomer", "fleet")
    found = call(lab, "iot", "ListJobExecutionsForThing", thingName="newcomer")["executionSummaries"]
    assert len(found) == executions_after_join
    assert len(messages(lab, "$aws/things/newcomer/jobs/notify-next")) == executions_after_join


def test_a_thing_leaving_the_group_of_a_continuous_job_has_its_execution_removed(lab, clock):
    target = group(lab, "fleet")
    thing(lab, "leaver", "fleet")
    create(lab, "cont", [target], targetSelection="CONTINUOUS")
    lab.iot.remove_thing_from_thing_group("fleet", None, "leaver", None)
    execution = call(lab, "iot", "DescribeJobExecution", jobId="cont", thingName="leaver")["execution"]
    assert execution["status"] == "REMOVED"
    assert last(lab, "$aws/events/jobExecution/cont/removed")["thingArn"].endswith(":thing/leaver")
    assert call(lab, "iot", "DescribeJob", jobId="cont")["job"]["status"] == "IN_PROGRESS"


@pytest.mark.parametrize(("params", "error"), [
    ({"jobId": "bad id"}, "InvalidRequestException"),
    ({"targets": [f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/ghost"]}, "ResourceNotFoundException"),
    ({"targets": [f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/ghost"]}, "ResourceNotFoundException"),
    ({"targets": ["arn:aws:iot:eu-west-1:999999999999:thing/dev"]}, "InvalidRequestException"),
    ({"document": "not json"}, "InvalidRequestException"),
    ({"documentSource": "https://s3.amazonaws.com/no-bucket/doc.json"}, "InvalidRequestException"),
    ({"targetSelection": "SOMETIMES"}, "InvalidRequestException"),
    ({"timeoutConfig": {"inProgressTimeoutInMinutes": 20000}}, "InvalidRequestException"),
    ({"documentSource": "s3://some-bucket/doc.json", "document": "{}"}, "InvalidRequestException"),
    ({"abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 5,
                                        "minNumberOfExecutedThings": 1}]}}, "NotImplementedException"),
    ({"document": json.dumps({"u": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"})}, "InvalidRequestException"),
], ids=["job-id", "missing-thing", "missing-group", "foreign-arn", "document-not-json", "missing-source",
        "target-selection", "timeout-range", "document-and-source", "abort-config", "presigned-without-config"])
def test_create_job_refuses_what_aws_refuses(lab, clock, params, error):
    arn = thing(lab, "dev")
    merged = {"jobId": "job", "targets": [arn], **({} if "documentSource" in params else {"document": "{}"}), **params}
    assert call(lab, "iot", "CreateJob", **merged)["Error"] == error


def test_a_job_id_cannot_be_used_twice(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "once", [arn])
    assert create(lab, "once", [arn])["Error"] == "ResourceAlreadyExistsException"


@pytest.mark.parametrize("form", ["https://s3.amazonaws.com/{b}/docs/job.json", "s3://{b}/docs/job.json"],
                         ids=["https", "s3-scheme"])
def test_a_document_source_is_read_from_the_lab_s3(lab, clock, form):
    s3 = lab.backend("s3")
    bucket = f"jobs-{form[:5].strip(':/')}"
    s3.create_bucket(bucket, lab.config.region)
    s3.put_object(bucket, "docs/job.json", json.dumps({"operation": "from-s3"}).encode())
    arn = thing(lab, "dev")
    create(lab, "s3job", [arn], documentSource=form.format(b=bucket))
    assert json.loads(call(lab, "iot", "GetJobDocument", jobId="s3job")["document"]) == {"operation": "from-s3"}
    assert call(lab, "iot", "DescribeJob", jobId="s3job")["documentSource"] == form.format(b=bucket)


def test_presigned_placeholders_become_lab_urls_for_devices_only(lab, clock):
    arn = thing(lab, "dev")
    placeholder = "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/v2/image.bin}"
    create(lab, "fw", [arn], {"url": placeholder},
           presignedUrlConfig={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/jobs", "expiresInSec": 120})
    url = last(lab, "$aws/things/dev/jobs/notify-next")["execution"]["jobDocument"]["url"]
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}" == lab.config.http_url and parsed.path == "/firmware/v2/image.bin"
    assert parse_qs(parsed.query)["X-Amz-Expires"] == ["120"]
    assert json.loads(call(lab, "iot", "GetJobDocument", jobId="fw")["document"]) == {"url": placeholder}


# -- the device API over MQTT ----------------------------------------------------------------------
def test_a_device_runs_a_job_to_completion_and_the_control_plane_agrees(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "run", [arn])
    clock.now += 5
    mqtt(lab, "dev", "start-next", {"statusDetails": {"step": "start"}, "clientToken": "t1"})
    started = last(lab, "$aws/things/dev/jobs/start-next/accepted")
    assert started["clientToken"] == "t1" and started["execution"]["status"] == "IN_PROGRESS"
    assert started["execution"]["versionNumber"] == 2 and started["execution"]["startedAt"] == int(T0 + 5)
    clock.now += 5
    mqtt(lab, "dev", "run/update", {"status": "SUCCEEDED", "expectedVersion": 2, "includeJobExecutionState": True})
    assert last(lab, "$aws/things/dev/jobs/run/update/accepted")["executionState"] == {
        "status": "SUCCEEDED", "statusDetails": {"step": "start"}, "versionNumber": 3}
    assert "execution" not in last(lab, "$aws/things/dev/jobs/notify-next")
    job = call(lab, "iot", "DescribeJob", jobId="run")["job"]
    assert job["status"] == "COMPLETED" and job["jobProcessDetails"]["numberOfSucceededThings"] == 1
    execution = call(lab, "iot", "DescribeJobExecution", jobId="run", thingName="dev")["execution"]
    assert (execution["status"], execution["versionNumber"], execution["statusDetails"]) == (
        "SUCCEEDED", 3, {"detailsMap": {"step": "start"}})
    completed = last(lab, "$aws/events/job/run/completed")
    assert completed["jobProcessDetails"]["numberOfSucceededThings"] == 1 and completed["status"] == "COMPLETED"


def test_get_lists_in_progress_and_queued_jobs(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "first", [arn])
    clock.now += 1
    create(lab, "second", [arn])
    mqtt(lab, "dev", "start-next")
    mqtt(lab, "dev", "get", {"clientToken": "list"})
    listing = last(lab, "$aws/things/dev/jobs/get/accepted")
    assert [j["jobId"] for j in listing["inProgressJobs"]] == ["first"]
    assert [j["jobId"] for j in listing["queuedJobs"]] == ["second"] and listing["clientToken"] == "list"


@pytest.mark.parametrize(("suffix", "payload", "code"), [
    ("ghost-job/update", {"status": "SUCCEEDED"}, "ResourceNotFound"),
    ("job/update", {"status": "QUEUED"}, "InvalidRequest"),
    ("job/update", {"status": "SUCCEEDED", "expectedVersion": 7}, "VersionMismatch"),
    ("job/update", b"{oops", "InvalidJson"),
    ("job/get", {"executionNumber": 9}, "ResourceNotFound"),
    ("job/explode", {}, "InvalidTopic"),
], ids=["unknown-job", "not-a-device-status", "version-mismatch", "invalid-json", "unknown-execution-number",
        "invalid-topic"])
def test_refused_requests_are_answered_on_rejected_with_the_client_token(lab, clock, suffix, payload, code):
    arn = thing(lab, "dev")
    create(lab, "job", [arn])
    if isinstance(payload, dict):
        payload = {**payload, "clientToken": "ct"}
    mqtt(lab, "dev", suffix, payload)
    rejected = last(lab, f"$aws/things/dev/jobs/{suffix}/rejected")
    assert rejected["code"] == code
    assert rejected.get("clientToken") == ("ct" if isinstance(payload, dict) else None)


def test_requests_for_an_unknown_thing_are_rejected(lab, clock):
    mqtt(lab, "nobody", "get", {})
    assert last(lab, "$aws/things/nobody/jobs/get/rejected")["code"] == "ResourceNotFound"


def test_the_service_ignores_its_own_reply_and_notification_topics(lab, clock):
    thing(lab, "dev")
    for suffix in ("get/accepted", "notify", "notify-next", "x/update/rejected"):
        mqtt(lab, "dev", suffix, {})
    assert lab.published == []


def test_describing_a_terminal_execution_is_refused(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "done", [arn])
    mqtt(lab, "dev", "done/update", {"status": "REJECTED"})
    mqtt(lab, "dev", "done/get", {})
    assert last(lab, "$aws/things/dev/jobs/done/get/rejected")["code"] == "TerminalStateReached"
    assert call(lab, "iot-jobs-data", "DescribeJobExecution", thingName="dev", jobId="done")["Error"] == "TerminalStateException"


def test_next_describes_the_head_of_the_pending_list_without_starting_it(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "head", [arn])
    mqtt(lab, "dev", "$next/get", {"includeJobDocument": False})
    described = last(lab, "$aws/things/dev/jobs/$next/get/accepted")["execution"]
    assert described["jobId"] == "head" and described["status"] == "QUEUED" and "jobDocument" not in described


# -- the device API over HTTPS (iot-jobs-data) ---------------------------------------------------
def test_iot_jobs_data_shares_the_store_and_gives_the_document_as_text(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "http", [arn])
    assert call(lab, "iot-jobs-data", "GetPendingJobExecutions", thingName="dev")["queuedJobs"][0]["jobId"] == "http"
    started = call(lab, "iot-jobs-data", "StartNextPendingJobExecution", thingName="dev")["execution"]
    assert started["status"] == "IN_PROGRESS" and json.loads(started["jobDocument"]) == {"operation": "sys-info"}
    updated = call(lab, "iot-jobs-data", "UpdateJobExecution", thingName="dev", jobId="http", status="FAILED",
                   expectedVersion=2, includeJobExecutionState=True, includeJobDocument=True)
    assert updated["executionState"]["status"] == "FAILED" and json.loads(updated["jobDocument"])["operation"] == "sys-info"
    again = call(lab, "iot-jobs-data", "UpdateJobExecution", thingName="dev", jobId="http", status="SUCCEEDED")
    assert again["Error"] == "InvalidStateTransitionException"
    assert call(lab, "iot-jobs-data", "StartNextPendingJobExecution", thingName="dev") == {}
    assert counts(lab, "http")["numberOfFailedThings"] == 1


# -- cancel and delete ---------------------------------------------------------------------------
@pytest.mark.parametrize(("force", "running_status"), [(False, "IN_PROGRESS"), (True, "CANCELED")])
def test_cancel_job_cancels_queued_executions_and_running_ones_only_with_force(lab, clock, force, running_status):
    thing(lab, "runner")
    thing(lab, "waiter")
    create(lab, "stop", [lab.arn("thing", "runner"), lab.arn("thing", "waiter")])
    mqtt(lab, "runner", "start-next")
    out = call(lab, "iot", "CancelJob", jobId="stop", comment="not needed", reasonCode="OBSOLETE", force=force)
    assert out["jobId"] == "stop"
    statuses = {s["thingArn"].rpartition("/")[2]: s["jobExecutionSummary"]["status"]
                for s in call(lab, "iot", "ListJobExecutionsForJob", jobId="stop")["executionSummaries"]}
    assert statuses == {"runner": running_status, "waiter": "CANCELED"}
    job = call(lab, "iot", "DescribeJob", jobId="stop")["job"]
    assert (job["status"], job["forceCanceled"], job["comment"], job["reasonCode"]) == ("CANCELED", force, "not needed", "OBSOLETE")
    assert [t for t, _ in lab.published if t.startswith("$aws/events/job/")] == [
        "$aws/events/job/stop/cancellation_in_progress", "$aws/events/job/stop/canceled"]
    assert last(lab, "$aws/events/job/stop/cancellation_in_progress")["status"] == "CANCELLATION_IN_PROGRESS"
    canceled = last(lab, "$aws/events/job/stop/canceled")
    assert (canceled["status"], canceled["comment"]) == ("CANCELED", "not needed")


def test_delete_job_needs_force_while_in_progress_and_then_forgets_it(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "gone", [arn])
    assert call(lab, "iot", "DeleteJob", jobId="gone")["Error"] == "InvalidStateTransitionException"
    assert call(lab, "iot", "DeleteJob", jobId="gone", force=True) == {}
    assert call(lab, "iot", "DescribeJob", jobId="gone")["Error"] == "ResourceNotFoundException"
    assert last(lab, "$aws/things/dev/jobs/notify")["jobs"] == {}
    assert last(lab, "$aws/events/jobExecution/gone/deleted")["status"] == "QUEUED"
    assert last(lab, "$aws/events/job/gone/deleted")["status"] == "DELETED"
    assert create(lab, "gone", [arn])["jobId"] == "gone"  # the id is free again


def test_cancel_and_delete_one_execution(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "one", [arn])
    mqtt(lab, "dev", "start-next")
    refused = call(lab, "iot", "CancelJobExecution", jobId="one", thingName="dev")
    assert refused["Error"] == "InvalidStateTransitionException"
    stale = call(lab, "iot", "CancelJobExecution", jobId="one", thingName="dev", force=True, expectedVersion=1)
    assert stale["Error"] == "VersionConflictException"
    assert call(lab, "iot", "CancelJobExecution", jobId="one", thingName="dev", force=True, expectedVersion=2) == {}
    execution = call(lab, "iot", "DescribeJobExecution", jobId="one", thingName="dev")["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", True)
    assert call(lab, "iot", "DescribeJob", jobId="one")["job"]["status"] == "COMPLETED"
    assert call(lab, "iot", "DeleteJobExecution", jobId="one", thingName="dev", executionNumber=2)["Error"] == \
        "ResourceNotFoundException"
    assert call(lab, "iot", "DeleteJobExecution", jobId="one", thingName="dev", executionNumber=1) == {}
    assert call(lab, "iot", "ListJobExecutionsForJob", jobId="one")["executionSummaries"] == []


# -- timers and retries ----------------------------------------------------------------------------
def test_an_in_progress_execution_times_out_and_is_retried(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "slow", [arn], timeoutConfig={"inProgressTimeoutInMinutes": 2},
           jobExecutionsRetryConfig={"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
    mqtt(lab, "dev", "start-next")
    assert lab.jobs._timer_at == T0 + 120  # the timer is armed for the deadline
    clock.now += 121
    lab.jobs._tick()  # what the timer thread does when it fires
    assert last(lab, "$aws/events/jobExecution/slow/timed_out")["status"] == "TIMED_OUT"
    retry = call(lab, "iot", "DescribeJobExecution", jobId="slow", thingName="dev")["execution"]
    assert (retry["status"], retry["executionNumber"]) == ("QUEUED", 2)
    first = call(lab, "iot", "DescribeJobExecution", jobId="slow", thingName="dev", executionNumber=1)["execution"]
    assert first["status"] == "TIMED_OUT"
    assert last(lab, "$aws/things/dev/jobs/notify-next")["execution"]["executionNumber"] == 2
    mqtt(lab, "dev", "start-next")
    clock.now += 121
    mqtt(lab, "dev", "get")  # any request first times out what is due
    assert call(lab, "iot", "DescribeJob", jobId="slow")["job"]["status"] == "COMPLETED"
    assert counts(lab, "slow")["numberOfTimedOutThings"] == 1


def test_a_step_timeout_times_out_an_execution_that_stops_reporting(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "step", [arn])
    mqtt(lab, "dev", "start-next", {"stepTimeoutInMinutes": 1})
    clock.now += 30
    mqtt(lab, "dev", "step/update", {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 1})
    clock.now += 45  # 75 s after the start, 45 s after the reset: still running
    mqtt(lab, "dev", "step/get", {})
    assert last(lab, "$aws/things/dev/jobs/step/get/accepted")["execution"]["approximateSecondsBeforeTimedOut"] == 15
    clock.now += 16
    mqtt(lab, "dev", "step/update", {"status": "SUCCEEDED"})
    assert last(lab, "$aws/things/dev/jobs/step/update/rejected")["code"] == "InvalidStateTransition"


# -- events ----------------------------------------------------------------------------------------
def test_no_job_events_when_their_types_are_off(lab, clock):
    lab.event_configurations.update(JOB=False, JOB_EXECUTION=False)
    arn = thing(lab, "dev")
    create(lab, "quiet", [arn])
    mqtt(lab, "dev", "quiet/update", {"status": "SUCCEEDED"})
    assert call(lab, "iot", "DescribeJob", jobId="quiet")["job"]["status"] == "COMPLETED"
    assert not [t for t, _ in lab.published if t.startswith("$aws/events/")]


def test_job_execution_events_carry_status_and_details(lab, clock):
    arn = thing(lab, "dev")
    create(lab, "ev", [arn])
    mqtt(lab, "dev", "ev/update", {"status": "FAILED", "statusDetails": {"reason": "disk full"}})
    event = last(lab, "$aws/events/jobExecution/ev/failed")
    assert {k: event[k] for k in ("eventType", "operation", "jobId", "thingArn", "status", "statusDetails")} == {
        "eventType": "JOB_EXECUTION", "operation": "failed", "jobId": "ev", "thingArn": arn, "status": "FAILED",
        "statusDetails": {"reason": "disk full"}}
    assert event["timestamp"] == int(T0)  # seconds


# -- listing ---------------------------------------------------------------------------------------
def test_list_jobs_filters_and_pages(lab, clock):
    arn = thing(lab, "dev")
    for n in range(3):
        create(lab, f"job-{n}", [arn], targetSelection="CONTINUOUS" if n == 2 else "SNAPSHOT")
    page = call(lab, "iot", "ListJobs", maxResults=2)
    assert [j["jobId"] for j in page["jobs"]] == ["job-0", "job-1"] and page["nextToken"]
    rest = call(lab, "iot", "ListJobs", maxResults=2, nextToken=page["nextToken"])
    assert [j["jobId"] for j in rest["jobs"]] == ["job-2"] and "nextToken" not in rest
    assert [j["jobId"] for j in call(lab, "iot", "ListJobs", targetSelection="CONTINUOUS")["jobs"]] == ["job-2"]
    assert call(lab, "iot", "ListJobs", nextToken="abc")["Error"] == "InvalidRequestException"


def test_membership_hooks_are_recorded_as_patched_moto_methods(lab):
    assert ("moto.iot.models", "IoTBackend", "add_thing_to_thing_group") in moto_patches.PATCHED
    assert ("moto.iot.models", "IoTBackend", "remove_thing_from_thing_group") in moto_patches.PATCHED
