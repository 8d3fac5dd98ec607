"""helpers.checks' IAM evaluation (chapter 00): who may assume a role, and what its policies allow."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from helpers.checks import policies_allow, service_may_assume

ACCOUNT, OTHER = "123456789012", "111122223333"
IOT = "iot.amazonaws.com"


def trust(condition=None, *, effect="Allow", principal=None, action="sts:AssumeRole"):
    statement = {"Effect": effect, "Principal": principal or {"Service": IOT}, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def iot_for(document, account):
    return service_may_assume(document, IOT, account, f"arn:aws:iot:us-east-1:{account}:*")


@pytest.mark.parametrize("document, mine, stranger", [
    (trust(), True, True),  # the stack's trust policy: AWS IoT acting for anyone
    (trust({"StringEquals": {"aws:SourceAccount": ACCOUNT}}), True, False),
    (trust({"ArnLike": {"aws:SourceArn": f"arn:aws:iot:us-east-1:{ACCOUNT}:*"}}), True, False),
    (trust({"ArnEquals": {"aws:SourceArn": f"arn:aws:iot:*:{ACCOUNT}:*"}}), True, False),  # wildcards in ArnEquals too
    (trust({"StringLike": {"AWS:SOURCEARN": [f"arn:aws:iot:*:{OTHER}:*", f"arn:aws:iot:*:{ACCOUNT}:*"]}}), True, True),
    (trust({"StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:iot:eu-west-1:{ACCOUNT}:*"}}), False, False),  # wrong region
    (trust({"StringEquals": {"aws:SourceArn": f"arn:aws:iot:us-east-1:{ACCOUNT}:?"}}), False, False),  # no wildcards
    (trust({"StringNotEquals": {"aws:SourceAccount": OTHER}}), True, False),
    (trust({"StringEqualsIfExists": {"aws:PrincipalTag/x": "y"}}), True, True),  # absent key, IfExists
    (trust({"NumericLessThan": {"aws:SourceAccount": "1"}}), False, False),  # not understood: does not apply
    (trust(principal={"Service": "lambda.amazonaws.com"}), False, False),
    (trust(principal={"Service": ["lambda.amazonaws.com", IOT]}), True, True),
    (trust(principal="*"), True, True),
    (trust(action=["sts:TagSession"]), False, False),
    (trust(action="STS:*"), True, True),
])
def test_who_may_assume(document, mine, stranger):
    assert iot_for(document, ACCOUNT) is mine
    assert iot_for(document, OTHER) is stranger


def test_an_explicit_deny_wins():
    document = trust()
    document["Statement"].append({"Effect": "Deny", "Principal": {"Service": IOT}, "Action": "sts:AssumeRole",
                                  "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}})
    assert iot_for(document, ACCOUNT) and not iot_for(document, OTHER)


def test_a_document_as_iam_sends_it_on_the_wire():
    text = urllib.parse.quote(json.dumps(trust({"StringEquals": {"aws:SourceAccount": ACCOUNT}})))
    assert iot_for(text, ACCOUNT) and not iot_for(text, OTHER)


LOG_STREAM = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:AWSIotLogsV2:log-stream:x"


@pytest.mark.parametrize("statements, allowed", [
    ([{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*:*:log-group:AWSIotLogsV2*"}], True),
    ([{"Effect": "Allow", "Action": ["logs:*"], "Resource": "*"}], True),
    ([{"Effect": "Allow", "Action": "Logs:putlogevents", "Resource": "*"}], True),  # actions ignore case
    ([{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*:*:log-group:awsiotlogsv2*"}], False),
    ([{"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": "*"}], False),
    ([{"Effect": "Allow", "NotAction": "iot:*", "Resource": "*"}], True),
    ([{"Effect": "Allow", "Action": "logs:*", "NotResource": "arn:aws:logs:*:*:log-group:Other*"}], True),
    ([{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, {"Effect": "Deny", "Action": "logs:Put*", "Resource": "*"}], False),
    ([], False),
])
def test_what_permission_policies_allow(statements, allowed):
    documents = [{"Version": "2012-10-17", "Statement": [s]} for s in statements]
    assert policies_allow(documents, "logs:PutLogEvents", LOG_STREAM) is allowed
