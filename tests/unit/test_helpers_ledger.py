"""helpers.ledger: what each create call records (pure), the file, and the hooks on a stubbed client."""

from __future__ import annotations

import json
from datetime import datetime, timezone
import stat
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from helpers import ledger
from helpers.ledger import Entry
from helpers.ledger.calls import register_thing_name

REGION = "eu-west-1"
ARN = f"arn:aws:iot:{REGION}:123456789012"
CERT_ID = "a" * 64
KEY_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIsecret\n-----END RSA PRIVATE KEY-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIpublic\n-----END CERTIFICATE-----\n"


# -- entries_for: one create call → what it created ----------------------------------------------

CREATE_CASES = [
    ("iot", "CreateThing", {"thingName": "t1", "thingTypeName": "bulk-type"},
     {"thingName": "t1", "thingArn": f"{ARN}:thing/t1", "thingId": "id-1"},
     [{"kind": "thing", "name": "t1", "arn": f"{ARN}:thing/t1", "identity": {"thingId": "id-1"},
       "detail": {"thingType": "bulk-type"}}]),
    ("iot", "CreateThingType", {"thingTypeName": "bulk-type"},
     {"thingTypeArn": f"{ARN}:thingtype/bulk-type", "thingTypeId": "type-1"},
     [{"kind": "thing type", "name": "bulk-type", "arn": f"{ARN}:thingtype/bulk-type", "identity": {"thingTypeId": "type-1"}}]),
    ("iot", "CreateThingGroup", {"thingGroupName": "child", "parentGroupName": "parent"},
     {"thingGroupArn": f"{ARN}:thinggroup/child", "thingGroupId": "group-1"},
     [{"kind": "thing group", "name": "child", "arn": f"{ARN}:thinggroup/child", "identity": {"thingGroupId": "group-1"},
       "detail": {"parent": "parent"}}]),
    ("iot", "CreateDynamicThingGroup", {"thingGroupName": "warm", "queryString": "a:1"},
     {"thingGroupArn": f"{ARN}:thinggroup/warm", "thingGroupId": "group-2"},
     [{"kind": "thing group", "name": "warm", "arn": f"{ARN}:thinggroup/warm", "identity": {"thingGroupId": "group-2"},
       "detail": {"dynamic": True}}]),
    ("iot", "CreateKeysAndCertificate", {"setAsActive": True},
     {"certificateId": CERT_ID, "certificateArn": f"{ARN}:cert/{CERT_ID}", "certificatePem": CERT_PEM,
      "keyPair": {"PublicKey": "pub", "PrivateKey": KEY_PEM}},
     [{"kind": "certificate", "name": CERT_ID, "arn": f"{ARN}:cert/{CERT_ID}", "identity": {"certificateId": CERT_ID}}]),
    ("iot", "CreateCertificateFromCsr", {"certificateSigningRequest": "CSR"},
     {"certificateId": CERT_ID, "certificateArn": f"{ARN}:cert/{CERT_ID}", "certificatePem": CERT_PEM},
     [{"kind": "certificate", "name": CERT_ID, "arn": f"{ARN}:cert/{CERT_ID}", "identity": {"certificateId": CERT_ID}}]),
    ("iot", "RegisterThing", {"templateBody": json.dumps({"Resources": {"policy": {
        "Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{}"}}}})},
     {"certificatePem": CERT_PEM, "resourceArns": {"thing": f"{ARN}:thing/t2", "certificate": f"{ARN}:cert/{CERT_ID}",
                                                   "policy": f"{ARN}:policy/p2"}},
     [{"kind": "thing", "name": "t2", "arn": f"{ARN}:thing/t2", "identity": {}},
      {"kind": "certificate", "name": CERT_ID, "arn": f"{ARN}:cert/{CERT_ID}", "identity": {"certificateId": CERT_ID}},
      {"kind": "policy", "name": "p2", "arn": f"{ARN}:policy/p2", "identity": {}}]),
    ("iot", "CreatePolicy", {"policyName": "p", "policyDocument": "{}"}, {"policyArn": f"{ARN}:policy/p"},
     [{"kind": "policy", "name": "p", "arn": f"{ARN}:policy/p", "identity": {}}]),
    ("iot", "RegisterCACertificate", {"caCertificate": CERT_PEM},
     {"certificateId": "b" * 64, "certificateArn": f"{ARN}:cacert/{'b' * 64}"},
     [{"kind": "CA certificate", "name": "b" * 64, "arn": f"{ARN}:cacert/{'b' * 64}", "identity": {"certificateId": "b" * 64}}]),
    ("iot", "CreateTopicRule", {"ruleName": "JITRRule", "topicRulePayload": {}}, {},
     [{"kind": "topic rule", "name": "JITRRule", "arn": "", "identity": {}}]),
    ("iot", "CreateJob", {"jobId": "job-1", "targets": []}, {"jobId": "job-1", "jobArn": f"{ARN}:job/job-1"},
     [{"kind": "job", "name": "job-1", "arn": f"{ARN}:job/job-1", "identity": {}}]),
    ("iot", "StartThingRegistrationTask", {"templateBody": "{}"}, {"taskId": "task-1"},
     [{"kind": "bulk registration task", "name": "task-1", "arn": "", "identity": {}}]),
    ("iot-data", "UpdateThingShadow", {"thingName": "t1", "shadowName": "config", "payload": b"{}"}, {},
     [{"kind": "shadow", "name": "t1", "arn": "", "identity": {}, "detail": {"shadowName": "config"}}]),
    ("s3", "PutObject", {"Bucket": "bkt", "Key": "in.json", "Body": b"secret content"}, {"ETag": '"x"'},
     [{"kind": "S3 object", "name": "in.json", "arn": "", "identity": {"ETag": '"x"'}, "detail": {"bucket": "bkt"}}]),
    ("s3", "CompleteMultipartUpload", {"Bucket": "bkt", "Key": "big.bin"}, {"ETag": '"y-2"', "VersionId": "v2"},
     [{"kind": "S3 object", "name": "big.bin", "arn": "", "identity": {"ETag": '"y-2"', "VersionId": "v2"},
       "detail": {"bucket": "bkt"}}]),
    ("lambda", "CreateFunction", {"FunctionName": "jitr", "Code": {"ZipFile": b"zip"}},
     {"FunctionName": "jitr", "FunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:jitr",
      "LastModified": "2025-01-01T12:00:00.000+0000"},
     [{"kind": "Lambda function", "name": "jitr", "arn": f"arn:aws:lambda:{REGION}:123456789012:function:jitr",
       "identity": {"LastModified": "2025-01-01T12:00:00.000+0000"}}]),
    ("lambda", "UpdateFunctionCode", {"FunctionName": "jitr", "ZipFile": b"zip"},
     {"FunctionName": "jitr", "FunctionArn": "arn:fn", "LastModified": "2025-01-01T12:05:00.000+0000"},
     [{"kind": "Lambda function", "name": "jitr", "arn": "arn:fn", "identity": {"LastModified": "2025-01-01T12:05:00.000+0000"}}]),
    ("iot", "ReplaceTopicRule", {"ruleName": "JITRRule", "topicRulePayload": {}}, {},
     [{"kind": "topic rule", "name": "JITRRule", "arn": "", "identity": {}}]),
    ("cloudformation", "CreateStack", {"StackName": "iot-dm-workshop", "TemplateBody": "..."},
     {"StackId": "arn:aws:cloudformation:stack/iot-dm-workshop/1"},
     [{"kind": "stack", "name": "iot-dm-workshop", "arn": "arn:aws:cloudformation:stack/iot-dm-workshop/1",
       "identity": {"StackId": "arn:aws:cloudformation:stack/iot-dm-workshop/1"}}]),
    ("iam", "CreateRole", {"RoleName": "r"}, {"Role": {"Arn": "arn:aws:iam::123456789012:role/r", "RoleId": "AROA1"}},
     [{"kind": "IAM role", "name": "r", "arn": "arn:aws:iam::123456789012:role/r", "identity": {"RoleId": "AROA1"}}]),
    ("logs", "CreateLogGroup", {"logGroupName": "AWSIotLogsV2-errors"}, {},
     [{"kind": "log group", "name": "AWSIotLogsV2-errors", "arn": "", "identity": {}}]),
]


