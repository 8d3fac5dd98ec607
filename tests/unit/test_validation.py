"""The model-driven request validator: botocore's constraints, in AWS's (Coral) wording."""

from __future__ import annotations

import pytest

from localcore.aws.codec import load_service_model
from localcore.aws.validation import ECHO_LIMIT, render, validate, validate_value, validation_message


def problems_of(service: str, operation: str, params: dict) -> list[str]:
    return [p.message for p in validate(load_service_model(service).operation_model(operation), params)]


VALID = [
    ("iot", "CreateThing", {"thingName": "sensor-1"}),
    ("iot", "CreateThing", {"thingName": "a:b_c-9", "attributePayload": {"attributes": {"serial.no": "A-1/2#x", "empty": ""}}}),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": {"k": "v" * 800}}}),
    ("iot", "ListThings", {"maxResults": 250}),
    ("iot", "DescribeEndpoint", {}),
    ("iot", "UpdateEventConfigurations", {"eventConfigurations": {"THING": {"Enabled": True}}}),
    ("iot-data", "Publish", {"topic": "a/b", "qos": 1, "payload": b"{}"}),
    ("logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]}),
    ("lambda", "Invoke", {"FunctionName": "my-function", "Payload": b"{}"}),
    ("dynamodb", "GetItem", {"TableName": "table", "Key": {"id": {"S": "1"}}}),
]


@pytest.mark.parametrize(("service", "operation", "params"), VALID, ids=[f"{c[0]}.{c[1]}-{i}" for i, c in enumerate(VALID)])
def test_valid_requests_have_no_problems(service, operation, params):
    assert problems_of(service, operation, params) == []


INVALID = [
    # (service, operation, params, the one message expected)
    ("iot", "CreateThing", {},
     "Value null at 'thingName' failed to satisfy constraint: Member must not be null"),
    ("iot", "CreateThing", {"thingName": "no spaces"},
     "Value 'no spaces' at 'thingName' failed to satisfy constraint: "
     "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"),
    ("iot", "CreateThing", {"thingName": "t" * 129},
     f"Value '{'t' * 129}' at 'thingName' failed to satisfy constraint: Member must have length less than or equal to 128"),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": 5}},
     "Value '5' at 'attributePayload.attributes' failed to satisfy constraint: Member must be a map"),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": ["a"]}},
     "Value '[a]' at 'attributePayload.attributes' failed to satisfy constraint: Member must be a map"),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": {"bad key": "v"}}},
     "Value '{bad key=v}' at 'attributePayload.attributes' failed to satisfy constraint: Map keys must satisfy "
     "constraint: [Member must have length less than or equal to 128, "
     "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]"),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": {"k": "has space"}}},
     "Value '{k=has space}' at 'attributePayload.attributes' failed to satisfy constraint: Map value must satisfy "
     "constraint: [Member must have length less than or equal to 800, "
     "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*]"),
    ("iot", "CreateThing", {"thingName": "t", "attributePayload": {"attributes": {"k": 5}}},
     "Value '{k=5}' at 'attributePayload.attributes' failed to satisfy constraint: Map value must satisfy "
     "constraint: [Member must have length less than or equal to 800, "
     "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*]"),
    ("iot", "ListThings", {"maxResults": 0},
     "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"),
    ("iot", "ListThings", {"maxResults": 251},
     "Value '251' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 250"),
    ("iot", "DescribeEndpoint", {"endpointType": 5},
     "Value '5' at 'endpointType' failed to satisfy constraint: Member must be a string"),
    ("iot", "UpdateCertificate", {"certificateId": "a" * 64, "newStatus": "DISABLED"},
     "Value 'DISABLED' at 'newStatus' failed to satisfy constraint: Member must satisfy enum value set: "
     "[ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION]"),
    ("iot", "UpdateEventConfigurations", {"eventConfigurations": {"THING": {"Enabled": "yes"}}},
     "Value 'yes' at 'eventConfigurations.THING.member.enabled' failed to satisfy constraint: Member must be a boolean"),
    ("logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"message": "m"}]},
     "Value null at 'logEvents.1.member.timestamp' failed to satisfy constraint: Member must not be null"),
    ("logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": []},
     "Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    ("lambda", "GetFunction", {"FunctionName": "f", "Qualifier": "a b"},
     "Value 'a b' at 'qualifier' failed to satisfy constraint: "
     "Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"),
    ("iot", "CreateThing", {"thingName": True},
     "Value 'true' at 'thingName' failed to satisfy constraint: Member must be a string"),
]


