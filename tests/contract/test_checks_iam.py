"""Chapter 00's check against the lab: a strict copy of the logging role, however it was written."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers.checks import strict_logging_role_problem
from labfixture import connect_to


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


def role_with(ws, prefix, condition=None, *, service="iot.amazonaws.com", permissions="inline"):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    name = f"{prefix}role"
    ws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                          "Statement": [statement]}))
    if permissions == "inline":
        ws.iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "arn:aws:logs:*:*:log-group:AWSIotLogsV2*",
                                                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}]}))
    elif permissions == "managed":
        ws.iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSIoTLogging")
    return name


def mine(ws):
    return {"StringEquals": {"aws:SourceAccount": ws.account_id}}


@pytest.mark.parametrize("make, done, says", [
    (lambda ws, p: None, False, "lets AWS IoT assume it yet"),
    (lambda ws, p: role_with(ws, p), False, "acting for any account"),  # the stack's trust, copied
    (lambda ws, p: role_with(ws, p, mine(ws)), True, ""),
    (lambda ws, p: role_with(ws, p, {"ArnLike": {"aws:SourceArn": f"arn:aws:iot:*:{ws.account_id}:*"}},
                             permissions="managed"), True, ""),
    (lambda ws, p: role_with(ws, p, mine(ws), permissions=None), False, "may not write to AWSIotLogsV2"),
    (lambda ws, p: role_with(ws, p, mine(ws), service="lambda.amazonaws.com"), False, "lets AWS IoT assume it yet"),
    (lambda ws, p: role_with(ws, p, {"StringEquals": {"aws:SourceAccount": "111122223333"}}), False,
     "lets AWS IoT assume it yet"),  # a stranger's account only
])
def test_the_strict_logging_role_is_done_only_when_it_is_strict_and_may_log(ws, make, done, says):
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    make(ws, prefix)
    problem = strict_logging_role_problem(ws, prefix)
    assert (problem == "") is done, problem
    assert says in problem
