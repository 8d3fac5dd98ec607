"""The class rehearsal (tests/class_rehearsal.py): instructor set-up, three trainees through every chapter
concurrently on one lab with LOCALCORE_REALISM=aws, teardown. Prints its wall time next to its target."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

from common import ROOT, report

# This file has the rehearsal's name, so the rehearsal is loaded from its path, not imported by name.
sys.path.insert(0, str(ROOT / "tests"))
_spec = importlib.util.spec_from_file_location("tests_class_rehearsal", ROOT / "tests" / "class_rehearsal.py")
_rehearsal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rehearsal)
TARGET_S, rehearse = _rehearsal.TARGET_S, _rehearsal.rehearse


def main() -> int:
    try:
        seconds = rehearse(Path(tempfile.mkdtemp(prefix="bench-class-")), say=lambda line: print(line, flush=True))
    except AssertionError as failure:
        print(f"class rehearsal FAILED: {failure}")
        return 1
    ok = report("class rehearsal (3 trainees, every chapter, one lab)", seconds, "s", f"≤ {TARGET_S} s on 2 cores",
                seconds <= TARGET_S)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
