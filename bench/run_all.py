"""Run every benchmark in bench/ and print their figures next to their targets (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["lab_start.py", "iam_managed_policies.py", "bulk.py", "broker.py", "fleet.py", "search_index.py", "persistence.py",
           "request_validation.py", "bots.py", "notebook_sequence.py", "class_rehearsal.py"]


def main() -> int:
    failed = []
    for name in BENCHES:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], cwd=HERE).returncode != 0:
            failed.append(name)
    print("== summary:", "all targets met" if not failed else f"targets missed in {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
