"""Test doubles shared by the unit tests of helpers that wait: a clock that moves only when the code
under test sleeps, and a progress line that records what it was told. Nothing here sleeps."""

from __future__ import annotations


class Clock:
    """A fake clock: calling it reads the time, `sleep` records the pause and moves time on."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Status:
    """A progress line (`helpers.ui` shape) that records every text it was given, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def update(self, text: str) -> None:
        self.lines.append(text)

    def done(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str) -> None:
        self.lines.append(text)
