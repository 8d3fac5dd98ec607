"""The gate every use of the lab's state passes: reads side by side, changes one at a time.

moto's backends are plain dicts and lists that its operations iterate (DescribeThing scans every
thing): a change on one werkzeug thread while another thread iterates fails the read with "dict
changed size during iteration". So the lab's HTTP front lets reads pass together (``reading``) and
changes alone (``writing``), and so does every change made outside a request (`Lab.changing`).

A snapshot closes the gate like a change does (``close``/``open``), for the few milliseconds it needs
a quiet state. It never waits long: if what is inside does not leave within its timeout it gives up
and tries again later, so a slow request can delay a save but never deadlock the lab. Changes (and
snapshots) take turns in the order they arrived, and reads that arrive while a change waits go after
it: a busy writer (a bulk registration task changing the registry line after line) cannot keep a
snapshot out, nor can a stream of reads keep a change out.

A thread already inside passes again at once, whatever it asks for (a read that creates something
on first use changes it under the read; its own lock keeps such tiny changes whole). A request that
waits on something slow (a Lambda function that calls back into the lab, the broker's queue) steps
out for the wait (``outside``) and comes back in the same way.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Iterator

READ, WRITE = "read", "write"


class StateGate:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False  # a change or a snapshot is inside
        self._turns: collections.deque[object] = collections.deque()  # changes waiting, first come first
        self._local = threading.local()  # what this thread holds

    # -- requests and changes ----------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._pass(READ):
            yield

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._pass(WRITE):
            yield

    @contextlib.contextmanager
    def _pass(self, mode: str) -> Iterator[None]:
        held = getattr(self._local, "held", None)
        if held is not None:  # already inside: pass again
            yield
            return
        self._enter(mode, timeout=None)
        self._local.held = mode
        try:
            yield
        finally:
            self._local.held = None
            self._leave(mode)

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Step out of the gate for a slow wait, then come back in as before."""
        held = getattr(self._local, "held", None)
        if held is None:
            yield
            return
        self._local.held = None
        self._leave(held)
        try:
            yield
        finally:
            self._enter(held, timeout=None)
            self._local.held = held

    # -- the snapshot -------------------------------------------------------------------------------
    def close(self, timeout: float) -> bool:
        """Close the gate once everyone inside has left; False (gate untouched) after ``timeout`` s."""
        return self._enter(WRITE, timeout=timeout)

    def open(self) -> None:
        self._leave(WRITE)

    @property
    def inside(self) -> int:
        return self._readers + int(self._writer)

    # -- the mechanics ------------------------------------------------------------------------------
    def _enter(self, mode: str, timeout: float | None) -> bool:
        with self._cond:
            if mode == READ:
                while self._writer or self._turns:
                    self._cond.wait()
                self._readers += 1
                return True
            deadline = None if timeout is None else time.monotonic() + timeout
            turn = object()
            self._turns.append(turn)
            try:
                while self._writer or self._readers or self._turns[0] is not turn:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
                self._writer = True
                return True
            finally:
                self._turns.remove(turn)
                self._cond.notify_all()  # the next in turn, or the reads this change held back

    def _leave(self, mode: str) -> None:
        with self._cond:
            if mode == READ:
                self._readers -= 1
            else:
                self._writer = False
            self._cond.notify_all()
