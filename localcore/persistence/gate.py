"""A gate between requests that change the lab's state and the snapshot that saves it.

Requests pass the gate side by side (``shared``); a snapshot closes it (``exclusive``) for the few
milliseconds it needs a quiet state: it waits for requests already inside to leave, and requests that
arrive meanwhile wait outside. The snapshot never waits long: if requests do not leave within its
timeout it gives up and tries again later, so a slow request (a Lambda invocation that calls back into
the lab) can delay a save but never deadlock the lab. A request that waits on something slow can
step out of the gate for the wait (``outside``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator


class StateGate:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inside = 0  # requests inside
        self._closed = False  # a snapshot holds the gate
        self._closing = 0  # snapshots waiting for the requests inside to leave
        self._local = threading.local()  # how deep this thread is inside (nested requests pass)

    # -- requests ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:  # already inside (a nested call on this thread): never wait for a snapshot
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        with self._cond:
            while self._closed or self._closing:
                self._cond.wait()
            self._inside += 1
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._cond:
                self._inside -= 1
                if not self._inside:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Leave the gate for a slow wait inside a request (e.g. for a Lambda function), then come back."""
        depth = getattr(self._local, "depth", 0)
        if not depth:
            yield
            return
        with self._cond:
            self._inside -= 1
            if not self._inside:
                self._cond.notify_all()
        self._local.depth = 0
        try:
            yield
        finally:
            with self._cond:
                while self._closed or self._closing:
                    self._cond.wait()
                self._inside += 1
            self._local.depth = depth

    # -- the snapshot -------------------------------------------------------------------------------
    def close(self, timeout: float) -> bool:
        """Close the gate once the requests inside have left; False (gate open) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing += 1
            try:
                while self._inside or self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                self._closed = True
                return True
            finally:
                self._closing -= 1
                if not self._closed:
                    self._cond.notify_all()

    def open(self) -> None:
        with self._cond:
            self._closed = False
            self._cond.notify_all()

    @property
    def inside(self) -> int:
        return self._inside
