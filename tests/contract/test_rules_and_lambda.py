"""Topic rules and Lambda functions on a running lab, driven by boto3 and an MQTT console client.

A function is created from a zip with boto3 and allowed to be invoked by one rule (AddPermission);
messages are published with iot-data Publish; effects are seen in the registry, in the function's
CloudWatch Logs group, over MQTT and in S3. Every wait is on a condition with a timeout.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labfixture import console_device

WAIT_S = 30.0
FUNCTION_CODE = '''
import boto3


def lambda_handler(event, context):
    print("making thing", event["name"])
    boto3.client("iot").create_thing(thingName=event["name"])
    return {"made": event["name"]}
'''


def wait_until(check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy; fail with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.1)


def thing_exists(iot, name: str) -> bool:
    try:
        iot.describe_thing(thingName=name)
    except iot.exceptions.ResourceNotFoundException:
        return False
    return True


def log_messages(logs, group: str) -> list[str]:
    try:
        return [event["message"] for event in logs.filter_log_events(logGroupName=group)["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def publish(lab, topic: str, payload: dict) -> None:
    lab.client("iot-data").publish(topic=topic, qos=1, payload=json.dumps(payload).encode())


@pytest.fixture(scope="module")
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def function(lab, suffix) -> dict:
    """A Python function that creates the thing its event names."""
    role = lab.client("iam").create_role(
        RoleName=f"rules-fn-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", FUNCTION_CODE)
    created = lab.client("lambda").create_function(
        FunctionName=f"make-thing-{suffix}", Runtime="python3.12", Role=role,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": archive.getvalue()}, Timeout=30,
    )
    return {"name": created["FunctionName"], "arn": created["FunctionArn"]}


@pytest.fixture
def console(lab):
    with console_device(lab, name="rules") as device:
        yield device


def create_rule(lab, name: str, sql: str, actions: list[dict], **payload: Any) -> str:
    iot = lab.client("iot")
    iot.create_topic_rule(ruleName=name, topicRulePayload={"sql": sql, "actions": actions,
                                                             "awsIotSqlVersion": "2016-03-23", **payload})
    return iot.get_topic_rule(ruleName=name)["ruleArn"]


def test_a_rule_invokes_the_function_for_matching_messages_only(lab, function, suffix):
    iot, logs = lab.client("iot"), lab.client("logs")
    rule = f"make_things_{suffix}"
    rule_arn = create_rule(lab, rule, f"SELECT name FROM 'contract/{suffix}/+' WHERE temp > 30",
                           [{"lambda": {"functionArn": function["arn"]}}])
    lab.client("lambda").add_permission(
        FunctionName=function["name"], StatementId=f"iot-{suffix}", Action="lambda:InvokeFunction",
        Principal="iot.amazonaws.com", SourceArn=rule_arn, SourceAccount=lab.config.account_id,
    )
    cold, hot = f"cold-{suffix}", f"hot-{suffix}"

    publish(lab, f"contract/{suffix}/sensor", {"name": cold, "temp": 10})
    publish(lab, f"contract/{suffix}/sensor", {"name": hot, "temp": 35})

    wait_until(lambda: thing_exists(iot, hot))
    group = f"/aws/lambda/{function['name']}"

    def finished() -> list[str] | None:
        lines = log_messages(logs, group)
        return lines if any(line.startswith("REPORT RequestId: ") for line in lines) else None

    lines = wait_until(finished)
    assert f"making thing {hot}" in lines
    assert any(line.startswith("START RequestId: ") for line in lines)
    assert not thing_exists(iot, cold)
    assert not any(cold in line for line in lines)


def test_a_rule_without_permission_does_not_invoke_and_reports_why(lab, function, suffix, console):
    iot = lab.client("iot")
    errors = f"contract/{suffix}/errors"
    console.subscribe(errors)
    mark = console.messages.mark()
    rule = f"not_allowed_{suffix}"
    create_rule(lab, rule, f"SELECT * FROM 'contract/{suffix}/denied'",
                [{"lambda": {"functionArn": function["arn"]}}],
                errorAction={"republish": {"roleArn": "arn:aws:iam::123456789012:role/any", "topic": errors}})
    name = f"denied-{suffix}"

    publish(lab, f"contract/{suffix}/denied", {"name": name})

    report = console.wait_for(errors, timeout=WAIT_S, after=mark).json
    assert report["ruleName"] == rule and report["topic"] == f"contract/{suffix}/denied"
    [failure] = report["failures"]
    assert failure["failedAction"] == "LambdaAction" and failure["failedResource"] == function["arn"]
    assert "not authorized to perform: lambda:InvokeFunction" in failure["errorMessage"]
    assert not thing_exists(iot, name)
    assert wait_until(lambda: rule in lab.config.log_file.read_text() and "LambdaAction" in lab.config.log_file.read_text())


def test_republish_sends_the_selection_to_a_substituted_topic(lab, suffix, console):
    console.subscribe(f"contract/{suffix}/copies/#")
    mark = console.messages.mark()
    create_rule(lab, f"republish_{suffix}", f"SELECT temp, topic(3) AS source FROM 'contract/{suffix}/raw/+'",
                [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/any",
                                "topic": f"contract/{suffix}/copies/${{topic(4)}}"}}])

    publish(lab, f"contract/{suffix}/raw/dev7", {"temp": 21, "noise": True})

    copy = console.wait_for(f"contract/{suffix}/copies/dev7", timeout=WAIT_S, after=mark)
    assert copy.json == {"temp": 21, "source": "raw"}


def test_s3_stores_the_message_under_a_substituted_key(lab, suffix):
    s3 = lab.client("s3")
    bucket = f"rules-{suffix}"
    s3.create_bucket(Bucket=bucket)
    create_rule(lab, f"archive_{suffix}", f"SELECT * FROM 'contract/{suffix}/archive/+'",
                [{"s3": {"roleArn": "arn:aws:iam::123456789012:role/any", "bucketName": bucket,
                         "key": "${topic(4)}/latest.json"}}])

    publish(lab, f"contract/{suffix}/archive/dev3", {"temp": 19})

    def stored() -> bytes | None:
        try:
            return s3.get_object(Bucket=bucket, Key="dev3/latest.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    assert json.loads(wait_until(stored)) == {"temp": 19}


def test_rules_see_reserved_registry_event_topics(lab, suffix, console):
    iot = lab.client("iot")
    iot.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})
    console.subscribe(f"contract/{suffix}/created")
    mark = console.messages.mark()
    create_rule(lab, f"on_created_{suffix}", f"SELECT thingName FROM '$aws/events/thing/+/created' "
                f"WHERE startswith(thingName, 'evt-{suffix}')",
                [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/any", "topic": f"contract/{suffix}/created"}}])

    iot.create_thing(thingName=f"evt-{suffix}")

    assert console.wait_for(f"contract/{suffix}/created", timeout=WAIT_S, after=mark).json == {
        "thingName": f"evt-{suffix}"}


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT * FORM 'a/b'", id="misspelt-from"),
        pytest.param("SELECT * FROM a/b", id="unquoted-topic"),
        pytest.param("SELECT temp FROM 'a/b' WHERE temp >", id="dangling-operator"),
        pytest.param("", id="empty"),
    ],
)
def test_create_topic_rule_with_bad_sql_is_a_sql_parse_exception(lab, sql):
    with pytest.raises(ClientError) as raised:
        lab.client("iot").create_topic_rule(ruleName=f"bad_{uuid.uuid4().hex[:8]}",
                                            topicRulePayload={"sql": sql, "actions": []})
    assert raised.value.response["Error"]["Code"] == "SqlParseException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_replace_topic_rule_with_bad_sql_keeps_the_rule(lab, suffix):
    iot = lab.client("iot")
    name = f"kept_{suffix}"
    create_rule(lab, name, "SELECT * FROM 'kept/topic'", [])
    with pytest.raises(ClientError) as raised:
        iot.replace_topic_rule(ruleName=name, topicRulePayload={"sql": "SELECT FROM", "actions": []})
    assert raised.value.response["Error"]["Code"] == "SqlParseException"
    assert iot.get_topic_rule(ruleName=name)["rule"]["sql"] == "SELECT * FROM 'kept/topic'"


def test_topic_rules_default_to_sql_version_2015_and_list_with_filters(lab, suffix):
    iot = lab.client("iot")
    name = f"listed_{suffix}"
    iot.create_topic_rule(ruleName=name, topicRulePayload={"sql": f"SELECT * FROM 'listed/{suffix}'",
                                                             "actions": [], "ruleDisabled": True})
    assert iot.get_topic_rule(ruleName=name)["rule"]["awsIotSqlVersion"] == "2015-10-08"
    disabled = [rule["ruleName"] for rule in iot.list_topic_rules(ruleDisabled=True)["rules"]]
    by_topic = [rule["ruleName"] for rule in iot.list_topic_rules(topic=f"listed/{suffix}")["rules"]]
    enabled = [rule["ruleName"] for rule in iot.list_topic_rules(ruleDisabled=False)["rules"]]
    assert name in disabled and by_topic == [name] and name not in enabled


def test_add_permission_twice_with_one_statement_id_conflicts(lab):
    import io as _io
    import zipfile as _zipfile

    from botocore.exceptions import ClientError as _ClientError

    lam = lab.client("lambda")
    buffer = _io.BytesIO()
    with _zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    name = f"perm-{uuid.uuid4().hex[:6]}"
    role = lab.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": buffer.getvalue()})
    grant = dict(FunctionName=name, StatementId="Id-123", Action="lambda:InvokeFunction", Principal="iot.amazonaws.com")
    lam.add_permission(**grant)
    with pytest.raises(_ClientError) as raised:
        lam.add_permission(**grant)
    assert raised.value.response["Error"]["Code"] == "ResourceConflictException"
    assert len(json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]) == 1
