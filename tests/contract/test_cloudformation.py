"""CloudFormation as AWS runs it, driven with the AWS CLI: capabilities, events, rollback, deletion.

Each test ends by checking that the lab still answers.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from awscli import AWS, Cli
from labfixture import unique

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv (pip install awscli)")

TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def aws(lab):
    cli = Cli(lab)
    yield cli
    cli.assert_serving()


def body(template: dict) -> str:
    return json.dumps(template)


def stack_names(aws) -> dict[str, str]:
    """Name -> status of every stack ListStacks shows that is not deleted."""
    return {s["StackName"]: s["StackStatus"] for s in aws.client("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"}


# -- capabilities ---------------------------------------------------------------------------------
def test_a_template_with_an_iam_role_needs_capability_iam_and_nothing_is_created_without_it(aws):
    name = unique("caps")
    template = body({"Resources": {"Role": {"Type": "AWS::IAM::Role",
                                            "Properties": {"AssumeRolePolicyDocument": TRUST_LAMBDA}}}})
    error = aws.fails("cloudformation", "create-stack", "--stack-name", name, "--template-body", template)
    assert "InsufficientCapabilitiesException" in error.stderr
    assert "Requires capabilities : [CAPABILITY_IAM]" in error.stderr
    assert name not in stack_names(aws)
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", template,
        "--capabilities", "CAPABILITY_IAM")
    assert aws.wait_stack(name, ("CREATE_COMPLETE",))["StackStatus"] == "CREATE_COMPLETE"


def test_the_workshop_template_names_its_roles_so_it_needs_capability_named_iam(aws):
    name = unique("ws-caps")
    args = ("cloudformation", "create-stack", "--stack-name", name, "--template-body",
            f"file://{ROOT / 'cfn' / 'iot-dm-workshop.yaml'}", "--parameters", f"ParameterKey=Prefix,ParameterValue={name}")
    for granted in ((), ("--capabilities", "CAPABILITY_IAM")):
        error = aws.fails(*args, *granted)
        assert "Requires capabilities : [CAPABILITY_NAMED_IAM]" in error.stderr
    assert name not in stack_names(aws)
    aws(*args, "--capabilities", "CAPABILITY_NAMED_IAM")
    assert aws.wait_stack(name, ("CREATE_COMPLETE",))["StackStatus"] == "CREATE_COMPLETE"
    aws.client("cloudformation").delete_stack(StackName=name)


def test_update_stack_and_change_sets_check_capabilities_too(aws):
    name = unique("caps-upd")
    aws.client("cloudformation").create_stack(
        StackName=name, TemplateBody=body({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))
    with_role = body({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Role": {
        "Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": TRUST_LAMBDA}}}})
    error = aws.fails("cloudformation", "update-stack", "--stack-name", name, "--template-body", with_role)
    assert "Requires capabilities : [CAPABILITY_NAMED_IAM]" in error.stderr
    error = aws.fails("cloudformation", "create-change-set", "--stack-name", unique("cs"), "--change-set-name", "c1",
                      "--change-set-type", "CREATE", "--template-body", with_role, "--capabilities", "CAPABILITY_IAM")
    assert "Requires capabilities : [CAPABILITY_NAMED_IAM]" in error.stderr


# -- IAM resources --------------------------------------------------------------------------------
def test_an_inline_policy_without_version_and_managed_policy_arns_are_created_and_deleted(aws):
    name = unique("iam-stack")
    template = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST_LAMBDA,
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                  {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTLogging"}]}},
        "Inline": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "no-version", "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}]}}},
    }, "Outputs": {"RoleName": {"Value": {"Ref": "Role"}}}}
    iam = aws.client("iam")
    logging_arn = "arn:aws:iam::aws:policy/service-role/AWSIoTLogging"
    # Other tests on this lab may hold the AWS-managed policy too: count relative to before.
    attachments_before = iam.get_policy(PolicyArn=logging_arn)["Policy"]["AttachmentCount"]
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(template),
        "--capabilities", "CAPABILITY_IAM")
    stack = aws.wait_stack(name, ("CREATE_COMPLETE",))
    role = stack["Outputs"][0]["OutputValue"]
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        "arn:aws:iam::aws:policy/service-role/AWSIoTLogging"}
    assert iam.get_policy(PolicyArn=logging_arn)["Policy"]["AttachmentCount"] == attachments_before + 1
    document = iam.get_role_policy(RoleName=role, PolicyName="no-version")["PolicyDocument"]
    assert document == template["Resources"]["Inline"]["Properties"]["PolicyDocument"]

    aws("cloudformation", "delete-stack", "--stack-name", stack["StackId"])
    assert aws.wait_stack(stack["StackId"], ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    assert aws.error_code(iam.get_role, RoleName=role) == "NoSuchEntity"
    assert iam.get_policy(PolicyArn=logging_arn)["Policy"]["AttachmentCount"] == attachments_before


def test_an_unknown_managed_policy_arn_fails_the_role_and_rolls_back(aws):
    name = unique("bad-arn")
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Role": {
        "Type": "AWS::IAM::Role", "DependsOn": "Bucket", "Properties": {
            "AssumeRolePolicyDocument": TRUST_LAMBDA,
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"]}}}}
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(template),
        "--capabilities", "CAPABILITY_IAM")
    aws.wait_stack(name, ("ROLLBACK_COMPLETE",))
    failed = [e for e in aws.events(name) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Role"]
    assert "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere does not exist or is not attachable" in failed[0]["ResourceStatusReason"]
    assert not [r for r in aws.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(f"{name}-Role")]


# -- failure, events and rollback -----------------------------------------------------------------
def failing_template(bucket_logical_id: str = "Bucket") -> dict:
    """A bucket, then an IoT policy whose document IoT refuses (it needs the bucket first)."""
    return {"Resources": {
        bucket_logical_id: {"Type": "AWS::S3::Bucket"},
        "DevicePolicy": {"Type": "AWS::IoT::Policy", "DependsOn": bucket_logical_id, "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
    }, "Outputs": {"Bucket": {"Value": {"Ref": bucket_logical_id}}}}


def test_a_failing_resource_rolls_the_stack_back_with_events_naming_it(aws):
    name = unique("fails")
    stack_id = aws("cloudformation", "create-stack", "--stack-name", name,
                   "--template-body", body(failing_template()))["StackId"]
    stack = aws.wait_stack(name, ("ROLLBACK_COMPLETE",))
    assert "Outputs" not in stack
    events = aws.events(name)
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    assert statuses[:5] == [(name, "CREATE_IN_PROGRESS"), ("Bucket", "CREATE_IN_PROGRESS"),
                            ("Bucket", "CREATE_COMPLETE"), ("DevicePolicy", "CREATE_IN_PROGRESS"),
                            ("DevicePolicy", "CREATE_FAILED")]
    assert statuses[-3:] == [("Bucket", "DELETE_IN_PROGRESS"), ("Bucket", "DELETE_COMPLETE"), (name, "ROLLBACK_COMPLETE")]
    failure = events[4]
    assert failure["ResourceType"] == "AWS::IoT::Policy"
    assert "Statement" in failure["ResourceStatusReason"] and "Status Code: 400" in failure["ResourceStatusReason"]
    rollback = next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rollback["ResourceStatusReason"] == ("The following resource(s) failed to create: [DevicePolicy]. "
                                                "Rollback requested by user.")
    bucket = next(e["PhysicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE" and e["LogicalResourceId"] == "Bucket")
    assert bucket not in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert stack_names(aws)[name] == "ROLLBACK_COMPLETE"  # listed until deleted, as on AWS
    error = aws.fails("cloudformation", "update-stack", "--stack-name", name, "--template-body", body(failing_template()))
    assert "ROLLBACK_COMPLETE state and can not be updated" in error.stderr
    aws("cloudformation", "delete-stack", "--stack-name", name)
    assert aws.wait_stack(stack_id, ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    assert name not in stack_names(aws)


def test_disable_rollback_leaves_the_stack_create_failed_with_what_was_created(aws):
    name = unique("no-rollback")
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(failing_template()),
        "--disable-rollback")
    stack = aws.wait_stack(name, ("CREATE_FAILED",))
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [DevicePolicy]. "
    resources = aws.client("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    assert [r["LogicalResourceId"] for r in resources] == ["Bucket"]
    aws.client("s3").head_bucket(Bucket=resources[0]["PhysicalResourceId"])
    aws.client("cloudformation").delete_stack(StackName=name)
    assert name not in stack_names(aws)


def test_on_failure_delete_removes_the_stack_after_the_rollback(aws):
    name = unique("on-failure-delete")
    stack_id = aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(failing_template()),
                   "--on-failure", "DELETE")["StackId"]
    assert aws.wait_stack(stack_id, ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    assert "ROLLBACK_COMPLETE" in [e["ResourceStatus"] for e in aws.events(stack_id)]


def test_a_resource_type_the_lab_cannot_create_fails_with_a_reason_saying_so(aws):
    name = unique("unsupported")
    template = {"Resources": {"Broker": {"Type": "AWS::AmazonMQ::Broker", "Properties": {}}}}
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(template))
    aws.wait_stack(name, ("ROLLBACK_COMPLETE",))
    failed = next(e for e in aws.events(name) if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["LogicalResourceId"] == "Broker"
    assert "cannot create resources of type AWS::AmazonMQ::Broker" in failed["ResourceStatusReason"]


@pytest.mark.parametrize("resources, message", [
    ({"A": {"Type": "AWS::S3::Bucket", "DependsOn": "Missing"}},
     "Unresolved resource dependencies [Missing] in the Resources block of the template"),
    ({"A": {"Type": "AWS::S3::Bucket", "DependsOn": "B"}, "B": {"Type": "AWS::S3::Bucket", "DependsOn": "A"}},
     "Circular dependency between resources: [A, B]"),
])
def test_a_template_whose_references_go_nowhere_is_refused_before_anything_is_stored(aws, resources, message):
    name = unique("invalid")
    error = aws.fails("cloudformation", "create-stack", "--stack-name", name, "--template-body",
                      body({"Resources": resources}))
    assert "ValidationError" in error.stderr and message in error.stderr
    assert name not in stack_names(aws)


def test_cloudformation_deploy_creates_through_a_change_set_and_reports_a_failure(aws, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(body({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))
    bad.write_text(body(failing_template()))
    name = unique("deploy")
    aws("cloudformation", "deploy", "--stack-name", name, "--template-file", str(good))
    assert aws.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    failing = unique("deploy-fails")
    aws.fails("cloudformation", "deploy", "--stack-name", failing, "--template-file", str(bad))
    assert aws.wait_stack(failing, ("ROLLBACK_COMPLETE",))["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "DevicePolicy" in [e["LogicalResourceId"] for e in aws.events(failing) if e["ResourceStatus"] == "CREATE_FAILED"]


# -- IoT policies ---------------------------------------------------------------------------------
def test_an_iot_policy_written_as_a_json_object_reads_back_as_json(aws):
    name = unique("iot-policy")
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["arn:aws:iot:*:*:client/${iot:ClientId}"]}]}
    template = {"Resources": {"Policy": {"Type": "AWS::IoT::Policy", "Properties": {
        "PolicyName": name, "PolicyDocument": document}}}}
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", body(template))
    aws.wait_stack(name, ("CREATE_COMPLETE",))
    stored = aws("iot", "get-policy", "--policy-name", name)["policyDocument"]
    assert json.loads(stored) == document
    aws.client("cloudformation").delete_stack(StackName=name)
    assert aws.error_code(aws.client("iot").get_policy, policyName=name) == "ResourceNotFoundException"


# -- deletion -------------------------------------------------------------------------------------
VPC_TEMPLATE = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.20.0.0/16}
  Gateway:
    Type: AWS::EC2::InternetGateway
  GatewayAttachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.1.0/24}
  RouteTable:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  DefaultRoute:
    Type: AWS::EC2::Route
    DependsOn: GatewayAttachment
    Properties: {RouteTableId: !Ref RouteTable, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Gateway}
  SubnetRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref Subnet, RouteTableId: !Ref RouteTable}
  SecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: ssh in, VpcId: !Ref Vpc}
  Instance:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-12c6146b, InstanceType: t2.micro, SubnetId: !Ref Subnet, SecurityGroupIds: [!Ref SecurityGroup]}
Outputs:
  VpcId: {Value: !Ref Vpc}
"""


