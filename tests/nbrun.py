"""Running the chapters under nbval, each run a separate pytest process against one lab.

``--nbval-lax``: cells must not raise; the self-check cell at the end of every chapter raises when
the chapter's outcome does not hold. The kernels inherit the environment that points
`helpers.workshop.connect()` at the test's own lab and work folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from labfixture import free_port

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMEOUT_S = 600


def notebook_env(home: Path, work: Path) -> dict[str, str]:
    """The environment of a lab in ``home`` (on free ports) and a work folder, for chapters and CLIs."""
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
    return env


def run_nbval(notebooks: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-cell-timeout=300", *map(str, notebooks)],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )


def localcore(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcore", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"nbval failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
