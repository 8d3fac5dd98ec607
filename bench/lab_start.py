"""Lab start time: `python -m localcore start` until both listeners answer. Target ≤ 3 s.

Measured twice: a first start that also creates the lab's PKI, and a restart that reuses it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Timer, free_port, report


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="bench-start-"))
    env = dict(os.environ, LOCALCORE_HOME=str(home), LOCALCORE_HTTP_PORT=str(free_port()),
               LOCALCORE_MQTT_PORT=str(free_port()))
    ok = True
    try:
        for label in ("first start (creates the PKI)", "restart (PKI reused)"):
            with Timer() as timer:
                subprocess.run([sys.executable, "-m", "localcore", "start"], env=env, check=True,
                               capture_output=True, timeout=60)
            ok &= report(f"lab start, {label}", timer.seconds, "s", "<= 3 s", timer.seconds <= 3)
            subprocess.run([sys.executable, "-m", "localcore", "stop"], env=env, capture_output=True, timeout=60)
    finally:
        subprocess.run([sys.executable, "-m", "localcore", "stop"], env=env, capture_output=True, timeout=60)
    print("lab start benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
