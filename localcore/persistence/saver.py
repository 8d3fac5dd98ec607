"""The background saver: writes the lab's snapshot soon after every change, without stopping the lab for long.

Every change of durable state bumps ``lab.revision`` and sets ``lab.state_changed``. The saver wakes,
waits until ``MIN_GAP_S`` has passed since its last save (so a burst of changes costs one save), makes
the lab quiet (closes the gate that every change passes, waiting a short while for the changes under
way), takes the snapshot and lets the lab go on:

- ``fork`` mode (POSIX): the lab is quiet only while it forks; the child process, an exact copy of
  the lab's memory at that instant, pickles and writes the file while the lab keeps serving.
- ``inline`` mode (elsewhere, and for the final save of a clean stop): the lab is quiet while the
  snapshot is pickled.

So a change acknowledged at time t is on disk by about t + MIN_GAP_S + the time to write the file,
well inside a second for a class-sized lab (``bench/persistence.py`` measures it with 10,000 things).
AWS IoT's log entries, which a busy fleet writes thousands a second, are not in the snapshot: they
go to their own append-only journal (`localcore.aws.iot_log_journal`).
"""

from __future__ import annotations

import collections
import logging
import os
import select
import signal
import stat
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import snapshot

log = logging.getLogger("localcore.persistence")

MIN_GAP_S = 0.25  # at most four saves a second
QUIET_TIMEOUT_S = 0.2  # how long a save waits for requests to leave the gate before trying later
RETRY_S = 0.05  # after a failed attempt to make the lab quiet
MAX_RETRY_S = 5.0  # saving that fails (a full disk, say) is retried at least this often
CHILD_TIMEOUT_S = 120.0
PAUSES_KEPT = 100  # the median pause is over this many saves  # a fork child that takes longer is killed (the next save tries again)


@dataclass
class SaveStatus:
    """What `localcore status` shows about saving."""

    path: str
    mode: str
    saved_at: float | None = None  # when the last saved snapshot was taken (epoch seconds)
    saved_revision: int = -1
    bytes: int = 0
    write_seconds: float = 0.0  # the last save, from quiet to file renamed
    pause_ms: float = 0.0  # how long the last save kept requests waiting
    median_pause_ms: float = 0.0  # over the last saves
    max_pause_ms: float = 0.0
    saves: int = 0
    error: str | None = None  # the last failure, cleared by the next success

    def to_json(self) -> dict[str, Any]:
        return camel_keys(asdict(self))


def default_mode() -> str:
    """``LOCALCORE_SAVE_MODE``: ``fork`` (default where the OS can), ``inline``, or ``off`` (benchmarks
    only: nothing is saved, to measure what saving costs)."""
    wanted = os.environ.get("LOCALCORE_SAVE_MODE", "").strip().lower()
    if wanted == "off":
        return "off"
    if wanted in ("fork", "inline"):
        return wanted if wanted == "inline" or hasattr(os, "fork") else "inline"
    return "fork" if hasattr(os, "fork") else "inline"


