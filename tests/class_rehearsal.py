"""A class rehearsal (`make class`): one lab, the instructor's set-up, three trainees, the teardown.

One private lab (own LOCALCORE_HOME, free ports) with ``LOCALCORE_REALISM=aws``. The instructor runs
``python -m helpers.classroom setup``; three trainees (``anna``, ``ben``, ``cleo``; ``WORKSHOP_MODE=class``,
own work folders) start every chapter but the clean-up together, as in class, each under nbval (a failed self-check
fails its run). Then each trainee runs chapter 10 in turn, and after each clean-up the rehearsal
checks that the trainee's own resources are gone, the others' are all still there, and the
account-wide settings are unchanged. Finally ``teardown``: nothing named for a trainee is left and
the settings are those the lab had before the class. Prints the wall time.

    python tests/class_rehearsal.py [--keep FOLDER]

`rehearse(folder)` raises AssertionError with what went wrong; `main` prints it and exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbrun import EXPECT_ENV, NOTEBOOKS, ROOT, localcore, nbval_command, notebook_env  # noqa: E402

TRAINEES = ("anna", "ben", "cleo")
TARGET_S = 600  # on a 2-core machine
RUN_TIMEOUT_S = 2400
CLEANUP = [n for n in NOTEBOOKS if n.name.startswith("10_")]
CHAPTERS = [n for n in NOTEBOOKS if n not in CLEANUP]
RUN = f"chapters {CHAPTERS[0].name[:2]} → {CHAPTERS[-1].name[:2]} (clean-up {CLEANUP[0].name[:2]} aside)"


# ------------------------------------------------------------------------------ the lab, looked at


def lab_clients(env: dict[str, str]) -> dict[str, object]:
    done = localcore(env, "env", "--json")
    assert done.returncode == 0, f"`localcore env --json` failed: {done.stderr}"
    lab = json.loads(done.stdout)
    session = boto3.Session(aws_access_key_id=lab["AWS_ACCESS_KEY_ID"], aws_secret_access_key=lab["AWS_SECRET_ACCESS_KEY"],
                            region_name=lab["AWS_DEFAULT_REGION"])
    return {name: session.client(name, endpoint_url=lab["AWS_ENDPOINT_URL"])
            for name in ("iot", "iam", "s3", "cloudformation", "lambda")}


def _all(client, operation: str, key: str, **params) -> list:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def named_resources(clients: dict, prefix: str) -> set[tuple[str, str]]:
    """Every resource of the lab whose name carries ``prefix`` (``anna-``; topic rules ``anna_``)."""
    iot, rule_prefix = clients["iot"], prefix.replace("-", "_")
    listings = {
        "thing": [t["thingName"] for t in _all(iot, "list_things", "things")],
        "thing group": [g["groupName"] for g in _all(iot, "list_thing_groups", "thingGroups")],
        "thing type": [t["thingTypeName"] for t in _all(iot, "list_thing_types", "thingTypes")],
        "policy": [p["policyName"] for p in _all(iot, "list_policies", "policies")],
        "job template": [t["jobTemplateId"] for t in _all(iot, "list_job_templates", "jobTemplates")],
        "job": [j["jobId"] for j in _all(iot, "list_jobs", "jobs")],
        "topic rule": [r["ruleName"] for r in _all(iot, "list_topic_rules", "rules")],
        "function": [f["FunctionName"] for f in _all(clients["lambda"], "list_functions", "Functions")],
        "IAM role": [r["RoleName"] for r in _all(clients["iam"], "list_roles", "Roles")],
        "stack": [s["StackName"] for s in _all(clients["cloudformation"], "list_stacks", "StackSummaries")
                  if s["StackStatus"] != "DELETE_COMPLETE"],
        "S3 bucket": [b["Name"] for b in clients["s3"].list_buckets().get("Buckets", [])],
    }
    found = set()
    for kind, names in listings.items():
        for name in names:
            if name.startswith(prefix) or (kind == "topic rule" and name.startswith(rule_prefix)) \
                    or (kind == "S3 bucket" and name.startswith(f"iotdm-{prefix}")):
                found.add((kind, name))
    return found


def account_settings(clients: dict) -> dict:
    """Registry events, v2 logging and fleet indexing modes, as comparable values."""
    from helpers import ledger as L
    from helpers.cleanup.probes import indexing_modes

    iot = clients["iot"]
    events = {t: bool(v.get("Enabled")) for t, v in L.read_events(iot, {}).items()}
    logging = L.read_logging(iot, {})
    return {"events": events, "logging": logging, "indexing": list(indexing_modes(L.read_indexing(iot, {})))}


# ------------------------------------------------------------------------------ the class


def classroom(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.classroom", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def run_chapters(notebooks: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(nbval_command(notebooks), cwd=ROOT / "notebooks", env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


FAILED_CELL = "Cell execution caused an exception"


def first_failure(output: str, size: int = 4000) -> str:
    """nbval's account of the first cell that failed (later cells often fail only because of it)."""
    start = output.find(FAILED_CELL)
    return output[max(0, start - 200):start + size] if start >= 0 else output[-size:]


