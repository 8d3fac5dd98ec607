"""The wire codec against botocore itself: botocore's client serializer writes each request and
botocore's parser reads each response, so a pass means AWS's own clients understand the lab."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import datetime, timezone
from functools import cache
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict, prepare_request_dict
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from urllib3.response import HTTPResponse

from localcore.aws.codec import (
    OperationRouter,
    SerializationException,
    credential_scope,
    identify_region,
    identify_service,
    load_service_model,
    parse_request,
    serialize_error,
    serialize_response,
)
from localcore.errors import (
    AwsError,
    InvalidRequestException,
    NotImplementedInLab,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    UnauthorizedException,
)

ENDPOINT = "https://lab.example:8443"
REGION = "eu-west-1"
UTC = timezone.utc
T0 = datetime(2026, 1, 1, 8, 30, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 9, 15, 30, 250000, tzinfo=UTC)


@cache
def router(service: str) -> OperationRouter:
    return OperationRouter(service)


def signed_headers(signing_name: str, region: str = REGION) -> dict[str, str]:
    scope = f"AKIDEXAMPLE/20260101/{region}/{signing_name}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"}


def client_request(service: str, operation: str, params: dict[str, Any]):
    """The request botocore's own (validating) serializer sends for ``params``."""
    model = load_service_model(service)
    request = create_serializer(model.protocol).serialize_to_request(params, model.operation_model(operation))
    prepare_request_dict(request, ENDPOINT)
    url = urlsplit(request["url"])
    headers = {**request["headers"], **signed_headers(model.signing_name)}
    return request["method"], url.path, parse_qs(url.query, keep_blank_values=True), headers, request["body"]


