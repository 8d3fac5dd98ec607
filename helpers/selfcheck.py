"""The self-check at the end of every chapter: the chapter's outcome must hold; exercises say how far you got.

    check = SelfCheck("Chapter 01")
    check.expect("the thing exists", lambda: ...)           # the chapter's outcome: must hold
    check.exercise("a button that may publish only its clicks", lambda: ...)  # "Your turn"
    check.done()

Every item is a callable that looks at the world (the registry, the broker, the files), never at
a variable only a solution defines: an item that raises counts as not holding, with the error as
its detail, so a trainee who solved an exercise their own way, or skipped it, never meets a
``NameError``. `done` shows the table; when a chapter item does not hold it raises
`ChapterCheckFailed`, which fails the notebook (CI relies on it) but shows the trainee a short list
instead of a traceback. An exercise item that does not hold says "not done yet" and raises nothing.

CI runs each chapter as stored and with the solutions in place, and tells `done` what to expect of the
exercises with ``WORKSHOP_EXPECT_EXERCISES``: ``done`` (each must hold) or ``not done`` (none may:
a chapter must not solve its own exercise). Unset, as for trainees, exercises never fail a chapter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from .failures import Explained, WorkshopError
from .ui import Table, show

EXPECT_ENV = "WORKSHOP_EXPECT_EXERCISES"
NOT_DONE = "not done yet"


@dataclass
class Check:
    label: str
    passed: bool
    detail: str = ""
    exercise: bool = False

    @property
    def mark(self) -> str:
        if self.passed:
            return "✓"
        return "○ " + NOT_DONE if self.exercise else "✗"


class ChapterCheckFailed(Explained, AssertionError):
    """The chapter's outcome does not hold. Shown as its message alone, not as a traceback."""


class SelfCheck:
    def __init__(self, title: str) -> None:
        self.title = title
        self.checks: list[Check] = []
        self.blocked: WorkshopError | None = None  # the lab (or AWS) did not answer: nothing was checked

    def expect(self, label: str, outcome: bool | Callable[[], Any], detail: str = "") -> bool:
        """A chapter item: it must hold, or `done` fails the chapter."""
        return self._add(label, outcome, detail, exercise=False)

    def exercise(self, label: str, outcome: bool | Callable[[], Any], detail: str = "") -> bool:
        """An exercise item: ✓ when what the exercise asks for is there, "not done yet" otherwise."""
        return self._add(label, outcome, detail, exercise=True)

    def _add(self, label: str, outcome: bool | Callable[[], Any], detail: str, exercise: bool) -> bool:
        try:
            result = outcome() if callable(outcome) else outcome
        except WorkshopError as error:  # the lab is stopped, or no credentials: say that, once
            self.blocked = self.blocked or error
            result, detail = False, "not checked: " + str(error).splitlines()[0]
        except Exception as error:  # noqa: BLE001 - an item that cannot be checked does not hold
            result, detail = False, f"{type(error).__name__}: {error}"
        if isinstance(result, str):  # a callable may explain itself: "" holds, text says what is missing
            result, detail = not result, result or detail
        self.checks.append(Check(label, bool(result), detail, exercise))
        return bool(result)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and not c.exercise]

    @property
    def exercises(self) -> list[Check]:
        return [c for c in self.checks if c.exercise]

    def table(self) -> Table:
        rows = [[c.mark, ("Your turn: " if c.exercise else "") + c.label, c.detail] for c in self.checks]
        chapter = [c for c in self.checks if not c.exercise]
        summary = f"{self.title}: {sum(c.passed for c in chapter)}/{len(chapter)} passed"
        if self.exercises:
            summary += f"; exercises {sum(c.passed for c in self.exercises)}/{len(self.exercises)} done"
        return Table(["", "check", "detail"], rows, summary)

    def done(self) -> None:
        if self.blocked is not None:  # a table of ✗ would only mislead: say what to do instead
            raise self.blocked
        show(self.table())
        problems = []
        if not self.checks:
            problems.append("no checks were made")
        problems += [f"✗ {c.label}" + (f" ({c.detail})" if c.detail else "") for c in self.failures]
        expected = os.environ.get(EXPECT_ENV, "").strip().lower()
        if expected == "done":
            problems += [f"exercise not done: {c.label}" + (f" ({c.detail})" if c.detail else "")
                         for c in self.exercises if not c.passed]
        elif expected == "not done":
            problems += [f"exercise done although nobody solved it: {c.label}" for c in self.exercises if c.passed]
        if problems:
            raise ChapterCheckFailed(f"{self.title}: {len(problems)} check(s) failed:\n" + "\n".join(problems))

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())
