"""helpers.waits with a fake clock: quick when the world is ready, a progress line after a few seconds,
a countdown on aws, and a short failure with a hint. Nothing here sleeps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from fakes import Clock, Status
from helpers import waits


def ready_after(seconds: float, clock: Clock):
    """A probe that answers True once the clock has reached ``seconds``."""
    return lambda: clock.now >= seconds


def wait(clock: Clock, status: Status, probe, done=bool, **options):
    options.setdefault("what", "the thing")
    return waits.wait_until(probe, done, clock=clock, sleep=clock.sleep, status=status, **options)


def test_a_condition_that_holds_returns_at_once_and_shows_nothing():
    clock, status = Clock(), Status()

    assert wait(clock, status, lambda: "here", timeout=10, interval=1) == "here"
    assert clock.sleeps == [] and status.lines == []


def test_a_short_wait_shows_nothing():
    clock, status = Clock(), Status()

    wait(clock, status, ready_after(2.5, clock), timeout=10, interval=0.5)

    assert status.lines == []


def test_after_three_seconds_the_line_says_what_is_awaited_and_at_most_once_a_second():
    clock, status = Clock(), Status()

    wait(clock, status, ready_after(6, clock), what="the index AWS_Things to be ACTIVE", timeout=20,
         interval=0.2, backend="local")

    progress, last = status.lines[:-1], status.lines[-1]
    assert progress and all("Waiting for the index AWS_Things to be ACTIVE" in line for line in progress)
    assert "3 s" in progress[0] and "gives up after 20 s" in progress[0]
    assert len(progress) <= 4  # 3, 4, 5 (and 6) seconds: not one line per look
    assert last.startswith("✓ the index AWS_Things to be ACTIVE") and "6 s" in last


def test_on_aws_the_line_counts_down_the_time_aws_may_take_and_why():
    clock, status = Clock(), Status()

    wait(clock, status, ready_after(65, clock), budget=waits.INDEX_BUILD, backend="aws", interval=5)

    assert "14:55 left" in status.lines[0]  # first shown at 5 s: 900 - 5 s
    assert waits.INDEX_BUILD.why in status.lines[0]
    assert "left" in status.lines[-2] and status.lines[-1].startswith("✓")


def test_a_budget_is_seconds_on_the_lab_and_aws_delays_on_aws():
    assert waits.LOG_ENTRIES.seconds("local") == 10 and waits.LOG_ENTRIES.seconds("aws") == 300
    assert waits.THING_TYPE_DEPRECATION.seconds("aws") >= 300 > waits.THING_TYPE_DEPRECATION.seconds("local")


def test_the_budget_follows_the_backend():
    clock = Clock()

    with pytest.raises(waits.WaitTimedOut):
        wait(clock, Status(), lambda: False, budget=waits.LOG_ENTRIES, backend="local", interval=1)
    assert clock.now == pytest.approx(10)


def test_the_backend_is_the_callers_else_the_last_connects_else_aws(monkeypatch):
    monkeypatch.setattr(waits, "_backend", None)
    assert waits.backend_of() == "aws"
    waits.set_backend("local")
    assert waits.backend_of() == "local" and waits.backend_of(SimpleNamespace(backend="aws")) == "aws"


def test_the_failure_says_what_was_awaited_what_was_seen_and_the_hint_in_a_few_lines():
    clock, status = Clock(), Status()

    with pytest.raises(waits.WaitTimedOut) as caught:
        wait(clock, status, lambda: {"status": "QUEUED"}, lambda r: r["status"] == "SUCCEEDED", what="job j to finish",
             timeout=30, interval=1, describe=lambda r: f"a: {r['status']}", hint="Is the job agent running?")

    error = caught.value
    assert isinstance(error, TimeoutError)
    assert str(error) == ("Waited 30 s for job j to finish; the last answer was a: QUEUED.\n"
                          "Is the job agent running?")
    assert len(error._render_traceback_()) == 2
    assert status.lines[-1].startswith("✗ job j to finish")
    assert clock.now == pytest.approx(30)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Op")


def test_retry_codes_are_not_yet_and_other_errors_end_the_wait_at_once():
    clock = Clock()
    answers = [client_error("IndexNotReadyException"), "ready"]

    def probe():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait(clock, Status(), probe, timeout=10, interval=1, retry_codes=("IndexNotReadyException",)) == "ready"
    with pytest.raises(ClientError):
        wait(clock, Status(), lambda: (_ for _ in ()).throw(client_error("InvalidQueryException")), timeout=10,
             interval=1, retry_codes=("IndexNotReadyException",))


def test_the_pause_doubles_up_to_its_limit_and_the_last_one_ends_at_the_deadline():
    clock = Clock()

    with pytest.raises(waits.WaitTimedOut):
        wait(clock, Status(), lambda: False, timeout=20, interval=1, max_interval=4)

    assert clock.sleeps == [1, 2, 4, 4, 4, 4, 1]
