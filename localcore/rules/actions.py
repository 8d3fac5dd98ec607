"""The rule actions the lab runs: one small function per action type, ``fn(call, params)``.

``params`` is the action's parameters as stored with the rule (API member names); ``call`` holds
the rule, the original message and the SELECT output. Each function either does its work in
moto's services or raises (`ActionFailed` or any service error); the engine turns a raise into an
entry of the error-action payload. Fields that take substitution templates are filled with
``call.fill`` (expressions over the original message, as AWS documents). IAM roles (``roleArn``)
are not evaluated: the lab does not enforce IAM.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localcore.aws.handlers import data_plane
from localcore.iot import rules_sql
from localcore.lambda_runner.service import local_lambda

# [unconfirmed] Name of the log stream the cloudwatchLogs action writes into (created if missing).
RULE_LOG_STREAM = "iot-rule-{rule}"


class ActionFailed(Exception):
    """An action could not do its work; the message goes to the error action's ``failures``."""


@dataclass(frozen=True)
class ActionCall:
    lab: Any
    rule_name: str
    rule_arn: str
    payload: bytes  # the original message: substitution templates read it
    context: rules_sql.RuleContext
    sql_version: str
    output: dict[str, Any] | bytes  # what SELECT produced (the error message, for an error action)

    def fill(self, template: str) -> str:
        return rules_sql.substitute(template, self.payload, self.context, self.sql_version)

    def body(self) -> bytes:
        if isinstance(self.output, bytes):
            return self.output
        return json.dumps(self.output, separators=(",", ":")).encode()

    def text(self) -> str:
        return self.body().decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The output as a JSON value; binary output cannot be one."""
        if not isinstance(self.output, bytes):
            return self.output
        try:
            return json.loads(self.output)
        except ValueError:
            raise ActionFailed("The message is not JSON; select encode(*, 'base64') to pass a binary payload") from None


ActionFn = Callable[[ActionCall, Mapping[str, Any]], None]


@dataclass(frozen=True)
class ActionType:
    failed_action: str  # the error-action payload's ``failedAction``
    run: ActionFn
    resource: Callable[[Mapping[str, Any]], str]  # the error-action payload's ``failedResource``
    # Writes into the lab's stores, so it runs inside ``lab.changing()`` (the saver sees a whole write).
    # Actions that hand over to another part of the lab (which marks its own changes) leave it False:
    # republish waits for the broker, which must not wait for the lab's lock meanwhile.
    writes: bool = False


def invoke_lambda(call: ActionCall, params: Mapping[str, Any]) -> None:
    """Asynchronous invocation, allowed only by the function's resource policy (AddPermission)."""
    event = json.dumps(call.json())
    local_lambda(call.lab).invoke_for_service(params["functionArn"], event, call.rule_arn)


def republish(call: ActionCall, params: Mapping[str, Any]) -> None:
    """Publish as iot-data Publish does (shadow topics update shadows); ``$$`` writes a ``$`` topic."""
    topic = call.fill(params["topic"])
    if topic.startswith("$$"):
        topic = topic[1:]
    data_plane.publish(call.lab, {"topic": topic, "qos": params.get("qos", 0), "payload": call.body()})


def put_s3_object(call: ActionCall, params: Mapping[str, Any]) -> None:
    """``cannedAcl`` is ignored (moto's S3 does not enforce ACLs)."""
    bucket, key = call.fill(params["bucketName"]), call.fill(params["key"])
    call.lab.backend("s3").put_object(bucket, key, call.body())


def put_dynamodb_item(call: ActionCall, params: Mapping[str, Any]) -> None:
    """Each top-level field of the output becomes an attribute of the item."""
    table = call.fill(params["putItem"]["tableName"])
    document = call.json()
    if not isinstance(document, dict):
        raise ActionFailed("The DynamoDBv2 action needs a JSON object to write as an item")
    call.lab.backend("dynamodb").put_item(table, attribute_values(document))


def send_sqs_message(call: ActionCall, params: Mapping[str, Any]) -> None:
    url = call.fill(params["queueUrl"])
    body = base64.b64encode(call.body()).decode("ascii") if params.get("useBase64") else call.text()
    call.lab.backend("sqs").send_message(url.rstrip("/").rsplit("/", 1)[-1], body)


def publish_sns(call: ActionCall, params: Mapping[str, Any]) -> None:
    arn = call.fill(params["targetArn"])
    structure = "json" if params.get("messageFormat") == "JSON" else None
    call.lab.backend("sns").publish(call.text(), arn=arn, message_structure=structure)


def put_log_events(call: ActionCall, params: Mapping[str, Any]) -> None:
    """One event per message, or (``batchMode``) the message's own ``[{timestamp, message}]`` list."""
    group = call.fill(params["logGroupName"])
    logs = call.lab.backend("logs")
    if group not in logs.groups:
        raise ActionFailed(f"The specified log group does not exist: {group}")
    if params.get("batchMode"):
        events = batch_events(call.json())
    else:
        events = [{"timestamp": call.context.timestamp_ms, "message": call.text()}]
    stream = RULE_LOG_STREAM.format(rule=call.rule_name)
    logs.ensure_log_stream(group, stream)
    logs.put_log_events(group, stream, events)


def batch_events(document: Any) -> list[dict[str, Any]]:
    """A batchMode message: a JSON array of ``{"timestamp": <ms>, "message": <string>}``."""
    if not isinstance(document, list) or not all(
        isinstance(e, dict) and isinstance(e.get("timestamp"), int) and isinstance(e.get("message"), str)
        for e in document
    ):
        raise ActionFailed('batchMode needs a JSON array of {"timestamp": <ms>, "message": <string>} objects')
    return sorted(({"timestamp": e["timestamp"], "message": e["message"]} for e in document),
                  key=lambda event: event["timestamp"])


def attribute_values(document: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object as DynamoDB attribute values."""
    return {key: _attribute(value) for key, value in document.items()}


def _attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [_attribute(item) for item in value]}
    return {"M": attribute_values(value)}


def _param(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda params: str(params.get(name, ""))


ACTIONS: dict[str, ActionType] = {
    "lambda": ActionType("LambdaAction", invoke_lambda, _param("functionArn")),
    "republish": ActionType("RepublishAction", republish, _param("topic")),
    "s3": ActionType("S3Action", put_s3_object, _param("bucketName"), writes=True),
    "dynamoDBv2": ActionType("DynamoDBv2Action", put_dynamodb_item,
                             lambda params: str((params.get("putItem") or {}).get("tableName", "")), writes=True),
    "sqs": ActionType("SqsAction", send_sqs_message, _param("queueUrl"), writes=True),
    "sns": ActionType("SnsAction", publish_sns, _param("targetArn"), writes=True),
    "cloudwatchLogs": ActionType("CloudwatchLogsAction", put_log_events, _param("logGroupName"), writes=True),
}
