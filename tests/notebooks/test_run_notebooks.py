"""nbval runs the chapters: in sequence on one lab, and each alone on a fresh lab."""

from __future__ import annotations

import pytest

from nbrun import NOTEBOOKS, check, localcore, notebook_env, run_nbval


def run_on_a_new_lab(notebooks, tmp_path):
    env = notebook_env(tmp_path / "lab", tmp_path / "work")
    try:
        return run_nbval(notebooks, env)
    finally:
        localcore(env, "stop")


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
def test_chapters_in_sequence_on_one_lab(tmp_path):
    check(run_on_a_new_lab(NOTEBOOKS, tmp_path))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_alone_on_a_fresh_lab(notebook, tmp_path):
    check(run_on_a_new_lab([notebook], tmp_path))
