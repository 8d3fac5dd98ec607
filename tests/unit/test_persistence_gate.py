"""StateGate: requests pass side by side; a snapshot closes it only once they left, never for long."""

from __future__ import annotations

import threading
import time

from localcore.persistence.gate import StateGate
from localcore.persistence.wsgi import changes_state


def inside_thread(gate: StateGate, mode: str):
    """A thread that enters the gate (``read`` or ``write``) and stays until told; returns (entered, leave)."""
    entered, leave = threading.Event(), threading.Event()

    def run():
        with gate.reading() if mode == "read" else gate.writing():
            entered.set()
            leave.wait(10)

    threading.Thread(target=run, daemon=True).start()
    return entered, leave


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_reads_pass_side_by_side():
    gate = StateGate()
    first, leave_first = inside_thread(gate, "read")
    second, leave_second = inside_thread(gate, "read")
    assert first.wait(5) and second.wait(5), "a read must not wait for another read"
    leave_first.set(), leave_second.set()


def test_a_change_waits_for_the_reads_inside_and_reads_wait_for_a_change():
    gate = StateGate()
    reading, leave_read = inside_thread(gate, "read")
    assert reading.wait(5)
    writing, leave_write = inside_thread(gate, "write")
    assert not writing.wait(0.2), "a change must wait for the read inside"
    late_read, leave_late = inside_thread(gate, "read")
    assert not late_read.wait(0.2), "a read arriving while a change waits goes after it"
    leave_read.set()
    assert writing.wait(5)
    assert not late_read.wait(0.2), "no read while the change is inside"
    leave_write.set()
    assert late_read.wait(5)
    leave_late.set()


def test_changes_pass_one_at_a_time():
    gate = StateGate()
    first, leave_first = inside_thread(gate, "write")
    assert first.wait(5)
    second, leave_second = inside_thread(gate, "write")
    assert not second.wait(0.2)
    leave_first.set()
    assert second.wait(5)
    leave_second.set()


def test_a_writer_changing_in_a_tight_loop_cannot_keep_a_snapshot_out():
    gate = StateGate()
    stop, changes = threading.Event(), []

    def busy_writer():  # a bulk task: one change after another, no pause between them
        while not stop.is_set():
            with gate.writing():
                changes.append(1)
                time.sleep(0.01)  # the change's work

    worker = threading.Thread(target=busy_writer)
    worker.start()
    try:
        assert wait_for(lambda: len(changes) > 3)
        for _ in range(10):  # the snapshot's turn comes after the change inside: within ~1 change
            assert gate.close(timeout=0.1), "the snapshot must get its turn"
            gate.open()
    finally:
        stop.set()
        worker.join(5)


def test_a_thread_inside_passes_again_whatever_it_asks():
    gate = StateGate()
    with gate.reading():
        with gate.writing():  # e.g. a read that creates something on first use
            with gate.reading():
                assert gate.inside == 1
    with gate.writing():
        with gate.reading():
            assert gate.inside == 1
    assert gate.inside == 0


def test_close_waits_for_whoever_is_inside_and_gives_up_after_its_timeout():
    gate = StateGate()
    reading, leave = inside_thread(gate, "read")
    assert reading.wait(5)
    started = time.monotonic()
    assert gate.close(timeout=0.1) is False
    assert time.monotonic() - started >= 0.1
    leave.set()
    assert wait_for(lambda: gate.inside == 0)
    assert gate.close(timeout=1.0) is True
    passed, leave_passed = inside_thread(gate, "read")
    assert not passed.wait(0.2), "nothing passes a closed gate"
    gate.open()
    assert passed.wait(5)
    leave_passed.set()


def test_a_failed_close_lets_the_reads_it_held_back_in():
    gate = StateGate()
    reading, leave = inside_thread(gate, "read")
    assert reading.wait(5)
    closer = threading.Thread(target=lambda: gate.close(timeout=0.3))
    closer.start()
    assert wait_for(lambda: len(gate._turns) == 1)
    held_back, leave_held = inside_thread(gate, "read")
    closer.join(5)  # gave up after 0.3 s
    assert held_back.wait(5), "reads held back by a snapshot that gave up must go on"
    leave.set(), leave_held.set()


def test_a_request_outside_the_gate_for_a_slow_wait_lets_others_through():
    gate = StateGate()
    with gate.writing():
        with gate.outside():
            other, leave_other = inside_thread(gate, "write")
            assert other.wait(5), "while outside, others pass"
            leave_other.set()
            assert gate.close(timeout=5.0) is True
            gate.open()
        assert gate.inside == 1 and gate._writer


# -- which requests change state ---------------------------------------------------------------------
CASES = [
    # method, X-Amz-Target, content type, body, query, changes state
    ("GET", None, "", b"", "", False),  # rest-json Describe/List/Get, S3 GetObject
    ("HEAD", None, "", b"", "", False),
    ("POST", None, "application/json", b"{}", "", True),  # rest-json CreateThing
    ("PUT", None, "", b"data", "", True),  # S3 PutObject
    ("DELETE", None, "", b"", "", True),
    ("POST", "Logs_20140328.FilterLogEvents", "application/x-amz-json-1.1", b"{}", "", False),
    ("POST", "Logs_20140328.PutLogEvents", "application/x-amz-json-1.1", b"{}", "", True),
    ("POST", "DynamoDB_20120810.Scan", "application/x-amz-json-1.0", b"{}", "", False),
    ("POST", None, "application/x-www-form-urlencoded", b"Action=ListRoles&Version=2010-05-08", "", False),
    ("POST", None, "application/x-www-form-urlencoded; charset=utf-8", b"Action=CreateRole&Version=x", "", True),
    ("POST", None, "", b"", "Action=DescribeStacks", False),
    ("POST", None, "", b"", "Action=CreateStack", True),
]


def test_requests_that_change_state_are_told_from_reads():
    for method, target, content_type, body, query, expected in CASES:
        assert changes_state(method, target, content_type, body, query) is expected, (method, target, body, query)
