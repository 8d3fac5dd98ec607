"""The rules engine in-process: which rules a message reaches, what their actions receive, the error
action's message, and the real actions against moto's services (no broker, no sockets)."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from typing import Any

import pytest
from moto.backends import get_backend

from localcore.aws import moto_patches
from localcore.config import LabConfig
from localcore.lambda_runner.service import local_lambda
from localcore.rules import engine as rules_engine
from localcore.rules.actions import ActionFailed, ActionType, attribute_values
from localcore.rules.engine import Message, RulesEngine
from localcore.server import build_lab

ACCOUNT, REGION = "123456789012", "us-east-1"
CA_ID = "c" * 64
JITR_SQL = "SELECT * FROM '$aws/events/certificates/registered/#' WHERE certificateStatus = \"PENDING_ACTIVATION\""
SERVICES = ("iot", "iam", "lambda", "logs", "s3", "sqs", "sns", "dynamodb")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    lab = build_lab(LabConfig(home=tmp_path_factory.mktemp("lab")))
    lab.published = []
    lab.on_publish(lambda topic, data: lab.published.append((topic, data)))
    yield lab
    rules_engine.stop(lab)
    local_lambda(lab).close()
    moto_patches.reset()


@pytest.fixture
def lab(built):
    for service in SERVICES:
        get_backend(service)[ACCOUNT].reset()
    built.published.clear()
    return built


class Recorder:
    """Fake actions: each call is recorded; ``fail`` makes the action raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, Any]] = []

    def action(self, kind: str, fail: str | None = None) -> ActionType:
        def run(call, params):
            self.calls.append((kind, dict(params), call))
            if fail:
                raise ActionFailed(fail)
        return ActionType(f"{kind.title()}Action", run, lambda params: params.get("target", ""))

    def kinds(self) -> list[str]:
        return [kind for kind, _params, _call in self.calls]


def engine_with(lab, recorder: Recorder, failing: dict[str, str] | None = None) -> RulesEngine:
    failing = failing or {}
    actions = {kind: recorder.action(kind, failing.get(kind)) for kind in ("first", "second", "onerror")}
    return RulesEngine(lab, actions=actions, submit=lambda fn, *args: fn(*args))


def add_rule(lab, sql: str, actions: list[dict] | None = None, *, name: str | None = None, disabled: bool = False,
             error_action: dict | None = None, version: str = "2016-03-23") -> str:
    name = name or f"rule_{uuid.uuid4().hex[:8]}"
    lab.iot.create_topic_rule(rule_name=name, sql=sql, description="", rule_disabled=disabled,
                              actions=actions if actions is not None else [{"first": {"target": "t1"}}],
                              error_action=error_action, aws_iot_sql_version=version)
    return name


def message(topic: str, payload: Any, client_id: str | None = "device-1") -> Message:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, data, client_id, None, int(time.time() * 1000), str(uuid.uuid4()))


# -- matching ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("sql", "topic", "disabled", "matches"),
    [
        pytest.param("SELECT * FROM 'sensors/dev1/data'", "sensors/dev1/data", False, True, id="exact"),
        pytest.param("SELECT * FROM 'sensors/+/data'", "sensors/dev9/data", False, True, id="plus"),
        pytest.param("SELECT * FROM 'sensors/#'", "sensors/a/b/c", False, True, id="hash"),
        pytest.param("SELECT * FROM 'sensors/#'", "sensors-2/a", False, False, id="other-topic"),
        pytest.param(JITR_SQL, f"$aws/events/certificates/registered/{CA_ID}", False, True, id="reserved-jitr"),
        pytest.param("SELECT * FROM '#'", f"$aws/events/certificates/registered/{CA_ID}", False, False,
                     id="hash-skips-reserved"),
        pytest.param("SELECT * FROM 'sensors/+/data'", "sensors/dev1/data", True, False, id="disabled"),
    ],
)
def test_a_message_reaches_the_enabled_rules_whose_from_filter_matches(lab, sql, topic, disabled, matches):
    name = add_rule(lab, sql, disabled=disabled)
    assert ([rule.name for rule in engine_with(lab, Recorder()).matching(topic)] == [name]) is matches


