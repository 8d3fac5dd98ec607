"""StateGate: requests pass side by side; a snapshot closes it only once they left, never for long."""

from __future__ import annotations

import threading
import time

from localcore.persistence.gate import StateGate
from localcore.persistence.wsgi import changes_state


def test_requests_pass_side_by_side():
    gate = StateGate()
    with gate.shared():
        with gate.shared():  # nested on one thread: passes
            assert gate.inside == 1
        entered = threading.Event()

        def other():
            with gate.shared():
                entered.set()

        worker = threading.Thread(target=other)
        worker.start()
        assert entered.wait(5), "a second request must not wait for the first"
        worker.join()


def test_close_waits_for_the_request_inside_and_gives_up_after_its_timeout():
    gate = StateGate()
    with gate.shared():
        started = time.monotonic()
        assert gate.close(timeout=0.1) is False
        assert time.monotonic() - started >= 0.1
    assert gate.close(timeout=1.0) is True
    gate.open()


def test_a_request_arriving_while_the_gate_is_closed_waits_until_it_opens():
    gate = StateGate()
    assert gate.close(timeout=1.0)
    passed = threading.Event()

    def request():
        with gate.shared():
            passed.set()

    worker = threading.Thread(target=request)
    worker.start()
    assert not passed.wait(0.2), "a request must not pass a closed gate"
    gate.open()
    assert passed.wait(5)
    worker.join()


def test_requests_wait_while_a_snapshot_waits_for_the_gate_so_it_is_never_starved():
    gate = StateGate()
    leave = threading.Event()
    first_inside = threading.Event()

    def long_request():
        with gate.shared():
            first_inside.set()
            leave.wait(5)

    first = threading.Thread(target=long_request)
    first.start()
    assert first_inside.wait(5)
    closed = []
    closer = threading.Thread(target=lambda: closed.append(gate.close(timeout=5)))
    closer.start()
    deadline = time.monotonic() + 5
    while not gate._closing and time.monotonic() < deadline:  # the snapshot is waiting now
        time.sleep(0.005)
    second_passed = threading.Event()
    second = threading.Thread(target=lambda: (gate.shared().__enter__(), second_passed.set()))
    second.start()
    assert not second_passed.wait(0.2), "a new request must queue behind the waiting snapshot"
    leave.set()
    closer.join(5)
    assert closed == [True]
    assert not second_passed.is_set()
    gate.open()
    assert second_passed.wait(5)
    first.join()


def test_a_request_outside_the_gate_for_a_slow_wait_lets_the_snapshot_through():
    gate = StateGate()
    with gate.shared():
        with gate.outside():
            assert gate.close(timeout=1.0) is True
            gate.open()
        assert gate.inside == 1


def test_a_failed_close_lets_waiting_requests_in():
    gate = StateGate()
    holder_inside, release = threading.Event(), threading.Event()

    def holder():
        with gate.shared():
            holder_inside.set()
            release.wait(5)

    threading.Thread(target=holder).start()
    assert holder_inside.wait(5)
    passed = threading.Event()
    closer = threading.Thread(target=lambda: gate.close(timeout=0.3))
    closer.start()
    deadline = time.monotonic() + 5
    while not gate._closing and time.monotonic() < deadline:
        time.sleep(0.005)
    waiter = threading.Thread(target=lambda: (gate.shared().__enter__(), passed.set()))
    waiter.start()
    closer.join(5)  # gave up after 0.3 s
    assert passed.wait(5), "requests held back by a snapshot that gave up must go on"
    release.set()


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
