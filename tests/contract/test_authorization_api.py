"""TestAuthorization answers what the broker would decide for a certificate and client id."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

REGION, ACCOUNT = "us-east-1", "123456789012"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"


@pytest.fixture
def iot(lab):
    return lab.client("iot")


@pytest.fixture
def button(iot):
    """A certificate with a button's policy: connect as itself, publish to its topic, never to iot/deny."""
    name = f"button-{uuid.uuid4().hex[:6]}"
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": arn("client", name)},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": arn("topic", f"iotbutton/{name}")},
        {"Effect": "Deny", "Action": "iot:Publish", "Resource": arn("topic", "iot/deny")},
    ]}
    iot.create_policy(policyName=f"{name}-policy", policyDocument=json.dumps(document))
    certificate = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=f"{name}-policy", target=certificate["certificateArn"])
    return name, certificate["certificateArn"]


def decide(iot, principal: str, client_id: str, action: str, resource: str, **extra) -> dict:
    answer = iot.test_authorization(principal=principal, clientId=client_id,
                                    authInfos=[{"actionType": action, "resources": [resource]}], **extra)
    return answer["authResults"][0]


@pytest.mark.parametrize("action, resource, decision", [
    ("CONNECT", "client/{name}", "ALLOWED"),
    ("CONNECT", "client/{name}-impostor", "IMPLICIT_DENY"),
    ("PUBLISH", "topic/iotbutton/{name}", "ALLOWED"),
    ("PUBLISH", "topic/iot/ws", "IMPLICIT_DENY"),
    ("PUBLISH", "topic/iot/deny", "EXPLICIT_DENY"),
    ("SUBSCRIBE", "topicfilter/iotbutton/{name}", "IMPLICIT_DENY"),
])
def test_each_decision_is_the_brokers(iot, button, action, resource, decision):
    name, principal = button
    kind, _, rest = resource.format(name=name).partition("/")
    result = decide(iot, principal, name, action, arn(kind, rest))
    assert result["authDecision"] == decision
    policies = {"ALLOWED": result["allowed"]["policies"], "EXPLICIT_DENY": result["denied"]["explicitDeny"]["policies"],
                "IMPLICIT_DENY": result["denied"]["implicitDeny"]["policies"]}[decision]
    assert [p["policyName"] for p in policies] == [f"{name}-policy"]


def test_a_thing_group_policy_with_a_variable_counts_for_the_attached_thing(iot, lab):
    name = f"member-{uuid.uuid4().hex[:6]}"
    iot.create_thing(thingName=name)
    iot.create_thing_group(thingGroupName=f"{name}-group")
    iot.add_thing_to_thing_group(thingGroupName=f"{name}-group", thingName=name)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
                                                        "Resource": arn("topic", "floor/${iot:Connection.Thing.ThingName}")}]}
    iot.create_policy(policyName=f"{name}-group-policy", policyDocument=json.dumps(document))
    iot.attach_policy(policyName=f"{name}-group-policy", target=iot.describe_thing_group(
        thingGroupName=f"{name}-group")["thingGroupArn"])
    certificate = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.attach_thing_principal(thingName=name, principal=certificate)
    assert decide(iot, certificate, name, "PUBLISH", arn("topic", f"floor/{name}"))["authDecision"] == "ALLOWED"
    assert decide(iot, certificate, name, "PUBLISH", arn("topic", "floor/other"))["authDecision"] == "IMPLICIT_DENY"
    # a client id that is not the attached thing's name: no thing, so no group policy
    assert decide(iot, certificate, "stranger", "PUBLISH", arn("topic", f"floor/{name}"))["authDecision"] == "IMPLICIT_DENY"


def test_policies_can_be_added_and_skipped(iot, button):
    name, principal = button
    resource = arn("topic", "iot/ws")
    iot.create_policy(policyName=f"{name}-extra", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": resource}]}))
    assert decide(iot, principal, name, "PUBLISH", resource, policyNamesToAdd=[f"{name}-extra"])["authDecision"] == "ALLOWED"
    assert decide(iot, principal, name, "PUBLISH", arn("topic", "iot/deny"),
                  policyNamesToSkip=[f"{name}-policy"])["authDecision"] == "IMPLICIT_DENY"


def test_an_unknown_certificate_is_not_found_and_the_lab_goes_on(iot, button):
    with pytest.raises(ClientError) as raised:
        decide(iot, arn("cert", "0" * 64), "x", "CONNECT", arn("client", "x"))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    name, principal = button
    assert decide(iot, principal, name, "CONNECT", arn("client", name))["authDecision"] == "ALLOWED"