def test_a_rule_whose_sql_does_not_parse_is_never_run(lab):
    add_rule(lab, "SELECT FROM WHERE")  # stored behind CreateTopicRule's back
    assert engine_with(lab, Recorder()).matching("anything") == []


def test_basic_ingest_reaches_only_the_named_rule(lab):
    wanted, other = add_rule(lab, "SELECT * FROM 'sensors/#'"), add_rule(lab, "SELECT * FROM 'sensors/#'")
    recorder = Recorder()
    engine = engine_with(lab, recorder)
    engine.on_basic_ingest(wanted, f"$aws/rules/{wanted}/sensors/x", b'{"a": 1}', "device-1")
    assert [call.rule_name for _kind, _params, call in recorder.calls] == [wanted]
    assert other != wanted


def test_the_broker_hook_queues_only_the_actions_of_rules_whose_where_holds(lab):
    add_rule(lab, "SELECT temperature AS t FROM 'sensors/#' WHERE temperature > 30")
    queued = []
    engine = RulesEngine(lab, actions={}, submit=lambda fn, *args: queued.append((fn, args)))
    engine.on_message("sensors/a", b'{"temperature": 31}', "device-1")
    engine.on_message("sensors/a", b'{"temperature": 20}', "device-1")  # WHERE false: no work queued
    engine.on_message("elsewhere", b'{"temperature": 31}', "device-1")
    [(fn, (_rule, queued_message, _context, output, failures))] = queued
    assert fn == engine.act and output == {"t": 31} and failures == []
    assert queued_message.topic == "sensors/a" and queued_message.client_id == "device-1"


def test_a_message_the_rule_cannot_evaluate_queues_its_error_action(lab):
    add_rule(lab, "SELECT *, topic() AS t FROM 'sensors/#'")
    queued = []
    engine = RulesEngine(lab, actions={}, submit=lambda fn, *args: queued.append(args))
    engine.on_message("sensors/a", b"\x00\x01binary", "device-1")
    [(_rule, _message, _context, output, [failure])] = queued
    assert output is None and failure.failed_action == rules_engine.EVALUATION_FAILED


def test_build_lab_installs_the_engine_as_the_broker_hooks(lab):
    engine = lab.services[rules_engine.STATE_KEY]
    assert lab.on_message == engine.on_message and lab.on_basic_ingest == engine.on_basic_ingest


# -- dispatch --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("payload", "expected_output"),
    [
        pytest.param({"temp": 35, "hum": 10}, {"t": 35, "device": "dev1"}, id="where-true"),
        pytest.param({"temp": 20, "hum": 10}, None, id="where-false"),
        pytest.param({"hum": 10}, None, id="field-missing"),
    ],
)
def test_actions_receive_the_select_output_when_where_holds(lab, payload, expected_output):
    add_rule(lab, "SELECT temp AS t, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
             [{"first": {"target": "a"}}, {"second": {"target": "b"}}])
    recorder = Recorder()
    engine = engine_with(lab, recorder)
    failures = engine.execute(engine.matching("sensors/dev1/data")[0], message("sensors/dev1/data", payload))
    assert failures == []
    if expected_output is None:
        assert recorder.calls == []
    else:
        assert recorder.kinds() == ["first", "second"]
        assert all(call.output == expected_output for _kind, _params, call in recorder.calls)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("${topic()}/copy", "sensors/dev1/data/copy", id="topic"),
        pytest.param("out/${topic(2)}", "out/dev1", id="topic-segment"),
        pytest.param("by-client/${clientid()}", "by-client/device-1", id="clientid"),
        pytest.param("${site.name}/${temp}", "north/35", id="field-refs"),
        pytest.param("${t}", "", id="alias-is-not-visible"),
        pytest.param("plain/topic", "plain/topic", id="no-template"),
    ],
)
def test_substitution_templates_read_the_original_message(lab, template, expected):
    add_rule(lab, "SELECT temp AS t FROM 'sensors/+/data'", [{"first": {"target": template}}])
    recorder = Recorder()
    engine = engine_with(lab, recorder)
    engine.execute(engine.matching("sensors/dev1/data")[0],
                   message("sensors/dev1/data", {"temp": 35, "site": {"name": "north"}}))
    [(_kind, params, call)] = recorder.calls
    assert call.fill(params["target"]) == expected


# -- errors ----------------------------------------------------------------------------------------

