"""Which calls a state machine's role allows (`localcore.aws.task_permissions`): actions only."""

from __future__ import annotations

import json

import pytest

from localcore.aws.task_permissions import allows, denied_message, iam_action


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


BOTS_ROLE = policy({"Effect": "Allow", "Action": ["iot:CreateThing", "iot:DeleteThing"], "Resource": "*"},
                   {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/bots/*"})


@pytest.mark.parametrize("documents, action, expected", [
    ([BOTS_ROLE], "iot:CreateThing", True),
    ([BOTS_ROLE], "iot:UpdateThing", False),                  # the exercise's step before the role allows it
    ([BOTS_ROLE], "IOT:creatething", True),                   # actions are case-insensitive
    ([json.dumps(BOTS_ROLE)], "s3:PutObject", True),          # documents as JSON text
    ([policy({"Effect": "Allow", "Action": "iot:*", "Resource": "*"})], "iot:UpdateThing", True),
    ([policy({"Effect": "Allow", "Action": "iot:Update*", "Resource": "*"})], "iot:DeleteThing", False),
    ([policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
      policy({"Effect": "Deny", "Action": "iot:DeleteThing", "Resource": "*"})], "iot:DeleteThing", False),
    ([policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], "iot:UpdateThing", True),
    ([policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], "iam:PassRole", False),
    ([], "iot:CreateThing", False),
    (["not json", {"Statement": "odd"}], "iot:CreateThing", False),
])
def test_allows(documents, action, expected):
    assert allows(documents, action) is expected


@pytest.mark.parametrize("service, operation, action", [
    ("iot", "update_thing", "iot:UpdateThing"),
    ("iot", "create_keys_and_certificate", "iot:CreateKeysAndCertificate"),
    ("dynamodb", "put_item", "dynamodb:PutItem"),
    ("s3", "delete_objects", "s3:DeleteObject"),
    ("s3", "list_objects_v2", "s3:ListBucket"),
    ("stepfunctions", "start_execution", "states:StartExecution"),
])
def test_iam_action(service, operation, action):
    assert iam_action(service, operation) == action


def test_denied_message_names_the_assumed_role_and_the_action():
    text = denied_message("arn:aws:iam::123456789012:role/anna-bots-states", "iot:UpdateThing")
    assert text.startswith("User: arn:aws:sts::123456789012:assumed-role/anna-bots-states/")
    assert "not authorized to perform: iot:UpdateThing" in text
