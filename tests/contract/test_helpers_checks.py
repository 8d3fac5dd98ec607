"""helpers.checks against the lab: an exercise is found done by what is there, however it was written."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers.checks import button_policy_problem, certificates_of
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