def test_a_vpc_stack_is_deleted_in_dependency_order_and_the_vpc_goes(aws):
    name = unique("vpc")
    stack_id = aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", VPC_TEMPLATE)["StackId"]
    vpc = aws.wait_stack(name, ("CREATE_COMPLETE",))["Outputs"][0]["OutputValue"]
    aws("cloudformation", "delete-stack", "--stack-name", name)
    assert aws.wait_stack(stack_id, ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    deleted = [e["LogicalResourceId"] for e in aws.events(stack_id) if e["ResourceStatus"] == "DELETE_COMPLETE"
               and e["ResourceType"] != "AWS::CloudFormation::Stack"]
    assert deleted.index("Instance") < deleted.index("Subnet") < deleted.index("Vpc")
    assert deleted.index("SubnetRoutes") < deleted.index("RouteTable")
    assert deleted.index("DefaultRoute") < deleted.index("GatewayAttachment") < deleted.index("Gateway")
    assert sorted(deleted) == sorted(["Vpc", "Gateway", "GatewayAttachment", "Subnet", "RouteTable", "DefaultRoute",
                                      "SubnetRoutes", "SecurityGroup", "Instance"])
    assert vpc not in [v["VpcId"] for v in aws.client("ec2").describe_vpcs()["Vpcs"]]
    assert name not in stack_names(aws)


BUCKET_TEMPLATE = body({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
                        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}}})


