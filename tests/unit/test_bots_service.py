"""helpers.bots.service: names, execution names and the steps drawn from an execution's history (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from helpers.bots import service
from helpers.bots.service import BotNameInvalid, bot_name, execution_name, steps_from_history

# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "typed", "expected"),
    [("anna-", "bot1", "anna-bot1"),
     ("anna-", "anna-bot1", "anna-bot1"),
     ("anna-", "  bot1 ", "anna-bot1"),
     ("", "bot1", "bot1"),
     ("anna-", "Bot_2:x", "anna-Bot_2:x"),
     ("anna-", "annabot", "anna-annabot")],
    ids=["prefixed", "already-prefixed", "trimmed", "no-prefix", "colon-underscore", "prefix-without-hyphen-is-not-it"],
)
def test_bot_name(prefix, typed, expected):
    assert bot_name(prefix, typed) == expected


@pytest.mark.parametrize(
    ("typed", "words"),
    [("", "Type a name"),
     ("   ", "Type a name"),
     ("bot 1", "' ' not allowed"),
     ("bot/1", "'/' not allowed"),
     ("bøt", "'ø' not allowed"),
     ("b" * 124, "at most 128")],
    ids=["empty", "blank", "space", "slash", "non-ascii", "too-long-with-prefix"],
)
def test_bot_name_refuses(typed, words):
    with pytest.raises(BotNameInvalid, match=words):
        bot_name("anna-", typed)


@pytest.mark.parametrize(
    ("action", "thing", "expected"),
    [("provision", "anna-bot1", "provision-anna-bot1-abcd1234"),
     ("remove", "a:b", "remove-a_b-abcd1234"),
     ("provision", "x" * 128, "provision-" + "x" * 61 + "-abcd1234")],
    ids=["plain", "colon-replaced", "cut-to-80"],
)
def test_execution_name(action, thing, expected):
    name = execution_name(action, thing, "abcd1234")
    assert name == expected and len(name) <= 80


# -- history → steps ------------------------------------------------------------------------------

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


def history(*specs) -> list[dict]:
    """Events as GetExecutionHistory returns them, from (type, name-or-details) pairs."""
    events = []
    for number, (event_type, detail) in enumerate(specs, start=1):
        event = {"timestamp": T0, "type": event_type, "id": number, "previousEventId": number - 1}
        if event_type.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": detail, "input": "{}", "inputDetails": {"truncated": False}}
        elif event_type.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": detail, "output": "{}", "outputDetails": {"truncated": False}}
        elif event_type == "TaskScheduled":
            event["taskScheduledEventDetails"] = {"resourceType": "aws-sdk:iot", "resource": detail,
                                                  "region": "eu-central-1", "parameters": "{}"}
        elif event_type == "TaskStarted":
            event["taskStartedEventDetails"] = {"resourceType": "aws-sdk:iot", "resource": detail}
        elif event_type == "TaskSucceeded":
            event["taskSucceededEventDetails"] = {"resourceType": "aws-sdk:iot", "resource": detail, "output": "{}"}
        elif event_type == "TaskFailed":
            error, cause = detail
            event["taskFailedEventDetails"] = {"resourceType": "aws-sdk:iot", "resource": "attachPolicy",
                                               "error": error, "cause": cause}
        elif event_type == "ExecutionStarted":
            event["executionStartedEventDetails"] = {"input": json.dumps({"thingName": "anna-bot1"}),
                                                     "roleArn": "arn:aws:iam::123456789012:role/x"}
        elif event_type == "ExecutionFailed":
            error, cause = detail
            event["executionFailedEventDetails"] = {"error": error, "cause": cause}
        elif event_type == "ExecutionSucceeded":
            event["executionSucceededEventDetails"] = {"output": "{}"}
        elif event_type == "ExecutionAborted":
            event["executionAbortedEventDetails"] = {}
        elif event_type == "ExecutionTimedOut":
            event["executionTimedOutEventDetails"] = {"error": "States.Timeout", "cause": ""}
        elif detail is not None:
            event[event_type[0].lower() + event_type[1:] + "EventDetails"] = detail
        events.append(event)
    return events


def task(name: str, resource: str = "createThing") -> list[tuple]:
    return [("TaskStateEntered", name), ("TaskScheduled", resource), ("TaskStarted", resource),
            ("TaskSucceeded", resource), ("TaskStateExited", name)]


THROTTLED = ("Iot.ThrottlingException", "Rate exceeded")
DENIED = ("Iot.ResourceNotFoundException", "The policy anna-bot-policy does not exist")

CASES = {
    "nothing-yet": ([("ExecutionStarted", None)], []),
    "first-step-running": (
        [("ExecutionStarted", None), ("TaskStateEntered", "CreateThing"), ("TaskScheduled", "createThing")],
        [("CreateThing", "entered")]),
    "steps-in-order": (
        [("ExecutionStarted", None), *task("CreateThing"), *task("CreateKeysAndCertificate"),
         ("TaskStateEntered", "AttachPolicy")],
        [("CreateThing", "succeeded"), ("CreateKeysAndCertificate", "succeeded"), ("AttachPolicy", "entered")]),
    "whole-run": (
        [("ExecutionStarted", None), *task("CreateThing"), *task("SaveMetadata", "dynamodb:putItem"),
         ("SucceedStateEntered", "Provisioned"), ("SucceedStateExited", "Provisioned"),
         ("ExecutionSucceeded", None)],
        [("CreateThing", "succeeded"), ("SaveMetadata", "succeeded"), ("Provisioned", "succeeded")]),
    "a-retry-runs-again": (
        [("ExecutionStarted", None), ("TaskStateEntered", "CreateThing"), ("TaskScheduled", "createThing"),
         ("TaskStarted", "createThing"), ("TaskFailed", THROTTLED), ("TaskScheduled", "createThing")],
        [("CreateThing", "entered")]),
    "failed-between-retries": (
        [("ExecutionStarted", None), ("TaskStateEntered", "CreateThing"), ("TaskScheduled", "createThing"),
         ("TaskStarted", "createThing"), ("TaskFailed", THROTTLED)],
        [("CreateThing", "failed", "Iot.ThrottlingException: Rate exceeded")]),
    "caught-then-compensating": (
        [("ExecutionStarted", None), *task("CreateThing"), ("TaskStateEntered", "AttachPolicy"),
         ("TaskScheduled", "attachPolicy"), ("TaskStarted", "attachPolicy"), ("TaskFailed", DENIED),
         ("TaskStateExited", "AttachPolicy"), ("TaskStateEntered", "UndoCreateThing"),
         ("TaskScheduled", "deleteThing")],
        [("CreateThing", "succeeded"),
         ("AttachPolicy", "failed", "Iot.ResourceNotFoundException: The policy anna-bot-policy does not exist"),
         ("UndoCreateThing", "compensating")]),
    "compensated-and-failed": (
        [("ExecutionStarted", None), *task("CreateThing"), ("TaskStateEntered", "AttachPolicy"),
         ("TaskFailed", DENIED), ("TaskStateExited", "AttachPolicy"), *task("UndoCreateThing", "deleteThing"),
         ("FailStateEntered", "ProvisioningFailed"),
         ("ExecutionFailed", ("Iot.ResourceNotFoundException", "The policy anna-bot-policy does not exist"))],
        [("CreateThing", "succeeded"),
         ("AttachPolicy", "failed", "Iot.ResourceNotFoundException: The policy anna-bot-policy does not exist"),
         ("UndoCreateThing", "succeeded"),
         ("ProvisioningFailed", "failed", "Iot.ResourceNotFoundException: The policy anna-bot-policy does not exist")]),
    "uncaught-failure-fails-the-running-step": (
        [("ExecutionStarted", None), ("TaskStateEntered", "GetMetadata"), ("TaskScheduled", "getItem"),
         ("ExecutionFailed", ("States.Runtime", "boom"))],
        [("GetMetadata", "failed", "States.Runtime: boom")]),
    "bot-not-found": (
        [("ExecutionStarted", None), *task("GetMetadata", "dynamodb:getItem"), ("ChoiceStateEntered", "Found"),
         ("ChoiceStateExited", "Found"), ("FailStateEntered", "BotNotFound"),
         ("ExecutionFailed", ("BotNotFound", "No bot anna-ghost in the table"))],
        [("GetMetadata", "succeeded"), ("Found", "succeeded"),
         ("BotNotFound", "failed", "BotNotFound: No bot anna-ghost in the table")]),
    "aborted": (
        [("ExecutionStarted", None), ("TaskStateEntered", "CreateThing"), ("ExecutionAborted", None)],
        [("CreateThing", "failed")]),
    "timed-out": (
        [("ExecutionStarted", None), ("TaskStateEntered", "CreateThing"), ("ExecutionTimedOut", None)],
        [("CreateThing", "failed", "States.Timeout")]),
    "parallel-is-one-step": (
        [("ExecutionStarted", None), ("ParallelStateEntered", "SaveKeys"), ("ParallelStateStarted", None),
         *task("PutCertificate", "s3:putObject"), ("TaskStateEntered", "PutPrivateKey"),
         ("TaskStateExited", "PutPrivateKey"),
         ("ParallelStateSucceeded", None), ("ParallelStateExited", "SaveKeys"),
         ("TaskStateEntered", "SaveMetadata")],
        [("SaveKeys", "succeeded"), ("SaveMetadata", "entered")]),
    "parallel-running": (
        [("ExecutionStarted", None), ("ParallelStateEntered", "SaveKeys"), ("ParallelStateStarted", None),
         ("TaskStateEntered", "PutCertificate")],
        [("SaveKeys", "entered")]),
    "parallel-failed": (
        [("ExecutionStarted", None), ("ParallelStateEntered", "SaveKeys"), ("ParallelStateStarted", None),
         ("TaskStateEntered", "PutCertificate"), ("TaskFailed", ("S3.NoSuchBucket", "no bucket")),
         ("ParallelStateFailed", {"error": "S3.NoSuchBucket", "cause": "no bucket"}),
         ("ParallelStateExited", "SaveKeys"), ("TaskStateEntered", "UndoAttachThingPrincipal")],
        [("SaveKeys", "failed", "S3.NoSuchBucket: no bucket"), ("UndoAttachThingPrincipal", "compensating")]),
    "events-out-of-order-are-sorted-by-id": (
        "reversed",
        [("CreateThing", "succeeded"), ("AttachPolicy", "entered")]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_steps_from_history(case):
    specs, expected = CASES[case]
    if specs == "reversed":
        events = list(reversed(history(("ExecutionStarted", None), *task("CreateThing"),
                                       ("TaskStateEntered", "AttachPolicy"))))
    else:
        events = history(*specs)
    wanted = [{"state": s[0], "status": s[1], **({"error": s[2]} if len(s) > 2 else {})} for s in expected]

    assert steps_from_history(events) == wanted


# -- search and the stack, with a fake workshop ---------------------------------------------------


class FakeDynamo:
    def __init__(self, items, page_size=2):
        self.items, self.page_size, self.requests = items, page_size, []

    def scan(self, **request):
        self.requests.append(request)
        start = int(request.get("ExclusiveStartKey", {}).get("n", {}).get("N", "0"))
        text = request.get("ExpressionAttributeValues", {}).get(":text", {}).get("S")
        chunk = self.items[start:start + self.page_size]
        page = {"Items": [i for i in chunk if text is None or text in i["thingName"]["S"]]}
        if start + self.page_size < len(self.items):
            page["LastEvaluatedKey"] = {"n": {"N": str(start + self.page_size)}}
        return page


def item(name: str) -> dict:
    return {"thingName": {"S": name}, "status": {"S": "PROVISIONED"}, "createdAt": {"S": "2026-12-03T08:00:00Z"},
            "certificateId": {"S": "c" * 64}}


def fake_ws(dynamo):
    clients = {"dynamodb": dynamo}
    return SimpleNamespace(prefix="anna-", stack_name="anna-iot-dm-workshop", client=clients.__getitem__,
                           bots_outputs={key: f"{key}-value" for key in service.OUTPUTS})


@pytest.mark.parametrize(
    ("text", "names"),
    [("", ["anna-bot1", "anna-bot2", "anna-robot", "anna-zed", "anna-zot"]),
     ("bot", ["anna-bot1", "anna-bot2", "anna-robot"]),
     ("z", ["anna-zed", "anna-zot"]),
     ("nothing", [])],
    ids=["empty-is-all", "substring", "another", "none"],
)
def test_search_scans_every_page_and_filters_by_substring(text, names):
    dynamo = FakeDynamo([item(n) for n in ("anna-zot", "anna-bot2", "anna-robot", "anna-bot1", "anna-zed")])

    rows = service.search(fake_ws(dynamo), text)

    assert [r["thingName"] for r in rows] == names
    assert len(dynamo.requests) == 3  # five items, two a page
    assert all(r["TableName"] == "BotsTableName-value" for r in dynamo.requests)
    assert all(("FilterExpression" in r) == bool(text) for r in dynamo.requests)


def test_search_rows_say_whether_the_bot_runs_here():
    dynamo = FakeDynamo([item("anna-bot1"), item("anna-bot2")])
    fleet = SimpleNamespace(status=lambda name: "online" if name == "anna-bot1" else "offline")

    rows = service.search(fake_ws(dynamo), "", fleet=fleet)

    assert rows == [
        {"thingName": "anna-bot1", "status": "PROVISIONED", "createdAt": "2026-12-03T08:00:00Z", "online": "online"},
        {"thingName": "anna-bot2", "status": "PROVISIONED", "createdAt": "2026-12-03T08:00:00Z", "online": "offline"},
    ]


class FakeStacks:
    def __init__(self, stack=None):
        self.stack, self.deployed = stack, []

    def describe_stacks(self, StackName):
        if self.stack is None:
            raise RuntimeError(f"An error occurred (ValidationError): Stack with id {StackName} does not exist")
        return {"Stacks": [self.stack]}


def stack_ws(stacks):
    ws = SimpleNamespace(prefix="anna-", stack_name="anna-iot-dm-workshop", cloudformation=stacks)

    def deploy_stack(**kwargs):
        stacks.deployed.append(kwargs)
        return {key: f"{key}-deployed" for key in service.OUTPUTS}

    ws.deploy_stack = deploy_stack
    return ws


def test_bots_stack_deploys_the_stack_when_absent():
    stacks = FakeStacks()

    outputs = service.bots_stack(stack_ws(stacks), template="bots.yaml")

    assert outputs["ProvisionBotArn"] == "ProvisionBotArn-deployed"
    assert stacks.deployed == [{"name": "anna-iot-dm-workshop-bots", "template": "bots.yaml",
                                "parameters": {"Prefix": "anna"}}]


def test_bots_stack_only_reads_a_complete_stack_and_keeps_its_outputs():
    stacks = FakeStacks({"StackStatus": "CREATE_COMPLETE",
                         "Outputs": [{"OutputKey": k, "OutputValue": f"{k}-there"} for k in service.OUTPUTS]})
    ws = stack_ws(stacks)

    first = service.bots_stack(ws)
    stacks.stack = None  # a second call does not look again

    assert service.bots_stack(ws) == first and first["BotsTableName"] == "BotsTableName-there"
    assert stacks.deployed == []


class FakeStepFunctions:
    def __init__(self):
        self.started = []

    def start_execution(self, **request):
        self.started.append(request)
        return {"executionArn": f"arn:aws:states:eu-central-1:123456789012:execution:x:{request['name']}"}


@pytest.mark.parametrize(("start", "machine"), [(service.provision, "ProvisionBotArn"), (service.remove, "RemoveBotArn")],
                         ids=["provision", "remove"])
def test_provision_and_remove_start_their_state_machine_with_the_prefixed_name(start, machine):
    sfn = FakeStepFunctions()
    ws = SimpleNamespace(prefix="anna-", client={"stepfunctions": sfn}.__getitem__,
                         bots_outputs={key: f"{key}-value" for key in service.OUTPUTS})

    arn = start(ws, "bot1")

    (request,) = sfn.started
    assert request["stateMachineArn"] == f"{machine}-value"
    assert json.loads(request["input"]) == {"thingName": "anna-bot1"}
    assert arn.endswith(request["name"])


def test_an_invalid_name_starts_nothing():
    sfn = FakeStepFunctions()
    ws = SimpleNamespace(prefix="anna-", client={"stepfunctions": sfn}.__getitem__,
                         bots_outputs={key: f"{key}-value" for key in service.OUTPUTS})

    with pytest.raises(BotNameInvalid):
        service.provision(ws, "bot 1")
    assert sfn.started == []


class FakeExecutions:
    """DescribeExecution answers RUNNING ``running`` times, then SUCCEEDED; the history comes in pages of two."""

    def __init__(self, running: int, events: list[dict]):
        self.running, self.events, self.history_requests = running, events, []

    def describe_execution(self, executionArn):
        self.running -= 1
        status = "RUNNING" if self.running >= 0 else "SUCCEEDED"
        return {"executionArn": executionArn, "status": status, "input": json.dumps({"thingName": "anna-bot1"})}

    def get_execution_history(self, executionArn, maxResults, nextToken=None):
        self.history_requests.append(nextToken)
        start = int(nextToken or 0)
        page = {"events": self.events[start:start + 2]}
        if start + 2 < len(self.events):
            page["nextToken"] = str(start + 2)
        return page


def test_wait_polls_until_the_execution_ends():
    sfn = FakeExecutions(running=2, events=[])
    ws = SimpleNamespace(backend="local", client={"stepfunctions": sfn}.__getitem__)

    described = service.wait(ws, "arn:aws:states:eu-central-1:123456789012:execution:m:e", timeout=10)

    assert described == {"status": "SUCCEEDED", "thingName": "anna-bot1", "error": "", "cause": ""}
    assert sfn.running == -1  # three looks


def test_progress_reads_every_page_of_the_history():
    events = history(("ExecutionStarted", None), *task("CreateThing"), ("TaskStateEntered", "CreateKeysAndCertificate"))
    sfn = FakeExecutions(running=0, events=events)
    ws = SimpleNamespace(backend="local", client={"stepfunctions": sfn}.__getitem__)

    steps = service.progress(ws, "arn")

    assert steps == [{"state": "CreateThing", "status": "succeeded"},
                     {"state": "CreateKeysAndCertificate", "status": "entered"}]
    assert sfn.history_requests == [None, "2", "4", "6"]


def test_an_invalid_definition_is_explained_one_problem_a_line():
    from helpers.bots.service import _explain_invalid

    text = ("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Next, "
            "MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B'")
    lines = _explain_invalid("ProvisionBot", text).splitlines()
    assert lines[0] == "Step Functions refused the new definition of ProvisionBot (it keeps the old one):"
    assert lines[1:3] == ["  - MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Next",
                          "  - MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B"]


def test_an_unknown_state_machine_says_which_there_are():
    from helpers.bots.service import asl_definition
    from helpers.failures import WorkshopError

    with pytest.raises(WorkshopError, match="ProvisionBot, RemoveBot"):
        asl_definition(object(), "ProvisonBot")
