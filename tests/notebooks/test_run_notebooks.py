"""nbval runs the chapters: in sequence on one lab, and each alone on a fresh lab.

Each run is a separate pytest process (``--nbval-lax``: cells must not raise; the self-check cell
at the end of every chapter raises when the chapter's outcome does not hold). The kernels inherit
the environment that points `helpers.workshop.connect()` at the test's own lab and work folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labfixture import free_port

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMEOUT_S = 600


def run_nbval(notebooks: list[Path], home: Path, work: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("AWS_", "IOT_"))]:
        del env[key]
    env.update(
        LOCALCORE_HOME=str(home),
        LOCALCORE_HTTP_PORT=str(free_port()),
        LOCALCORE_MQTT_PORT=str(free_port()),
        WORKSHOP_BACKEND="local",
        WORKSHOP_WORK_DIR=str(work),
        MPLBACKEND="Agg",
    )
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
             "--nbval-cell-timeout=300", *map(str, notebooks)],
            cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    finally:
        subprocess.run([sys.executable, "-m", "localcore", "stop"], env=env, capture_output=True, timeout=60)


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"nbval failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
def test_chapters_in_sequence_on_one_lab(tmp_path):
    check(run_nbval(NOTEBOOKS, tmp_path / "lab", tmp_path / "work"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_alone_on_a_fresh_lab(notebook, tmp_path):
    check(run_nbval([notebook], tmp_path / "lab", tmp_path / "work"))
