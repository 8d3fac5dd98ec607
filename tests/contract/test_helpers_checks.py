"""helpers.checks against the lab: an exercise is found done by what is there, however it was written."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from helpers import make_csr, new_key, save_device
from helpers.checks import (broken_line_task_problem, button_policy_problem, certificates_of,
                            child_group_member_problem, group_of_exactly_problem, provisioned_device_problem,
                            seen_online_problem, strict_logging_role_problem, watched_device_problem)
from helpers.device import Device
from helpers.provisioning import follow_task
from test_helpers_lab import connect_to, provision


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


# -- chapter 07: a group of exactly the comfortable rooms; sensors the index has seen online --------


def things(ws, count: int) -> list[str]:
    prefix = f"room{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, count + 1)]
    for name in names:
        ws.iot.create_thing(thingName=name)
    return names


def group_holding(ws, names) -> str:
    group = f"comfy-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing_group(thingGroupName=group)
    for name in names:
        ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return group


def test_a_group_of_exactly_the_wanted_things_is_found_whatever_its_name(ws):
    a, b, c = things(ws, 3)
    assert "no thing group holds" in group_of_exactly_problem(ws, {a, b}, "rooms")
    group_holding(ws, [a, b, c])  # too many
    problem = group_of_exactly_problem(ws, {a, b}, "rooms")
    assert "also holds 1 other" in problem and c in problem
    group_holding(ws, [a])  # too few
    assert group_of_exactly_problem(ws, {a, b}, "rooms") != ""
    group_holding(ws, [b, a])
    assert group_of_exactly_problem(ws, {a, b}, "rooms") == ""
    assert "nothing to put in a group" in group_of_exactly_problem(ws, set(), "rooms")


def test_sensors_count_as_seen_online_once_their_connections_reached_the_index(ws):
    ws.iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS"})
    prefix = f"sensor{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{n}" for n in range(1, 5)]
    for name in names:
        provision(ws, name, [("iot:Connect", f"client/{name}")])
    assert "seen 0 of the 4" in seen_online_problem(ws, f"thingName:{prefix}*", 3)
    for name in names[:3]:
        with Device.from_workshop(ws, name):
            pass  # connected, then disconnected: the index keeps the time of the last event
    assert seen_online_problem(ws, f"thingName:{prefix}*", 3) == ""
    assert "seen 3 of the 4" in seen_online_problem(ws, f"thingName:{prefix}*", 4)


# -- chapter 08: a newcomer in a group below the building, allowed by the inherited policy ------------


@pytest.fixture(scope="module")
def building(ws):
    """A parent group whose policy lets each member connect as itself and publish on its own topic,
    a child group below it, and a group outside it without a policy."""
    parent = f"building-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/${{iot:ClientId}}"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{arn}:topic/b/${{iot:ClientId}}"}]}
    ws.iot.create_policy(policyName=f"{parent}-p", policyDocument=json.dumps(document))
    parent_arn = ws.iot.create_thing_group(thingGroupName=parent)["thingGroupArn"]
    ws.iot.attach_policy(policyName=f"{parent}-p", target=parent_arn)
    ws.iot.create_thing_group(thingGroupName=f"{parent}-floor", parentGroupName=parent)
    ws.iot.create_thing_group(thingGroupName=f"{parent}-shed")
    return parent


def newcomer(ws, groups, *, own_policy=False, active=True) -> str:
    name = f"newcomer-{uuid.uuid4().hex[:6]}"
    ws.iot.create_thing(thingName=name)
    certificate = ws.iot.create_keys_and_certificate(setAsActive=active)
    ws.iot.attach_thing_principal(thingName=name, principal=certificate["certificateArn"])
    if own_policy:
        arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
        ws.iot.create_policy(policyName=f"{name}-own", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": f"{arn}:*"}]}))
        ws.iot.attach_policy(policyName=f"{name}-own", target=certificate["certificateArn"])
    for group in groups:
        ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return name


@pytest.mark.parametrize("groups, own_policy, active, expected", [
    (["{parent}-floor"], False, True, ""),
    (["{parent}"], False, True, "itself"),
    (["{parent}-floor", "{parent}"], False, True, "itself"),
    ([], False, True, "in no group below"),
    (["{parent}-shed"], False, True, "in no group below"),
    (["{parent}-floor"], True, True, "policy of its own"),
    (["{parent}-floor"], False, False, "ACTIVE"),
])
def test_the_newcomer_exercise_is_done_only_in_a_group_below_the_building(ws, building, groups, own_policy,
                                                                           active, expected):
    name = newcomer(ws, [g.format(parent=building) for g in groups], own_policy=own_policy, active=active)
    problem = child_group_member_problem(ws, name, building, f"b/{name}")
    assert (problem == "") if expected == "" else (expected in problem), problem


def test_the_inherited_policy_must_allow_the_newcomer_topic(ws, building):
    name = newcomer(ws, [f"{building}-floor"])
    assert "do not let it" in child_group_member_problem(ws, name, building, f"elsewhere/{name}")
    assert "does not exist yet" in child_group_member_problem(ws, "no-such-newcomer", building, "b/x")


# -- chapter 09: a device with a log level of its own, and its allowed publish in the log --------------

ROLE = "arn:aws:iam::123456789012:role/iot-dm-logging"
LOG_WAIT_S = 15.0


@pytest.fixture
def warn_logging(ws):
    """v2 logging at WARN (as chapter 00 leaves it); afterwards all logs disabled, so other tests write none."""
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=False)
    yield
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=True)


def publisher(ws) -> tuple[str, str]:
    name = f"outsider-{uuid.uuid4().hex[:6]}"
    _files, certificate_id = provision(ws, name, [("iot:Connect", f"client/{name}"), ("iot:Publish", f"topic/t/{name}")])
    return name, certificate_id


def publish(ws, name: str) -> None:
    with Device.from_workshop(ws, name) as device:
        device.publish(f"t/{name}", {"temperature": 21})


def eventually_done(ws, name: str, since: int) -> str:
    """The check's answer once it is "" or after LOG_WAIT_S (the lab writes its entries in the background)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while (problem := watched_device_problem(ws, name, since)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return problem


def test_the_watched_device_needs_its_own_level_and_a_logged_publish(ws, warn_logging):
    since = int(time.time() * 1000) - 1000
    name, _certificate_id = publisher(ws)
    assert "no log level of its own" in watched_device_problem(ws, name, since)
    publish(ws, name)  # at WARN: its success is never written
    ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": name}, logLevel="WARN")
    assert "successes are written at INFO or DEBUG" in watched_device_problem(ws, name, since)
    ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": name}, logLevel="INFO")
    assert "no allowed publish" in watched_device_problem(ws, name, since)  # what was not written stays unwritten
    publish(ws, name)
    assert eventually_done(ws, name, since) == ""
    ws.iot.delete_v2_logging_level(targetType="CLIENT_ID", targetName=name)


def test_a_level_for_the_certificate_counts_as_its_own(ws, warn_logging):
    since = int(time.time() * 1000) - 1000
    name, certificate_id = publisher(ws)
    ws.iot.set_v2_logging_level(logTarget={"targetType": "PRINCIPAL_ID", "targetName": certificate_id}, logLevel="DEBUG")
    publish(ws, name)
    assert eventually_done(ws, name, since) == ""
    ws.iot.delete_v2_logging_level(targetType="PRINCIPAL_ID", targetName=certificate_id)

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
