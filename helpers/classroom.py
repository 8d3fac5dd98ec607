"""The instructor's commands for a class in one account: ``python -m helpers.classroom setup|status|teardown``.

Registry events, v2 logging with its role and default level, and fleet indexing are one setting per
account. In class mode (``WORKSHOP_MODE=class``) the trainees' chapters only check them; the instructor
owns them with this module:

- ``setup`` records the settings it finds (``class-settings-before.json`` in the instructor's work
  folder, once), deploys the class stack (``cfn/iot-dm-class.yaml``: the shared logging role) and
  switches on what the chapters need. Running it again changes nothing that is already right.
- ``status`` prints each setting; exit status 1 when one is missing.
- ``teardown`` puts back what ``setup`` found (the clean-up chapter's restore actions) and deletes the
  class stack. ``teardown --trainee anna`` removes one trainee's leftovers instead, by identity, from
  that trainee's work folder (``--work-dir``), as the trainee's chapter 10 would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import ledger as L
from .catchup import (DEFAULT_LOG_LEVEL, EVENT_TYPES, INDEXING_CONFIGURATION, LOGGING_ROLE_OUTPUT,
                      disabled_event_types, ensure_events, ensure_indexing, indexing_problem, logging_options,
                      logging_problem)
from .failures import WorkshopError
from .secrets import write_private
from .waits import ROLE_NOT_YET_ASSUMABLE, retry_while
from .workshop import CLASS_STACK_NAME, CLASS_STACK_TEMPLATE, Workshop, connect

BEFORE_FILE = "class-settings-before.json"
CLASS_STACK_PARAMETERS = {"Prefix": CLASS_STACK_NAME}


# ------------------------------------------------------------------------------ pure parts


def settings_rows(events: Mapping[str, Any], logging: Mapping[str, Any] | None, indexing: Mapping[str, Any],
                  class_role: str | None, level: str = DEFAULT_LOG_LEVEL) -> list[dict[str, str]]:
    """One row per account-wide setting a class needs: ``{"setting", "now", "problem"}`` (problem ``""``: fine)."""
    off = disabled_event_types(events)
    logging = dict(logging or {})
    role = logging.get("roleArn") or ""
    role_problem = ("the class stack is not there" if class_role is None
                    else "" if role == class_role else f"not the class stack's role ({class_role.split('/')[-1]})")
    thing_indexing = indexing.get("thingIndexingConfiguration", {})
    return [
        {"setting": "class stack", "now": class_role or "missing", "problem": "" if class_role else "missing"},
        {"setting": "registry events", "now": f"{len(EVENT_TYPES) - len(off)} of {len(EVENT_TYPES)} on",
         "problem": f"off: {', '.join(off)}" if off else ""},
        {"setting": "v2 logging", "now": "off" if logging_problem(logging) else "on",
         "problem": logging_problem(logging)},
        {"setting": "logging role", "now": role.split("/")[-1] or "none", "problem": role_problem},
        {"setting": "default log level", "now": str(logging.get("defaultLogLevel", "not set")),
         "problem": "" if logging.get("defaultLogLevel") == level else f"wanted {level}"},
        {"setting": "fleet indexing", "now": f"things {thing_indexing.get('thingIndexingMode', 'OFF')}, "
                                             f"connectivity {thing_indexing.get('thingConnectivityIndexingMode', 'OFF')}",
         "problem": indexing_problem(thing_indexing)},
    ]


def restore_steps(before: Mapping[str, Any]) -> list[Any]:
    """The clean-up steps that put the settings ``before`` (as `read_settings` gives them) back."""
    from .cleanup import Step

    events = {t: bool(before.get("events", {}).get(t, {}).get("Enabled", False)) for t in EVENT_TYPES}
    return [
        Step("restore fleet indexing", L.FLEET_INDEXING, "fleet indexing", {"before": before.get("indexing") or {}}),
        Step("restore logging options", L.LOGGING, "v2 logging", {"before": before.get("logging")}),
        Step("restore event configuration", L.EVENT_CONFIGURATION, "registry events", {"configurations": events}),
    ]


def format_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table for the terminal."""
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------------------ the account


def read_settings(ws: Workshop) -> dict[str, Any]:
    """The account-wide settings now: ``{"events", "logging", "indexing"}``, as the ledger reads them."""
    return {"events": L.read_events(ws.iot, {}), "logging": L.read_logging(ws.iot, {}),
            "indexing": L.read_indexing(ws.iot, {})}


def class_role(ws: Workshop) -> str | None:
    try:
        return ws.class_logging_role()
    except WorkshopError:
        return None


def status(ws: Workshop) -> list[dict[str, str]]:
    settings = read_settings(ws)
    return settings_rows(settings["events"], settings["logging"], settings["indexing"], class_role(ws))


