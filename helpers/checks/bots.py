"""Chapter 11: the bots' provisioning service, checked by what is in AWS IoT, DynamoDB and S3.

Each check finds the bot by its thing name (the chapter's parameters) or, for the exercise, any failed
``ProvisionBot`` run of the trainee's, so that another way of failing it counts as well."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..bots.bot import s3_keys


def _thing(ws: Any, name: str) -> dict | None:
    try:
        return ws.iot.describe_thing(thingName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _item(ws: Any, outputs: dict, name: str) -> dict | None:
    answer = ws.client("dynamodb").get_item(TableName=outputs["BotsTableName"], Key={"thingName": {"S": name}},
                                            ConsistentRead=True)
    item = answer.get("Item")
    return {key: next(iter(value.values())) for key, value in item.items()} if item else None


def _objects(ws: Any, outputs: dict, name: str) -> list[str]:
    prefix = s3_keys(name)[0].rsplit("/", 1)[0] + "/"
    answer = ws.client("s3").list_objects_v2(Bucket=outputs["BotsBucketName"], Prefix=prefix)
    return [o["Key"] for o in answer.get("Contents", [])]


def bot_problem(ws: Any, outputs: dict, name: str) -> str:
    """'' when ``name`` is a provisioned bot: thing, table item, ACTIVE certificate attached to the
    thing and carrying the bots' policy, and both S3 objects."""
    missing = []
    if _thing(ws, name) is None:
        missing.append("no thing")
    item = _item(ws, outputs, name)
    if item is None:
        missing.append("no item in the table")
    else:
        arn = item.get("certificateArn", "")
        try:
            status = ws.iot.describe_certificate(certificateId=arn.rsplit("/", 1)[-1])["certificateDescription"]["status"]
        except ClientError:
            status = "missing"
        if status != "ACTIVE":
            missing.append(f"its certificate is {status}")
        elif _thing(ws, name) is not None and arn not in ws.iot.list_thing_principals(thingName=name)["principals"]:
            missing.append("its certificate is not attached to the thing")
        elif outputs["BotPolicyName"] not in [p["policyName"] for p in
                                              ws.iot.list_attached_policies(target=arn)["policies"]]:
            missing.append("its certificate lacks the bots' policy")
    if len(_objects(ws, outputs, name)) < len(s3_keys(name)):
        missing.append("its certificate and key are not both in the bucket")
    return "; ".join(missing)


def gone_problem(ws: Any, outputs: dict, name: str) -> str:
    """'' when nothing of the bot ``name`` is left: no thing, no table item, no S3 objects."""
    left = [what for what, there in (("the thing", _thing(ws, name) is not None),
                                     ("the table item", _item(ws, outputs, name) is not None),
                                     ("objects in the bucket", bool(_objects(ws, outputs, name)))) if there]
    return f"still there: {', '.join(left)}" if left else ""


def _left_behind(ws: Any, outputs: dict, execution: dict, name: str) -> list[str]:
    """What the failed ``execution`` for ``name`` left: a thing it created, S3 objects, an item it wrote."""
    left = []
    thing = _thing(ws, name)
    if thing is not None and thing.get("attributes", {}).get("provisionedBy") == execution["name"]:
        left.append("the thing it created")
    if _objects(ws, outputs, name):
        left.append("objects in the bucket")
    item = _item(ws, outputs, name)
    if item is not None and item.get("executionArn") == execution["executionArn"]:
        left.append("its table item")
    return left


def doomed_run_problem(ws: Any, outputs: dict) -> str:
    """'' when a ``ProvisionBot`` run for one of the trainee's bots ended FAILED and left nothing behind."""
    sfn = ws.client("stepfunctions")
    failed = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=outputs["ProvisionBotArn"])
              for e in page["executions"] if e["status"] == "FAILED"]
    if not failed:
        return "no ProvisionBot run has failed yet"
    problems = []
    for execution in failed:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        name = json.loads(described.get("input") or "{}").get("thingName", "")
        if not name.startswith(ws.prefix or ""):
            continue
        left = _left_behind(ws, outputs, execution, name)
        if not left:
            return ""
        problems.append(f"{execution['name']} left {', '.join(left)}")
    return "; ".join(problems) or "no ProvisionBot run of yours has failed yet"


FIRMWARE_ATTRIBUTE = "firmwareVersion"


def firmware_problem(ws: Any, outputs: dict, name: str) -> str:
    """'' when ``ProvisionBot`` now writes a firmware version, and the bot ``name``, provisioned with it,
    carries a non-empty ``firmwareVersion`` attribute and is in the bots' table. Any way of writing the
    attribute counts (a step of its own, or ``CreateThing``'s attributes)."""
    sfn = ws.client("stepfunctions")
    definition = sfn.describe_state_machine(stateMachineArn=outputs["ProvisionBotArn"])["definition"]
    if FIRMWARE_ATTRIBUTE not in definition:
        return f"ProvisionBot's definition writes no {FIRMWARE_ATTRIBUTE} attribute yet (service.update_definition)"
    thing = _thing(ws, name)
    if thing is None:
        return f"there is no bot {name}: provision it once ProvisionBot writes the firmware version"
    if not thing.get("attributes", {}).get(FIRMWARE_ATTRIBUTE):
        return (f"{name} has no {FIRMWARE_ATTRIBUTE} attribute: it was provisioned before your change; "
                f"remove it (service.remove) and provision it again")
    if _item(ws, outputs, name) is None:
        return f"{name} is not in the bots' table: provision it with ProvisionBot (service.provision)"
    return ""
