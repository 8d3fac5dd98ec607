"""What a CloudFormation template says about its resources: references, order, capabilities."""

from __future__ import annotations

import pytest

from localcore.aws.stack_template import (
    CAPABILITY_IAM,
    CAPABILITY_NAMED_IAM,
    TemplateError,
    creation_order,
    dependencies,
    dependencies_closure,
    missing_capability,
    references,
    required_capability,
)


@pytest.mark.parametrize("fragment, expected", [
    ({"Ref": "Vpc"}, {"Vpc"}),
    ({"Fn::GetAtt": ["Role", "Arn"]}, {"Role"}),
    ({"Fn::GetAtt": "Role.Arn"}, {"Role"}),
    ({"Fn::Sub": "arn:aws:s3:::${Bucket}/*"}, {"Bucket"}),
    ({"Fn::Sub": "${Role.Arn} in ${AWS::Region}"}, {"Role", "AWS::Region"}),
    ({"Fn::Sub": "${!Literal} and ${Real}"}, {"Real"}),
    ({"Fn::Sub": ["${Local}-${Prefix}", {"Local": {"Ref": "Bucket"}}]}, {"Prefix", "Bucket"}),
    ({"Fn::Join": ["", [{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}]]}, {"A", "B"}),
    ({"Properties": {"Tags": [{"Key": "k", "Value": "Ref"}]}}, set()),
    ("plain", set()),
])
def test_references_follow_ref_getatt_and_sub(fragment, expected):
    assert references(fragment) == expected


def bucket(**extra):
    return {"Type": "AWS::S3::Bucket", **extra}


def test_dependencies_come_from_references_and_depends_on():
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC"},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Route": {"Type": "AWS::EC2::Route", "DependsOn": "Subnet", "Properties": {"Cidr": {"Ref": "Cidr"}}},
        "Other": bucket(DependsOn=["Vpc", "Route"]),
    }
    assert dependencies(resources, parameters=["Cidr"]) == {
        "Vpc": [], "Subnet": ["Vpc"], "Route": ["Subnet"], "Other": ["Vpc", "Route"],
    }


@pytest.mark.parametrize("resources, expected", [
    ({"A": bucket(), "B": bucket(), "C": bucket()}, ["A", "B", "C"]),
    ({"A": bucket(Properties={"X": {"Ref": "C"}}), "B": bucket(), "C": bucket()}, ["B", "C", "A"]),
    ({"A": bucket(DependsOn="B"), "B": bucket(DependsOn="C"), "C": bucket()}, ["C", "B", "A"]),
    ({"Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role"}]}},
      "Role": {"Type": "AWS::IAM::Role"},
      "Bucket": bucket(Properties={"Name": {"Fn::Sub": "${Role.Arn}"}})}, ["Role", "Policy", "Bucket"]),
    ({"Self": bucket(Properties={"Name": {"Fn::Sub": "${AWS::StackName}"}})}, ["Self"]),
])
def test_creation_order_puts_dependencies_first_and_keeps_template_order(resources, expected):
    assert creation_order(resources) == expected


@pytest.mark.parametrize("resources, parameters, message", [
    ({"A": bucket(Properties={"X": {"Ref": "Missing"}})}, [],
     "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"),
    ({"A": bucket(DependsOn="Nope")}, [],
     "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"),
    ({"A": bucket(DependsOn="Param")}, ["Param"],
     "Template format error: Unresolved resource dependencies [Param] in the Resources block of the template"),
    ({"A": bucket(Properties={"X": {"Fn::GetAtt": ["Ghost", "Arn"]}})}, [],
     "Template format error: Unresolved resource dependencies [Ghost] in the Resources block of the template"),
    ({"A": bucket(DependsOn="B"), "B": bucket(DependsOn="A")}, [], "Circular dependency between resources: [A, B]"),
    ({"Z": bucket(), "A": bucket(DependsOn="C"), "B": bucket(DependsOn="A"), "C": bucket(Properties={"X": {"Ref": "B"}})},
     [], "Circular dependency between resources: [A, B, C]"),
])
def test_unresolved_references_and_cycles_are_template_errors(resources, parameters, message):
    with pytest.raises(TemplateError) as raised:
        creation_order(resources, parameters)
    assert str(raised.value) == message


def test_parameters_and_pseudo_parameters_are_not_resources():
    resources = {"A": bucket(Properties={"Name": {"Ref": "Prefix"}, "Region": {"Ref": "AWS::Region"}})}
    assert dependencies(resources, parameters=["Prefix"]) == {"A": []}


def test_dependencies_closure_is_transitive():
    graph = {"Instance": ["Subnet", "Group"], "Subnet": ["Vpc"], "Group": ["Vpc"], "Vpc": [], "Other": []}
    assert dependencies_closure(graph, "Instance") == {"Instance", "Subnet", "Group", "Vpc"}
    assert dependencies_closure(graph, "Vpc") == {"Vpc"}


ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
NAMED_ROLE = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "${Prefix}-role"}}}


@pytest.mark.parametrize("resources, needed", [
    ({"B": bucket()}, None),
    ({"R": ROLE}, CAPABILITY_IAM),
    ({"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "inline-is-not-a-custom-name"}}}, CAPABILITY_IAM),
    ({"K": {"Type": "AWS::IAM::AccessKey"}}, CAPABILITY_IAM),
    ({"R": ROLE, "N": NAMED_ROLE}, CAPABILITY_NAMED_IAM),
    ({"U": {"Type": "AWS::IAM::User", "Properties": {"UserName": "u"}}}, CAPABILITY_NAMED_IAM),
    ({"G": {"Type": "AWS::IAM::Group", "Properties": {"GroupName": "g"}}}, CAPABILITY_NAMED_IAM),
    ({"I": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"InstanceProfileName": "i"}}}, CAPABILITY_NAMED_IAM),
    ({"M": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "m"}}}, CAPABILITY_NAMED_IAM),
    ({"M": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {}}}, CAPABILITY_IAM),
])
def test_required_capability_follows_the_api_reference(resources, needed):
    assert required_capability(resources) == needed


@pytest.mark.parametrize("resources, granted, missing", [
    ({"B": bucket()}, [], None),
    ({"R": ROLE}, [], CAPABILITY_IAM),
    ({"R": ROLE}, [CAPABILITY_IAM], None),
    ({"R": ROLE}, [CAPABILITY_NAMED_IAM], None),
    ({"R": ROLE}, ["CAPABILITY_AUTO_EXPAND"], CAPABILITY_IAM),
    ({"N": NAMED_ROLE}, [], CAPABILITY_NAMED_IAM),
    ({"N": NAMED_ROLE}, [CAPABILITY_IAM], CAPABILITY_NAMED_IAM),
    ({"N": NAMED_ROLE}, [CAPABILITY_NAMED_IAM], None),
])
def test_missing_capability(resources, granted, missing):
    assert missing_capability(resources, granted) == missing


def test_the_workshop_template_needs_named_iam_and_has_an_order():
    from pathlib import Path

    from moto.cloudformation.models import Stack

    template = Stack.parse_template((Path(__file__).parents[2] / "cfn" / "iot-dm-workshop.yaml").read_text())
    resources = template["Resources"]
    assert required_capability(resources) == CAPABILITY_NAMED_IAM
    order = creation_order(resources, template["Parameters"])
    assert order.index("WorkshopBucket") < order.index("ProvisioningRole")  # the role's policy names the bucket
