"""Chapters 04, 05 and 06's checks against the lab: JITP and JITR devices of your CA, a failed job."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from helpers.ca import (
    chain_pem, make_ca, sign_device_certificate, verification_certificate, wait_for_provisioning,
)
from helpers.catchup import fill_placeholders
from helpers.certs import certificate_id, new_key, save_device
from helpers.checks import (
    failed_job_problem, jitp_device_problem, jitr_recovered_problem, jitr_refused_problem, lambda_action_failures,
)
from helpers.device import ConnectionRefused, Device
from labfixture import connect_to


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


REPO = Path(__file__).resolve().parents[2]


ROLE = "arn:aws:iam::123456789012:role/workshop-role"  # the lab does not assume roles


WAIT_S = 30


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:6]}"


def until(check, timeout: float = WAIT_S):
    """``check()`` again until it returns "" (done) or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while (answer := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return answer


def own_ca(ws, **registration):
    """A CA of our own, registered ACTIVE with auto-registration and ``registration`` (JITP: a template)."""
    ca = make_ca(unique("checks-ca"))
    code = ws.iot.get_registration_code()["registrationCode"]
    ws.iot.register_ca_certificate(caCertificate=ca.pem, verificationCertificate=verification_certificate(ca, code),
                                   setAsActive=True, allowAutoRegistration=True, **registration)
    return ca


def first_connection(ws, ca, name: str, client_id: str | None = None, **subject) -> str:
    """A device certificate of ``ca`` for ``name``, and its first connection (refused): its id."""
    key = new_key("ec")
    pem = sign_device_certificate(ca, key, name, **subject)
    save_device(ws, name, chain_pem(pem, ca), key)
    with pytest.raises(ConnectionRefused):
        Device.from_workshop(ws, name, client_id=client_id or name).connect()
    return certificate_id(pem)


@pytest.fixture(scope="module")
def jitp(ws):
    """A CA with chapter 04's template: things named after the CN, Country an attribute, in a group."""
    group, policy = unique("checks-group"), unique("checks-policy")
    ws.iot.create_thing_group(thingGroupName=group)
    ws.iot.create_policy(policyName=policy, policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    template = fill_placeholders((REPO / "data" / "jitp-template.json").read_text(),
                                 {"thing_group": group, "policy_name": policy})
    ca = own_ca(ws, registrationConfig={"templateBody": template, "roleArn": ROLE})
    return ca, group


@pytest.mark.parametrize("country, done", [("FR", True), ("DE", False)])
def test_a_jitp_device_counts_with_the_country_asked_for(ws, jitp, country, done):
    ca, group = jitp
    name = unique("jitp-device")
    assert "does not exist yet" in jitp_device_problem(ws, name, ca.certificate_id, "FR", group)
    wait_for_provisioning(ws, first_connection(ws, ca, name, country=country), timeout=WAIT_S)

    problem = jitp_device_problem(ws, name, ca.certificate_id, "FR", group)
    assert (problem == "") is done, problem
    assert done or "Country = DE, not FR" in problem
    assert "not in the thing group" in jitp_device_problem(ws, name, ca.certificate_id, country, unique("other"))


def test_a_thing_made_by_hand_with_an_aws_certificate_is_not_jitp(ws, jitp):
    ca, group = jitp
    name = unique("by-hand")
    ws.iot.create_thing(thingName=name, attributePayload={"attributes": {"Country": "FR"}})
    ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    certificate = ws.iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    ws.iot.attach_thing_principal(thingName=name, principal=certificate)

    assert "no ACTIVE certificate signed by your CA" in jitp_device_problem(ws, name, ca.certificate_id, "FR", group)


@pytest.fixture
def v2_logging(ws):
    """AWS IoT's own log (AWSIotLogsV2) on at WARN, as chapter 00 leaves it; all logs off afterwards."""
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=False)
    yield
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=True)


WHERE_FAILURES_ARE_LOGGED = {
    "error action": (True, False), "error action and AWSIotLogsV2": (True, True), "AWSIotLogsV2": (False, True)}