class Saver:
    def __init__(self, lab: Any, path: Path, mode: str | None = None, counts: Any = None) -> None:
        self.lab = lab
        self.path = path
        self.status = SaveStatus(path=str(path), mode=mode or default_mode())
        self._counts = counts or (lambda: {})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()  # one save at a time (the thread, or the final save)
        self._last_attempt = 0.0
        self._pauses: collections.deque[float] = collections.deque(maxlen=PAUSES_KEPT)

    # -- the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self.status.mode == "off":
            log.warning("saving is OFF (LOCALCORE_SAVE_MODE=off): for benchmarks only; nothing survives a stop")
            return
        self._thread = threading.Thread(target=self._run, name="saver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lab, failures = self.lab, 0
        while not self._stop.is_set():
            lab.state_changed.wait()
            if self._stop.is_set():
                return
            gap = self._last_attempt + MIN_GAP_S - time.monotonic()
            if gap > 0 and self._stop.wait(gap):
                return
            lab.state_changed.clear()
            if lab.revision == self.status.saved_revision:
                continue
            if self.save():
                failures = 0
                continue
            lab.state_changed.set()  # try again: soon after a busy moment, later after each failure
            failures = failures + 1 if self.status.error else 0
            self._stop.wait(min(MAX_RETRY_S, RETRY_S * 2 ** failures))

    def stop(self, final_save: bool = True) -> None:
        """Stop the thread; with ``final_save``, write what changed since the last save (inline)."""
        self._stop.set()
        self.lab.state_changed.set()
        if self._thread is not None:
            self._thread.join(timeout=CHILD_TIMEOUT_S)
        if final_save and self.status.mode != "off" and self.lab.revision != self.status.saved_revision:
            for _attempt in range(50):
                if self.save(mode="inline", quiet_timeout=1.0):
                    break

    # -- one save -------------------------------------------------------------------------------------
    def save(self, mode: str | None = None, quiet_timeout: float = QUIET_TIMEOUT_S) -> bool:
        """Take and write one snapshot; False when the lab did not get quiet in time or saving failed."""
        mode = mode or self.status.mode
        with self._save_lock:
            self._last_attempt = time.monotonic()
            started = time.perf_counter()
            lab = self.lab
            if not lab.gate.close(quiet_timeout):
                return False
            paused_at = time.perf_counter()
            try:
                taken_at = time.time()
                taken = snapshot.capture(lab, self._counts())
                taken.header["savedAt"] = taken_at
                revision = taken.header["revision"]
                if mode == "fork":
                    child, reader = self._fork(taken)
                else:
                    data = snapshot.encode(taken)
            except Exception as error:  # noqa: BLE001 - a save must never break the lab
                self._failed(f"taking the snapshot failed: {type(error).__name__}: {error}")
                return False
            finally:
                lab.gate.open()
                pause_ms = (time.perf_counter() - paused_at) * 1000
            try:
                if mode == "fork":
                    size = self._wait_for_child(child, reader)
                else:
                    snapshot.write_atomically(self.path, data)
                    size = len(data)
            except Exception as error:  # noqa: BLE001
                self._failed(f"saving to {self.path} failed: {error}")
                return False
            status = self.status
            status.saved_at, status.saved_revision, status.bytes = taken_at, revision, size
            status.write_seconds = time.perf_counter() - started
            status.pause_ms = pause_ms
            self._pauses.append(pause_ms)
            status.median_pause_ms = statistics.median(self._pauses)
            status.max_pause_ms = max(status.max_pause_ms, pause_ms)
            status.saves += 1
            if status.error:
                log.info("saving works again: %s", self.path)
            status.error = None
            return True

    def _failed(self, message: str) -> None:
        if message != self.status.error:
            log.error("%s (the lab keeps serving; it tries again on the next change)", message)
        self.status.error = message

    # -- fork mode ------------------------------------------------------------------------------------
    def _fork(self, taken: snapshot.Snapshot) -> tuple[int, int]:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: an exact copy of the quiet lab; write the file and leave
            code = 1
            try:
                os.close(reader)
                _close_sockets(keep=writer)
                data = snapshot.encode(taken)
                snapshot.write_atomically(self.path, data)
                os.write(writer, f"ok {len(data)}".encode())
                code = 0
            except BaseException as error:  # noqa: BLE001 - report everything to the parent
                try:
                    os.write(writer, f"error {type(error).__name__}: {error}".encode()[:4000])
                except OSError:
                    pass
            finally:
                os._exit(code)
        os.close(writer)
        return pid, reader

    def _wait_for_child(self, pid: int, reader: int) -> int:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        chunks = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.kill(pid, signal.SIGKILL)
                    raise RuntimeError(f"the saving process took more than {CHILD_TIMEOUT_S:.0f} s")
                ready, _, _ = select.select([reader], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(reader, 4096)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            os.close(reader)
            os.waitpid(pid, 0)
        answer = b"".join(chunks).decode(errors="replace")
        if answer.startswith("ok "):
            return int(answer[3:])
        raise RuntimeError(answer.removeprefix("error ") or "the saving process died")


def camel_keys(fields: dict[str, Any]) -> dict[str, Any]:
    """``saved_at`` → ``savedAt``: the lab's status speaks JSON as AWS does."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(word.title() for word in rest)
    return {camel(name): value for name, value in fields.items()}


def _close_sockets(keep: int) -> None:
    """In the fork child: let go of the lab's sockets, so that the lab alone decides when a
    connection closes (a client the lab drops sees it at once, not when the child is done)."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd")]
    except OSError:
        return
    for fd in fds:
        if fd == keep or fd < 3:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass
