"""IAM, thing groups and Lambda runtimes as AWS has them, driven with the AWS CLI.

Each test ends by checking that the lab still answers.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from awscli import AWS, Cli
from labfixture import unique

pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv (pip install awscli)")

TRUST_IOT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
TRUST_LAMBDA = TRUST_IOT.replace("iot.amazonaws.com", "lambda.amazonaws.com")
IOT_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["*"]}]})


@pytest.fixture
def aws(lab):
    cli = Cli(lab)
    yield cli
    cli.assert_serving()


# -- IAM ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arn", [
    "arn:aws:iam::aws:policy/service-role/AWSIoTLogging",
    "arn:aws:iam::aws:policy/service-role/AWSIoTThingsRegistration",
    "arn:aws:iam::aws:policy/service-role/AWSIoTRuleActions",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
])
def test_aws_managed_policies_exist(aws, arn):
    policy = aws("iam", "get-policy", "--policy-arn", arn)["Policy"]
    assert policy["Arn"] == arn and policy["Path"] == "/service-role/"
    version = aws.client("iam").get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert version["Document"]["Statement"]


def test_an_aws_managed_policy_attaches_to_a_role_and_detaches(aws):
    role = unique("logging-role")
    arn = "arn:aws:iam::aws:policy/service-role/AWSIoTLogging"
    aws.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_IOT)
    aws("iam", "attach-role-policy", "--role-name", role, "--policy-arn", arn)
    attached = aws("iam", "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSIoTLogging", "PolicyArn": arn}]
    error = aws.fails("iam", "delete-role", "--role-name", role)
    assert "DeleteConflict" in error.stderr
    aws("iam", "detach-role-policy", "--role-name", role, "--policy-arn", arn)
    aws("iam", "delete-role", "--role-name", role)


def test_attaching_a_policy_that_does_not_exist_is_refused(aws):
    role = unique("role")
    aws.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_IOT)
    error = aws.fails("iam", "attach-role-policy", "--role-name", role, "--policy-arn",
                      "arn:aws:iam::aws:policy/service-role/NoSuchPolicyAnywhere")
    assert "NoSuchEntity" in error.stderr


def test_inline_policies_may_omit_version_but_managed_policies_may_not(aws):
    role = unique("inline")
    iam = aws.client("iam")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    no_version = {"Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "logs", "--policy-document", json.dumps(no_version))
    assert iam.get_role_policy(RoleName=role, PolicyName="logs")["PolicyDocument"] == no_version
    old_version = {"Version": "2008-10-17", **no_version}
    aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "old", "--policy-document", json.dumps(old_version))
    error = aws.fails("iam", "put-role-policy", "--role-name", role, "--policy-name", "bad",
                      "--policy-document", json.dumps({"Version": "2010-01-01", **no_version}))
    assert "MalformedPolicyDocument" in error.stderr
    error = aws.fails("iam", "create-policy", "--policy-name", unique("managed"), "--policy-document", json.dumps(no_version))
    assert "MalformedPolicyDocument" in error.stderr and "2012-10-17" in error.stderr
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["logs", "old"]


# -- thing groups and their policies --------------------------------------------------------------
def test_deleting_a_thing_group_removes_its_policy_attachments(aws):
    group, policy = unique("building"), unique("SmartBuilding_Policy")
    iot = aws.client("iot")
    arn = aws("iot", "create-thing-group", "--thing-group-name", group)["thingGroupArn"]
    iot.create_policy(policyName=policy, policyDocument=IOT_POLICY)
    aws("iot", "attach-policy", "--target", arn, "--policy-name", policy)
    aws("iot", "delete-thing-group", "--thing-group-name", group)

    assert iot.list_targets_for_policy(policyName=policy)["targets"] == []
    again = aws("iot", "create-thing-group", "--thing-group-name", group)["thingGroupArn"]
    assert again == arn  # same name, same ARN ...
    assert aws("iot", "list-attached-policies", "--target", again)["policies"] == []  # ... but a clean start
    aws("iot", "delete-policy", "--policy-name", policy)
    iot.delete_thing_group(thingGroupName=group)


def test_the_classic_workshop_clean_up_order_works(aws):
    """Detach the policy from the group, delete the group, delete the policy."""
    group, policy = unique("building-one"), unique("SmartBuilding_Policy")
    iot = aws.client("iot")
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    iot.create_policy(policyName=policy, policyDocument=IOT_POLICY)
    iot.attach_policy(policyName=policy, target=arn)
    aws("iot", "detach-policy", "--target", arn, "--policy-name", policy)
    aws("iot", "delete-thing-group", "--thing-group-name", group)
    aws("iot", "delete-policy", "--policy-name", policy)
    assert aws.error_code(iot.get_policy, policyName=policy) == "ResourceNotFoundException"
    assert aws.error_code(iot.describe_thing_group, thingGroupName=group) == "ResourceNotFoundException"


def test_a_policy_attached_to_a_group_still_cannot_be_deleted(aws):
    group, policy = unique("attached"), unique("policy")
    iot = aws.client("iot")
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    iot.create_policy(policyName=policy, policyDocument=IOT_POLICY)
    iot.attach_policy(policyName=policy, target=arn)
    error = aws.fails("iot", "delete-policy", "--policy-name", policy)
    assert "DeleteConflictException" in error.stderr
    assert iot.list_targets_for_policy(policyName=policy)["targets"] == [arn]


# -- Lambda runtimes ------------------------------------------------------------------------------
def function_zip(tmp_path) -> str:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    path = tmp_path / "function.zip"
    path.write_bytes(archive.getvalue())
    return f"fileb://{path}"


def test_create_function_refuses_a_runtime_aws_no_longer_accepts_and_stores_nothing(aws, tmp_path):
    role = aws.client("iam").create_role(RoleName=unique("fn-role"), AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]
    name = unique("old-runtime")
    args = ("lambda", "create-function", "--function-name", name, "--role", role, "--handler",
            "lambda_function.lambda_handler", "--zip-file", function_zip(tmp_path))
    error = aws.fails(*args, "--runtime", "python3.7")
    assert "InvalidParameterValueException" in error.stderr
    assert ("The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use a supported runtime while creating or updating functions.") in error.stderr
    assert aws.error_code(aws.client("lambda").get_function, FunctionName=name) == "ResourceNotFoundException"
    created = aws(*args, "--runtime", "python3.12")
    assert created["Runtime"] == "python3.12"
    aws.client("lambda").delete_function(FunctionName=name)
