"""The static checks Step Functions makes on an Amazon States Language definition before it stores it.

CreateStateMachine, UpdateStateMachine (and CloudFormation through them) refuse a definition that
cannot run with ``InvalidDefinition``: ``Invalid State Machine Definition: '<diagnostic>, <diagnostic>'``,
each diagnostic ``<CODE>: <message> at <JSON pointer>``. moto only parses the definition, so a trainee
who adds a step to ``ProvisionBot`` and mistypes a ``Next`` would see the machine accepted and every
execution crash. `diagnostics` is a pure function; `localcore.aws.moto_patches.stepfunctions` calls it.

What AWS answers, as seen in public reports of its errors (localstack issue #11978, serverless-step-
functions issue #250, floci pull request #2786):

* ``MISSING_TRANSITION_TARGET: Missing 'Next' target: <name> at /States/<state>/Next`` for a ``Next``,
  ``Default``, ``Choices[i].Next`` or ``Catch[i].Next`` naming no state (the word is always ``Next``),
  and ``at /StartAt`` for ``StartAt``;
* ``MISSING_TRANSITION_TARGET: State "<name>" is not reachable. at /States/<name>``;
* ``MISSING_END_STATE: Workflow has no terminal state`` (no location), and then no reachability walk;
* ``SCHEMA_VALIDATION_FAILED`` for a missing or wrong field. Its exact wording for each field is
  [unconfirmed]: `SCHEMA_MESSAGES` keeps it in one place.
* ``INVALID_JSON_DESCRIPTION`` when the text is not JSON [wording after it unconfirmed].

Parallel branches and Map iterators are checked the same way, each a scope of its own
(``/States/<state>/Branches[0]/States/...``); a ``Next`` may not leave its scope.
"""

from __future__ import annotations

import json
from typing import Any

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
TERMINAL_TYPES = ("Succeed", "Fail")
SCHEMA_MESSAGES = {  # [unconfirmed] wording; the code names are AWS's
    "required": 'The field "{field}" is required but was missing',
    "type": '"{value}" is not a valid value for the field "Type"',
    "object": "The definition must be a JSON object with the fields \"StartAt\" and \"States\"",
    "next_or_end": 'The state must have either a "Next" field or "End": true',
    "not_both": 'The state may not have both a "Next" field and "End": true',
}
MAX_DIAGNOSTICS = 10  # AWS lists several; the lab keeps the message readable [unconfirmed]


def _schema(kind: str, where: str, **values: Any) -> str:
    return f"SCHEMA_VALIDATION_FAILED: {SCHEMA_MESSAGES[kind].format(**values)} at {where}"


def diagnostics(definition: Any) -> list[str]:
    """What is wrong with ``definition`` (the JSON text, or the parsed object); empty when it can run."""
    if isinstance(definition, (str, bytes)):
        try:
            definition = json.loads(definition)
        except ValueError as error:
            return [f"INVALID_JSON_DESCRIPTION: {error}"]
    return _scope(definition, "")[:MAX_DIAGNOSTICS]


def message(found: list[str]) -> str:
    """The ``InvalidDefinition`` message for ``found`` (from `diagnostics`)."""
    return "Invalid State Machine Definition: '" + ", ".join(found) + "'"


def _scope(machine: Any, base: str) -> list[str]:
    """Check one state machine, branch or iterator (``StartAt`` + ``States``) found at ``base``."""
    where = base or "/"
    if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict) or not machine.get("States"):
        if isinstance(machine, dict) and "States" not in machine:
            return [_schema("required", where, field="States")]
        return [_schema("object", where)]
    if not isinstance(machine.get("StartAt"), str):
        return [_schema("required", where, field="StartAt")]
    states: dict[str, Any] = machine["States"]
    found: list[str] = []
    edges: dict[str, list[str]] = {}
    missing: list[str] = []
    if machine["StartAt"] not in states:
        missing.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {machine['StartAt']} at {base}/StartAt")
    for name, state in states.items():
        at = f"{base}/States/{name}"
        if not isinstance(state, dict) or "Type" not in state:
            found.append(_schema("required", at, field="Type"))
            edges[name] = []
            continue
        kind = state["Type"]
        if kind not in STATE_TYPES:
            found.append(_schema("type", f"{at}/Type", value=kind))
            edges[name] = []
            continue
        found += _fields(state, kind, at)
        targets = list(_targets(state, at))
        edges[name] = [target for target, _ in targets]
        missing += [f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {pointer}"
                    for target, pointer in targets if target not in states]
        for index, branch in enumerate(state.get("Branches") or [] if kind == "Parallel" else []):
            found += _scope(branch, f"{at}/Branches[{index}]")
        if kind == "Map":
            inner = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            if inner in state:
                found += _scope(state[inner], f"{at}/{inner}")
            else:
                found.append(_schema("required", at, field="ItemProcessor"))
    found += missing
    if not any(_ends(state) for state in states.values()):
        return found + ["MISSING_END_STATE: Workflow has no terminal state"]
    reached = _reachable(machine["StartAt"], edges)
    found += [f'MISSING_TRANSITION_TARGET: State "{name}" is not reachable. at {base}/States/{name}'
              for name in states if name not in reached]
    return found


def _fields(state: dict, kind: str, at: str) -> list[str]:
    found = []
    required = {"Task": ("Resource",), "Choice": ("Choices",), "Parallel": ("Branches",)}.get(kind, ())
    found += [_schema("required", at, field=field) for field in required if field not in state]
    if kind not in (*TERMINAL_TYPES, "Choice"):
        if "Next" not in state and state.get("End") is not True:
            found.append(_schema("next_or_end", at))
        elif "Next" in state and state.get("End") is True:
            found.append(_schema("not_both", at))
    return found


def _targets(state: dict, at: str):
    """Every (state name, JSON pointer) the state may go to."""
    if isinstance(state.get("Next"), str):
        yield state["Next"], f"{at}/Next"
    if isinstance(state.get("Default"), str):
        yield state["Default"], f"{at}/Default"
    for index, choice in enumerate(state.get("Choices") or []):
        if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
            yield choice["Next"], f"{at}/Choices[{index}]/Next"
    for index, catch in enumerate(state.get("Catch") or []):
        if isinstance(catch, dict) and isinstance(catch.get("Next"), str):
            yield catch["Next"], f"{at}/Catch[{index}]/Next"


def _ends(state: Any) -> bool:
    return isinstance(state, dict) and (state.get("Type") in TERMINAL_TYPES or state.get("End") is True)


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in edges:
            continue
        seen.add(name)
        todo += edges[name]
    return seen


__all__ = ["diagnostics", "message"]
