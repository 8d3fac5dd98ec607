"""helpers.waits.retry_while with a fake clock: which AWS answers mean "not yet", one line the first
time, backoff, success after the wait, and a clear error when the wait lasts too long. Nothing sleeps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from fakes import Clock, Status
from helpers import waits


def aws(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SomeOperation")


ROLE_WORDS = ("AWS IoT (iot.amazonaws.com) is unable to assume role (sts:AssumeRole) on resource: "
              "arn:aws:iam::1:role/r. If the role was just created or updated, please try again in a few seconds.")


@pytest.mark.parametrize(
    ("error", "transient", "expected"),
    [
        (aws("InvalidRequestException", ROLE_WORDS), waits.ROLE_NOT_YET_ASSUMABLE, True),
        (aws("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."),
         waits.ROLE_NOT_YET_ASSUMABLE, True),
        (aws("InvalidRequestException", "The template body is not valid JSON."), waits.ROLE_NOT_YET_ASSUMABLE, False),
        (aws("ResourceNotFoundException", ROLE_WORDS), waits.ROLE_NOT_YET_ASSUMABLE, False),
        (aws("ThrottlingException", "Rate exceeded"), waits.THROTTLED, True),
        (aws("TooManyRequestsException"), waits.THROTTLED, True),
        (aws("InvalidRequestException", "Rate exceeded"), waits.THROTTLED, False),
        (ValueError("not an AWS answer"), waits.THROTTLED, False),
    ],
)
def test_which_answers_mean_not_yet(error, transient, expected):
    assert transient.matches(error) is expected


def _iot_listing(task_ids):
    calls = []

    def list_thing_registration_tasks(**params):
        calls.append(params)
        return {"taskIds": list(task_ids)}

    return SimpleNamespace(iot=SimpleNamespace(list_thing_registration_tasks=list_thing_registration_tasks)), calls


@pytest.mark.parametrize(
    ("error", "running", "expected"),
    [
        (aws("InvalidRequestException", "Thing registration task t1 is still in progress: only one bulk "
                                        "registration task can run at a time per account."), [], True),
        (aws("InvalidRequestException", "Some wording AWS chose"), ["t1"], True),  # a task runs: its turn will come
        (aws("InvalidRequestException", "The input file s3://b/k does not exist."), [], False),
        (aws("ResourceNotFoundException", "still in progress"), ["t1"], False),
    ],
)
def test_a_running_bulk_task_is_told_by_its_wording_or_by_the_task_list(error, running, expected):
    ws, calls = _iot_listing(running)
    assert waits.bulk_task_running(ws).matches(error) is expected
    if calls:
        assert calls == [{"status": "InProgress"}]


def _answers(*answers):
    """A call that answers (or raises) each of ``answers`` in turn."""
    queue = list(answers)

    def call():
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return call


def retry(clock, status, call, **options):
    options.setdefault("backend", "local")
    return waits.retry_while(call, clock=clock, sleep=clock.sleep, status=status, jitter=lambda: 0.0, **options)


def test_an_answer_at_once_shows_nothing_and_never_sleeps():
    clock, status = Clock(), Status()
    assert retry(clock, status, _answers({"taskId": "t"})) == {"taskId": "t"}
    assert clock.sleeps == [] and status.lines == []


def test_not_yet_is_retried_with_backoff_and_the_line_is_shown_once():
    clock, status = Clock(), Status()
    busy = aws("InvalidRequestException", ROLE_WORDS)
    answer = retry(clock, status, _answers(busy, busy, busy, busy, "ok"), interval=0.5, max_interval=1.5)
    assert answer == "ok"
    assert clock.sleeps == [0.5, 1.0, 1.5, 1.5]
    assert status.lines[0].startswith("⏳ the role was made seconds ago") and len(status.lines) == 2
    assert status.lines[1] == "✓ done after 5 s of waiting"


def test_the_callers_message_replaces_the_transients_own():
    clock, status = Clock(), Status()
    retry(clock, status, _answers(aws("ThrottlingException"), 1), message="waiting for the classroom")
    assert status.lines[0] == "⏳ waiting for the classroom"


def test_any_other_error_is_raised_at_once():
    clock, status = Clock(), Status()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        retry(clock, status, _answers(aws("ResourceNotFoundException", "no such bucket")))
    assert clock.sleeps == [] and status.lines == []


@pytest.mark.parametrize(("backend", "limit"), [("local", 30), ("aws", 120)])
def test_a_not_yet_that_lasts_longer_than_its_budget_ends_in_what_to_do(backend, limit):
    clock, status = Clock(), Status()
    always = aws("ThrottlingException", "Rate exceeded")

    def call():
        raise always

    with pytest.raises(waits.AwsNotReady) as raised:
        retry(clock, status, call, backend=backend)
    assert limit <= clock.now < limit + 21
    assert "ThrottlingException" in str(raised.value) and "run the cell again" in str(raised.value)
    assert status.lines[-1].startswith("✗")


def test_jitter_stretches_each_pause_by_at_most_half():
    clock, status = Clock(), Status()
    busy = aws("ThrottlingException")
    waits.retry_while(_answers(busy, busy, "ok"), backend="local", interval=1.0, max_interval=8.0, clock=clock,
                      sleep=clock.sleep, status=status, jitter=lambda: 1.0)
    assert clock.sleeps == [1.5, 3.0]


def test_each_kind_of_not_yet_is_said_once_when_it_first_appears():
    clock, status = Clock(), Status()
    role = aws("InvalidRequestException", ROLE_WORDS)
    busy = aws("InvalidRequestException", "Thing registration task t1 is still in progress")
    ws, _calls = _iot_listing(["t1"])
    kinds = (waits.ROLE_NOT_YET_ASSUMABLE, waits.bulk_task_running(ws))  # as helpers.provisioning.bulk_transients
    retry(clock, status, _answers(role, role, busy, busy, "ok"), transient=kinds)
    assert [line[:12] for line in status.lines] == ["⏳ the role w", "⏳ another bu", "✓ done after"]
