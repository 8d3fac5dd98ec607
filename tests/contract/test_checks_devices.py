"""Chapters 01 and 02's checks against the lab: a device is done by what its certificate may do."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import make_csr, new_key, save_device
from helpers.checks import button_policy_problem, certificates_of, provisioned_device_problem
from labfixture import connect_to


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
