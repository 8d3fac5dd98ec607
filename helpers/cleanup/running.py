"""Running the plan (or only listing it), and the final check of what is left."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import ledger as L
from ..ui import Progress
from .actions import ACTIONS, Already, NotOurs, delete_stack, expect
from .errors import describe_error, is_gone
from .survey import inventory
from .planning import CALLS, Plan, Step, plan
from .waiting import NotYet, Say, StillRefused, delete_thing_type

THING_TYPE_PATIENCE_S = 360  # how long `run` may wait for AWS's 5 minutes before saying "not yet"
RESULT_COLUMNS = ["step", "action", "kind", "name", "calls", "result", "detail"]
# What a step can come to: the last three need the trainee (`problems`).
RESULTS = ("would run", "done", "already gone", "nothing to do", "left alone", "not yet", "error")
PROBLEMS = ("left alone", "not yet", "error")


def run_step(ws: Any, step: Step, patience_s: float = THING_TYPE_PATIENCE_S,
             bar: Progress | None = None) -> tuple[str, str]:
    """``(result, detail)`` of one step (see `RESULTS`); never raises. ``detail`` is AWS's whole answer."""
    try:
        if step.action == "delete thing type":
            expect(ws, step)
            return "done", delete_thing_type(ws.iot, step.name, ws.backend, patience_s, Say(bar))
        if step.action == "delete stack":
            return "done", delete_stack(ws, step, Say(bar))
        return "done", ACTIONS[step.action](ws, step)
    except Already as already:
        return ("already gone" if str(already).startswith("already gone") else "nothing to do"), str(already)
    except NotOurs as not_ours:
        return "left alone", str(not_ours)
    except NotYet as not_yet:
        return "not yet", str(not_yet)
    except StillRefused as refused:
        return "error", str(refused)
    except Exception as error:  # noqa: BLE001 - every step is reported, the others go on
        if is_gone(error):
            return "already gone", "it does not exist (any more)"
        return "error", describe_error(error)


def _remember(ws: Any, learned: Iterable[L.Entry]) -> None:
    """Write the identities the inventory learned to the ledger (once each)."""
    known = {(e.kind, e.name, tuple(sorted(e.identity.items()))) for e in L.read(ws)}
    new = [L.Entry(e.kind, e.name, e.arn, e.operation, e.chapter, L.now_iso(), ws.region, e.detail, e.identity)
           for e in learned if (e.kind, e.name, tuple(sorted(e.identity.items()))) not in known]
    L.append(L.ledger_path(ws), new)


def run(ws: Any, steps: Plan | list[Step], dry_run: bool = True, progress: bool = True,
        patience_s: float = THING_TYPE_PATIENCE_S) -> Any:
    """Run the steps in order (``dry_run``: only list them); one row per step with its result.

    A real run first writes to the ledger the identities the inventory learned (a bulk task's
    things, say), then shows a progress bar. Nothing raises: a failed step says why in ``detail``
    (in full) and the others go on. A thing type deprecated less than 5 minutes ago (on AWS) is waited
    for up to ``patience_s``, with a countdown.
    """
    import pandas as pd

    steps_list = list(steps)
    if not dry_run and isinstance(steps, Plan):
        _remember(ws, steps.learned)
    rows = []
    bar = Progress(len(steps_list), "clean-up") if progress and not dry_run and steps_list else None
    for number, step in enumerate(steps_list, start=1):
        row = {"step": number, "action": step.action, "kind": step.kind, "name": step.name, "calls": CALLS[step.action]}
        if dry_run:
            row.update(result="would run", detail=step.note)
        else:
            if bar is not None:
                bar.update(number - 1, f"{step.action} {step.name[:40]}")
            result, detail = run_step(ws, step, patience_s, bar)
            row.update(result=result, detail=detail)
        rows.append(row)
    if bar is not None:
        needing = sum(r["result"] in PROBLEMS for r in rows)
        bar.update(len(steps_list), "")
        bar.close(f"{len(steps_list)} steps, {needing} need you" if needing else f"{len(steps_list)} steps done")
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def problems(done: Any) -> Any:
    """The steps that need the trainee (left alone, not yet, error), with AWS's whole answer."""
    columns = ["step", "action", "kind", "name", "result", "detail"]
    return done[done["result"].isin(PROBLEMS)][columns].reset_index(drop=True)


def leftovers(ws: Any, progress: bool = False, allow_side_effects: bool = False, until: str | None = None) -> Any:
    """The final check: every resource of the workshop's that still exists (or setting still changed),
    with ``delete`` (would a clean-up remove it now) and ``note`` (why it stays, when it does).
    Same-named resources that are not the workshop's are not leftovers.

    ``until``: only what was recorded up to that time (an exercise after the clean-up is not a leftover).
    """
    found = inventory(ws, progress=progress, until=until)
    the_plan = plan(ws, found, allow_side_effects)
    left = found[found["exists"] & found["ours"]].reset_index(drop=True)
    kept = {(r["kind"], r["name"]): r["why it stays"] for r in the_plan.kept.to_dict("records")}
    left["delete"] = [(k, n) not in kept for k, n in zip(left["kind"], left["name"])]
    left["note"] = [kept.get((k, n), "") for k, n in zip(left["kind"], left["name"])]
    return left


__all__ = ["PROBLEMS", "RESULTS", "RESULT_COLUMNS", "THING_TYPE_PATIENCE_S", "leftovers", "problems", "run", "run_step"]