@pytest.mark.parametrize(("service", "operation", "params", "response", "expected"), CREATE_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CREATE_CASES])
def test_a_create_call_records_what_it_created(service, operation, params, response, expected):
    assert ledger.entries_for(service, operation, params, response) == expected


@pytest.mark.parametrize(("service", "operation"), [("iot", "DescribeThing"), ("iot", "DeleteThing"),
                                                    ("iot", "AttachPolicy"), ("s3", "GetObject")],
                         ids=["describe", "delete", "attach", "read-object"])
def test_calls_that_create_nothing_record_nothing(service, operation):
    assert ledger.entries_for(service, operation, {"thingName": "t"}, {"thingName": "t"}) == []


def test_register_thing_without_a_policy_in_its_template_records_thing_and_certificate_only():
    response = {"resourceArns": {"thing": f"{ARN}:thing/t", "certificate": f"{ARN}:cert/{CERT_ID}"}}
    kinds = [e["kind"] for e in ledger.entries_for("iot", "RegisterThing", {}, response)]
    assert kinds == ["thing", "certificate"]


def test_register_thing_records_no_policy_that_its_template_only_names():
    template = {"Resources": {"policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "iotdm-device-policy"}}}}
    response = {"resourceArns": {"certificate": f"{ARN}:cert/{CERT_ID}", "policy": f"{ARN}:policy/iotdm-device-policy"}}
    entries = ledger.entries_for("iot", "RegisterThing", {"templateBody": json.dumps(template)}, response)
    assert [e["kind"] for e in entries] == ["certificate"]


@pytest.mark.parametrize(("thing_name", "parameters", "expected"), [
    ({"Ref": "ThingName"}, {"ThingName": "sensor-7"}, "sensor-7"),
    ("fixed-name", {}, "fixed-name"),
    ({"Ref": "ThingName"}, {}, "from-default"),
    ({"Fn::Join": ["", ["a", "b"]]}, {}, ""),
], ids=["parameter", "literal", "parameter-default", "cannot-tell"])
def test_the_thing_a_register_thing_call_provisions_is_read_from_its_template(thing_name, parameters, expected):
    template = {"Parameters": {"ThingName": {"Type": "String", "Default": "from-default"}},
                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": thing_name}}}}
    params = {"templateBody": json.dumps(template), "parameters": parameters}
    assert register_thing_name(params) == expected


def test_every_recorded_create_has_an_identity_or_a_reader_for_it():
    from helpers.ledger.reads import READERS

    for (service, operation), extract in ledger.CREATES.items():
        kinds = {e["kind"] for e in extract({"thingName": "x", "policyName": "x", "ruleName": "x", "Key": "k",
                                             "logGroupName": "g", "Bucket": "b", "StackName": "s", "RoleName": "r",
                                             "thingTypeName": "x", "thingGroupName": "x"},
                                            {"jobId": "j", "jobTemplateId": "t", "templateName": "t", "taskId": "t",
                                             "FunctionName": "f", "certificateId": "c"})}
        for kind in kinds - {"shadow", "bulk registration task", "certificate", "CA certificate"}:
            key = ledger.IDENTITY[kind]
            assert kind in READERS or key in {"ETag", "StackId", "RoleId"}, f"{operation}: no way to learn the {key} of a {kind}"


# -- settings: recorded with their value from before the call -----------------------------------

SETTING_CASES = [
    ("events-only-changed-types",
     "UpdateEventConfigurations", {"eventConfigurations": {"THING": {"Enabled": True}, "JOB": {"Enabled": True}}},
     {"THING": {"Enabled": False}, "JOB": {"Enabled": True}},
     [{"kind": "event configuration", "name": "THING", "detail": {"before": False, "after": True}}]),
    ("logging-first-time", "SetV2LoggingOptions", {"roleArn": "r", "defaultLogLevel": "WARN", "disableAllLogs": False},
     None,
     [{"kind": "logging options", "name": "v2 logging",
       "detail": {"before": None, "after": {"roleArn": "r", "defaultLogLevel": "WARN", "disableAllLogs": False}}}]),
    ("log-level-of-a-group", "SetV2LoggingLevel",
     {"logTarget": {"targetType": "THING_GROUP", "targetName": "building-one"}, "logLevel": "DEBUG"}, None,
     [{"kind": "log level", "name": "THING_GROUP:building-one",
       "detail": {"targetType": "THING_GROUP", "targetName": "building-one", "before": None, "after": "DEBUG"}}]),
    ("fleet-indexing", "UpdateIndexingConfiguration",
     {"thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY_AND_SHADOW"}},
     {"thingIndexingConfiguration": {"thingIndexingMode": "OFF"}},
     [{"kind": "fleet indexing", "name": "indexing configuration",
       "detail": {"before": {"thingIndexingConfiguration": {"thingIndexingMode": "OFF"}},
                  "after": {"thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY_AND_SHADOW"}}}}]),
]


@pytest.mark.parametrize(("operation", "params", "before", "expected"), [c[1:] for c in SETTING_CASES],
                         ids=[c[0] for c in SETTING_CASES])
def test_a_settings_call_records_the_value_from_before(operation, params, before, expected):
    assert ledger.entries_for("iot", operation, params, {}, before) == expected


def test_a_setting_whose_value_could_not_be_read_says_so():
    entries = ledger.entries_for("iot", "UpdateEventConfigurations", {"eventConfigurations": {"THING": {"Enabled": True}}}, {})
    assert entries == [{"kind": "event configuration", "name": "THING", "detail": {"before": "unknown", "after": True}}]


def test_the_baseline_of_a_setting_is_its_first_recorded_change():
    entries = [Entry("event configuration", "THING", time="2025-01-02", detail={"before": True, "after": False}),
               Entry("event configuration", "THING", time="2025-01-01", detail={"before": False, "after": True}),
               Entry("thing", "t1", time="2025-01-01")]
    baseline = ledger.settings_baseline(entries)
    assert list(baseline) == [("event configuration", "THING")]
    assert baseline[("event configuration", "THING")].detail["before"] is False


@pytest.mark.parametrize(("environ", "expected"), [
    ({"JPY_SESSION_NAME": "/home/me/kit/notebooks/03_bulk_provisioning.ipynb"}, "03_bulk_provisioning"),
    ({"JPY_SESSION_NAME": "10_cleanup.ipynb"}, "10_cleanup"),
    ({}, ""),
], ids=["jupyterlab-path", "bare-name", "not-in-jupyter"])
def test_the_chapter_comes_from_the_jupyter_session(environ, expected):
    assert ledger.chapter_name(environ) == expected


# -- the file --------------------------------------------------------------------------------------


def test_the_file_is_private_and_only_grows(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, [Entry("thing", "t1", time="1")])
    ledger.append(path, [Entry("thing", "t2", time="2"), Entry("policy", "p", time="3")])

    entries, broken = ledger.read_file(path)
    assert [e.name for e in entries] == ["t1", "t2", "p"]
    assert broken == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_half_written_line_is_skipped_and_counted(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, [Entry("thing", "t1")])
    with path.open("a") as handle:
        handle.write('{"kind": "thing", "na')

    entries, broken = ledger.read_file(path)
    assert ([e.name for e in entries], broken) == (["t1"], 1)


def test_a_missing_file_is_an_empty_ledger(tmp_path):
    assert ledger.read_file(tmp_path / "nothing.jsonl") == ([], 0)


# -- the hooks on a client -------------------------------------------------------------------------


def workshop(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(work_dir=tmp_path)


def iot_client():
    return boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name=REGION).client(
        "iot", endpoint_url="http://127.0.0.1:9")


def test_a_watched_client_records_its_successful_creates(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "01_provisioning_with_the_api.ipynb")
    client = ledger.watch(iot_client(), workshop(tmp_path))
    with Stubber(client) as stub:
        stub.add_response("create_thing", {"thingName": "t1", "thingArn": f"{ARN}:thing/t1", "thingId": "i"},
                          {"thingName": "t1"})
        stub.add_response("create_keys_and_certificate",
                          {"certificateId": CERT_ID, "certificateArn": f"{ARN}:cert/{CERT_ID}", "certificatePem": CERT_PEM,
                           "keyPair": {"PublicKey": "p", "PrivateKey": KEY_PEM}}, {"setAsActive": True})
        stub.add_client_error("create_thing", "ResourceAlreadyExistsException", http_status_code=409)
        client.create_thing(thingName="t1")
        client.create_keys_and_certificate(setAsActive=True)
        with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
            client.create_thing(thingName="t1", attributePayload={"attributes": {"a": "b"}})

    entries = ledger.read(workshop(tmp_path))
    assert [(e.kind, e.name, e.operation, e.chapter, e.region) for e in entries] == [
        ("thing", "t1", "CreateThing", "01_provisioning_with_the_api", REGION),
        ("certificate", CERT_ID, "CreateKeysAndCertificate", "01_provisioning_with_the_api", REGION),
    ]


def test_the_ledger_never_holds_a_private_key(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    with Stubber(client) as stub:
        stub.add_response("create_keys_and_certificate",
                          {"certificateId": CERT_ID, "certificateArn": f"{ARN}:cert/{CERT_ID}", "certificatePem": CERT_PEM,
                           "keyPair": {"PublicKey": "p", "PrivateKey": KEY_PEM}}, {"setAsActive": True})
        client.create_keys_and_certificate(setAsActive=True)

    text = ledger.ledger_path(workshop(tmp_path)).read_text()
    assert CERT_ID in text
    assert "PRIVATE KEY" not in text and "MIIsecret" not in text and "MIIpublic" not in text


class FakeHttp:
    """Answers a client's requests without a network: ``(method, path) -> (status, JSON body)``."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, dict]]):
        self.answers, self.seen = answers, []

    def __call__(self, request, **_):
        method, path = request.method, request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        self.seen.append((method, "/" + path))
        status, body = self.answers[(method, "/" + path)]
        return AWSResponse(request.url, status, {"Content-Type": "application/json"}, FakeBody(json.dumps(body).encode()))


class FakeBody:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


def test_a_settings_call_reads_the_value_before_it_changes_it(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    http = FakeHttp({("GET", "/event-configurations"): (200, {"eventConfigurations": {"THING": {"Enabled": False}}}),
                     ("PATCH", "/event-configurations"): (200, {})})
    client.meta.events.register("before-send.iot", http)
    client.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})

    [entry] = ledger.read(workshop(tmp_path))
    assert http.seen == [("GET", "/event-configurations"), ("PATCH", "/event-configurations")]
    assert (entry.kind, entry.name, entry.detail) == ("event configuration", "THING", {"before": False, "after": True})


def test_a_settings_call_goes_on_when_the_value_before_cannot_be_read(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    http = FakeHttp({("GET", "/event-configurations"): (403, {"message": "no"}),
                     ("PATCH", "/event-configurations"): (200, {})})
    client.meta.events.register("before-send.iot", http)
    client.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})

    [entry] = ledger.read(workshop(tmp_path))
    assert entry.detail == {"before": "unknown", "after": True}


def test_another_client_of_the_same_session_records_nothing(tmp_path):
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name=REGION)
    ledger.watch(session.client("iot", endpoint_url="http://127.0.0.1:9"), workshop(tmp_path))
    raw = session.client("iot", endpoint_url="http://127.0.0.1:9")
    with Stubber(raw) as stub:
        stub.add_response("create_thing", {"thingName": "bystander"}, {"thingName": "bystander"})
        raw.create_thing(thingName="bystander")

    assert ledger.read(workshop(tmp_path)) == []


def test_watching_a_client_twice_records_each_call_once(tmp_path):
    client = iot_client()
    ledger.watch(ledger.watch(client, workshop(tmp_path)), workshop(tmp_path))
    with Stubber(client) as stub:
        stub.add_response("create_policy", {"policyName": "p", "policyArn": f"{ARN}:policy/p"},
                          {"policyName": "p", "policyDocument": "{}"})
        client.create_policy(policyName="p", policyDocument="{}")

    assert [e.name for e in ledger.read(workshop(tmp_path))] == ["p"]


def test_every_recorded_operation_exists_in_botocore():
    session = boto3.Session(region_name=REGION)
    for service in ("iot", "iot-data", "s3", "lambda", "cloudformation", "iam"):
        model = session._session.get_service_model(service)
        missing = [op for op in ledger.operations(service) if op not in model.operation_names]
        assert not missing, f"{service}: {missing}"


def test_an_entry_survives_a_round_trip_through_json():
    entry = Entry("S3 object", "in.json", operation="PutObject", time="t", region=REGION, detail={"bucket": "b"})
    assert Entry.from_json(entry.to_json()) == entry
    assert json.loads(entry.to_json())["detail"] == {"bucket": "b"}


def test_a_stand_in_that_is_not_a_botocore_client_is_returned_unchanged(tmp_path):
    stand_in = object()
    assert ledger.watch(stand_in, workshop(tmp_path)) is stand_in


# -- identities: read before and after the call where the response does not say -------------------


def client_of(service: str):
    return boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name=REGION).client(
        service, endpoint_url="http://127.0.0.1:9")


def test_a_create_that_aws_answers_with_what_was_there_records_nothing(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    http = FakeHttp({("GET", "/things/t1"): (200, {"thingName": "t1", "thingId": "theirs"}),
                     ("POST", "/things/t1"): (200, {"thingName": "t1", "thingArn": f"{ARN}:thing/t1", "thingId": "theirs"})})
    client.meta.events.register("before-send.iot", http)
    client.create_thing(thingName="t1")  # creating a thing that exists unchanged is not an error

    assert http.seen == [("GET", "/things/t1"), ("POST", "/things/t1")]
    assert ledger.read(workshop(tmp_path)) == []


def test_a_new_thing_is_recorded_with_its_id(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    http = FakeHttp({("GET", "/things/t1"): (404, {"message": "no such thing"}),
                     ("POST", "/things/t1"): (200, {"thingName": "t1", "thingArn": f"{ARN}:thing/t1", "thingId": "ours"})})
    client.meta.events.register("before-send.iot", http)
    client.create_thing(thingName="t1")

    [entry] = ledger.read(workshop(tmp_path))
    assert (entry.name, entry.identity) == ("t1", {"thingId": "ours"})


def test_a_policy_is_recorded_with_its_creation_date_read_after_the_call(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    created = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)
    with Stubber(client) as stub:
        stub.add_response("create_policy", {"policyName": "p", "policyArn": f"{ARN}:policy/p"},
                          {"policyName": "p", "policyDocument": "{}"})
        stub.add_response("get_policy", {"policyName": "p", "creationDate": created}, {"policyName": "p"})
        client.create_policy(policyName="p", policyDocument="{}")

    [entry] = ledger.read(workshop(tmp_path))
    assert entry.identity == {"creationDate": "2025-03-01T09:30:15.123+00:00"}


def test_an_identity_that_cannot_be_read_is_said_so_and_the_call_goes_on(tmp_path):
    client = ledger.watch(iot_client(), workshop(tmp_path))
    with Stubber(client) as stub:
        stub.add_response("create_policy", {"policyName": "p", "policyArn": f"{ARN}:policy/p"},
                          {"policyName": "p", "policyDocument": "{}"})
        stub.add_client_error("get_policy", "AccessDeniedException", http_status_code=403)
        assert client.create_policy(policyName="p", policyDocument="{}")["policyName"] == "p"

    [entry] = ledger.read(workshop(tmp_path))
    assert (entry.identity, entry.detail) == ({}, {"identity": "could not be read"})


def test_an_update_of_a_function_records_what_it_changed(tmp_path):
    client = ledger.watch(client_of("lambda"), workshop(tmp_path))
    http = FakeHttp({("GET", "/2015-03-31/functions/jitr/configuration"): (200, {"FunctionName": "jitr", "LastModified": "t1"}),
                     ("PUT", "/2015-03-31/functions/jitr/code"): (200, {"FunctionName": "jitr", "LastModified": "t2"})})
    client.meta.events.register("before-send.lambda", http)
    client.update_function_code(FunctionName="jitr", ZipFile=b"zip")

    [entry] = ledger.read(workshop(tmp_path))
    assert (entry.operation, entry.identity, entry.detail) == (
        "UpdateFunctionCode", {"LastModified": "t2"}, {"previous": {"LastModified": "t1"}})


def test_a_log_group_is_recorded_with_its_creation_time(tmp_path):
    client = ledger.watch(client_of("logs"), workshop(tmp_path))
    with Stubber(client) as stub:
        stub.add_response("create_log_group", {}, {"logGroupName": "AWSIotLogsV2-errors"})
        stub.add_response("describe_log_groups", {"logGroups": [
            {"logGroupName": "AWSIotLogsV2-errors-old", "creationTime": 1}, {"logGroupName": "AWSIotLogsV2-errors",
                                                                              "creationTime": 1700000000000}]},
            {"logGroupNamePrefix": "AWSIotLogsV2-errors"})
        client.create_log_group(logGroupName="AWSIotLogsV2-errors")

    [entry] = ledger.read(workshop(tmp_path))
    assert (entry.kind, entry.identity) == ("log group", {"creationTime": 1700000000000})


def test_every_settings_call_has_a_reader_of_its_value_before():
    from helpers.ledger.reads import SETTING_READERS

    assert set(SETTING_READERS) == set(ledger.CHANGES)
