"""The chapters whose waits meet an AWS-like delay, each alone on a fresh lab with
``LOCALCORE_REALISM=aws`` and its exercises solved: 03 (a stack's role seconds old when v2 logging
and the bulk task first use it), 07 (the fleet index lags), 09 (log events appear late).
Every cell must pass and every self-check hold, as without the delays."""

from __future__ import annotations

import pytest

from nbrun import NOTEBOOKS, check, localcore, notebook_env, prepared, run_nbval

DELAYED = ("03_bulk_provisioning", "07_fleet_indexing", "09_fine_grained_logging")


@pytest.mark.parametrize("notebook", [p for p in NOTEBOOKS if p.stem in DELAYED], ids=lambda p: p.stem)
def test_chapter_alone_under_aws_delays(notebook, tmp_path):
    env = notebook_env(tmp_path / "lab", tmp_path / "work")
    env["LOCALCORE_REALISM"] = "aws"
    for name in [key for key in env if key.startswith("LOCALCORE_DELAY_")]:
        del env[name]
    try:
        check(run_nbval(prepared([notebook], "solved", tmp_path, env), env))
    finally:
        localcore(env, "stop")
