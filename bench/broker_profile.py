"""Where the broker's time goes: py-spy samples the lab while mosquitto_pub pushes QoS 0 (or 1)
messages through it, and this prints the functions that hold most samples (self and total).

Run: `.venv/bin/python bench/broker_profile.py [--qos 0] [--messages 20000] [--checks off]`.
Needs py-spy (`pip install py-spy`; it reads the lab's process as root or with ptrace allowed).
Bounded: one private lab on loopback, one load, stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from broker import lab_target, throughput
from common import private_lab

TOP = 25


def lab_pid() -> int:
    return json.loads((Path(os.environ["LOCALCORE_HOME"]) / "lab.json").read_text())["pid"]


def summarise(collapsed: Path) -> tuple[collections.Counter, collections.Counter, int]:
    """py-spy's collapsed stacks (``a;b;c count``) → samples per function: self, and total (on the stack)."""
    own, total, samples = collections.Counter(), collections.Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, n = stack.split(";"), int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return own, total, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qos", type=int, default=0, choices=(0, 1))
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--checks", choices=("on", "off"), default="on")
    args = parser.parse_args()
    if not shutil.which("py-spy") and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is missing (pip install py-spy): profile skipped")
        return 0
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(tempfile.mkdtemp(prefix="broker-profile-")) / "stacks.txt"
    env = {} if args.checks == "on" else {"LOCALCORE_ENFORCE_POLICIES": "0"}
    with private_lab(env):
        target = lab_target(f"lab, checks {args.checks}")
        recorder = subprocess.Popen([spy, "record", "--pid", str(lab_pid()), "--format", "raw", "--rate", "200",
                                     "--output", str(out), "--nonblocking"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rate, lost = throughput(target, args.messages, args.qos)
        finally:
            recorder.send_signal(2)  # SIGINT: py-spy writes what it has and stops
            recorder.wait(timeout=60)
    print(f"QoS{args.qos}, checks {args.checks}: {rate:.0f} msg/s, {lost} lost")
    if not out.exists():
        print("py-spy wrote no samples (ptrace not allowed?)")
        return 0
    own, total, samples = summarise(out)
    print(f"{samples} samples; functions by self time, then by total time (share of samples):")
    for title, counter in (("self", own), ("total", total)):
        print(f"-- {title}")
        for frame, n in counter.most_common(TOP):
            print(f"{100 * n / max(samples, 1):6.1f} %  {frame[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