def client_parse(operation, status: int, headers: dict[str, str], body: bytes, shape=None) -> dict[str, Any]:
    """What botocore's parser makes of a response, as a client would see it."""
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    if operation.has_streaming_output and status < 300:
        response["body"] = StreamingBody(io.BytesIO(body), len(body))
    parser = create_parser(operation.metadata["protocol"])
    parsed = parser.parse(response, shape if shape is not None else operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    return {key: value.read() if isinstance(value, StreamingBody) else value for key, value in parsed.items()}


# --- requests: botocore serialises, the lab routes and parses ------------------------------------

TEMPLATE = json.dumps({"Parameters": {"ThingName": {"Type": "String"}}, "Resources": {}})

REQUEST_CASES = [
    ("iot", "RegisterThing", {"templateBody": TEMPLATE, "parameters": {"ThingName": "sensor-1", "SerialNumber": "42"}}),
    (
        "iot",
        "StartThingRegistrationTask",
        {
            "templateBody": TEMPLATE,
            "inputFileBucket": "workshop-bucket",
            "inputFileKey": "bulk/things.json",
            "roleArn": "arn:aws:iam::123456789012:role/BulkRole",
        },
    ),
    (
        "iot",
        "ListThingRegistrationTaskReports",
        {"taskId": "task-1", "reportType": "ERRORS", "maxResults": 10, "nextToken": "a+b/c=="},
    ),
    ("iot", "DescribeThingRegistrationTask", {"taskId": "task 1/ü"}),
    (
        "iot",
        "UpdateEventConfigurations",
        {"eventConfigurations": {"THING": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": False}}},
    ),
    (
        "iot",
        "SetV2LoggingLevel",
        {"logTarget": {"targetType": "THING_GROUP", "targetName": "fleet-a"}, "logLevel": "DEBUG"},
    ),
    ("iot", "ListV2LoggingLevels", {"targetType": "THING_GROUP", "maxResults": 5}),
    ("iot", "DescribeEndpoint", {"endpointType": "iot:Data-ATS"}),
    ("iot", "GetV2LoggingOptions", {"verbose": True}),
    ("iot", "DescribeEventConfigurations", {}),
    (
        "iot",
        "CreateJob",
        {
            "jobId": "firmware-2026",
            "targets": ["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet-a"],
            "document": json.dumps({"operation": "update"}),
            "targetSelection": "SNAPSHOT",
            "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/Signer", "expiresInSec": 3600},
            "jobExecutionsRolloutConfig": {
                "maximumPerMinute": 50,
                "exponentialRate": {
                    "baseRatePerMinute": 5,
                    "incrementFactor": 1.5,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 10},
                },
            },
            "abortConfig": {
                "criteriaList": [
                    {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 25.0, "minNumberOfExecutedThings": 3}
                ]
            },
            "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
            "tags": [{"Key": "course", "Value": "iot-dm"}],
            "documentParameters": {"version": "1.2.3"},
        },
    ),
    (
        "iot",
        "UpdateCACertificate",
        {
            "certificateId": "ab12" * 16,
            "newStatus": "ACTIVE",
            "newAutoRegistrationStatus": "ENABLE",
            "registrationConfig": {"templateBody": TEMPLATE, "roleArn": "arn:aws:iam::123456789012:role/Jitp"},
            "removeAutoRegistration": False,
        },
    ),
    (
        "iot",
        "ListViolationEvents",
        {"startTime": T0, "endTime": T1, "listSuppressedAlerts": False, "maxResults": 25},
    ),
    ("iot", "ListAuditFindings", {"startTime": T0, "endTime": T1, "listSuppressedFindings": True}),
    ("iot", "GetTopicRuleDestination", {"arn": "arn:aws:iot:eu-west-1:123456789012:ruledestination/http/a1b2"}),
    (
        "iot-data",
        "Publish",
        {
            "topic": "dt/factory/sensor-1/telemetry",
            "qos": 1,
            "retain": True,
            "payload": b"\x00\xffraw bytes",
            "userProperties": [{"line": "3"}, {"shift": "night"}],
            "payloadFormatIndicator": "UNSPECIFIED_BYTES",
            "contentType": "application/octet-stream",
            "responseTopic": "dt/factory/replies",
            "correlationData": "Y29ycmVsYXRpb24=",
            "messageExpiry": 60,
        },
    ),
    ("iot-data", "GetThingShadow", {"thingName": "sensor-1", "shadowName": "config"}),
    (
        "lambda",
        "Invoke",
        {
            "FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:jitr-activate",
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "ClientContext": base64.b64encode(b'{"custom": {}}').decode(),
            "Payload": b'{"certificateId": "ab12cd"}',
            "Qualifier": "$LATEST",
        },
    ),
    ("lambda", "ListProvisionedConcurrencyConfigs", {"FunctionName": "f", "MaxItems": 5}),
    ("lambda", "GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "live"}),
    ("lambda", "GetLayerVersionByArn", {"Arn": "arn:aws:lambda:eu-west-1:123456789012:layer:deps:3"}),
    ("lambda", "ListLayers", {"CompatibleRuntime": "python3.11"}),
    (
        "iot-jobs-data",
        "UpdateJobExecution",
        {
            "thingName": "sensor-1",
            "jobId": "firmware-2026",
            "status": "IN_PROGRESS",
            "statusDetails": {"step": "download"},
            "expectedVersion": 2,
            "includeJobDocument": True,
            "executionNumber": 7,
        },
    ),
    (
        "logs",
        "FilterLogEvents",
        {
            "logGroupName": "AWSIotLogsV2",
            "logStreamNames": ["a", "b"],
            "startTime": 1767225600000,
            "endTime": 1767229200000,
            "filterPattern": '{ $.eventType = "Connect" }',
            "limit": 50,
            "startFromHead": True,
        },
    ),
    (
        "dynamodb",
        "PutItem",
        {
            "TableName": "telemetry",
            "Item": {"pk": {"S": "sensor-1"}, "raw": {"B": b"\x01\x02"}, "n": {"N": "3.5"}, "tags": {"SS": ["a", "b"]}},
        },
    ),
    # Locations the served models do not use yet, checked on other rest-json services.
    (
        "dataexchange",
        "SendApiAsset",
        {
            "AssetId": "a",
            "DataSetId": "d",
            "RevisionId": "r",
            "Body": "plain text body",
            "QueryStringParameters": {"page": "2", "sort": "name"},
            "RequestHeaders": {"Trace": "t-1"},
        },
    ),
    ("amp", "ListScrapers", {"filters": {"status": ["ACTIVE", "CREATING"]}, "maxResults": 3}),
    ("appconfig", "StopDeployment", {"ApplicationId": "app", "EnvironmentId": "env", "DeploymentNumber": 4, "AllowRevert": True}),
    ("entityresolution", "BatchDeleteUniqueId", {"workflowName": "w", "uniqueIds": ["plain", 'has,comma', 'has"quote']}),
    ("connect", "UpdateUserNotificationStatus", {"InstanceId": "i", "NotificationId": "n", "UserId": "u", "Status": "READ", "LastModifiedTime": T0}),
]


@pytest.mark.parametrize(("service", "operation", "params"), REQUEST_CASES, ids=[f"{c[0]}.{c[1]}" for c in REQUEST_CASES])
def test_request_from_botocore_routes_and_parses_to_the_original_params(service, operation, params):
    method, path, query, headers, body = client_request(service, operation, params)

    matched = router(service).match(method, path, query, headers)

    assert matched is not None and matched[0].name == operation
    op, labels = matched
    assert parse_request(op, labels, query, headers, body) == params


# --- responses: the lab serialises, botocore parses -----------------------------------------------

RESPONSE_CASES = [
    (
        "iot",
        "RegisterThing",
        {
            "certificatePem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "resourceArns": {"thing": "arn:aws:iot:eu-west-1:123456789012:thing/sensor-1"},
        },
    ),
    ("iot", "StartThingRegistrationTask", {"taskId": "0b6a0f4e"}),
    (
        "iot",
        "ListThingRegistrationTaskReports",
        {"resourceLinks": ["https://bucket.s3/report-1", "https://bucket.s3/report-2"], "reportType": "RESULTS", "nextToken": "n"},
    ),
    (
        "iot",
        "DescribeThingRegistrationTask",
        {
            "taskId": "0b6a0f4e",
            "creationDate": T0,
            "lastModifiedDate": T1,
            "templateBody": TEMPLATE,
            "inputFileBucket": "workshop-bucket",
            "inputFileKey": "bulk/things.json",
            "roleArn": "arn:aws:iam::123456789012:role/BulkRole",
            "status": "Completed",
            "successCount": 10,
            "failureCount": 0,
            "percentageProgress": 100,
        },
    ),
    ("iot", "UpdateEventConfigurations", {}),
    (
        "iot",
        "DescribeEventConfigurations",
        {"eventConfigurations": {"THING": {"Enabled": True}, "JOB": {"Enabled": False}}, "creationDate": T0, "lastModifiedDate": T1},
    ),
    (
        "iot",
        "ListV2LoggingLevels",
        {"logTargetConfigurations": [{"logTarget": {"targetType": "DEFAULT"}, "logLevel": "ERROR"}], "nextToken": "x"},
    ),
    ("iot", "DescribeEndpoint", {"endpointAddress": "abc123-ats.iot.eu-west-1.amazonaws.com"}),
    ("iot", "GetV2LoggingOptions", {"roleArn": "arn:aws:iam::123456789012:role/Log", "defaultLogLevel": "INFO", "disableAllLogs": False}),
    ("iot", "CreateJob", {"jobArn": "arn:aws:iot:eu-west-1:123456789012:job/firmware-2026", "jobId": "firmware-2026", "description": "d"}),
    ("iot-data", "GetThingShadow", {"payload": b'{"state": {"reported": {"on": true}}}'}),
    (
        "lambda",
        "Invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "U1RBUlQ=", "Payload": b'{"errorMessage": "boom"}', "ExecutedVersion": "$LATEST"},
    ),
    ("lambda", "Invoke", {"StatusCode": 202, "Payload": b""}),
    (
        "iot-jobs-data",
        "DescribeJobExecution",
        {"execution": {"jobId": "j", "thingName": "t", "status": "QUEUED", "queuedAt": 1767225600, "versionNumber": 1, "executionNumber": 1}},
    ),
    (
        "logs",
        "FilterLogEvents",
        {
            "events": [{"logStreamName": "s", "timestamp": 1767225600000, "message": "hello", "ingestionTime": 1767225601000, "eventId": "e1"}],
            "nextToken": "n",
        },
    ),
    ("dynamodb", "GetItem", {"Item": {"pk": {"S": "sensor-1"}, "raw": {"B": b"\x00\x01"}, "ok": {"BOOL": True}}}),
    (
        "appconfig",
        "StopDeployment",
        {"ApplicationId": "app", "DeploymentNumber": 4, "GrowthFactor": 12.5, "StartedAt": T1, "State": "ROLLED_BACK"},
    ),
    ("datazone", "GetLineageEvent", {"id": "ev-1", "eventTime": T0, "event": b'{"run": 1}', "processingStatus": "SUCCESS"}),
]


@pytest.mark.parametrize(
    ("service", "operation", "output"), RESPONSE_CASES, ids=[f"{c[0]}.{c[1]}-{i}" for i, c in enumerate(RESPONSE_CASES)]
)
def test_response_serialised_by_the_lab_parses_back_in_botocore(service, operation, output):
    op = load_service_model(service).operation_model(operation)

    status, headers, body = serialize_response(op, output)

    assert client_parse(op, status, headers, body) == output


@pytest.mark.parametrize(
    ("service", "operation", "member", "wire_value"),
    [
        ("iot", "DescribeThingRegistrationTask", "creationDate", 1767256200),
        ("iot", "DescribeThingRegistrationTask", "lastModifiedDate", 1767345330.25),
        ("appconfig", "StopDeployment", "StartedAt", "2026-01-02T09:15:30.250Z"),
    ],
    ids=["rest-json-epoch-seconds", "rest-json-fractional-seconds", "timestampFormat-iso8601"],
)
def test_body_timestamps_use_the_format_the_model_asks_for(service, operation, member, wire_value):
    op = load_service_model(service).operation_model(operation)

    _, _, body = serialize_response(op, {"creationDate": T0, "lastModifiedDate": T1} if service == "iot" else {"StartedAt": T1})

    assert json.loads(body)[member] == wire_value


@pytest.mark.parametrize(
    ("service", "operation", "output", "status"),
    [
        ("iot", "CreateThing", {"thingName": "t"}, 200),
        ("lambda", "CreateFunction", {"FunctionName": "f"}, 201),
        ("lambda", "DeleteAlias", {}, 204),
        ("lambda", "Invoke", {"StatusCode": 202}, 202),
    ],
    ids=["default-200", "responseCode-201", "responseCode-204", "statusCode-member"],
)
def test_status_code_follows_the_model_and_status_members(service, operation, output, status):
    op = load_service_model(service).operation_model(operation)

    got_status, _, _ = serialize_response(op, output)

    assert got_status == status


@pytest.mark.parametrize(
    ("service", "operation", "output", "body"),
    [
        ("lambda", "DeleteAlias", {}, b""),
        ("iot", "UpdateEventConfigurations", {}, b"{}"),
        ("lambda", "Invoke", {"StatusCode": 204, "Payload": b"ignored"}, b""),
    ],
    ids=["no-output-shape", "empty-output-shape", "204-never-has-a-body"],
)
def test_empty_bodies(service, operation, output, body):
    op = load_service_model(service).operation_model(operation)

    assert serialize_response(op, output)[2] == body


def test_unknown_output_member_is_a_loud_handler_bug():
    op = load_service_model("iot").operation_model("DescribeEndpoint")

    with pytest.raises(ValueError, match="endpointAdress"):
        serialize_response(op, {"endpointAdress": "typo"})


# --- errors ---------------------------------------------------------------------------------------

ERROR_CASES = [
    ("iot", "DescribeThingRegistrationTask", ResourceNotFoundException("Task 0b6a0f4e does not exist")),
    ("iot", "RegisterThing", InvalidRequestException("The template body is not valid JSON")),
    ("iot-data", "Publish", UnauthorizedException("Not authorized to publish")),
    ("iot", "CreateThing", NotImplementedInLab("The lab cannot do this")),
    ("lambda", "Invoke", AwsError("Function not found", code="ResourceNotFoundException", status=404)),
    ("logs", "FilterLogEvents", AwsError("The specified log group does not exist.", code="ResourceNotFoundException", status=400)),
    ("dynamodb", "GetItem", AwsError("Requested resource not found", code="ResourceNotFoundException", status=400)),
    ("logs", "FilterLogEvents", SerializationException("Request body is not valid JSON")),
]


@pytest.mark.parametrize(
    ("service", "operation", "error"), ERROR_CASES, ids=[f"{c[0]}.{c[1]}-{c[2].code}" for c in ERROR_CASES]
)
def test_error_serialised_by_the_lab_gives_botocore_its_code_and_message(service, operation, error):
    op = load_service_model(service).operation_model(operation)

    status, headers, body = serialize_error(error, op.metadata["protocol"])
    parsed = client_parse(op, status, headers, body)

    assert status == error.status
    assert parsed["Error"] == {"Code": error.code, "Message": error.message}


def test_modeled_error_fields_reach_the_client():
    model = load_service_model("iot")
    error = ResourceAlreadyExistsException("Thing sensor-1 already exists with different attributes")
    fields = {"resourceId": "sensor-1", "resourceArn": "arn:aws:iot:eu-west-1:123456789012:thing/sensor-1"}

    status, headers, body = serialize_error(error, "rest-json", fields=fields)
    parsed = client_parse(model.operation_model("CreateThing"), status, headers, body, shape=model.shape_for(error.code))

    assert parsed == {"message": error.message, **fields}


# --- malformed requests ---------------------------------------------------------------------------

MALFORMED_CASES = [
    ("iot", "RegisterThing", {}, {}, b'{"templateBody": '),
    ("iot", "RegisterThing", {}, {}, b"[1, 2]"),
    ("iot", "RegisterThing", {}, {}, b'{"templateBody": 5}'),
    ("iot", "SetV2LoggingLevel", {}, {}, b'{"logTarget": "THING_GROUP"}'),
    ("iot", "ListThingRegistrationTaskReports", {"maxResults": ["ten"]}, {}, b""),
    ("iot", "GetV2LoggingOptions", {"verbose": ["maybe"]}, {}, b""),
    ("iot", "ListViolationEvents", {"startTime": ["yesterday"]}, {}, b""),
    ("iot-data", "Publish", {}, {"x-amz-mqtt5-user-properties": "not base64 json!"}, b""),
    ("logs", "FilterLogEvents", {}, {}, b"{not json"),
    ("dynamodb", "PutItem", {}, {}, b'{"TableName": "t", "Item": {"raw": {"B": "%%%"}}}'),
]


@pytest.mark.parametrize(
    ("service", "operation", "query", "headers", "body"),
    MALFORMED_CASES,
    ids=[
        "truncated-json",
        "body-not-an-object",
        "string-member-given-a-number",
        "structure-member-given-a-string",
        "querystring-integer",
        "querystring-boolean",
        "querystring-timestamp",
        "jsonvalue-header",
        "json-protocol-truncated",
        "json-protocol-bad-base64-blob",
    ],
)
def test_malformed_request_is_a_serialization_exception(service, operation, query, headers, body):
    op = load_service_model(service).operation_model(operation)

    with pytest.raises(SerializationException) as raised:
        parse_request(op, {"taskId": "t", "topic": "t"}, query, headers, body)

    assert (raised.value.code, raised.value.status) == ("SerializationException", 400)


# --- routing --------------------------------------------------------------------------------------


def sample_request(route) -> tuple[str, dict[str, list[str]]]:
    template = route.operation.http["requestUri"].partition("?")[0]
    return re.sub(r"\{[^}]+\}", "sample-value-1", template), {key: [value] for key, value in route.required_query}


@pytest.mark.parametrize("service", ["iot", "iot-data", "iot-jobs-data", "lambda"])
def test_every_operation_has_a_route_that_finds_it_again(service):
    service_router = router(service)
    misrouted = []
    for route in service_router.routes:
        path, query = sample_request(route)
        matched = service_router.match(route.method, path, query)
        if matched is None or matched[0].name != route.operation.name:
            misrouted.append((route.operation.name, matched and matched[0].name))

    assert len(service_router.routes) == len(load_service_model(service).operation_names)
    assert misrouted == []


PC_PATH = "/2019-09-30/functions/f/provisioned-concurrency"


@pytest.mark.parametrize(
    ("service", "method", "path", "query", "operation", "labels"),
    [
        ("lambda", "GET", PC_PATH, {"List": ["ALL"]}, "ListProvisionedConcurrencyConfigs", {"FunctionName": "f"}),
        ("lambda", "GET", PC_PATH, {"Qualifier": ["1"]}, "GetProvisionedConcurrencyConfig", {"FunctionName": "f"}),
        ("lambda", "GET", "/2018-10-31/layers", {"find": ["LayerVersion"], "Arn": ["a"]}, "GetLayerVersionByArn", {}),
        ("lambda", "GET", "/2018-10-31/layers", {}, "ListLayers", {}),
        ("iot", "GET", "/destinations/arn%3Aaws%3Aiot/http/a1", {}, "GetTopicRuleDestination", {"arn": "arn:aws:iot/http/a1"}),
        ("iot", "GET", "/destinations", {}, "ListTopicRuleDestinations", {}),
        ("iot", "GET", "/things/", {}, "ListThings", {}),
        ("iot", "GET", "/things/sensor%201", {}, "DescribeThing", {"thingName": "sensor 1"}),
        ("iot", "PUT", "/cacertificate/ab12", {}, "UpdateCACertificate", {"caCertificateId": "ab12"}),
        ("iot-data", "POST", "/topics/a%2Fb%2Fc", {}, "Publish", {"topic": "a/b/c"}),
    ],
    ids=[
        "literal-query-beats-plain",
        "plain-without-literal-query",
        "layer-by-arn-literal-query",
        "list-layers-plain",
        "greedy-label-keeps-slashes",
        "greedy-label-needs-a-value",
        "trailing-slash",
        "percent-decoded-label",
        "label-name-differs-from-member",
        "encoded-slashes-in-label",
    ],
)
def test_router_picks_the_most_specific_route(service, method, path, query, operation, labels):
    matched = router(service).match(method, path, query)

    assert matched is not None
    assert (matched[0].name, matched[1]) == (operation, labels)


@pytest.mark.parametrize(
    ("service", "method", "path", "headers"),
    [
        ("iot", "DELETE", "/endpoint", {}),
        ("iot", "GET", "/no-such-resource", {}),
        ("logs", "POST", "/", {"X-Amz-Target": "DynamoDB_20120810.GetItem"}),
        ("logs", "POST", "/", {"X-Amz-Target": "Logs_20140328.NoSuchOperation"}),
        ("logs", "GET", "/", {"X-Amz-Target": "Logs_20140328.FilterLogEvents"}),
    ],
    ids=["wrong-method", "unknown-path", "other-services-target", "unknown-target-operation", "json-needs-post"],
)
def test_router_returns_none_when_nothing_matches(service, method, path, headers):
    assert router(service).match(method, path, {}, headers) is None


# --- identifying the service ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "service"),
    [
        (signed_headers("iot"), "iot"),
        (signed_headers("iotdata"), "iot-data"),
        (signed_headers("iot-jobs-data"), "iot-jobs-data"),
        (signed_headers("lambda"), "lambda"),
        (signed_headers("logs"), "logs"),
        ({**signed_headers("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.GetItem"}, "dynamodb"),
        ({"x-amz-target": "Logs_20140328.FilterLogEvents"}, "logs"),
        (signed_headers("s3"), None),
        ({}, None),
    ],
    ids=["iot", "iotdata", "iot-jobs-data", "lambda", "logs", "dynamodb", "unsigned-target", "not-served", "unsigned"],
)
def test_identify_service_maps_signing_names_to_botocore_names(headers, service):
    assert identify_service(headers) == service


def test_region_and_scope_come_from_the_credential():
    headers = {"authorization": signed_headers("iot", region="ap-southeast-2")["Authorization"]}

    assert identify_region(headers) == "ap-southeast-2"
    assert credential_scope(headers).access_key == "AKIDEXAMPLE"
    assert identify_region({}) is None


# --- end to end through a real botocore client ----------------------------------------------------


def lab_client(service: str, handlers: dict[str, Callable[[dict], dict]], seen: list):
    """A botocore client whose HTTP sends are answered by the codec and ``handlers``."""
    client = botocore.session.get_session().create_client(
        service, region_name=REGION, endpoint_url=ENDPOINT, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
    )

    def answer(request, **_):
        url = urlsplit(request.url)
        headers = dict(request.headers.items())
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        op, labels = router(identify_service(headers)).match(request.method, url.path, parse_qs(url.query), headers)
        params = parse_request(op, labels, parse_qs(url.query), headers, body)
        seen.append((op.name, params))
        try:
            status, out_headers, out_body = serialize_response(op, handlers[op.name](params))
        except AwsError as error:
            status, out_headers, out_body = serialize_error(error, op.metadata["protocol"])
        raw = HTTPResponse(body=io.BytesIO(out_body), headers=out_headers, status=status, preload_content=False)
        return AWSResponse(request.url, status, out_headers, raw)

    client.meta.events.register("before-send", answer)
    return client


def test_boto_client_round_trip_through_a_handler():
    seen: list = []
    client = lab_client("iot", {"RegisterThing": lambda p: {"resourceArns": {"thing": p["parameters"]["ThingName"]}}}, seen)

    response = client.register_thing(templateBody=TEMPLATE, parameters={"ThingName": "sensor-9"})

    assert seen == [("RegisterThing", {"templateBody": TEMPLATE, "parameters": {"ThingName": "sensor-9"}})]
    assert response["resourceArns"] == {"thing": "sensor-9"}


def test_boto_client_sees_modeled_exception_class():
    def missing(params):
        raise ResourceNotFoundException(f"Task {params['taskId']} not found")

    client = lab_client("iot", {"DescribeThingRegistrationTask": missing}, [])

    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Task t-404 not found"):
        client.describe_thing_registration_task(taskId="t-404")


def test_boto_client_reads_a_streaming_lambda_payload():
    client = lab_client("lambda", {"Invoke": lambda p: {"StatusCode": 200, "Payload": p["Payload"][::-1]}}, [])

    response = client.invoke(FunctionName="echo", Payload=b"abc")

    assert (response["StatusCode"], response["Payload"].read()) == (200, b"cba")


# --- any service, presigned URLs, and the body moto is given --------------------------------------


@pytest.mark.parametrize(("signing_name", "service"), [
    ("iotdata", "iot-data"), ("iot", "iot"), ("s3", "s3"), ("iam", "iam"), ("sts", "sts"), ("not-a-service", None),
])
def test_any_botocore_service_is_identified_by_its_signing_name(signing_name, service):
    from localcore.aws.codec import identify_any_service

    assert identify_any_service(signed_headers(signing_name)) == service


@pytest.mark.parametrize(("query", "service"), [
    ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", "s3"),
    ("X-Amz-Credential=AKID/20260101/us-east-1/s3/aws4_request&X-Amz-Date=20260101T000000Z", "s3"),
    ("versionId=3", None),
])
def test_presigned_urls_name_their_service(query, service):
    from localcore.aws.codec import identify_presigned_service

    assert identify_presigned_service(query) == service


@pytest.mark.parametrize(("service", "operation", "params"), [
    ("iot", "CreateThing", {"thingName": "t1", "attributePayload": {"attributes": {"a": "1"}}}),
    ("iot", "UpdateThing", {"thingName": "t1", "expectedVersion": 3, "removeThingType": True}),
    ("logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]}),
    ("dynamodb", "PutItem", {"TableName": "t", "Item": {"b": {"B": b"\x00\x01"}}}),
])
def test_botocore_body_is_what_a_client_sends_and_parses_back_to_the_same_params(service, operation, params):
    from localcore.aws.codec import botocore_body

    _, path, query, headers, body = client_request(service, operation, params)
    op = load_service_model(service).operation_model(operation)
    labels = router(service).match(op.http["method"], path, query, headers)[1]
    parsed = parse_request(op, labels, query, headers, body)

    assert botocore_body(op, parsed) == body
    assert parse_request(op, labels, query, headers, botocore_body(op, parsed)) == params


def test_botocore_body_leaves_a_raw_payload_as_it_is():
    from localcore.aws.codec import botocore_body

    op = load_service_model("iot-data").operation_model("Publish")

    assert botocore_body(op, {"topic": "a/b", "payload": b"\xff raw"}) == b"\xff raw"