def test_a_stack_whose_bucket_holds_objects_stays_delete_failed_until_the_bucket_is_emptied(aws):
    name = unique("full-bucket")
    stack_id = aws.client("cloudformation").create_stack(StackName=name, TemplateBody=BUCKET_TEMPLATE)["StackId"]
    bucket = aws.wait_stack(name, ("CREATE_COMPLETE",))["Outputs"][0]["OutputValue"]
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="input.json", Body=b"{}")

    aws("cloudformation", "delete-stack", "--stack-name", name)
    stack = aws.wait_stack(name, ("DELETE_FAILED",))
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    assert stack_names(aws)[name] == "DELETE_FAILED"
    failed = next(e for e in aws.events(name) if e["ResourceStatus"] == "DELETE_FAILED" and e["LogicalResourceId"] == "Bucket")
    assert "The bucket you tried to delete is not empty" in failed["ResourceStatusReason"]
    assert s3.get_object(Bucket=bucket, Key="input.json")["Body"].read() == b"{}"  # nothing lost

    s3.delete_object(Bucket=bucket, Key="input.json")
    aws("cloudformation", "delete-stack", "--stack-name", name)
    assert aws.wait_stack(stack_id, ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_retain_resources_lets_a_delete_failed_stack_go_and_keeps_the_resource(aws):
    name = unique("retain")
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=BUCKET_TEMPLATE)["StackId"]
    bucket = aws.wait_stack(name, ("CREATE_COMPLETE",))["Outputs"][0]["OutputValue"]
    error = aws.fails("cloudformation", "delete-stack", "--stack-name", name, "--retain-resources", "Bucket")
    assert "ValidationError" in error.stderr and "DELETE_FAILED" in error.stderr
    assert aws.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    cfn.delete_stack(StackName=name)
    aws.wait_stack(name, ("DELETE_FAILED",))
    aws("cloudformation", "delete-stack", "--stack-name", name, "--retain-resources", "Bucket")
    assert aws.wait_stack(stack_id, ("DELETE_COMPLETE",))["StackStatus"] == "DELETE_COMPLETE"
    assert ("Bucket", "DELETE_SKIPPED") in [(e["LogicalResourceId"], e["ResourceStatus"]) for e in aws.events(stack_id)]
    assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"x"


