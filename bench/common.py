"""Shared bench plumbing: a private lab on free ports, timing, and printing figure vs target."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcore.lifecycle import free_port  # noqa: E402,F401 - benches' ports, as the tests'


@contextmanager
def private_lab(extra_env: dict[str, str] | None = None):
    """Start a lab of its own (tmp home, free ports) for this bench; stop it by PID afterwards."""
    home = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    env = {
        "LOCALCORE_HOME": str(home / "lab"),
        "LOCALCORE_HTTP_PORT": str(free_port()),
        "LOCALCORE_MQTT_PORT": str(free_port()),
        "LOCALCORE_WS_PORT": str(free_port()),
        "WORKSHOP_WORK_DIR": str(home / "work"),
        "WORKSHOP_BACKEND": "local",
        **(extra_env or {}),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        subprocess.run([sys.executable, "-m", "localcore", "start"], check=True, capture_output=True, timeout=60)
        yield home
    finally:
        subprocess.run([sys.executable, "-m", "localcore", "stop"], capture_output=True, timeout=60)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def report(name: str, figure: float, unit: str, target: str, ok: bool) -> bool:
    mark = "meets" if ok else "MISSES"
    print(f"  {name:<52} {figure:>10.2f} {unit:<7} target {target:<14} {mark}")
    return ok
