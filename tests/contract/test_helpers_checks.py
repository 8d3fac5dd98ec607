"""helpers.checks against the lab: an exercise is found done by what is there, however it was written."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import make_csr, new_key, save_device
from helpers.checks import (broken_line_task_problem, button_policy_problem, certificates_of,
                            provisioned_device_problem, strict_logging_role_problem)
from helpers.provisioning import follow_task
from test_helpers_lab import connect_to


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


def button_with(ws, statements, *, active=True) -> str:
    button = f"button-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing(thingName=button)
    certificate = ws.iot.create_keys_and_certificate(setAsActive=active)
    ws.iot.attach_thing_principal(thingName=button, principal=certificate["certificateArn"])
    if statements:
        arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": effect, "Action": action, "Resource": resource.format(arn=arn, button=button)}
            for effect, action, resource in statements]}
        ws.iot.create_policy(policyName=f"{button}-p", policyDocument=json.dumps(document))
        ws.iot.attach_policy(policyName=f"{button}-p", target=certificate["certificateArn"])
    return button


NARROW = [("Allow", "iot:Connect", "{arn}:client/{button}"), ("Allow", "iot:Publish", "{arn}:topic/iotbutton/{button}")]


@pytest.mark.parametrize("statements, active, done", [
    (NARROW, True, True),
    ([("Allow", ["iot:Connect", "iot:Publish"], "{arn}:*")], True, False),  # allow-all: publishes anywhere
    ([("Allow", "iot:Connect", "{arn}:client/*"), NARROW[1]], True, False),  # any client id
    ([("Allow", "iot:Connect", "{arn}:topic/iotbutton/{button}"), NARROW[1]], True, False),  # the blog's mistake
    ([*NARROW, ("Allow", "iot:Publish", "{arn}:topic/*"), ("Deny", "iot:Publish", "{arn}:topic/iot/ws")], True, True),
    (NARROW, False, False),  # inactive certificate
    ([], True, False),  # no policy
])
def test_the_button_exercise_is_done_only_when_the_policy_is_right(ws, statements, active, done):
    button = button_with(ws, statements, active=active)
    problem = button_policy_problem(ws, button, f"iotbutton/{button}", "iot/ws")
    assert (problem == "") is done, problem


def test_a_missing_button_says_so(ws):
    assert "does not exist yet" in button_policy_problem(ws, "no-such-button", "iotbutton/x", "iot/ws")
    assert certificates_of(ws, "no-such-button") == []


# -- chapter 00: a role that only this account's AWS IoT may assume, and that may write its logs


def role_with(ws, prefix, condition=None, *, service="iot.amazonaws.com", permissions="inline"):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    name = f"{prefix}role"
    ws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                          "Statement": [statement]}))
    if permissions == "inline":
        ws.iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "arn:aws:logs:*:*:log-group:AWSIotLogsV2*",
                                                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}]}))
    elif permissions == "managed":
        ws.iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSIoTLogging")
    return name


def mine(ws):
    return {"StringEquals": {"aws:SourceAccount": ws.account_id}}


@pytest.mark.parametrize("make, done, says", [
    (lambda ws, p: None, False, "lets AWS IoT assume it yet"),
    (lambda ws, p: role_with(ws, p), False, "acting for any account"),  # the stack's trust, copied
    (lambda ws, p: role_with(ws, p, mine(ws)), True, ""),
    (lambda ws, p: role_with(ws, p, {"ArnLike": {"aws:SourceArn": f"arn:aws:iot:*:{ws.account_id}:*"}},
                             permissions="managed"), True, ""),
    (lambda ws, p: role_with(ws, p, mine(ws), permissions=None), False, "may not write to AWSIotLogsV2"),
    (lambda ws, p: role_with(ws, p, mine(ws), service="lambda.amazonaws.com"), False, "lets AWS IoT assume it yet"),
    (lambda ws, p: role_with(ws, p, {"StringEquals": {"aws:SourceAccount": "111122223333"}}), False,
     "lets AWS IoT assume it yet"),  # a stranger's account only
])
def test_the_strict_logging_role_is_done_only_when_it_is_strict_and_may_log(ws, make, done, says):
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    make(ws, prefix)
    problem = strict_logging_role_problem(ws, prefix)
    assert (problem == "") is done, problem
    assert says in problem


# -- chapter 02: a device provisioned with given attributes, its certificate saved and usable


def device_with(ws, *, attributes=None, active=True, policy=True, saved="attached"):
    thing = f"third-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing(thingName=thing, attributePayload={"attributes": attributes or {"serialNumber": "3", "version": "v2"}})
    key = new_key("ec")
    certificate = ws.iot.create_certificate_from_csr(certificateSigningRequest=make_csr(key, thing), setAsActive=True)
    if not active:
        ws.iot.update_certificate(certificateId=certificate["certificateId"], newStatus="INACTIVE")
    if policy:
        arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
        ws.iot.create_policy(policyName=f"{thing}-p", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{thing}"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{arn}:topic/iot/ws"}]}))
        ws.iot.attach_policy(policyName=f"{thing}-p", target=certificate["certificateArn"])
    if saved != "detached":
        ws.iot.attach_thing_principal(thingName=thing, principal=certificate["certificateArn"])
    if saved is not None:
        save_device(ws, thing, certificate["certificatePem"], key)
    return thing


@pytest.mark.parametrize("options, says", [
    ({}, ""),
    ({"attributes": {"serialNumber": "3", "version": "v1"}}, "version=v1; wanted: serialNumber=3, version=v2"),
    ({"saved": None}, "are saved in the work folder"),
    ({"saved": "detached"}, "is not attached"),
    ({"active": False}, "is not ACTIVE"),
    ({"policy": False}, "no policy lets"),
])
def test_the_third_device_is_done_only_when_it_can_publish_as_itself(ws, options, says):
    thing = device_with(ws, **options)
    problem = provisioned_device_problem(ws, thing, {"serialNumber": "3", "version": "v2"}, "iot/ws")
    assert (problem == "") is (says == ""), problem
    assert says in problem


def test_a_missing_device_says_so(ws):
    assert provisioned_device_problem(ws, "no-such-third", {"version": "v2"}, "iot/ws") == "no-such-third does not exist yet"


# -- chapter 03: a bulk task that provisioned the good lines and reported the broken one

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