# -- the kit's own stack helper -------------------------------------------------------------------
def test_the_kits_deploy_stack_reports_the_failed_resource_then_replaces_the_rolled_back_stack(aws, lab, tmp_path):
    from helpers.workshop import StackDeployError, connect

    prefix = f"cfn{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as env:
        for variable in ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT"):
            env.setenv(variable, lab.env[variable])
        env.delenv("WORKSHOP_BACKEND", raising=False)
        ws = connect(prefix=prefix, work_dir=tmp_path / "work")
    workshop = (ROOT / "cfn" / "iot-dm-workshop.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(workshop.replace('Action: ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"]',
                                       "Action: []"))
    assert broken.read_text() != workshop
    with pytest.raises(StackDeployError) as raised:
        ws.deploy_stack(template=broken, timeout=60)
    assert "ROLLBACK_COMPLETE" in str(raised.value) and "DevicePolicy (AWS::IoT::Policy) CREATE_FAILED" in str(raised.value)
    outputs = ws.deploy_stack(timeout=60)  # the rolled-back stack is deleted and the stack created again
    assert aws.stack(ws.stack_name)["StackStatus"] == "CREATE_COMPLETE"
    assert ws.iot.get_policy(policyName=outputs["IoTPolicy"])["policyName"] == outputs["IoTPolicy"]
    ws.cloudformation.delete_stack(StackName=ws.stack_name)
    assert ws.stack_name not in stack_names(aws)


# -- a renamed bucket (the workshop stack named its bucket in issue 10) ------------------------------
def named_bucket(name: str | None) -> str:
    bucket = {"Type": "AWS::S3::Bucket", **({"Properties": {"BucketName": name}} if name else {})}
    return body({"Resources": {"Bucket": bucket}, "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}}})


@pytest.mark.parametrize("holds_objects", [True, False], ids=["old-bucket-holds-objects", "old-bucket-empty"])
def test_an_update_that_renames_the_bucket_replaces_it_once(aws, holds_objects):
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    name, new_bucket = unique("rename"), unique("renamed-bucket")
    cfn.create_stack(StackName=name, TemplateBody=named_bucket(None))
    old_bucket = aws.wait_stack(name, ("CREATE_COMPLETE",))["Outputs"][0]["OutputValue"]
    if holds_objects:
        s3.put_object(Bucket=old_bucket, Key="input.json", Body=b"{}")

    cfn.update_stack(StackName=name, TemplateBody=named_bucket(new_bucket))

    stack = aws.wait_stack(name, ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"))
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == new_bucket
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert new_bucket in buckets
    # The old bucket goes when it can; one holding objects stays, objects and all.
    assert (old_bucket in buckets) is holds_objects
    if holds_objects:
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=old_bucket)["Contents"]] == ["input.json"]
        s3.delete_object(Bucket=old_bucket, Key="input.json")
        s3.delete_bucket(Bucket=old_bucket)
    cfn.delete_stack(StackName=name)
