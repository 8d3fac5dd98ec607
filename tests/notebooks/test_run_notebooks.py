"""nbval runs the chapters three ways (as stored, solved, solved otherwise): in sequence on one lab,
and each alone on a fresh lab."""

from __future__ import annotations

import pytest

from nbrun import NOTEBOOKS, WAYS, check, localcore, notebook_env, prepared, run_nbval


def run_on_a_new_lab(notebooks, way, tmp_path):
    env = notebook_env(tmp_path / "lab", tmp_path / "work")
    try:
        return run_nbval(prepared(notebooks, way, tmp_path, env), env)
    finally:
        localcore(env, "stop")


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
@pytest.mark.parametrize("way", WAYS)
def test_chapters_in_sequence_on_one_lab(way, tmp_path):
    check(run_on_a_new_lab(NOTEBOOKS, way, tmp_path))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_alone_on_a_fresh_lab(notebook, way, tmp_path):
    check(run_on_a_new_lab([notebook], way, tmp_path))
