"""Running the chapters under nbval, each run a separate pytest process against one lab.

``--nbval-lax``: cells must not raise; the self-check cell at the end of every chapter raises when
the chapter's outcome does not hold. The kernels inherit the environment that points
`helpers.workshop.connect()` at the test's own lab and work folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from labfixture import free_port

ROOT = Path(__file__).resolve().parents[1]
CLEANUP_CHAPTER = "10_cleanup"  # runs last in sequence: it removes what every other chapter (11 too) made
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.stem == CLEANUP_CHAPTER, p.stem))
TIMEOUT_S = 600


def notebook_env(home: Path, work: Path, prefix: str | None = None, *, mode: str | None = None) -> dict[str, str]:
    """The environment of a lab in ``home`` (on free ports) and a work folder, for chapters and CLIs.

    ``prefix`` and ``mode`` become the kernels' ``WORKSHOP_PREFIX`` and ``WORKSHOP_MODE`` (a trainee of a
    class: ``prefix="anna", mode="class"``); without them the chapters run with no prefix in solo mode,
    whatever the test runner's own environment says."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("AWS_", "IOT_"))]:
        del env[key]
    for key, value in (("WORKSHOP_PREFIX", prefix), ("WORKSHOP_MODE", mode)):
        env.pop(key, None)
        if value is not None:
            env[key] = value
    env.update(
        LOCALCORE_HOME=str(home),
        LOCALCORE_HTTP_PORT=str(free_port()),
        LOCALCORE_MQTT_PORT=str(free_port()),
        LOCALCORE_WS_PORT=str(free_port()),
        WORKSHOP_BACKEND="local",
        WORKSHOP_WORK_DIR=str(work),
        MPLBACKEND="Agg",
    )
    return env


def nbval_command(notebooks: list[Path]) -> list[str]:
    """The command that runs ``notebooks`` in order under nbval (from the ``notebooks`` folder)."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
            "--nbval-cell-timeout=300", *map(str, notebooks)]


def run_nbval(notebooks: list[Path], env: dict[str, str], timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(nbval_command(notebooks), cwd=ROOT / "notebooks", env=env, capture_output=True, text=True,
                          timeout=timeout)


def trainee_env(lab_env: dict[str, str], work: Path, prefix: str) -> dict[str, str]:
    """Another trainee on the lab of ``lab_env`` (same home and ports): own work folder and prefix."""
    return dict(lab_env, WORKSHOP_WORK_DIR=str(work), WORKSHOP_PREFIX=prefix)


def localcore(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcore", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"nbval failed:\n{first_failure(result.stdout)}\n[…]\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"


def first_failure(stdout: str, size: int = 6000) -> str:
    """nbval's report of the first cell that failed (later cells often fail only because it did)."""
    start = stdout.find("Notebook cell execution failed")
    start = stdout.rfind("\n___", 0, start) if start >= 0 else -1
    if start < 0:
        return "(no failed cell in nbval's report)"
    end = stdout.find("\n___", start + 1)
    return stdout[start:end if 0 <= end < start + size else start + size]


# -- exercises -------------------------------------------------------------------------------------
# A "Your turn" exercise is a code cell whose metadata names it ({"exercise": "01-button"}); it is
# stored with comments only. Its solution is notebooks/solutions/<name>.py; tests/notebooks/alternatives/
# holds other correct solutions, written differently, that the self-checks must accept too.
SOLUTIONS = ROOT / "notebooks" / "solutions"
ALTERNATIVES = ROOT / "tests" / "notebooks" / "alternatives"
EXPECT_ENV = "WORKSHOP_EXPECT_EXERCISES"  # helpers.selfcheck.EXPECT_ENV


def exercises(notebook: Path) -> list[str]:
    """The names of the notebook's exercise cells, in order."""
    cells = json.loads(notebook.read_text())["cells"]
    return [c["metadata"]["exercise"] for c in cells if c["cell_type"] == "code" and c["metadata"].get("exercise")]


def solution_code(name: str, *, otherwise: bool = False) -> str:
    """The solution of exercise ``name`` (``otherwise``: the alternative in tests, when there is one)."""
    alternative = ALTERNATIVES / f"{name}.py"
    return (alternative if otherwise and alternative.is_file() else SOLUTIONS / f"{name}.py").read_text()


def with_solutions(notebooks: list[Path], folder: Path, *, otherwise: bool = False) -> list[Path]:
    """Copies of ``notebooks`` in ``folder/notebooks`` whose exercise cells hold their solutions.

    A kernel runs in its notebook's folder, and chapters read ``../data/...``: ``folder`` links to
    the repository's ``data`` so that those paths find the same files as from ``notebooks/``.
    """
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    if not (folder / "data").exists():
        (folder / "data").symlink_to(ROOT / "data", target_is_directory=True)
    copies = []
    for notebook in notebooks:
        document = json.loads(notebook.read_text())
        for cell in document["cells"]:
            name = cell["metadata"].get("exercise") if cell["cell_type"] == "code" else None
            if name:
                cell["source"] = solution_code(name, otherwise=otherwise)
        copy = folder / "notebooks" / notebook.name
        copy.write_text(json.dumps(document, indent=1))
        copies.append(copy)
    return copies


# The three ways CI runs the chapters: as stored (Run All: exercises not done), with the solutions in
# place (all done), and with other correct solutions where tests hold one (all done).
WAYS = ("as stored", "solved", "solved otherwise")


def prepared(notebooks: list[Path], way: str, folder: Path, env: dict[str, str]) -> list[Path]:
    """The notebooks to run for ``way``, and ``env`` told what the self-checks must find."""
    if way == "as stored":
        env[EXPECT_ENV] = "not done"
        return notebooks
    env[EXPECT_ENV] = "done"
    return with_solutions(notebooks, folder / way.replace(" ", "-"), otherwise=way == "solved otherwise")
