"""`make workshop BACKEND=aws` (dry runs, `make -n`): JupyterLab alone with WORKSHOP_BACKEND=aws; the default unchanged."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import aws_preflight

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")


def dry_run(*arguments: str) -> subprocess.CompletedProcess:
    # -o: the installation counts as done (a dry run never installs anything either way)
    return subprocess.run(["make", "-n", "--no-print-directory", "-o", ".venv/.installed-stamp", "workshop", *arguments],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def jupyter_line(output: str) -> str:
    return next(line for line in output.splitlines() if re.search(r"jupyter lab --ip 127\.0\.0\.1", line))


def test_backend_aws_starts_jupyterlab_alone_with_the_aws_backend():
    done = dry_run("BACKEND=aws")

    assert done.returncode == 0, done.stderr
    assert "localcore start" not in done.stdout and "localcore status" not in done.stdout
    assert "-m helpers.aws_preflight" in done.stdout
    assert jupyter_line(done.stdout).lstrip().startswith("WORKSHOP_BACKEND=aws ")
    assert done.stdout.index("aws_preflight") < done.stdout.index("jupyter lab")


@pytest.mark.parametrize("arguments", [(), ("BACKEND=local",)], ids=["default", "explicit-local"])
def test_the_default_still_starts_the_lab_first(arguments):
    done = dry_run(*arguments)

    assert done.returncode == 0, done.stderr
    assert done.stdout.index("-m localcore start") < done.stdout.index("jupyter lab")
    assert "WORKSHOP_BACKEND" not in done.stdout and "aws_preflight" not in done.stdout
    assert "The lab is still running" in done.stdout


def test_an_unknown_backend_is_refused_with_the_two_choices():
    done = dry_run("BACKEND=azure")

    assert done.returncode != 0
    assert "BACKEND=azure: use BACKEND=local" in done.stderr and "BACKEND=aws" in done.stderr


def test_the_preflight_stops_a_shell_that_points_at_the_lab(capsys):
    assert aws_preflight.main({"AWS_ENDPOINT_URL": "http://127.0.0.1:4510"}) == 1
    assert "run `make workshop BACKEND=aws` again" in capsys.readouterr().err

    assert aws_preflight.main({"AWS_PROFILE": "sandbox"}) == 0
    assert capsys.readouterr() == ("", "")

    assert aws_preflight.main({"AWS_ENDPOINT_URL": "http://127.0.0.1:4510", "WORKSHOP_REHEARSAL": "1"}) == 0
    assert "rehearse the aws backend against the lab" in capsys.readouterr().out


def test_make_workshop_backend_aws_stops_before_jupyterlab_when_the_shell_points_at_the_lab():
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv here (make test creates it)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "AWS_ENDPOINT_URL": "http://127.0.0.1:4510"}
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp",
         "-o", ".venv/share/jupyter/lab/settings/overrides.json", "workshop", "BACKEND=aws"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert done.returncode != 0
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:4510" in done.stderr and "unset AWS_ENDPOINT_URL" in done.stderr
    assert "JupyterLab:" not in done.stdout
