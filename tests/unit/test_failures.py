"""Failed requests as AWS answers them: codes per service, every protocol's error format as
botocore's own parsers read it, and the facts the front logs."""

from __future__ import annotations

import logging

import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from localcore.aws import failures
from localcore.aws.codec import load_service_model, serialize_error
from localcore.aws.failures import RequestInfo
from localcore.aws.validation import validate
from localcore.errors import AwsError


def botocore_reads(protocol: str, status: int, headers: dict, body: bytes) -> dict:
    parser = create_parser(protocol)
    parsed = parser.parse({"status_code": status, "headers": HeadersDict(headers), "body": body}, None)
    return parsed["Error"]


@pytest.mark.parametrize("protocol", ["query", "ec2", "rest-xml", "json", "rest-json"])
@pytest.mark.parametrize("status", [400, 500])
def test_every_protocol_error_is_read_by_botocore(protocol, status):
    error = AwsError("Bad <thing> & co", code="SomeCode", status=status)

    got_status, headers, body = serialize_error(error, protocol)

    assert got_status == status
    error_read = botocore_reads(protocol, status, headers, body)
    assert (error_read["Code"], error_read["Message"]) == ("SomeCode", "Bad <thing> & co")


def test_query_errors_say_whose_fault_it_is():
    _, _, client = serialize_error(AwsError("m", code="C", status=400), "query")
    _, _, server = serialize_error(AwsError("m", code="C", status=500), "query")

    assert b"<Type>Sender</Type>" in client and b"<Type>Receiver</Type>" in server


VALIDATION_CODES = [
    ("iot", "InvalidRequestException"), ("iot-data", "InvalidRequestException"),
    ("iot-jobs-data", "InvalidRequestException"), ("logs", "InvalidParameterException"),
    ("lambda", "ValidationException"), ("dynamodb", "ValidationException"), (None, "ValidationException"),
]


@pytest.mark.parametrize(("service", "code"), VALIDATION_CODES)
def test_validation_error_code_is_the_services(service, code):
    problems = validate(load_service_model("iot").operation_model("CreateThing"), {})

    error = failures.validation_error(service, problems)

    assert (error.code, error.status) == (code, 400)
    assert error.message == "1 validation error detected: Value null at 'thingName' failed to satisfy constraint: Member must not be null"


INTERNAL_CODES = [
    ("iot", "InternalFailureException"), ("iot-jobs-data", "InternalServerException"), ("lambda", "ServiceException"),
    ("logs", "ServiceUnavailableException"), ("dynamodb", "InternalServerError"), ("iam", "ServiceFailure"),
    ("s3", "InternalError"), ("ec2", "InternalError"), ("sts", "InternalFailure"), (None, "InternalFailure"),
]


@pytest.mark.parametrize(("service", "code"), INTERNAL_CODES)
def test_an_exception_becomes_the_services_internal_error(service, code):
    error = failures.internal_error(service, "DoThing", KeyError("query-1"))

    assert (error.code, error.status) == (code, 500)
    assert "DoThing" in error.message and "KeyError" in error.message


def test_internal_error_codes_are_declared_by_the_models():
    for service, code in failures.INTERNAL_ERROR_CODES.items():
        if service in ("s3", "ec2"):
            continue  # documented, not modeled
        model = load_service_model(service)
        codes = {
            shape.metadata.get("error", {}).get("code", shape.name)
            for name in model.operation_names for shape in model.operation_model(name).error_shapes
        }
        assert code in codes, (service, code)


def test_not_implemented_in_moto_is_a_plain_501():
    error = failures.internal_error("iam", "SimulatePrincipalPolicy", NotImplementedError("not yet"))

    assert (error.code, error.status) == ("NotImplementedException", 501)
    assert "SimulatePrincipalPolicy" in error.message and "real AWS account" in error.message


