"""The pure jobs core: the execution state machine, request parsing and the device-API payloads."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote

import pytest

from localcore.iot import jobs
from localcore.iot.jobs import (
    CANCELED,
    FAILED,
    IN_PROGRESS,
    QUEUED,
    REJECTED,
    REMOVED,
    SUCCEEDED,
    TIMED_OUT,
    Execution,
    InvalidStateTransitionException,
    JobsInvalidJson,
    JobsInvalidRequest,
    JobsInvalidTopic,
    UpdateRequest,
    VersionConflictException,
)

T0 = 1_700_000_000.0


def execution(status: str = QUEUED, version: int = 1, **changes) -> Execution:
    return replace(Execution("job-1", "thing-1", queued_at=T0), status=status, version=version, **changes)


# -- device transitions: every current status against what a device may ask for -----------------
OK = "ok"
TRANSITIONS = [
    (QUEUED, IN_PROGRESS, OK),
    (QUEUED, SUCCEEDED, OK),
    (QUEUED, FAILED, OK),
    (QUEUED, REJECTED, OK),
    (QUEUED, QUEUED, JobsInvalidRequest),
    (QUEUED, CANCELED, JobsInvalidRequest),
    (QUEUED, TIMED_OUT, JobsInvalidRequest),
    (QUEUED, "DONE", JobsInvalidRequest),
    (IN_PROGRESS, IN_PROGRESS, OK),
    (IN_PROGRESS, SUCCEEDED, OK),
    (IN_PROGRESS, FAILED, OK),
    (IN_PROGRESS, REJECTED, OK),
    (IN_PROGRESS, QUEUED, JobsInvalidRequest),
    (IN_PROGRESS, REMOVED, JobsInvalidRequest),
    (SUCCEEDED, IN_PROGRESS, InvalidStateTransitionException),
    (SUCCEEDED, SUCCEEDED, InvalidStateTransitionException),
    (SUCCEEDED, FAILED, InvalidStateTransitionException),
    (FAILED, IN_PROGRESS, InvalidStateTransitionException),
    (FAILED, SUCCEEDED, InvalidStateTransitionException),
    (REJECTED, IN_PROGRESS, InvalidStateTransitionException),
    (REJECTED, REJECTED, InvalidStateTransitionException),
    (CANCELED, IN_PROGRESS, InvalidStateTransitionException),
    (CANCELED, SUCCEEDED, InvalidStateTransitionException),
    (TIMED_OUT, IN_PROGRESS, InvalidStateTransitionException),
    (TIMED_OUT, FAILED, InvalidStateTransitionException),
    (REMOVED, IN_PROGRESS, InvalidStateTransitionException),
    (REMOVED, SUCCEEDED, InvalidStateTransitionException),
    (CANCELED, QUEUED, JobsInvalidRequest),
]


@pytest.mark.parametrize(("current", "requested", "outcome"), TRANSITIONS,
                         ids=[f"{c}->{r}" for c, r, _ in TRANSITIONS])
def test_device_update_follows_the_execution_state_machine(current, requested, outcome):
    before = execution(current, version=4)
    request = UpdateRequest(status=requested)
    if outcome is OK:
        after = jobs.apply_update(before, request, T0 + 10)
        assert (after.status, after.version, after.last_updated_at) == (requested, 5, T0 + 10)
    else:
        with pytest.raises(outcome) as raised:
            jobs.apply_update(before, request, T0 + 10)
        expected_code = {JobsInvalidRequest: "InvalidRequest",
                         InvalidStateTransitionException: "InvalidStateTransition"}[outcome]
        assert raised.value.mqtt_code == expected_code


def test_an_invalid_transition_reports_the_current_execution_state():
    with pytest.raises(InvalidStateTransitionException) as raised:
        jobs.apply_update(execution(SUCCEEDED, version=3, status_details={"step": "done"}),
                          UpdateRequest(status=IN_PROGRESS), T0)
    assert raised.value.execution_state == {"status": SUCCEEDED, "statusDetails": {"step": "done"}, "versionNumber": 3}
    assert (raised.value.code, raised.value.status) == ("InvalidStateTransitionException", 409)


@pytest.mark.parametrize(("expected", "accepted"), [(None, True), (2, True), (1, False), (3, False)],
                         ids=["no-expectation", "matching", "stale", "ahead"])
def test_expected_version_must_match_the_current_version(expected, accepted):
    before = execution(IN_PROGRESS, version=2)
    request = UpdateRequest(status=SUCCEEDED, expected_version=expected)
    if accepted:
        assert jobs.apply_update(before, request, T0).version == 3
    else:
        with pytest.raises(VersionConflictException) as raised:
            jobs.apply_update(before, request, T0)
        assert raised.value.mqtt_code == "VersionMismatch"
        assert raised.value.execution_state == {"status": IN_PROGRESS, "versionNumber": 2}


def test_version_mismatch_is_checked_before_the_transition():
    with pytest.raises(VersionConflictException):
        jobs.apply_update(execution(SUCCEEDED, version=3), UpdateRequest(status=IN_PROGRESS, expected_version=1), T0)


@pytest.mark.parametrize(("details", "expected"), [(None, {"step": "download"}), ({"step": "install"}, {"step": "install"}),
                                                   ({}, {})], ids=["absent-keeps", "given-replaces", "empty-clears"])
def test_status_details_are_replaced_only_when_given(details, expected):
    before = execution(IN_PROGRESS, status_details={"step": "download"})
    after = jobs.apply_update(before, UpdateRequest(status=IN_PROGRESS, status_details=details), T0)
    assert dict(after.status_details) == expected


def test_started_at_is_set_by_the_first_move_to_in_progress_only():
    first = jobs.apply_update(execution(), UpdateRequest(status=IN_PROGRESS), T0 + 5)
    again = jobs.apply_update(first, UpdateRequest(status=IN_PROGRESS), T0 + 9)
    assert first.started_at == again.started_at == T0 + 5
    assert again.version == 3


@pytest.mark.parametrize(("step", "expected_deadline"), [(None, T0 + 600), (3, T0 + 100 + 180), (-1, None)],
                         ids=["kept", "reset", "cleared"])
def test_step_timeout_is_reset_or_cleared_by_an_update(step, expected_deadline):
    before = execution(IN_PROGRESS, step_deadline=T0 + 600)
    after = jobs.apply_update(before, UpdateRequest(status=IN_PROGRESS, step_timeout=step), T0 + 100)
    assert after.step_deadline == expected_deadline


def test_the_in_progress_timeout_starts_when_the_execution_starts_and_bounds_the_step_timer():
    started = jobs.start(execution(), jobs.StartNextRequest(step_timeout=30), T0, in_progress_timeout_min=10)
    assert (started.timeout_deadline, started.step_deadline) == (T0 + 600, T0 + 1800)
    assert started.deadline == T0 + 600
    assert started.seconds_before_timeout(T0 + 100) == 500


def test_a_terminal_update_stops_the_timers():
    before = execution(IN_PROGRESS, step_deadline=T0 + 60, timeout_deadline=T0 + 600)
    after = jobs.apply_update(before, UpdateRequest(status=SUCCEEDED), T0)
    assert (after.step_deadline, after.timeout_deadline, after.deadline) == (None, None, None)


@pytest.mark.parametrize(("now", "status"), [(T0 + 59, IN_PROGRESS), (T0 + 60, TIMED_OUT)], ids=["before", "at-deadline"])
def test_time_out_happens_at_the_deadline(now, status):
    assert jobs.time_out(execution(IN_PROGRESS, step_deadline=T0 + 60), now).status == status


def test_start_moves_queued_to_in_progress_and_leaves_in_progress_alone():
    started = jobs.start(execution(), jobs.StartNextRequest(status_details={"phase": "1"}), T0 + 1)
    assert (started.status, started.version, dict(started.status_details)) == (IN_PROGRESS, 2, {"phase": "1"})
    assert jobs.start(started, jobs.StartNextRequest(), T0 + 2) is started


CANCELS = [
    (QUEUED, False, CANCELED, False),
    (QUEUED, True, CANCELED, False),
    (IN_PROGRESS, True, CANCELED, True),
    (IN_PROGRESS, False, InvalidStateTransitionException, None),
    (SUCCEEDED, True, InvalidStateTransitionException, None),
    (CANCELED, False, InvalidStateTransitionException, None),
]


@pytest.mark.parametrize(("current", "force", "outcome", "force_canceled"), CANCELS,
                         ids=[f"{c}-force={f}" for c, f, _, _ in CANCELS])
def test_cancel_needs_force_for_in_progress_and_never_touches_terminal(current, force, outcome, force_canceled):
    if outcome is CANCELED:
        after = jobs.cancel(execution(current), force=force, now=T0)
        assert (after.status, after.force_canceled) == (CANCELED, force_canceled)
    else:
        with pytest.raises(outcome):
            jobs.cancel(execution(current), force=force, now=T0)


@pytest.mark.parametrize(("current", "force", "allowed"), [(SUCCEEDED, False, True), (QUEUED, False, False),
                                                         (IN_PROGRESS, False, False), (IN_PROGRESS, True, True)],
                         ids=["terminal", "queued", "in-progress", "in-progress-forced"])
def test_delete_execution_needs_a_terminal_status_or_force(current, force, allowed):
    if allowed:
        jobs.check_deletable(execution(current), force)
    else:
        with pytest.raises(InvalidStateTransitionException):
            jobs.check_deletable(execution(current), force)


def test_remove_marks_pending_executions_and_keeps_terminal_ones():
    assert jobs.remove(execution(QUEUED), T0).status == REMOVED
    assert jobs.remove(execution(SUCCEEDED), T0).status == SUCCEEDED


RETRY = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}, {"failureType": "TIMED_OUT", "numberOfRetries": 1}]}


@pytest.mark.parametrize(("status", "attempt", "due"), [(FAILED, 0, True), (FAILED, 1, True), (FAILED, 2, False),
                                                      (TIMED_OUT, 0, True), (TIMED_OUT, 1, False), (REJECTED, 0, False)],
                         ids=["failed-first", "failed-second", "failed-exhausted", "timed-out", "timed-out-exhausted",
                              "rejected-never"])
def test_retry_is_due_while_attempts_remain_for_that_failure_type(status, attempt, due):
    assert jobs.retry_due(RETRY, execution(status, retry_attempt=attempt)) is due


def test_a_retry_is_a_new_queued_execution_with_the_next_number():
    retried = jobs.next_attempt(execution(FAILED, execution_number=1, version=3), T0 + 50)
    assert (retried.status, retried.execution_number, retried.version, retried.retry_attempt) == (QUEUED, 2, 1, 1)


def test_pending_lists_in_progress_first_then_queued_oldest_first():
    queued_old = replace(execution(QUEUED), job_id="a", queued_at=T0)
    queued_new = replace(execution(QUEUED), job_id="b", queued_at=T0 + 5)
    running = replace(execution(IN_PROGRESS), job_id="c", queued_at=T0 + 9)
    done = replace(execution(SUCCEEDED), job_id="d", queued_at=T0 - 1)
    assert [e.job_id for e in jobs.pending([queued_new, done, queued_old, running])] == ["c", "a", "b"]
    assert jobs.next_pending([done]) is None


def test_process_details_count_each_status():
    counts = jobs.process_details([execution(QUEUED), execution(SUCCEEDED), execution(SUCCEEDED), execution(TIMED_OUT)])
    assert counts["numberOfQueuedThings"] == 1 and counts["numberOfSucceededThings"] == 2
    assert counts["numberOfTimedOutThings"] == 1 and counts["numberOfFailedThings"] == 0
    assert len(counts) == 8


@pytest.mark.parametrize(("selection", "statuses", "done"), [
    ("SNAPSHOT", [SUCCEEDED, FAILED], True), ("SNAPSHOT", [SUCCEEDED, IN_PROGRESS], False), ("SNAPSHOT", [], True),
    ("CONTINUOUS", [SUCCEEDED], False),
], ids=["snapshot-all-terminal", "snapshot-one-running", "snapshot-empty", "continuous-never"])
def test_only_a_snapshot_job_with_every_execution_terminal_is_done(selection, statuses, done):
    assert jobs.snapshot_done(selection, [execution(s) for s in statuses]) is done


# -- topics and requests --------------------------------------------------------------------------
TOPICS = [
    ("$aws/things/t1/jobs/get", ("get", None)),
    ("$aws/things/t1/jobs/start-next", ("start-next", None)),
    ("$aws/things/t1/jobs/job-9/get", ("describe", "job-9")),
    ("$aws/things/t1/jobs/$next/get", ("describe", "$next")),
    ("$aws/things/t1/jobs/job-9/update", ("update", "job-9")),
    ("$aws/things/t1/jobs/get/accepted", None),
    ("$aws/things/t1/jobs/job-9/update/rejected", None),
    ("$aws/things/t1/jobs/notify", None),
    ("$aws/things/t1/jobs/notify-next", None),
    ("$aws/things/t1/jobs/job-9", JobsInvalidTopic),
    ("$aws/things/t1/jobs/job-9/delete", JobsInvalidTopic),
    ("$aws/things/t1/jobs/$next/update", JobsInvalidTopic),
]


@pytest.mark.parametrize(("topic", "expected"), TOPICS, ids=[t.split("/jobs/")[1] for t, _ in TOPICS])
def test_jobs_topics_map_to_operations(topic, expected):
    if isinstance(expected, type):
        with pytest.raises(expected):
            jobs.parse_jobs_topic(topic)
        return
    parsed = jobs.parse_jobs_topic(topic)
    if expected is None:
        assert parsed is None
    else:
        assert (parsed.thing, parsed.operation, parsed.job_id) == ("t1", *expected)
        assert parsed.reply_topic("accepted") == topic + "/accepted"


@pytest.mark.parametrize(("payload", "expected"), [(b"", {}), (b'{"clientToken": "x"}', {"clientToken": "x"}),
                                                   (b"{nope", JobsInvalidJson), (b"[1]", JobsInvalidJson),
                                                   (b"\xff", JobsInvalidJson)],
                         ids=["empty", "object", "broken", "not-an-object", "not-utf8"])
def test_request_payloads_must_be_json_objects(payload, expected):
    if expected is JobsInvalidJson:
        with pytest.raises(JobsInvalidJson) as raised:
            jobs.parse_payload(payload)
        assert raised.value.mqtt_code == "InvalidJson"
    else:
        assert jobs.parse_payload(payload) == expected


@pytest.mark.parametrize("document", [
    {}, {"status": 3}, {"status": "SUCCEEDED", "expectedVersion": "2"}, {"status": "SUCCEEDED", "expectedVersion": True},
    {"status": "SUCCEEDED", "statusDetails": {"bad key": "v"}}, {"status": "SUCCEEDED", "statusDetails": {"k": ""}},
    {"status": "SUCCEEDED", "statusDetails": {"k": 1}}, {"status": "SUCCEEDED", "statusDetails": [1]},
    {"status": "SUCCEEDED", "statusDetails": {f"k{i}": "v" for i in range(11)}},
    {"status": "SUCCEEDED", "stepTimeoutInMinutes": 0}, {"status": "SUCCEEDED", "stepTimeoutInMinutes": 10081},
    {"status": "SUCCEEDED", "includeJobDocument": "yes"}, {"status": "SUCCEEDED", "clientToken": 5},
], ids=["no-status", "status-not-text", "version-text", "version-bool", "details-key", "details-empty-value",
        "details-number", "details-list", "details-too-many", "step-zero", "step-too-long", "include-text", "token-number"])
def test_bad_update_requests_are_invalid_requests(document):
    with pytest.raises(JobsInvalidRequest):
        jobs.update_request(document)


def test_an_update_request_reads_every_field():
    request = jobs.update_request({
        "status": "IN_PROGRESS", "statusDetails": {"step": "1"}, "expectedVersion": 2, "executionNumber": 1,
        "includeJobExecutionState": True, "includeJobDocument": True, "stepTimeoutInMinutes": -1, "clientToken": "c",
    })
    assert request == UpdateRequest(IN_PROGRESS, {"step": "1"}, 2, 1, True, True, -1, "c")
    assert jobs.describe_request({}).include_document is True


# -- payloads -----------------------------------------------------------------------------------------
def test_summary_and_execution_payloads_use_whole_seconds_and_skip_absent_fields():
    queued = execution(queued_at=T0 + 0.7)
    assert jobs.summary(queued) == {"jobId": "job-1", "queuedAt": int(T0), "lastUpdatedAt": int(T0),
                                    "versionNumber": 1, "executionNumber": 1}
    running = replace(queued, status=IN_PROGRESS, started_at=T0 + 2, status_details={"s": "1"}, step_deadline=T0 + 62)
    payload = jobs.execution_payload(running, {"operation": "x"}, T0 + 2)
    assert payload["jobDocument"] == {"operation": "x"} and payload["statusDetails"] == {"s": "1"}
    assert payload["thingName"] == "thing-1" and payload["approximateSecondsBeforeTimedOut"] == 60


def test_accepted_replies_echo_the_client_token_and_omit_a_missing_execution():
    assert jobs.execution_accepted(None, None, T0, "tok") == {"timestamp": int(T0), "clientToken": "tok"}
    listing = jobs.pending_accepted([execution(IN_PROGRESS), replace(execution(), job_id="b")], T0, None)
    assert [s["jobId"] for s in listing["inProgressJobs"]] == ["job-1"]
    assert [s["jobId"] for s in listing["queuedJobs"]] == ["b"] and "clientToken" not in listing


def test_update_accepted_carries_state_and_document_only_when_asked():
    done = execution(SUCCEEDED, version=3)
    assert set(jobs.update_accepted(done, UpdateRequest(SUCCEEDED, client_token="c"), {"a": 1}, T0)) == {"timestamp", "clientToken"}
    full = jobs.update_accepted(done, UpdateRequest(SUCCEEDED, include_state=True, include_document=True), {"a": 1}, T0)
    assert full["executionState"] == {"status": SUCCEEDED, "versionNumber": 3} and full["jobDocument"] == {"a": 1}


def test_a_rejection_is_aws_error_response():
    error = VersionConflictException("stale", execution_state={"status": IN_PROGRESS, "versionNumber": 2})
    assert jobs.rejection(error, T0, "c") == {
        "code": "VersionMismatch", "message": "stale", "executionState": {"status": IN_PROGRESS, "versionNumber": 2},
        "timestamp": int(T0), "clientToken": "c",
    }


def test_notify_groups_pending_executions_by_status():
    payload = jobs.notify_payload([execution(IN_PROGRESS), replace(execution(), job_id="b"), execution(FAILED)], T0)
    assert list(payload["jobs"]) == [IN_PROGRESS, QUEUED]
    assert jobs.notify_payload([], T0) == {"timestamp": int(T0), "jobs": {}}


def test_pending_view_changes_with_membership_status_and_head_only():
    queued, other = execution(), replace(execution(), job_id="b", queued_at=T0 + 1)
    started = replace(queued, status=IN_PROGRESS, version=2)
    stepped = replace(started, version=3, status_details={"s": "1"})
    assert jobs.pending_view([queued, other])[1] == ("job-1", 1)
    assert jobs.pending_view([started, other]) != jobs.pending_view([queued, other])
    assert jobs.pending_view([stepped, other]) == jobs.pending_view([started, other])


# -- documents ---------------------------------------------------------------------------------------
S3_URLS = [
    ("https://s3.amazonaws.com/bucket/job-document.json", ("bucket", "job-document.json")),
    ("https://s3.eu-west-1.amazonaws.com/bucket/dir/doc.json", ("bucket", "dir/doc.json")),
    ("https://bucket.s3.amazonaws.com/dir/doc.json", ("bucket", "dir/doc.json")),
    ("https://bucket.s3.us-east-1.amazonaws.com/doc.json", ("bucket", "doc.json")),
    ("s3://bucket/dir/doc%20one.json", ("bucket", "dir/doc one.json")),
    ("https://example.com/bucket/doc.json", JobsInvalidRequest),
    ("https://s3.amazonaws.com/bucket", JobsInvalidRequest),
]


@pytest.mark.parametrize(("url", "expected"), S3_URLS, ids=["path", "regional-path", "virtual-host",
                                                           "regional-virtual-host", "s3-scheme", "not-s3", "no-key"])
def test_s3_urls_name_bucket_and_key(url, expected):
    if expected is JobsInvalidRequest:
        with pytest.raises(JobsInvalidRequest):
            jobs.parse_s3_url(url)
    else:
        assert jobs.parse_s3_url(url) == expected


def test_presigned_placeholders_become_urls_and_the_document_stays_json():
    text = json.dumps({"url": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k/file.bin}", "other": "x"})
    out = jobs.substitute_presigned(text, lambda bucket, key: f'http://lab/{bucket}/{quote(key)}?sig="1"&x=2')
    assert json.loads(out) == {"url": 'http://lab/b/k/file.bin?sig="1"&x=2', "other": "x"}
    assert jobs.presigned_urls(text) == ["https://s3.amazonaws.com/b/k/file.bin"]


def test_document_parameters_fill_their_placeholders_and_leave_unknown_ones():
    text = '{"v": "${aws:iot:parameter:version}", "w": "${aws:iot:parameter:other}"}'
    assert json.loads(jobs.substitute_parameters(text, {"version": "1.2"})) == {
        "v": "1.2", "w": "${aws:iot:parameter:other}"}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", json.dumps({"a": "x" * 32768})],
                         ids=["not-json", "not-an-object", "too-long"])
def test_a_job_document_must_be_a_json_object_within_the_size_limit(text):
    with pytest.raises(JobsInvalidRequest):
        jobs.check_document(text)
