"""Chapter 00 in class mode: without the instructor's set-up it stops and says whom to ask; after
`python -m helpers.classroom setup` it passes, and leaves the account-wide settings as they were."""

from __future__ import annotations

import subprocess
import sys

from nbrun import NOTEBOOKS, ROOT, check, localcore, notebook_env, prepared, run_nbval

SETUP_00 = [n for n in NOTEBOOKS if n.name.startswith("00_")]


def classroom(env, *args):
    return subprocess.run([sys.executable, "-m", "helpers.classroom", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_chapter_00_in_class_mode_needs_the_instructors_setup(tmp_path):
    env = notebook_env(tmp_path / "lab", tmp_path / "anna", mode="class", prefix="Anna")
    instructor = ["--work-dir", str(tmp_path / "instructor")]
    try:
        notebooks = prepared(SETUP_00, "as stored", tmp_path, env)
        before = run_nbval(notebooks, env)
        assert before.returncode != 0
        assert "ClassSettingMissing" in before.stdout and "helpers.classroom setup" in before.stdout

        done = classroom(env, "setup", *instructor)
        assert done.returncode == 0, done.stderr
        settings = classroom(env, "status", *instructor)
        assert settings.returncode == 0, settings.stdout
        check(run_nbval(notebooks, env))
        assert classroom(env, "status", *instructor).stdout == settings.stdout  # the chapter changed nothing
    finally:
        localcore(env, "stop")