SUMMARIES = [
    ({"x-amzn-ErrorType": "ResourceNotFoundException:http://internal"}, b'{"message": "gone"}',
     ("ResourceNotFoundException", "gone")),
    ({}, b'{"__type": "com.amazonaws.dynamodb#ValidationException", "Message": "bad"}', ("ValidationException", "bad")),
    ({}, b"<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>Role r not found</Message></Error></ErrorResponse>",
     ("NoSuchEntity", "Role r not found")),
    ({}, b"<Error><Code>NoSuchBucket</Code><Message>nope</Message></Error>", ("NoSuchBucket", "nope")),
    ({}, b"", ("-", "")),
]


@pytest.mark.parametrize(("headers", "body", "expected"), SUMMARIES)
def test_summary_reads_code_and_message_of_any_protocol(headers, body, expected):
    assert failures.summary(headers, body) == expected


@pytest.mark.parametrize(("headers", "body", "aws"), [
    ([("Content-Type", "text/html; charset=utf-8")], b"<!doctype html><title>500</title>", False),
    ([], b"<!DOCTYPE html>\n<html>", False),
    ([("Content-Type", "application/xml")], b"<Error><Code>X</Code></Error>", True),
    ([("Content-Type", "application/json")], b'{"__type": "X"}', True),
])
def test_html_pages_are_told_from_aws_errors(headers, body, aws):
    assert failures.is_aws_error_body(headers, body) is aws


@pytest.mark.parametrize(("service", "headers", "query", "protocol"), [
    ("iot", {}, "", "rest-json"), ("logs", {}, "", "json"), ("iam", {}, "", "query"), ("s3", {}, "", "rest-xml"),
    ("ec2", {}, "", "ec2"), (None, {"X-Amz-Target": "Foo.Bar"}, "", "json"), (None, {}, "Action=ListUsers", "query"),
    (None, {"Content-Type": "application/x-www-form-urlencoded"}, "", "query"), (None, {}, "", "rest-json"),
])
def test_protocol_of_a_request(service, headers, query, protocol):
    assert failures.protocol_for(service, headers, query) == protocol


@pytest.mark.parametrize(("query", "body", "action"), [
    ("Action=GetRole&Version=2010-05-08", b"", "GetRole"),
    ("", b"Version=2010-05-08&Action=CreateStack&StackName=s", "CreateStack"),
    ("", b"", None),
])
def test_query_action(query, body, action):
    assert failures.query_action(query, body) == action


def test_one_log_line_per_failure_and_the_traceback_only_at_debug(caplog):
    info = RequestInfo("iot", "rest-json", "CreateThing", "POST", "/")
    try:
        raise KeyError("boom")
    except KeyError as exc:
        caught = exc

    with caplog.at_level(logging.INFO, logger="localcore.http"):
        failures.log_failure(info, 500, "InternalFailureException", "failed\nbadly " + "x" * 1000, caught)
        failures.log_failure(info, 400, "InvalidRequestException", "refused")

    assert [(r.levelname, r.exc_info is None) for r in caplog.records] == [("WARNING", True), ("INFO", True)]
    assert caplog.records[0].getMessage().startswith("iot CreateThing -> 500 InternalFailureException: failed badly x")
    assert "\n" not in caplog.records[0].getMessage() and len(caplog.records[0].getMessage()) < 400

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="localcore.http"):
        failures.log_failure(info, 500, "InternalFailureException", "failed", caught)

    assert [r.levelname for r in caplog.records] == ["WARNING", "DEBUG"]
    assert caplog.records[1].exc_info[1] is caught


def test_request_label_names_the_operation_or_the_path():
    assert RequestInfo("s3", "rest-xml", None, "PUT", "/bucket/key").label == "s3 PUT /bucket/key"
    assert RequestInfo(None, "rest-json", None, "GET", "/x").label == "unknown service GET /x"
    assert RequestInfo("iam", "query", "GetRole", "POST", "/").label == "iam GetRole"
    assert RequestInfo("iot", "rest-json", "CreateThing", "POST", "/things/t1").label == "iot CreateThing /things/t1"
