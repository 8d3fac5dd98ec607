"""CloudWatch Logs filter patterns: terms and JSON patterns, matched and refused."""

from __future__ import annotations

import json

import pytest

from localcore.errors import NotImplementedInLab
from localcore.iot.log_filter import InvalidParameterException, compile_pattern, matches

ENTRY = json.dumps({
    "timestamp": "2024-05-01 10:15:02.123", "logLevel": "INFO", "status": "Success", "eventType": "Publish-In",
    "topicName": "telemetry/building/one", "clientId": "group-member", "principalId": "ab12cd",
    "sourceIp": "203.0.113.10", "sourcePort": 50514, "latency": 12.5, "accountId": "123456789012",
    "resources": {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
    "tags": ["a", "b c"], "matrix": [[0, 1], [2, 3]], "nothing": None, "flag": True, "off": False,
})
TEXT = "[ERROR] Caught IllegalArgumentException while Exiting with ERRORCODE: -1"

CASES = [
    # id, pattern, message, expected
    ("empty pattern matches all", "", TEXT, True),
    ("blank pattern matches all", "   ", ENTRY, True),
    ("one term", "ERROR", TEXT, True),
    ("a term is a substring", "ERRORCODE", TEXT, True),
    ("terms are case-sensitive", "error", TEXT, False),
    ("all terms must appear", "ERROR Exception", TEXT, True),
    ("one missing term fails", "ERROR WARN", TEXT, False),
    ("either optional term", "?WARN ?Exiting", TEXT, True),
    ("no optional term present", "?WARN ?DEBUG", TEXT, False),
    ("excluded term present", "ERROR -Exiting", TEXT, False),
    ("excluded term absent", "ERROR -WARN", TEXT, True),
    ("minus apart from its term", '"ERROR" - "Exiting"', TEXT, False),
    ("quoted phrase", '"ERRORCODE: -1"', TEXT, True),
    ("quoted phrase keeps spaces", '"while  Exiting"', TEXT, False),
    ("term regex", "%ERRORCODE: -[0-9]%", TEXT, True),
    ("terms work on JSON text too", "group-member", ENTRY, True),
    ("JSON level INFO", "{$.logLevel = INFO}", ENTRY, True),
    ("JSON level ERROR", "{$.logLevel = ERROR}", ENTRY, False),
    ("JSON client id, bare value with a dash", "{$.clientId = group-member}", ENTRY, True),
    ("JSON another client id", "{ $.clientId = other-thing }", ENTRY, False),
    ("JSON quoted value", '{ $.topicName = "telemetry/building/one" }', ENTRY, True),
    ("JSON string compare is exact", "{ $.topicName = telemetry }", ENTRY, False),
    ("JSON not equal", "{ $.logLevel != ERROR }", ENTRY, True),
    ("JSON not equal, same value", "{ $.logLevel != INFO }", ENTRY, False),
    ("JSON suffix wildcard", "{ $.topicName = telemetry/* }", ENTRY, True),
    ("JSON prefix wildcard", '{ $.eventType = "*-In" }', ENTRY, True),
    ("JSON wildcard both ends", "{ $.topicName = *building* }", ENTRY, True),
    ("JSON inner star is literal", "{ $.topicName = telemetry*one }", ENTRY, False),
    ("JSON wildcard with !=", "{ $.sourceIp != 123.123.* }", ENTRY, True),
    ("JSON star alone: the field has a value", "{ $.sourcePort = * }", ENTRY, True),
    ("JSON star alone: a missing field", "{ $.missing = * }", ENTRY, False),
    ("JSON nested property", '{ $.resources.FunctionArn = "arn:aws:lambda:*" }', ENTRY, True),
    ("JSON array element", '{ $.tags[1] = "b c" }', ENTRY, True),
    ("JSON array out of range", "{ $.tags[5] = a }", ENTRY, False),
    ("JSON nested arrays", "{ $.matrix[1][0] = 2 }", ENTRY, True),
    ("JSON numbers: greater", "{ $.sourcePort > 50000 }", ENTRY, True),
    ("JSON numbers: less or equal", "{ $.latency <= 12.5 }", ENTRY, True),
    ("JSON numbers: less, false", "{ $.latency < 12 }", ENTRY, False),
    ("JSON numbers: scientific notation", "{ $.sourcePort < 1e5 }", ENTRY, True),
    ("JSON numbers: signed", "{ $.latency > -1 }", ENTRY, True),
    ("JSON numbers: equal", "{ $.sourcePort = 50514 }", ENTRY, True),
    ("JSON numbers: equal as float", "{ $.sourcePort = 50514.0 }", ENTRY, True),
    ("JSON numbers: not equal", "{ $.sourcePort != 443 }", ENTRY, True),
    ("JSON number literal against a string field", "{ $.accountId = 123456789012 }", ENTRY, True),
    ("JSON ordering needs a number field", "{ $.logLevel > 1 }", ENTRY, False),
    ("JSON and", "{ $.logLevel = INFO && $.clientId = group-member }", ENTRY, True),
    ("JSON and, one false", "{ $.logLevel = INFO && $.clientId = x }", ENTRY, False),
    ("JSON or", "{ $.logLevel = ERROR || $.clientId = group-member }", ENTRY, True),
    ("JSON && binds tighter than ||", "{ $.logLevel = INFO || $.clientId = x && $.status = Failure }", ENTRY, True),
    ("JSON parentheses change it", "{ ($.logLevel = INFO || $.clientId = x) && $.status = Failure }", ENTRY, False),
    ("JSON without spaces", "{$.logLevel=INFO&&$.sourcePort>=50514}", ENTRY, True),
    ("JSON IS NULL", "{ $.nothing IS NULL }", ENTRY, True),
    ("JSON IS NULL on a missing field", "{ $.missing IS NULL }", ENTRY, False),
    ("JSON NOT EXISTS", "{ $.missing NOT EXISTS }", ENTRY, True),
    ("JSON NOT EXISTS on a present field", "{ $.clientId NOT EXISTS }", ENTRY, False),
    ("JSON IS TRUE", "{ $.flag IS TRUE }", ENTRY, True),
    ("JSON IS FALSE", "{ $.off IS FALSE }", ENTRY, True),
    ("JSON != never matches a missing field", "{ $.missing != x }", ENTRY, False),
    ("JSON an object never compares", "{ $.resources != x }", ENTRY, False),
    ("JSON an array never compares", "{ $.tags != x }", ENTRY, False),
    ("JSON value regex", "{ $.clientId = %^group-[a-z]+$% }", ENTRY, True),
    ("JSON pattern on plain text", "{ $.logLevel = INFO }", TEXT, False),
    ("JSON pattern on a JSON array message", "{ $.logLevel = INFO }", "[1, 2]", False),
]


@pytest.mark.parametrize("pattern, message, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_pattern(pattern, message, expected):
    assert matches(pattern, message) is expected


INVALID = [
    ("unclosed brace", "{ $.a = 1"),
    ("text after the brace", "{ $.a = 1 } x"),
    ("selector without $", "{ a = 1 }"),
    ("selector without a property", "{ $ = 1 }"),
    ("missing value", "{ $.a = }"),
    ("missing operator", "{ $.a 1 }"),
    ("ordering with a string", "{ $.a > abc }"),
    ("bad array index", "{ $.a[x] = 1 }"),
    ("unclosed parenthesis", "{ ($.a = 1 }"),
    ("dangling &&", "{ $.a = 1 && }"),
    ("unclosed quote", '"ERROR'),
    ("dangling ?", "ERROR ?"),
    ("regex with parentheses", "%(a|b)%"),
    ("unclosed regex", "%abc"),
]


@pytest.mark.parametrize("pattern", [case[1] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_patterns_are_refused_as_aws_does(pattern):
    with pytest.raises(InvalidParameterException) as refused:
        compile_pattern(pattern)
    assert refused.value.code == "InvalidParameterException" and refused.value.status == 400
    assert refused.value.message.startswith("Invalid filter pattern")


def test_space_delimited_patterns_say_the_lab_lacks_them():
    with pytest.raises(NotImplementedInLab, match="space-delimited"):
        compile_pattern("[ip, user, status_code = 4*]")


@pytest.mark.parametrize(
    ("now", "latency", "latest"),
    [(1000.0, 0.0, 1_000_000), (1000.0, 3.0, 997_000), (1000.5, 0.25, 1_000_250)],
)
def test_filter_log_events_returns_events_ingested_latency_seconds_ago(now, latency, latest):
    from localcore.aws.handlers.logs_filter import searchable_before

    assert searchable_before(now, latency) == latest
