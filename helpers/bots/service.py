"""The provisioning service of chapter 11: start the state machines, read their progress, search the table.

The bots stack (``cfn/iot-dm-bots.yaml``) holds the DynamoDB table, the S3 bucket, the bots' policy
and the two state machines; `bots_stack` deploys it once and returns its outputs. `provision` and
`remove` only *start* an execution (``StartExecution`` with ``{"thingName": ...}``) and return its
ARN: the work is the state machine's. `progress` turns the execution's history into one line per
step, which the things screen lights up; `wait` waits for the end; `search` reads the bots' table
(a DynamoDB ``Scan``, because the IoT API limits calls per second and ``ListThings`` would spend them).

Names: a bot's thing name is the trainee's prefix plus the typed name (``bot1`` → ``anna-bot1``), as
every name in the kit (`bot_name`). A name typed *with* the prefix is kept as typed, so the names
the screen shows can be typed back. The whole name must obey AWS IoT's thing-name grammar
(``[a-zA-Z0-9:_-]+``, at most 128 characters).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from .. import waits
from ..failures import WorkshopError
from ..ui import THING_NAME_PATTERN
from ..workshop import REPO_ROOT, STACK_DONE, stack_prefix

BOTS_TEMPLATE = REPO_ROOT / "cfn" / "iot-dm-bots.yaml"
OUTPUTS = ("BotsTableName", "BotsBucketName", "BotPolicyName", "ProvisionBotArn", "RemoveBotArn", "StatesRoleArn")
THING_NAME_MAX = 128
EXECUTION_NAME_MAX = 80  # StartExecution's name: 1-80 characters, none of  " # % \ ^ | ~ ` $ & , ; : / or blanks
EXECUTION_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")
# How long one provisioning or removal run may take: a few seconds, more on AWS when it retries throttling.
EXECUTION = waits.Budget(60, 300, "a run takes a few seconds; AWS retries throttled IoT calls with backoff")
UNDO = "Undo"  # compensation states are named Undo<Something> (docs/interface of issue 11)
RUNNING = "RUNNING"

# step statuses
ENTERED, SUCCEEDED, FAILED, COMPENSATING = "entered", "succeeded", "failed", "compensating"


class BotNameInvalid(WorkshopError):
    """The typed name cannot be a thing name."""


class BotsStackMissing(WorkshopError):
    """The bots stack has no outputs the service needs."""


# ------------------------------------------------------------------------------------- names


def bot_name(prefix: str, typed: str) -> str:
    """The thing name for what the trainee typed: with ``prefix`` in front unless it is there already.

    Raises `BotNameInvalid` saying what is wrong (empty, too long, characters AWS IoT refuses)."""
    text = (typed or "").strip()
    if not text:
        raise BotNameInvalid("Type a name for the bot first (letters, digits, '-', '_' or ':').")
    name = text if prefix and text.startswith(prefix) else f"{prefix}{text}"
    bad = sorted({c for c in name if not re.fullmatch(THING_NAME_PATTERN, c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise BotNameInvalid(f"{text!r} cannot be a thing name: {shown} not allowed "
                             f"(only letters, digits, '-', '_' and ':').")
    if len(name) > THING_NAME_MAX:
        raise BotNameInvalid(f"{name!r} is {len(name)} characters long; a thing name has at most {THING_NAME_MAX}.")
    return name


def execution_name(action: str, thing_name: str, unique: str | None = None) -> str:
    """A readable, unique execution name (``provision-anna-bot1-1a2b3c4d``): StartExecution allows
    only some characters (``:`` becomes ``_``) and 80 of them."""
    tail = unique or uuid.uuid4().hex[:8]
    head = EXECUTION_NAME_BAD.sub("_", f"{action}-{thing_name}")[: EXECUTION_NAME_MAX - len(tail) - 1]
    return f"{head}-{tail}"


# ------------------------------------------------------------------------------------- stack


BOTS_STACK_SUFFIX = "-bots"  # the bots stack is the workshop stack's name and this (the clean-up knows it too)


def bots_stack_name(ws: Any) -> str:
    return f"{ws.stack_name}{BOTS_STACK_SUFFIX}"


def bots_stack(ws: Any, template: Any = None, *, refresh: bool = False) -> dict[str, str]:
    """The bots stack's outputs; deploys it first (`Workshop.deploy_stack`) when it is not there yet.

    Kept on ``ws`` after the first look (``refresh=True`` looks again)."""
    cached = getattr(ws, "bots_outputs", None)
    if cached and not refresh:
        return dict(cached)
    outputs = _complete_stack_outputs(ws)
    if outputs is None or any(key not in outputs for key in OUTPUTS):
        outputs = ws.deploy_stack(name=bots_stack_name(ws), template=template or BOTS_TEMPLATE,
                                  parameters={"Prefix": stack_prefix(ws.prefix)})
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise BotsStackMissing(f"The stack {bots_stack_name(ws)} has no output {', '.join(missing)}: "
                               f"is cfn/iot-dm-bots.yaml up to date? Deploy it again.")
    ws.bots_outputs = dict(outputs)
    return dict(outputs)


def _complete_stack_outputs(ws: Any) -> dict[str, str] | None:
    try:
        stack = ws.cloudformation.describe_stacks(StackName=bots_stack_name(ws))["Stacks"][0]
    except Exception as error:  # noqa: BLE001 - botocore ValidationError "does not exist"
        if "does not exist" in str(error):
            return None
        raise
    if stack["StackStatus"] not in STACK_DONE:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


# ------------------------------------------------------------------------------ definitions

ASL_FOLDER = REPO_ROOT / "data" / "stepfunctions"
MACHINES = {"ProvisionBot": ("ProvisionBotArn", "provision_bot.asl.json"),
            "RemoveBot": ("RemoveBotArn", "remove_bot.asl.json")}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")  # ${BotsTableName}: filled from the stack's outputs, as DefinitionSubstitutions does
# UpdateStateMachine is eventually consistent: "executions started immediately after calling
# UpdateStateMachine may use the previous state machine definition" (Step Functions API reference).
UPDATE = waits.Budget(10, 60, "Step Functions applies a new definition within seconds")


class DefinitionInvalid(WorkshopError):
    """Step Functions refused a definition (InvalidDefinition); the message lists why, one line each."""


def _machine(name: str) -> tuple[str, str]:
    if name not in MACHINES:
        raise WorkshopError(f"There is no state machine {name!r} in the bots stack: use one of {', '.join(MACHINES)}.")
    return MACHINES[name]


def asl_definition(ws: Any, machine: str = "ProvisionBot") -> dict:
    """The definition of ``machine`` as the kit ships it (``data/stepfunctions/*.asl.json``), with the
    stack's names filled in where the file has ``${...}``: what `bots_stack` deployed."""
    text = (ASL_FOLDER / _machine(machine)[1]).read_text()
    outputs = bots_stack(ws)
    return json.loads(PLACEHOLDER.sub(lambda m: outputs.get(m.group(1), m.group(0)), text))


def definition(ws: Any, machine: str = "ProvisionBot") -> dict:
    """The definition ``machine`` runs now (DescribeStateMachine): the shipped one, or yours once changed."""
    arn = bots_stack(ws)[_machine(machine)[0]]
    return json.loads(ws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])


def update_definition(ws: Any, machine: str, new: Any) -> dict:
    """Make ``machine`` run ``new`` (a dict, JSON text, or the path of a JSON file) with UpdateStateMachine.

    Step Functions checks it first: a definition that cannot run (a ``Next`` naming no state, a state
    nothing reaches, a Task without ``Resource``) raises `DefinitionInvalid` listing each problem, and
    the machine keeps its old definition. Waits until DescribeStateMachine shows the new one; returns it.
    The bots stack is never redeployed over it: `restore_definition` puts the shipped one back."""
    from pathlib import Path

    if isinstance(new, Path):
        new = new.read_text()
    text = new if isinstance(new, str) else json.dumps(new, indent=2)
    arn = bots_stack(ws)[_machine(machine)[0]]
    sfn = ws.client("stepfunctions")
    try:
        sfn.update_state_machine(stateMachineArn=arn, definition=text)
    except sfn.exceptions.InvalidDefinition as error:
        raise DefinitionInvalid(_explain_invalid(machine, error.response["Error"].get("Message", ""))) from None
    wanted = json.loads(text)
    return waits.wait_until(lambda: definition(ws, machine), lambda now: now == wanted,
                            what=f"{machine} to run its new definition", budget=UPDATE,
                            backend=waits.backend_of(ws), interval=0.2, max_interval=2.0,
                            describe=lambda now: "the old definition")


def restore_definition(ws: Any, machine: str = "ProvisionBot") -> dict:
    """Put the definition the kit ships back on ``machine`` (undo `update_definition`)."""
    return update_definition(ws, machine, asl_definition(ws, machine))


def _explain_invalid(machine: str, text: str) -> str:
    """``Invalid State Machine Definition: 'A at /x, B at /y'`` as one line per problem."""
    body = text.split(": ", 1)[1].strip("'") if text.startswith("Invalid State Machine Definition") else text
    problems = re.split(r", (?=[A-Z_]{6,}: )", body)
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (f"Step Functions refused the new definition of {machine} (it keeps the old one):\n{lines}\n"
            f"Fix the definition and update it again.")


# ------------------------------------------------------------------------------- executions


def _start(ws: Any, output: str, action: str, typed: str) -> str:
    name = bot_name(ws.prefix, typed)
    arn = bots_stack(ws)[output]
    answer = ws.client("stepfunctions").start_execution(
        stateMachineArn=arn, name=execution_name(action, name), input=json.dumps({"thingName": name}))
    return answer["executionArn"]


def provision(ws: Any, name: str) -> str:
    """Start ``ProvisionBot`` for the bot ``name`` (prefixed by `bot_name`); return the execution ARN."""
    return _start(ws, "ProvisionBotArn", "provision", name)


def remove(ws: Any, name: str) -> str:
    """Start ``RemoveBot`` for the bot ``name`` (prefixed by `bot_name`); return the execution ARN."""
    return _start(ws, "RemoveBotArn", "remove", name)


def history(ws: Any, execution_arn: str) -> list[dict]:
    """Every event of the execution, oldest first (GetExecutionHistory, all pages)."""
    sfn = ws.client("stepfunctions")
    events: list[dict] = []
    request: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**request)
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events
        request["nextToken"] = page["nextToken"]


def progress(ws: Any, execution_arn: str) -> list[dict[str, str]]:
    """The execution's steps so far: ``[{"state": "CreateThing", "status": "succeeded"}, ...]`` (`steps_from_history`)."""
    return steps_from_history(history(ws, execution_arn))


def describe(ws: Any, execution_arn: str) -> dict[str, Any]:
    """``{"status", "thingName", "error", "cause"}`` of the execution (DescribeExecution)."""
    answer = ws.client("stepfunctions").describe_execution(executionArn=execution_arn)
    try:
        thing = json.loads(answer.get("input") or "{}").get("thingName", "")
    except ValueError:
        thing = ""
    return {"status": answer["status"], "thingName": thing,
            "error": answer.get("error", ""), "cause": answer.get("cause", "")}


def wait(ws: Any, execution_arn: str, timeout: float | None = None) -> dict[str, Any]:
    """Wait until the execution ends (`helpers.waits.wait_until`); return `describe`'s answer."""
    return waits.wait_until(
        lambda: describe(ws, execution_arn), lambda d: d["status"] != RUNNING,
        what=f"the execution {execution_arn.rsplit(':', 1)[-1]} to end", timeout=timeout,
        budget=EXECUTION, backend=waits.backend_of(ws), interval=0.2, max_interval=2.0,
        describe=lambda d: d["status"],
    )


# -------------------------------------------------------------------------- history → steps

_CONTAINERS = ("Parallel", "Map")


def _kind(event_type: str, suffix: str) -> str | None:
    """``TaskStateEntered`` → ``Task`` for suffix ``StateEntered``; None when it does not end so."""
    return event_type[: -len(suffix)] if event_type.endswith(suffix) else None


def _failure(details: dict | None) -> str:
    details = details or {}
    error, cause = details.get("error", ""), details.get("cause", "")
    return f"{error}: {cause}" if error and cause else error or cause


def steps_from_history(events: list[dict]) -> list[dict[str, str]]:
    """The steps of an execution from its history events, in the order they were first entered.

    Each step is ``{"state": name, "status": s}`` (plus ``"error"`` when it failed), ``s`` one of:

    * ``entered``: running (a task being retried after a failure is running again);
    * ``succeeded``: it exited normally (a Succeed state counts as exited on entry);
    * ``failed``: its task failed (and was not retried since), it is a Fail state, or the execution
      failed, timed out or was aborted while it ran. A failure caught by a ``Catch`` stays ``failed``
      although the state then exits;
    * ``compensating``: an ``Undo…`` state (compensation after a failure) is running; once it exits it
      is ``succeeded``.

    States inside a Parallel or Map state are not steps of their own: the container is (``SaveKeys``).
    """
    steps: dict[str, dict[str, str]] = {}
    open_containers: list[str] = []
    current: str | None = None  # the top-level state running now

    def mark(name: str, status: str, error: str = "") -> None:
        step = steps.setdefault(name, {"state": name, "status": status})
        step["status"] = status
        if status == FAILED and error:
            step["error"] = error
        elif status != FAILED:
            step.pop("error", None)

    for event in sorted(events, key=lambda e: e.get("id", 0)):
        kind_entered = _kind(event.get("type", ""), "StateEntered")
        kind_exited = _kind(event.get("type", ""), "StateExited")
        event_type = event.get("type", "")
        if kind_entered is not None:
            name = (event.get("stateEnteredEventDetails") or {}).get("name", "?")
            if open_containers:
                continue  # a state inside a branch or an iteration
            current = name
            if kind_entered == "Fail":
                mark(name, FAILED)  # its Error and Cause come with ExecutionFailed
            elif kind_entered == "Succeed":
                mark(name, SUCCEEDED)
            else:
                mark(name, COMPENSATING if name.startswith(UNDO) else ENTERED)
            if kind_entered in _CONTAINERS:
                open_containers.append(name)
        elif kind_exited is not None:
            name = (event.get("stateExitedEventDetails") or {}).get("name", "?")
            if open_containers and name != open_containers[-1]:
                continue
            if open_containers:
                open_containers.pop()
            if name in steps and steps[name]["status"] != FAILED:
                mark(name, SUCCEEDED)
            current = None
        elif open_containers:
            if event_type in (f"{k}State{end}" for k in _CONTAINERS for end in ("Failed", "Aborted")):
                mark(open_containers[-1], FAILED, _failure(_details(event)))
        elif current is not None and event_type in ("TaskScheduled", "TaskStarted", "TaskSubmitted"):
            if steps[current]["status"] == FAILED:  # a Retry: it runs again
                mark(current, COMPENSATING if current.startswith(UNDO) else ENTERED)
        elif current is not None and event_type in ("TaskFailed", "TaskTimedOut", "TaskStartFailed",
                                                     "TaskSubmitFailed", "TaskStateAborted"):
            mark(current, FAILED, _failure(_details(event)))
        elif event_type in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            why = _failure(_details(event))
            for step in steps.values():
                if step["status"] in (ENTERED, COMPENSATING) or (
                        step["state"] == current and step["status"] == FAILED and not step.get("error")):
                    mark(step["state"], FAILED, why)
    return list(steps.values())


def _details(event: dict) -> dict:
    """The ``...EventDetails`` member of an event (each type has its own key)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


# ------------------------------------------------------------------------------------ search


def search(ws: Any, text: str = "", fleet: Any = None) -> list[dict[str, Any]]:
    """The bots in the table whose thing name contains ``text`` (all of them when empty), by name.

    A DynamoDB ``Scan`` (all pages) with ``contains(thingName, :text)``: the table, not ``ListThings``.
    Each row: ``thingName``, ``status``, ``createdAt`` and ``online`` (``fleet.status(name)`` of the
    simulated bots running here, `helpers.bots.bot.Fleet`; ``offline`` without a fleet)."""
    from boto3.dynamodb.types import TypeDeserializer

    table = bots_stack(ws)["BotsTableName"]
    request: dict[str, Any] = {"TableName": table}
    text = (text or "").strip()
    if text:
        request.update(FilterExpression="contains(thingName, :text)",
                       ExpressionAttributeValues={":text": {"S": text}})
    dynamodb, plain = ws.client("dynamodb"), TypeDeserializer()
    items: list[dict[str, Any]] = []
    while True:
        page = dynamodb.scan(**request)
        items += [{k: plain.deserialize(v) for k, v in item.items()} for item in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    rows = [{"thingName": item.get("thingName", ""), "status": item.get("status", ""),
             "createdAt": str(item.get("createdAt", "")),
             "online": fleet.status(item.get("thingName", "")) if fleet is not None else "offline"}
            for item in items]
    return sorted(rows, key=lambda row: row["thingName"])


__all__ = ["BOTS_TEMPLATE", "BotNameInvalid", "BotsStackMissing", "DefinitionInvalid", "EXECUTION", "asl_definition",
           "bot_name", "bots_stack", "bots_stack_name", "definition", "describe", "execution_name", "history",
           "progress", "provision", "remove", "restore_definition", "search", "steps_from_history",
           "update_definition", "wait"]