@pytest.mark.parametrize(("service", "operation", "params", "message"), INVALID,
                         ids=[f"{c[0]}.{c[1]}-{i}" for i, c in enumerate(INVALID)])
def test_each_broken_constraint_is_one_problem_in_aws_words(service, operation, params, message):
    assert problems_of(service, operation, params) == [message]


def test_scalar_list_items_are_reported_for_the_list_with_every_item_constraint():
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {}, "Layers": ["not-an-arn"]}

    [message] = [m for m in problems_of("lambda", "CreateFunction", params) if "'layers'" in m]

    assert message.startswith("Value '[not-an-arn]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [")
    assert "Member must have length less than or equal to 2048" in message
    assert message.endswith("Member must not be null]")


def test_every_problem_is_reported_and_counted():
    operation = load_service_model("iot").operation_model("CreateThing")

    problems = validate(operation, {"thingName": "", "thingTypeName": "has space"})

    assert [p.path for p in problems] == ["thingName", "thingName", "thingTypeName"]
    assert validation_message(problems).startswith("3 validation errors detected: Value '' at 'thingName'")
    assert validation_message(problems[:1]).startswith("1 validation error detected: ")
    assert validation_message(problems).count("; ") == 2


def test_member_paths_start_lower_case_as_aws_prints_them():
    params = {"TableName": "t", "Key": {"id": {"S": "1"}}, "ConsistentRead": "no"}

    assert problems_of("dynamodb", "GetItem", params) == [
        "Value 'no' at 'consistentRead' failed to satisfy constraint: Member must be a boolean"
    ]


def test_java_patterns_with_unicode_classes_are_checked():
    # logs' LogGroupName tags use \p{L}\p{Z}\p{N}: letters of any script pass, control characters fail
    assert problems_of("logs", "TagLogGroup", {"logGroupName": "g", "tags": {"Grüße": "wert"}}) == []
    assert problems_of("logs", "TagLogGroup", {"logGroupName": "g", "tags": {"a\u0007": "v"}}) != []


def test_a_long_value_is_shortened_in_the_message():
    operation = load_service_model("iot").operation_model("CreateThing")
    value = "v" * 20_000_000

    [problem] = validate(operation, {"thingName": "t", "attributePayload": {"attributes": {"k": value}}})

    assert len(problem.message) < 1000
    assert f"({len(value) + 4} characters)" in problem.message


def test_sensitive_values_are_not_echoed():
    operation = load_service_model("iot").operation_model("CreateKeysAndCertificate")
    shape = load_service_model("iot").shape_for("PrivateKey")

    [problem] = validate_value(shape, "", "keyPair.privateKey")

    assert problem.message == "Value at 'keyPair.privateKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
    assert validate(operation, {"setAsActive": True}) == []


@pytest.mark.parametrize(("value", "text"), [
    (None, "null"), ("x", "'x'"), (5, "'5'"), (True, "'true'"), ([1, "a"], "'[1, a]'"),
    ({"k": "v", "n": None}, "'{k=v, n=null}'"), (b"\x00\x01", "'AAE='"),
])
def test_values_render_as_aws_java_front_end_prints_them(value, text):
    assert render(value) == text


def test_render_limit_applies():
    assert render("x" * (ECHO_LIMIT + 1)).endswith(f"... ({ECHO_LIMIT + 1} characters)'")


def test_recursive_shapes_are_validated_without_looping():
    # iot's TopicRulePayload -> Action -> ... ; dynamodb's AttributeValue is recursive (M and L)
    item = {"a": {"M": {"b": {"L": [{"M": {"c": {"S": "deep"}}}]}}}}

    assert problems_of("dynamodb", "PutItem", {"TableName": "table", "Item": item}) == []
    assert problems_of("dynamodb", "PutItem", {"TableName": "table", "Item": {"a": {"M": {"b": {"BOOL": "x"}}}}}) == [
        "Value 'x' at 'item.a.member.m.b.member.bOOL' failed to satisfy constraint: Member must be a boolean"
    ]
