"""Chapter 03's check against the lab: the task with a broken line, found by what it provisioned and reported."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import make_csr, new_key
from helpers.checks import broken_line_task_problem
from helpers.provisioning import follow_task
from labfixture import connect_to


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


ROLE = "arn:aws:iam::123456789012:role/iot-dm-logging"


TEMPLATE = json.dumps({"Parameters": {"ThingName": {"Type": "String"}, "CSR": {"Type": "String"}}, "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "ThingName"}}},
    "certificate": {"Type": "AWS::IoT::Certificate",
                    "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}}}})


@pytest.fixture(scope="module")
def bulk(ws):
    """Two buckets and a role AWS IoT may assume to read them."""
    buckets = [f"checks-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for bucket in buckets:
        ws.s3.create_bucket(Bucket=bucket)
    role = ws.iam.create_role(RoleName=f"checks-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    return buckets, role


def run_task(ws, bucket, role, lines):
    key = f"{uuid.uuid4().hex[:8]}.json"
    ws.s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
    task_id = ws.iot.start_thing_registration_task(templateBody=TEMPLATE, inputFileBucket=bucket, inputFileKey=key,
                                                   roleArn=role)["taskId"]
    assert follow_task(ws, task_id, progress=False)["status"] == "Completed"


def good(name):
    return json.dumps({"ThingName": name, "CSR": make_csr(new_key("ec"), name)})


def test_the_broken_line_task_is_found_by_what_it_provisioned_and_reported(ws, bulk):
    (bucket, elsewhere), role = bulk
    trial = [f"trial-{uuid.uuid4().hex[:6]}-{n}" for n in (1, 2)]
    assert "has provisioned" in broken_line_task_problem(ws, bucket, trial)

    run_task(ws, bucket, role, [good(trial[0]), good(trial[1])])
    assert "no line failed" in broken_line_task_problem(ws, bucket, trial)

    run_task(ws, elsewhere, role, [good(trial[0]), "not json", good(trial[1])])  # not the workshop's bucket
    assert "no line failed" in broken_line_task_problem(ws, bucket, trial)

    run_task(ws, bucket, role, [good(trial[0]), json.dumps({"ThingName": "x", "CSR": "not a CSR"})])  # trial2 missing
    assert "no line failed" in broken_line_task_problem(ws, bucket, trial)

    run_task(ws, bucket, role, ["{not json", good(trial[1]), good(trial[0])])
    assert broken_line_task_problem(ws, bucket, trial) == ""