@pytest.fixture(params=list(WHERE_FAILURES_ARE_LOGGED))
def jitr(ws, request):
    """A JITR CA (no template) and a rule on its announcements whose Lambda action always fails (the
    function does not exist); the failures go to a CloudWatch Logs error action, to AWSIotLogsV2, or
    to both: ``(ca, rule, error action?)``."""
    error_action, logging = WHERE_FAILURES_ARE_LOGGED[request.param]
    if logging:
        request.getfixturevalue("v2_logging")
    ca = own_ca(ws)
    rule = unique("checks_jitr").replace("-", "_")
    missing = f"arn:aws:lambda:{ws.region}:{ws.account_id}:function:{unique('not-there')}"
    payload = {"sql": f"SELECT * FROM '$aws/events/certificates/registered/{ca.certificate_id}'",
               "actions": [{"lambda": {"functionArn": missing}}], "awsIotSqlVersion": "2016-03-23"}
    if error_action:
        errors = unique("AWSIotLogsV2-checks")
        ws.logs.create_log_group(logGroupName=errors)
        payload["errorAction"] = {"cloudwatchLogs": {"logGroupName": errors, "roleArn": ROLE}}
    ws.iot.create_topic_rule(ruleName=rule, topicRulePayload=payload)
    return ca, rule, error_action


def provision_by_hand(ws, certificate: str, thing: str) -> None:
    """What chapter 05's function does: thing, policy, attachments, then ACTIVE."""
    arn = ws.iot.describe_certificate(certificateId=certificate)["certificateDescription"]["certificateArn"]
    ws.iot.create_thing(thingName=thing)
    ws.iot.create_policy(policyName=thing, policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    ws.iot.attach_policy(policyName=thing, target=arn)
    ws.iot.attach_thing_principal(thingName=thing, principal=arn)
    ws.iot.update_certificate(certificateId=certificate, newStatus="ACTIVE")


def test_a_jitr_device_counts_once_refused_by_the_rule_and_then_provisioned(ws, jitr):
    ca, rule, _error_action = jitr
    third = unique("third")
    assert "no certificate of" in jitr_refused_problem(ws, ca.certificate_id, third, rule)

    certificate = first_connection(ws, ca, third, client_id=unique("jitr"))

    assert until(lambda: jitr_refused_problem(ws, ca.certificate_id, third, rule)) == ""
    assert "PENDING_ACTIVATION, not provisioned yet" in jitr_recovered_problem(ws, ca.certificate_id, third, rule)
    provision_by_hand(ws, certificate, f"jitr-{certificate}")
    assert jitr_recovered_problem(ws, ca.certificate_id, third, rule) == ""


def test_a_jitr_device_provisioned_while_the_rule_worked_does_not_count(ws, jitr):
    """The error action names the certificate the rule failed for, so another device's later failure
    does not count; AWSIotLogsV2's entry of that failure is matched to it by its trace id. AWSIotLogsV2
    alone names no certificate: then a later failure counts for every device registered before it."""
    ca, rule, error_action = jitr
    ws.iot.replace_topic_rule(ruleName=rule, topicRulePayload={**_payload(ws, rule), "ruleDisabled": True})
    third = unique("third")
    certificate = first_connection(ws, ca, third, client_id=unique("jitr"))
    provision_by_hand(ws, certificate, f"jitr-{certificate}")
    ws.iot.replace_topic_rule(ruleName=rule, topicRulePayload={**_payload(ws, rule), "ruleDisabled": False})

    first_connection(ws, ca, unique("other"), client_id=unique("jitr"))  # the rule fails for this one
    assert until(lambda: "" if lambda_action_failures(ws, rule, 0) else "no failure yet") == ""

    if error_action:
        assert "no log says" in jitr_refused_problem(ws, ca.certificate_id, third, rule)
        assert "first connect" in jitr_recovered_problem(ws, ca.certificate_id, third, rule)
    else:
        assert jitr_refused_problem(ws, ca.certificate_id, third, rule) == ""


def _payload(ws, rule: str) -> dict:
    stored = ws.iot.get_topic_rule(ruleName=rule)["rule"]
    return {key: stored[key] for key in ("sql", "actions", "errorAction", "awsIotSqlVersion") if stored.get(key)}


def test_a_failed_job_execution_counts_only_with_a_reason(ws):
    thing = unique("agent")
    arn = ws.iot.create_thing(thingName=thing)["thingArn"]
    assert "no job execution" in failed_job_problem(ws, thing)
    device_api = ws.client("iot-jobs-data")  # what a device's agent reports with (or over MQTT)
    for job_id, details in ((unique("silent"), None), (unique("disk"), {"reason": "unknown sys-info item 'disk'"})):
        ws.iot.create_job(jobId=job_id, targets=[arn], document=json.dumps({"operation": "sys-info", "sys-info": "disk"}))
        device_api.update_job_execution(jobId=job_id, thingName=thing, status="FAILED",
                                        **({"statusDetails": details} if details else {}))
        if details is None:
            assert "carry no reason" in failed_job_problem(ws, thing)
    assert failed_job_problem(ws, thing) == ""
