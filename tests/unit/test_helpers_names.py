"""helpers.names: topic rule names and the stack's globally unique bucket name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.names import bucket_name, bucket_name_problem, rule_name
from helpers.workshop import stack_prefix

TEMPLATE = Path(__file__).resolve().parents[2] / "cfn" / "iot-dm-workshop.yaml"
ACCOUNT = "123456789012"
# The longest region names AWS has (14 characters) and a few ordinary ones.
REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-5", "us-gov-east-1", "cn-northwest-1")


@pytest.mark.parametrize(("name", "expected"), [
    ("JITRRule", "JITRRule"),
    ("anna-JITRRule", "anna_JITRRule"),
    ("Team_7.b-JITRRule", "Team_7_b_JITRRule"),
    ("ben-", "ben_"),
])
def test_rule_names_keep_only_letters_digits_and_underscores(name, expected):
    assert rule_name(name) == expected


@pytest.mark.parametrize(("stack_prefix_value", "account", "region", "expected"), [
    ("anna", ACCOUNT, "eu-west-1", "iotdm-anna-123456789012-eu-west-1"),
    ("iotdm", "000000000000", "us-east-1", "iotdm-iotdm-000000000000-us-east-1"),
])
def test_the_bucket_name_holds_prefix_account_and_region(stack_prefix_value, account, region, expected):
    assert bucket_name(stack_prefix_value, account, region) == expected


# Whatever a trainee's prefix, the bucket name the stack makes from it obeys S3's rules.
PREFIXES = ["", "anna-", "ANNA", "Bob_2", "a" * 20, "x" * 19 + "-", "xn--evil", "sthree-", "7up", "a--b", "__"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("region", REGIONS)
def test_every_trainees_bucket_name_is_valid(prefix, region):
    name = bucket_name(stack_prefix(prefix), ACCOUNT, region)
    assert bucket_name_problem(name) == "", name


def test_trainees_with_other_prefixes_get_other_buckets():
    names = {bucket_name(stack_prefix(p), ACCOUNT, "eu-west-1") for p in ("anna-", "ben-", "carla-", "")}
    assert len(names) == 4


@pytest.mark.parametrize(("name", "problem"), [
    ("iotdm-anna-123456789012-eu-west-1", ""),
    ("ab", "2 characters"),
    ("a" * 64, "64 characters"),
    ("Anna-bucket", "only lowercase"),
    ("anna_bucket", "only lowercase"),
    ("-anna", "only lowercase"),
    ("anna-", "only lowercase"),
    ("anna..bucket", "two adjacent periods"),
    ("192.168.5.4", "IP address"),
    ("xn--anna", "reserved prefix"),
    ("sthree-anna", "reserved prefix"),
    ("anna-s3alias", "reserved suffix"),
    ("anna--ol-s3", "reserved suffix"),
])
def test_bucket_name_rules(name, problem):
    found = bucket_name_problem(name)
    assert (found == "") if not problem else (problem in found), found


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Sub, !Ref, !GetAtt) as plain tagged values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: loader.construct_scalar(node)}
                              if isinstance(node, yaml.ScalarNode) else {suffix: loader.construct_sequence(node)})


def test_the_template_names_its_bucket_as_bucket_name_does():
    template = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    sub = template["Resources"]["WorkshopBucket"]["Properties"]["BucketName"]["Sub"]
    filled = sub.replace("${Prefix}", "anna").replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", "eu-west-1")
    assert filled == bucket_name("anna", ACCOUNT, "eu-west-1")


def test_every_name_the_template_gives_carries_the_prefix():
    template = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    named = {logical: props[key] for logical, resource in template["Resources"].items()
             for props in [resource.get("Properties", {})] for key in ("RoleName", "PolicyName", "BucketName")
             if key in props}
    assert set(named) == {"WorkshopBucket", "DevicePolicy", "ProvisioningRole", "LoggingRole", "LambdaRole"}
    assert all("${Prefix}" in value["Sub"] for value in named.values()), named