def test_failures_go_to_the_error_action_as_one_aws_error_message(lab):
    name = add_rule(lab, "SELECT * FROM 'sensors/+/data'",
                    [{"first": {"target": "bucket-a"}}, {"second": {"target": "topic-b"}}],
                    error_action={"onerror": {"target": "errors"}})
    recorder = Recorder()
    engine = engine_with(lab, recorder, failing={"first": "no such bucket", "second": "no such topic"})
    original = message("sensors/dev1/data", {"temp": 35}, client_id="device-7")
    failures = engine.execute(engine.matching("sensors/dev1/data")[0], original)

    assert recorder.kinds() == ["first", "second", "onerror"]
    sent = recorder.calls[-1][2].output
    assert sent == {
        "ruleName": name, "topic": "sensors/dev1/data", "cloudwatchTraceId": original.trace_id,
        "clientId": "device-7", "base64OriginalPayload": base64.b64encode(original.payload).decode(),
        "failures": [
            {"failedAction": "FirstAction", "failedResource": "bucket-a", "errorMessage": "no such bucket"},
            {"failedAction": "SecondAction", "failedResource": "topic-b", "errorMessage": "no such topic"},
        ],
    }
    assert len(failures) == 2


@pytest.mark.parametrize(
    ("actions", "payload", "failed_action", "error_part"),
    [
        pytest.param([{"kinesis": {"streamName": "s"}}], {"a": 1}, "KinesisAction", "does not run kinesis",
                     id="action-the-lab-lacks"),
        pytest.param([{"first": {}}], b"\x00\x01binary", "RuleEvaluation", "needs a JSON object payload",
                     id="select-cannot-process"),
    ],
)
def test_what_cannot_run_is_a_failure_not_a_crash(lab, actions, payload, failed_action, error_part):
    add_rule(lab, "SELECT *, topic() AS t FROM 'sensors/+/data'", actions, error_action={"onerror": {}})
    recorder = Recorder()
    engine = engine_with(lab, recorder)
    [failure] = engine.execute(engine.matching("sensors/dev1/data")[0], message("sensors/dev1/data", payload))
    assert failure.failed_action == failed_action and error_part in failure.error_message
    assert recorder.kinds()[-1] == "onerror"


def test_a_failing_error_action_is_logged_and_the_engine_goes_on(lab, caplog):
    add_rule(lab, "SELECT * FROM 'sensors/+/data'", error_action={"onerror": {"target": "errors"}})
    engine = engine_with(lab, Recorder(), failing={"first": "broken", "onerror": "broken too"})
    engine.execute(engine.matching("sensors/dev1/data")[0], message("sensors/dev1/data", {"a": 1}))
    assert "the error action OnerrorAction on 'errors' failed too: broken too" in caplog.text
    assert "FirstAction on 't1' failed: broken" in caplog.text


# -- the real actions against moto ----------------------------------------------------------------

def run_rule(lab, actions: list[dict], payload: Any, topic: str = "sensors/dev1/data",
             sql: str = "SELECT * FROM 'sensors/+/data'") -> list:
    engine = RulesEngine(lab, submit=lambda fn, *args: fn(*args))
    add_rule(lab, sql, actions)
    return engine.execute(engine.matching(topic)[0], message(topic, payload))


def test_republish_publishes_the_output_on_the_substituted_topic(lab):
    assert run_rule(lab, [{"republish": {"roleArn": "r", "topic": "${topic()}/copy"}}], {"temp": 35}) == []
    assert ("sensors/dev1/data/copy", b'{"temp":35}') in lab.published


def test_republish_with_double_dollar_reaches_a_reserved_topic(lab):
    run_rule(lab, [{"republish": {"roleArn": "r", "topic": "$$aws/things/dev1/shadow/update"}}],
             {"state": {"reported": {"temp": 35}}})
    assert any(topic == "$aws/things/dev1/shadow/update" for topic, _ in lab.published)


def test_s3_puts_an_object_under_the_substituted_key(lab):
    s3 = get_backend("s3")[ACCOUNT]["global"]
    s3.create_bucket("telemetry", REGION)
    run_rule(lab, [{"s3": {"roleArn": "r", "bucketName": "telemetry", "key": "${topic(2)}/latest.json",
                           "cannedAcl": "private"}}], {"temp": 35})
    assert json.loads(s3.get_object("telemetry", "dev1/latest.json").value) == {"temp": 35}


