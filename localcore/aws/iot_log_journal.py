"""AWS IoT's log entries on disk: an append-only journal beside the snapshot, not in it.

A fleet at INFO level writes thousands of entries a second. Kept in the snapshot, every batch was a
change of the lab's state, and the saver forked and pickled the whole lab (tens of MB of entries) every
few seconds: that, not the broker, was the fleet's latency p99 (`bench/fleet.py`: 230-700 ms with
saving, 30 ms without). So the entries the lab's logger writes go, batch by batch, to
``<home>/aws-iot-logs.tsv`` (0600), one line per entry: ``stream TAB timestamp TAB ingestion TAB
message`` (the message is AWS IoT's JSON, which has no raw tab or newline). When the file holds
``keep`` lines it becomes ``aws-iot-logs.1.tsv`` (the previous one is dropped) and a new one starts:
the newest ``keep`` to ``2 * keep`` entries survive a restart, and no write ever rewrites old ones.
A lab killed with ``kill -9`` loses only what was still waiting for the writer (a fraction of a
second); a line cut short by the kill is skipped when read back.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

NAME, OLDER_NAME = "aws-iot-logs.tsv", "aws-iot-logs.1.tsv"


class Entry(NamedTuple):
    stream: str
    timestamp_ms: int
    ingestion_ms: int
    message: str


def paths(home: Path) -> tuple[Path, Path]:
    """(current, older) journal files of a lab home."""
    return home / NAME, home / OLDER_NAME


def encode(entry: Entry) -> str:
    return f"{entry.stream}\t{entry.timestamp_ms}\t{entry.ingestion_ms}\t{entry.message}\n"


def decode(line: str) -> Entry | None:
    """One journal line, or None for a damaged one (cut short by a kill, or not ours). A message is
    AWS IoT's JSON object: a line cut mid-message no longer ends with its closing brace."""
    if not line.endswith("\n"):
        return None
    parts = line[:-1].split("\t", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    if not (parts[3].startswith("{") and parts[3].endswith("}")):
        return None
    return Entry(parts[0], int(parts[1]), int(parts[2]), parts[3])


def read(home: Path, keep: int) -> list[Entry]:
    """The newest ``keep`` entries of the journal, oldest first; damaged lines skipped."""
    newest: deque[Entry] = deque(maxlen=keep)
    for path in reversed(paths(home)):
        newest.extend(entry for entry in _lines(path) if entry is not None)
    return list(newest)


def _lines(path: Path) -> Iterator[Entry | None]:
    try:
        with open(path, encoding="utf-8", errors="replace", newline="\n") as file:
            for line in file:
                yield decode(line)
    except FileNotFoundError:
        return


class Journal:
    """Appends entries; rotates after ``keep`` lines. Used by one writer thread."""

    def __init__(self, home: Path, keep: int) -> None:
        self.current, self.older = paths(home)
        self.keep = keep
        self._lines = sum(1 for _entry in _lines(self.current))
        self._fd: int | None = None

    def append(self, entries: Iterable[Entry]) -> None:
        data = "".join(encode(entry) for entry in entries)
        if not data:
            return
        if self._lines >= self.keep:
            self._rotate()
        fd = self._open()
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(fd, view):]
        self._lines += data.count("\n")

    def _open(self) -> int:
        if self._fd is None:
            self.current.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            size = os.fstat(self._fd).st_size
            if size and not _ends_with_newline(self.current, size):
                os.write(self._fd, b"\n")  # a line cut short by a kill stays one damaged line
        return self._fd

    def _rotate(self) -> None:
        self.close()
        if self.current.exists():
            os.replace(self.current, self.older)
        self._lines = 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as file:
        file.seek(size - 1)
        return file.read(1) == b"\n"


def forget(home: Path) -> None:
    """`localcore reset`: the journal is set aside with the saved state (``*.before-reset.tsv``)."""
    for path in paths(home):
        if path.exists():
            os.replace(path, path.with_name(path.name.replace(".tsv", ".before-reset.tsv")))