def passed(name: str, what: str, done: subprocess.CompletedProcess, log: Path | None = None) -> None:
    if log is not None:
        log.write_text(done.stdout + "\n" + done.stderr)
    where = f" (whole output: {log})" if log is not None else ""
    assert done.returncode == 0, (f"{name}'s {what} failed{where}:\n{first_failure(done.stdout)}\n"
                                  f"{done.stderr[-1500:]}")


def rehearse(folder: Path, say=print) -> float:
    """The whole class in ``folder``; the wall time in seconds. AssertionError says what went wrong."""
    started = time.monotonic()
    lab_env = notebook_env(folder / "lab", folder / "instructor", mode="class", prefix="")
    lab_env["LOCALCORE_REALISM"] = "aws"
    instructor = ["--work-dir", str(folder / "instructor")]
    trainees = {name: {**lab_env, "WORKSHOP_PREFIX": name, "WORKSHOP_WORK_DIR": str(folder / name),
                       EXPECT_ENV: "not done"} for name in TRAINEES}
    try:
        started_lab = localcore(lab_env, "start")
        assert started_lab.returncode == 0, f"the lab did not start: {started_lab.stderr}"
        clients = lab_clients(lab_env)
        before_class = account_settings(clients)

        done = classroom(lab_env, "setup", *instructor)
        passed("the instructor", "set-up", done)
        during_class = account_settings(clients)
        say(f"[{time.monotonic() - started:5.0f} s] instructor's set-up done; trainees start {RUN} together")

        with ThreadPoolExecutor(len(TRAINEES)) as pool:
            runs = {name: pool.submit(run_chapters, CHAPTERS, env) for name, env in trainees.items()}
            for name, run in runs.items():
                passed(name, RUN, run.result(), folder / f"{name}-chapters.log")
        say(f"[{time.monotonic() - started:5.0f} s] all trainees through {RUN}")

        prefixes = {name: f"{name}-" for name in TRAINEES}
        owned = {name: named_resources(clients, prefix) for name, prefix in prefixes.items()}
        for name in TRAINEES:
            assert owned[name], f"{name} made nothing named {prefixes[name]}*: did the chapters use the prefix?"
        assert account_settings(clients) == during_class, "a trainee's chapters changed an account-wide setting"

        for name in TRAINEES:  # each clean-up in turn, while the others still have everything
            passed(name, "clean-up (chapter 10)", run_chapters(CLEANUP, trainees[name]), folder / f"{name}-cleanup.log")
            left = named_resources(clients, prefixes[name])
            assert not left, f"{name}'s clean-up left {sorted(left)}"
            for other in TRAINEES[TRAINEES.index(name) + 1:]:
                missing = owned[other] - named_resources(clients, prefixes[other])
                assert not missing, f"{name}'s clean-up removed {other}'s {sorted(missing)}"
            assert account_settings(clients) == during_class, f"{name}'s clean-up changed an account-wide setting"
            say(f"[{time.monotonic() - started:5.0f} s] {name}'s clean-up removed only {name}'s resources")

        done = classroom(lab_env, "teardown", *instructor)
        passed("the instructor", "teardown", done)
        for name, prefix in prefixes.items():
            left = named_resources(clients, prefix)
            assert not left, f"after the teardown the lab still holds {name}'s {sorted(left)}"
        assert not {r for r in named_resources(clients, "iot-dm-class") if r[0] in ("stack", "IAM role")}, \
            "the class stack or its role is still there"
        after_class = account_settings(clients)
        assert after_class["events"] == before_class["events"], "registry events differ from before the class"
        assert after_class["indexing"] == before_class["indexing"], "fleet indexing differs from before the class"
        assert before_class["logging"] is None or after_class["logging"] == before_class["logging"], \
            "v2 logging differs from before the class"
        if before_class["logging"] is None:
            assert (after_class["logging"] or {}).get("disableAllLogs", True), "v2 logging is still on after the class"
    finally:
        localcore(lab_env, "stop")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", metavar="FOLDER", help="rehearse in FOLDER and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="class-rehearsal-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        seconds = rehearse(folder)
    except AssertionError as failure:
        print(f"class rehearsal FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"class rehearsal passed: {len(TRAINEES)} trainees, every chapter then the clean-up, wall time {seconds:.0f} s "
          f"(target ≤ {TARGET_S} s on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