def test_dynamodb_v2_puts_the_output_as_an_item(lab):
    dynamodb = lab.backend("dynamodb")
    dynamodb.create_table("readings", schema=[{"AttributeName": "device", "KeyType": "HASH"}],
                          attr=[{"AttributeName": "device", "AttributeType": "S"}], throughput=None,
                          billing_mode="PAY_PER_REQUEST", indexes=None, global_indexes=None, streams=None,
                          sse_specification=None, tags=[], deletion_protection_enabled=False,
                          warm_throughput=None)
    run_rule(lab, [{"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "readings"}}}],
             {"temp": 35.5}, sql="SELECT temp, topic(2) AS device FROM 'sensors/+/data'")
    item = dynamodb.get_item("readings", {"device": {"S": "dev1"}})
    assert item.to_json()["Attributes"] == {"device": {"S": "dev1"}, "temp": {"N": "35.5"}}


def test_sqs_sends_the_output_to_the_queue_of_the_url(lab):
    sqs = lab.backend("sqs")
    sqs.create_queue("alerts")
    run_rule(lab, [{"sqs": {"roleArn": "r", "queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/alerts",
                            "useBase64": False}}], {"temp": 35})
    assert [m.body for m in sqs.receive_message("alerts", 10, 0, 0)] == ['{"temp":35}']


def test_sns_publishes_to_the_topic(lab):
    sns, sqs = lab.backend("sns"), lab.backend("sqs")
    topic = sns.create_topic("alarms").arn
    queue = sqs.create_queue("alarm-inbox")
    sns.subscribe(topic, f"arn:aws:sqs:{REGION}:{ACCOUNT}:alarm-inbox", "sqs")
    run_rule(lab, [{"sns": {"roleArn": "r", "targetArn": topic, "messageFormat": "RAW"}}], {"temp": 35})
    [received] = sqs.receive_message(queue.name, 10, 0, 0)
    assert json.loads(received.body)["Message"] == '{"temp":35}'


@pytest.mark.parametrize(
    ("batch", "payload", "expected"),
    [
        pytest.param(False, {"temp": 35}, ['{"temp":35}'], id="one-event"),
        pytest.param(True, [{"timestamp": 2, "message": "b"}, {"timestamp": 1, "message": "a"}], ["a", "b"],
                     id="batch-mode"),
    ],
)
def test_cloudwatch_logs_puts_events_into_the_group(lab, batch, payload, expected):
    logs = lab.backend("logs")
    logs.create_log_group("device-logs", {})
    if batch:  # batch timestamps are the device's own: make them recent
        now = int(time.time() * 1000)
        payload = [{**event, "timestamp": now + event["timestamp"]} for event in payload]
    assert run_rule(lab, [{"cloudwatchLogs": {"roleArn": "r", "logGroupName": "device-logs", "batchMode": batch}}],
                    payload) == []
    [stream] = logs.groups["device-logs"].streams.values()
    assert [event.message for event in stream.events] == expected


@pytest.mark.parametrize(
    ("action", "failed_action", "error_part"),
    [
        pytest.param({"s3": {"roleArn": "r", "bucketName": "nope", "key": "k"}}, "S3Action", "does not exist",
                     id="s3-missing-bucket"),
        pytest.param({"cloudwatchLogs": {"roleArn": "r", "logGroupName": "nope"}}, "CloudwatchLogsAction",
                     "log group does not exist", id="logs-missing-group"),
        pytest.param({"sqs": {"roleArn": "r", "queueUrl": "https://sqs/123456789012/nope"}}, "SqsAction",
                     "does not exist", id="sqs-missing-queue"),
        pytest.param({"lambda": {"functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope"}},
                     "LambdaAction", "ResourceNotFoundException", id="lambda-missing-function"),
    ],
)
def test_a_missing_target_is_a_failure(lab, action, failed_action, error_part):
    [failure] = run_rule(lab, [action], {"temp": 35})
    assert failure.failed_action == failed_action and error_part in failure.error_message


# -- the lambda action and the function's policy ----------------------------------------------------

def make_function(lab, name: str) -> str:
    iam = lab.backend("iam")
    if not any(role.name == "fn-role" for role in iam.get_roles()):
        iam.create_role(role_name="fn-role", assume_role_policy_document="{}", path="/", permissions_boundary=None,
                        description="", tags=[], max_session_duration=None)
    role = iam.get_role("fn-role").arn
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    print('got', event['temp'])\n")
    spec = {"FunctionName": name, "Runtime": "python3.12", "Role": role, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(buffer.getvalue()).decode()}}
    return lab.backend("lambda").create_function(spec).function_arn


def wait_for_log_line(lab, group: str, line: str, timeout: float = 30.0) -> bool:
    """Wait for an asynchronous invocation to log ``line`` (polls moto's logs backend)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        streams = getattr(lab.backend("logs").groups.get(group), "streams", {})
        if any(event.message == line for stream in list(streams.values()) for event in stream.events):
            return True
        time.sleep(0.05)
    return False


def grant(lab, function: str, source_arn: str | None) -> None:
    statement = {"StatementId": "iot", "Action": "lambda:InvokeFunction", "Principal": "iot.amazonaws.com"}
    if source_arn:
        statement["SourceArn"] = source_arn
    lab.backend("lambda").add_permission(function, None, json.dumps(statement))


@pytest.mark.parametrize(
    ("granted_to", "invoked"),
    [
        pytest.param("this-rule", True, id="granted-to-the-rule"),
        pytest.param(None, True, id="granted-to-any-rule"),
        pytest.param("other-rule", False, id="granted-to-another-rule"),
        pytest.param("nobody", False, id="not-granted"),
    ],
)
def test_the_lambda_action_needs_add_permission(lab, granted_to, invoked):
    arn = make_function(lab, f"fn-{uuid.uuid4().hex[:6]}")
    name = f"rule_{uuid.uuid4().hex[:6]}"
    rule_arn = lab.arn("rule", name)
    if granted_to != "nobody":
        grant(lab, arn, {"this-rule": rule_arn, "other-rule": rule_arn + "_2", None: None}[granted_to])
    engine = RulesEngine(lab, submit=lambda fn, *args: fn(*args))
    add_rule(lab, "SELECT * FROM 'sensors/+/data'", [{"lambda": {"functionArn": arn}}], name=name)
    failures = engine.execute(engine.matching("sensors/dev1/data")[0], message("sensors/dev1/data", {"temp": 35}))
    if invoked:
        assert failures == []
        assert wait_for_log_line(lab, f"/aws/lambda/{arn.rsplit(':', 1)[1]}", "got 35")
    else:
        [failure] = failures
        assert failure.failed_action == "LambdaAction" and "AccessDeniedException" in failure.error_message
        assert "not authorized to perform: lambda:InvokeFunction" in failure.error_message


def test_attribute_values_map_json_to_dynamodb_types():
    document = {"s": "x", "n": 1, "f": 1.5, "b": True, "z": None, "l": [1, "a"], "m": {"k": False}}
    assert attribute_values(document) == {
        "s": {"S": "x"}, "n": {"N": "1"}, "f": {"N": "1.5"}, "b": {"BOOL": True}, "z": {"NULL": True},
        "l": {"L": [{"N": "1"}, {"S": "a"}]}, "m": {"M": {"k": {"BOOL": False}}},
    }


def test_rule_matches_and_executions_are_logged_for_fine_grained_logging(lab, monkeypatch):
    logged: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(lab, "iot_log", lambda event, level, **fields: logged.append((event, level, fields)), raising=False)
    name = add_rule(lab, "SELECT * FROM 'sensors/+/data'", [{"first": {"target": "ok"}}, {"second": {"target": "bad"}}])
    engine = engine_with(lab, Recorder(), failing={"second": "no such topic"})
    engine.execute(engine.matching("sensors/dev1/data")[0], message("sensors/dev1/data", {"temp": 1}))

    assert [(event, level, fields.get("ruleAction"), fields.get("reason")) for event, level, fields in logged] == [
        ("RuleMatch", "INFO", None, None),
        ("RuleExecution", "INFO", "FirstAction", None),
        ("RuleExecution", "ERROR", "SecondAction", "RULE_ACTION_FAILURE"),
    ]
    assert all(fields["ruleName"] == name and fields["clientId"] == "device-1" for _e, _l, fields in logged)