def setup(ws: Workshop, level: str = DEFAULT_LOG_LEVEL) -> list[dict[str, str]]:
    """Record the settings found (once), deploy the class stack, switch on what the chapters need."""
    before_path = ws.work_dir / BEFORE_FILE
    done = []
    if not before_path.is_file():
        write_private(before_path, json.dumps(read_settings(ws), indent=2, default=str))
        done.append({"step": "settings before the class", "result": f"recorded in {before_path}"})
    else:
        done.append({"step": "settings before the class", "result": f"kept from the first set-up ({before_path})"})
    outputs = ws.deploy_stack(CLASS_STACK_TEMPLATE, name=CLASS_STACK_NAME, parameters=CLASS_STACK_PARAMETERS)
    role = outputs[LOGGING_ROLE_OUTPUT]
    done.append({"step": f"class stack {CLASS_STACK_NAME}", "result": f"ready, logging role {role.split('/')[-1]}"})
    done.append({"step": "registry events", "result": ensure_events(ws)})
    current = logging_options(ws)
    if logging_problem(current, level) or current.get("roleArn") != role:
        # a stack made seconds ago: AWS IoT may not be able to assume its logging role yet
        retry_while(lambda: ws.iot.set_v2_logging_options(roleArn=role, defaultLogLevel=level, disableAllLogs=False),
                    transient=ROLE_NOT_YET_ASSUMABLE, backend=ws.backend)
        done.append({"step": "v2 logging", "result": f"on at {level} with the class's role"})
    else:
        done.append({"step": "v2 logging", "result": f"already on at {level} with the class's role"})
    done.append({"step": "fleet indexing", "result": ensure_indexing(ws, INDEXING_CONFIGURATION)})
    return done


def teardown(ws: Workshop) -> list[dict[str, str]]:
    """Put back the settings `setup` found and delete the class stack."""
    from .cleanup import run

    before_path = ws.work_dir / BEFORE_FILE
    rows: list[dict[str, str]] = []
    if before_path.is_file():
        done = run(ws, restore_steps(json.loads(before_path.read_text())), dry_run=False, progress=False)
        rows += [{"step": r["action"], "result": f"{r['result']}: {r['detail']}"} for r in done.to_dict("records")]
        failed = [r for r in done.to_dict("records") if r["result"] in ("error", "left alone", "not yet")]
        if failed:
            raise WorkshopError("Teardown could not restore every setting:\n" + format_rows(rows, ["step", "result"]))
    else:
        rows.append({"step": "settings", "result": f"left as they are: no {BEFORE_FILE} in {ws.work_dir} "
                                                    f"(was `setup` run with this work folder?)"})
    deleted = ws.delete_stack(CLASS_STACK_NAME)
    rows.append({"step": f"class stack {CLASS_STACK_NAME}", "result": "deleted" if deleted else "was not there"})
    if before_path.is_file():
        before_path.unlink()
    return rows


def teardown_trainee(ws: Workshop) -> list[dict[str, str]]:
    """One trainee's leftovers (``ws`` built with their prefix and work folder), as their chapter 10 removes them."""
    from . import cleanup

    found = cleanup.inventory(ws, progress=False)
    the_plan = cleanup.plan(ws, found)
    done = cleanup.run(ws, the_plan, dry_run=False, progress=False)
    rows = [{"step": f"{r['action']} {r['name']}", "result": r["result"]} for r in done.to_dict("records")]
    return rows or [{"step": f"leftovers of {ws.prefix}", "result": "none"}]


# ------------------------------------------------------------------------------ command line


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m helpers.classroom",
                                     description="The instructor's account-wide settings for a class.")
    parser.add_argument("command", choices=("setup", "status", "teardown"))
    parser.add_argument("--trainee", metavar="PREFIX", help="teardown: remove this trainee's leftovers only")
    parser.add_argument("--work-dir", help="the instructor's (or, with --trainee, the trainee's) work folder")
    parser.add_argument("--backend", choices=("local", "aws"), help="default: WORKSHOP_BACKEND, else local")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.trainee is not None:
            if args.command != "teardown":
                raise WorkshopError("--trainee goes with teardown only.")
            ws = connect(args.backend, mode="class", prefix=args.trainee, work_dir=args.work_dir)
            print(format_rows(teardown_trainee(ws), ["step", "result"]))
            return 0
        ws = connect(args.backend, mode="class", instructor=True, prefix="", work_dir=args.work_dir)
        if args.command == "status":
            rows = status(ws)
            print(format_rows(rows, ["setting", "now", "problem"]))
            missing = [r["setting"] for r in rows if r["problem"]]
            if missing:
                print(f"Missing: {', '.join(missing)}. Run: python -m helpers.classroom setup")
                return 1
            print("The class's account-wide settings are in place.")
            return 0
        rows = setup(ws) if args.command == "setup" else teardown(ws)
        print(format_rows(rows, ["step", "result"]))
        return 0
    except WorkshopError as error:
        print(f"classroom {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
