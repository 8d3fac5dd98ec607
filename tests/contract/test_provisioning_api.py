"""RegisterThing and bulk registration against a running lab, with boto3 as a trainee uses it."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cryptography import x509

from devices import csr_pem, new_key
from labfixture import unique

TEMPLATE = (Path(__file__).resolve().parents[2] / "data" / "register-thing-template.json").read_text()


@pytest.fixture(scope="module")
def iot(lab):
    client = lab.client("iot")
    for make in (lambda: client.create_thing_group(thingGroupName="bulk-group"),
                 lambda: client.create_thing_type(thingTypeName="bulk-type")):
        try:
            make()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    return client


def counts(iot) -> tuple[int, int, int]:
    return (len(iot.list_things()["things"]), len(iot.list_certificates()["certificates"]),
            len(iot.list_policies()["policies"]))


def test_register_thing_provisions_thing_certificate_and_policy(lab, iot):
    name = unique("single")
    key = new_key()
    out = iot.register_thing(templateBody=TEMPLATE, parameters={"ThingName": name, "SerialNumber": "7", "CSR": csr_pem(key, name)})

    assert set(out["resourceArns"]) == {"thing", "certificate", "policy"}
    assert out["resourceArns"]["thing"].endswith(f":thing/{name}")
    cert = x509.load_pem_x509_certificate(out["certificatePem"].encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert "localcore" in cert.issuer.rfc4514_string()

    thing = iot.describe_thing(thingName=name)
    assert thing["thingTypeName"] == "bulk-type"
    assert thing["attributes"] == {"version": "v1", "serialNumber": "7"}
    groups = iot.list_thing_groups_for_thing(thingName=name)["thingGroups"]
    assert [g["groupName"] for g in groups] == ["bulk-group"]
    cert_arn = out["resourceArns"]["certificate"]
    assert iot.list_thing_principals(thingName=name)["principals"] == [cert_arn]
    cert_id = cert_arn.rsplit("/", 1)[1]
    assert iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"] == "ACTIVE"
    policies = iot.list_attached_policies(target=cert_arn)["policies"]
    assert [p["policyArn"] for p in policies] == [out["resourceArns"]["policy"]]


@pytest.mark.parametrize(
    "template_change, parameters_change, code",
    [
        ({"ThingGroups": ["no-such-group"]}, {}, "ResourceRegistrationFailureException"),
        ({"ThingTypeName": "no-such-type"}, {}, "ResourceRegistrationFailureException"),
        ({}, {"CSR": "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----\n"}, "InvalidRequestException"),
        ({}, {"ThingName": "bad name with spaces"}, "InvalidRequestException"),
    ],
    ids=["missing-group", "missing-type", "malformed-csr", "invalid-thing-name"],
)
def test_register_thing_failures_create_nothing(lab, iot, template_change, parameters_change, code):
    template = json.loads(TEMPLATE)
    template["Resources"]["thing"]["Properties"].update(template_change)
    name = unique("fail")
    parameters = {"ThingName": name, "CSR": csr_pem(new_key(), name), **parameters_change}
    before = counts(iot)
    with pytest.raises(ClientError) as raised:
        iot.register_thing(templateBody=json.dumps(template), parameters=parameters)
    assert raised.value.response["Error"]["Code"] == code
    assert counts(iot) == before
    assert iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]  # still serving


@pytest.mark.parametrize(
    "body",
    ["{not json", json.dumps({"Resources": {}}) + "x", json.dumps({"Resources": {"x": {"Type": "AWS::S3::Bucket"}}})],
    ids=["malformed-json", "trailing-garbage", "unsupported-resource-type"],
)
def test_register_thing_rejects_bad_templates(iot, body):
    with pytest.raises(ClientError) as raised:
        iot.register_thing(templateBody=body, parameters={})
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def _role(lab) -> str:
    iam = lab.client("iam")
    name = "bulk-test-role"
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }))["Role"]["Arn"]


def wait_for_task(iot, task_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = iot.describe_thing_registration_task(taskId=task_id)
        if task["status"] not in ("InProgress", "Cancelling"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still {task['status']} after {timeout} s")


def download(url: str) -> list[dict]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return [json.loads(line) for line in response.read().decode().splitlines() if line]


def test_bulk_registration_reports_results_and_errors_line_by_line(lab, iot):
    s3 = lab.client("s3")
    bucket = unique("bulk-bucket")
    s3.create_bucket(Bucket=bucket)
    prefix = unique("bulky")
    keys = {f"{prefix}{i}": new_key() for i in range(5)}
    lines = [json.dumps({"ThingName": n, "SerialNumber": str(i), "CSR": csr_pem(k, n)}) for i, (n, k) in enumerate(keys.items())]
    lines.insert(2, "{this line is corrupt")
    lines.insert(4, json.dumps({"ThingName": f"{prefix}x", "CSR": "not a csr"}))
    s3.put_object(Bucket=bucket, Key="bulk.json", Body="\n".join(lines).encode())

    task_id = iot.start_thing_registration_task(
        templateBody=TEMPLATE, inputFileBucket=bucket, inputFileKey="bulk.json", roleArn=_role(lab)
    )["taskId"]
    task = wait_for_task(iot, task_id)

    assert (task["status"], task["successCount"], task["failureCount"], task["percentageProgress"]) == ("Completed", 5, 2, 100)
    assert task_id in iot.list_thing_registration_tasks()["taskIds"]
    results_links = iot.list_thing_registration_task_reports(taskId=task_id, reportType="RESULTS")["resourceLinks"]
    results = [row for link in results_links for row in download(link)]
    assert sorted(r["response"]["ResourceArns"]["thing"].rsplit("/", 1)[1] for r in results) == sorted(keys)
    for row in results:
        name = row["response"]["ResourceArns"]["thing"].rsplit("/", 1)[1]
        cert = x509.load_pem_x509_certificate(row["response"]["CertificatePem"].encode())
        assert cert.public_key().public_numbers() == keys[name].public_key().public_numbers()
    errors_links = iot.list_thing_registration_task_reports(taskId=task_id, reportType="ERRORS")["resourceLinks"]
    errors = sorted((row["offset"], row["errorCode"]) for link in errors_links for row in download(link))
    assert errors == [(2, "InvalidRequestException"), (4, "InvalidRequestException")]
    assert not any(t["thingName"] == f"{prefix}x" for t in iot.list_things()["things"])


def test_bulk_task_with_missing_input_file_fails_at_start(lab, iot):
    with pytest.raises(ClientError) as raised:
        iot.start_thing_registration_task(templateBody=TEMPLATE, inputFileBucket="no-such-bucket-xyz",
                                          inputFileKey="bulk.json", roleArn=_role(lab))
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def test_unknown_registration_task_is_not_found(iot):
    with pytest.raises(ClientError) as raised:
        iot.describe_thing_registration_task(taskId="00000000-0000-0000-0000-000000000000")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_attached_policies_recursive_includes_ancestor_groups(lab, iot):
    parent, child = unique("parent"), unique("child")
    iot.create_thing_group(thingGroupName=parent)
    child_arn = iot.create_thing_group(thingGroupName=child, parentGroupName=parent)["thingGroupArn"]
    policy = unique("group-policy")
    iot.create_policy(policyName=policy, policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    iot.attach_policy(policyName=policy, target=iot.describe_thing_group(thingGroupName=parent)["thingGroupArn"])

    assert iot.list_attached_policies(target=child_arn)["policies"] == []
    assert [p["policyName"] for p in iot.list_attached_policies(target=child_arn, recursive=True)["policies"]] == [policy]


def test_an_operation_the_lab_lacks_gets_a_clear_error_and_the_lab_keeps_serving(iot):
    with pytest.raises(ClientError) as raised:
        iot.list_provisioning_templates()
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "ListProvisioningTemplates" in error["Message"] and "local lab" in error["Message"]
    assert iot.list_things()["things"] is not None
