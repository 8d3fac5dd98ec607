"""SelfCheck: chapter items must hold; exercise items say "not done yet"; CI states what it expects."""

from __future__ import annotations

import pytest

from helpers.selfcheck import EXPECT_ENV, ChapterCheckFailed, SelfCheck


def test_a_self_check_that_passes_shows_ticks_and_does_not_raise(capsys):
    check = SelfCheck("Chapter 01")
    check.expect("thing exists", True)
    check.expect("certificate is active", lambda: "ACTIVE" == "ACTIVE")
    check.done()
    out = capsys.readouterr().out
    assert "Chapter 01: 2/2 passed" in out and out.count("✓") == 2 and "✗" not in out


def test_chapter_failures_fail_the_chapter_listing_each_and_never_a_name_error(capsys):
    check = SelfCheck("Chapter 03")
    check.expect("20 things", False)
    check.expect("reports downloaded", True)
    check.expect("no errors", lambda: 1 / 0)
    check.expect("a variable only a solution defines", lambda: outcomes_of_the_solution)  # noqa: F821
    with pytest.raises(ChapterCheckFailed) as caught:
        check.done()
    message = str(caught.value)
    assert "3 check(s) failed" in message and "✗ 20 things" in message
    assert "no errors (ZeroDivisionError: division by zero)" in message
    assert "reports downloaded" not in message
    assert isinstance(caught.value, AssertionError)


def test_the_failure_shows_as_a_short_message_not_a_traceback():
    error = ChapterCheckFailed("Chapter 01: 1 check(s) failed:\n✗ the thing exists")
    lines = error._render_traceback_()
    assert len(lines) == 2 and "the thing exists" in lines[1] and "Traceback" not in "".join(lines)


def test_an_exercise_not_done_says_so_and_does_not_fail_the_chapter(capsys, monkeypatch):
    monkeypatch.delenv(EXPECT_ENV, raising=False)
    check = SelfCheck("Chapter 01")
    check.expect("the thing exists", True)
    assert check.exercise("a button policy", lambda: "no certificate of my-button yet") is False
    assert check.exercise("something that cannot be looked up yet", lambda: {}["missing"]) is False
    check.done()
    out = capsys.readouterr().out
    assert out.count("not done yet") == 2 and "no certificate of my-button yet" in out
    assert "1/1 passed; exercises 0/2 done" in out


def test_a_callable_may_explain_what_is_missing_or_answer_empty_when_done():
    check = SelfCheck("C")
    assert check.exercise("done", lambda: "") is True
    assert check.exercise("missing", lambda: "the policy allows iot/ws") is False
    assert check.checks[1].detail == "the policy allows iot/ws"


@pytest.mark.parametrize("expected, passed, fails", [
    ("done", True, False), ("done", False, True),
    ("not done", False, False), ("not done", True, True),
    ("", True, False), ("", False, False),
])
def test_ci_states_what_it_expects_of_the_exercises(monkeypatch, expected, passed, fails):
    monkeypatch.setenv(EXPECT_ENV, expected)
    check = SelfCheck("C")
    check.expect("chapter", True)
    check.exercise("the exercise", passed)
    if fails:
        with pytest.raises(ChapterCheckFailed, match="exercise"):
            check.done()
    else:
        check.done()


def test_a_self_check_without_checks_fails():
    with pytest.raises(ChapterCheckFailed, match="no checks were made"):
        SelfCheck("Empty").done()


def test_a_stopped_lab_ends_the_self_check_with_what_to_do_not_a_table_of_failures(capsys):
    from helpers.failures import BackendUnreachable

    def registry_call():
        raise BackendUnreachable("ws.iot.describe_thing: the lab does not answer: it is not running.\n"
                                 "Start it (`make lab`), then run this cell again.")

    check = SelfCheck("Chapter 01")
    check.expect("the thing exists", registry_call)
    check.exercise("the button", registry_call)
    with pytest.raises(BackendUnreachable) as raised:
        check.done()
    assert "make lab" in str(raised.value) and len(raised.value._render_traceback_()) <= 10
    assert "✗" not in capsys.readouterr().out
