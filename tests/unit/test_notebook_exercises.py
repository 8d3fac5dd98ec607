"""Every chapter's "Your turn" follows the one mechanism (notebooks/CONVENTIONS.md).

An exercise cell (metadata ``exercise``) is stored with comments only; its solution is a file in
notebooks/solutions that the trainee opens deliberately; no stored cell runs a solution; the self-check
has an exercise item; tests hold another correct solution for at least one exercise per chapter.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbrun import ALTERNATIVES, NOTEBOOKS, SOLUTIONS, exercises  # noqa: E402

IDS = [p.stem for p in NOTEBOOKS]


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_each_chapter_has_an_exercise_with_a_solution_file(notebook):
    names = exercises(notebook)
    assert names, f"{notebook.name}: no exercise cell (metadata 'exercise')"
    for name in names:
        assert name.startswith(notebook.name[:2] + "-"), f"{name}: exercise names start with the chapter number"
        solution = SOLUTIONS / f"{name}.py"
        assert solution.is_file(), f"{notebook.name}: exercise {name} has no {solution.relative_to(SOLUTIONS.parent)}"
        ast.parse(solution.read_text(), str(solution))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_an_exercise_cell_is_stored_empty_and_says_where_the_solution_is(notebook):
    for cell in cells(notebook):
        name = cell["metadata"].get("exercise")
        if cell["cell_type"] != "code" or not name:
            continue
        code = [line for line in text(cell).splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert not code, f"{notebook.name}: exercise {name} is stored with code: {code[:2]}"
        assert f"solutions/{name}.py" in text(cell), f"{notebook.name}: exercise {name} must say where its solution is"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_no_stored_cell_runs_a_solution(notebook):
    for index, cell in enumerate(cells(notebook)):
        if cell["cell_type"] != "code":
            continue
        first = text(cell).lstrip().splitlines()[0] if text(cell).strip() else ""
        assert not first.lower().startswith("# solution"), f"{notebook.name}: cell {index} is a solution"
        assert not cell["metadata"].get("jupyter", {}).get("source_hidden"), \
            f"{notebook.name}: cell {index} hides its code; solutions live in notebooks/solutions"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_the_self_check_has_an_exercise_item(notebook):
    code = [c for c in cells(notebook) if c["cell_type"] == "code"]
    assert ".exercise(" in text(code[-1]), f"{notebook.name}: the self-check has no check.exercise(...) item"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_tests_hold_another_correct_solution_for_each_chapter(notebook):
    names = exercises(notebook)
    others = [n for n in names if (ALTERNATIVES / f"{n}.py").is_file()]
    assert others, f"{notebook.name}: tests/notebooks/alternatives has no other solution for {names}"
    for name in others:
        assert (ALTERNATIVES / f"{name}.py").read_text() != (SOLUTIONS / f"{name}.py").read_text()


def test_every_solution_and_alternative_belongs_to_an_exercise():
    known = {name for notebook in NOTEBOOKS for name in exercises(notebook)}
    for folder in (SOLUTIONS, ALTERNATIVES):
        orphans = [p.name for p in folder.glob("*.py") if p.stem not in known]
        assert not orphans, f"{folder}: files of no exercise: {orphans}"
