"""The AWS CLI (from PyPI) drives the lab unmodified, as in the workshop's text."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from devices import csr_pem, new_key

ROOT = Path(__file__).resolve().parents[2]
AWS = Path(sys.executable).with_name("aws")
pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv (pip install awscli)")


@pytest.fixture
def aws(lab):
    def run(*args: str, check: bool = True) -> dict | str:
        result = subprocess.run([str(AWS), *args, "--output", "json"], env=lab.env, capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        if not check:
            return result
        try:
            return json.loads(result.stdout) if result.stdout.strip() else {}
        except json.JSONDecodeError:  # `aws s3 …` commands print text
            return result.stdout
    return run


def test_create_thing_and_describe_endpoint(aws):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    assert aws("iot", "create-thing", "--thing-name", name)["thingName"] == name
    assert any(t["thingName"] == name for t in aws("iot", "list-things")["things"])
    aws("iot", "update-thing", "--thing-name", name, "--attribute-payload", '{"attributes": {"type": "ws-device"}}')
    assert aws("iot", "describe-thing", "--thing-name", name)["attributes"] == {"type": "ws-device"}
    assert aws("iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS")["endpointAddress"] == "localhost"


def test_event_configurations_round_trip(aws):
    configuration = {k: {"Enabled": True} for k in ("THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP",
                     "THING_GROUP_HIERARCHY", "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY",
                     "CERTIFICATE", "CA_CERTIFICATE")}
    aws("iot", "update-event-configurations", "--cli-input-json", json.dumps({"eventConfigurations": configuration}))
    described = aws("iot", "describe-event-configurations")["eventConfigurations"]
    assert described == configuration


def test_an_invalid_thing_name_gets_the_aws_error(aws):
    result = aws("iot", "create-thing", "--thing-name", "no spaces allowed", check=False)
    assert result.returncode != 0 and "InvalidRequestException" in result.stderr


def test_register_thing_with_a_template_file(aws, tmp_path):
    for group_or_type in (("create-thing-group", "--thing-group-name", "bulk-group"), ("create-thing-type", "--thing-type-name", "bulk-type")):
        aws("iot", *group_or_type, check=False)
    name = f"cli-reg-{uuid.uuid4().hex[:6]}"
    params = json.dumps({"ThingName": name, "CSR": csr_pem(new_key(), name)})
    out = aws("iot", "register-thing", "--template-body", f"file://{ROOT / 'data' / 'register-thing-template.json'}",
              "--parameters", params)
    assert out["certificatePem"].startswith("-----BEGIN CERTIFICATE-----")
    assert out["resourceArns"]["thing"].endswith(f"thing/{name}")


def test_bulk_flow_with_s3_cp_and_report_download(aws, lab, tmp_path):
    for group_or_type in (("create-thing-group", "--thing-group-name", "bulk-group"), ("create-thing-type", "--thing-type-name", "bulk-type")):
        aws("iot", *group_or_type, check=False)
    bucket = f"cli-bulk-{uuid.uuid4().hex[:8]}"
    aws("s3", "mb", f"s3://{bucket}")
    names = [f"clibulky{uuid.uuid4().hex[:4]}{i}" for i in range(3)]
    bulk = tmp_path / "bulk.json"
    bulk.write_text("\n".join(json.dumps({"ThingName": n, "CSR": csr_pem(new_key(), n)}) for n in names) + "\n")
    aws("s3", "cp", str(bulk), f"s3://{bucket}/")
    listing = subprocess.run([str(AWS), "s3", "ls", f"s3://{bucket}/"], env=lab.env, capture_output=True, text=True)
    assert "bulk.json" in listing.stdout
    role = aws("iam", "create-role", "--role-name", f"r-{bucket}", "--assume-role-policy-document",
               '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}')["Role"]["Arn"]
    task_id = aws("iot", "start-thing-registration-task", "--template-body",
                  f"file://{ROOT / 'data' / 'register-thing-template.json'}", "--input-file-bucket", bucket,
                  "--input-file-key", "bulk.json", "--role-arn", role)["taskId"]
    deadline = time.monotonic() + 60
    while (task := aws("iot", "describe-thing-registration-task", "--task-id", task_id))["status"] == "InProgress":
        assert time.monotonic() < deadline, "bulk task did not finish"
        time.sleep(0.2)
    assert task["successCount"] == 3
    links = aws("iot", "list-thing-registration-task-reports", "--task-id", task_id, "--report-type", "RESULTS")["resourceLinks"]
    with urllib.request.urlopen(links[0], timeout=10) as response:  # noqa: S310 - loopback, as `wget` does
        rows = [json.loads(line) for line in response.read().decode().splitlines()]
    assert sorted(r["response"]["ResourceArns"]["thing"].rsplit("/", 1)[1] for r in rows) == sorted(names)
    assert aws("iot", "list-thing-registration-task-reports", "--task-id", task_id, "--report-type", "ERRORS")["resourceLinks"] == []


def test_cloudformation_deploys_the_workshop_stack(aws):
    name = f"ws-{uuid.uuid4().hex[:6]}"
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body",
        f"file://{ROOT / 'cfn' / 'iot-dm-workshop.yaml'}", "--parameters", f"ParameterKey=Prefix,ParameterValue={name}",
        "--capabilities", "CAPABILITY_NAMED_IAM")
    stack = aws("cloudformation", "describe-stacks", "--stack-name", name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["IoTPolicy"] == f"{name}-device-policy"
    assert aws("iot", "get-policy", "--policy-name", outputs["IoTPolicy"])["policyName"] == outputs["IoTPolicy"]
    assert outputs["ArnIoTProvisioningRole"].endswith(f":role/{name}-iot-provisioning")
    aws("s3api", "head-bucket", "--bucket", outputs["S3Bucket"])


def test_cloudformation_deletes_the_workshop_stack(aws, lab):
    name = f"del-{uuid.uuid4().hex[:6]}"
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body",
        f"file://{ROOT / 'cfn' / 'iot-dm-workshop.yaml'}", "--parameters", f"ParameterKey=Prefix,ParameterValue={name}",
        "--capabilities", "CAPABILITY_NAMED_IAM")
    aws("cloudformation", "delete-stack", "--stack-name", name)
    policies = [p["policyName"] for p in aws("iot", "list-policies")["policies"]]
    assert f"{name}-device-policy" not in policies
