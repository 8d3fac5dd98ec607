"""The full workshop, chapters 00–10 in sequence on a fresh private lab, as CI runs it with nbval.

Prints the wall time of the whole sequence next to its target (≤ 5 min on a 2-core machine) and
each chapter's share (from nbval's per-cell durations).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, Timer, free_port, report

TARGET_S = 300


def main() -> int:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    home = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("AWS_", "IOT_"))]:
        del env[key]
    env.update(LOCALCORE_HOME=str(home / "lab"), LOCALCORE_HTTP_PORT=str(free_port()),
               LOCALCORE_MQTT_PORT=str(free_port()), WORKSHOP_BACKEND="local",
               WORKSHOP_WORK_DIR=str(home / "work"), MPLBACKEND="Agg")
    try:
        with Timer() as timer:
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                 "--durations=0", "--durations-min=0", *map(str, notebooks)],
                cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=1800,
            )
    finally:
        subprocess.run([sys.executable, "-m", "localcore", "stop"], env=env, capture_output=True, timeout=60)
    per_chapter: dict[str, float] = {}
    for seconds, name in re.findall(r"^([\d.]+)s call\s+(\S+?\.ipynb)::", result.stdout, re.M):
        per_chapter[name] = per_chapter.get(name, 0.0) + float(seconds)
    print(f"Workshop sequence, {len(notebooks)} chapters")
    for name, seconds in sorted(per_chapter.items()):
        print(f"  {name:<50} {seconds:>8.1f} s")
    passed = result.returncode == 0
    if not passed:
        print(result.stdout[-3000:])
    ok = report("chapters 00-10 in sequence (nbval)", timer.seconds, "s", f"<= {TARGET_S} s", timer.seconds <= TARGET_S)
    ok &= report("every chapter passed its self-check", float(passed), "", "= 1", passed)
    print("notebook sequence benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
