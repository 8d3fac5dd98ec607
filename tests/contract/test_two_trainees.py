"""Two trainees (prefixes ``anna-`` and ``ben-``, own work folders) on one lab, as in class.

Each deploys the workshop stack, registers a CA of their own, and sets up chapter 05's JITR: the
Lambda function of ``data/lambda/jitr``, the topic rule on *their own CA's* registration topic (the
chapter's SQL) and the permission. Then:

- their stacks, roles, policies and buckets are distinct, and the buckets are named as
  `helpers.names.bucket_name` says (globally unique: account, region, prefix);
- a device of ben's CA is provisioned by ben's function and never reaches anna's; a rule on ``$aws/events/certificates/registered/#`` (the kit's rule before it was scoped)
  run by a third trainee does see both, so the test would notice unscoped rules;
- fleet-index queries and statistics in chapter 07's form count the trainee's own things only, and
  chapter 07's checks are not fooled by the other trainee's things;
- anna's clean-up removes anna's resources and leaves every one of ben's: things, CA, rule,
  function, its log group, stack and bucket.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from helpers import cleanup
from helpers.ca import chain_pem, provisioning_state, sign_device_certificate, wait_for_provisioning
from helpers.catchup import ensure_ca, ensure_stack, things_of_ca
from helpers.certs import certificate_id, new_key, save_device
from helpers.checks.fleet import group_of_exactly_problem, search_all, seen_online_problem
from helpers.device import ConnectionRefused, Device
from helpers.names import bucket_name, rule_name
from helpers.workshop import stack_prefix
from labfixture import connect_to, start_lab, stop_lab

pytestmark = pytest.mark.lab

JITR_SOURCE = Path(__file__).resolve().parents[2] / "data" / "lambda" / "jitr" / "lambda_function.py"
# Chapter 05's rule: the registration announcements of one CA, still waiting for activation.
SCOPED_SQL = "SELECT * FROM '$aws/events/certificates/registered/{ca_id}' WHERE certificateStatus = \"PENDING_ACTIVATION\""
UNSCOPED_SQL = "SELECT * FROM '$aws/events/certificates/registered/#' WHERE certificateStatus = \"PENDING_ACTIVATION\""
WAIT_S = 60


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("class-lab"))
    yield running
    stop_lab(running)



def function_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(JITR_SOURCE, arcname="lambda_function.py")
    return archive.getvalue()


def jitr(ws) -> dict:
    """Chapter 05's set-up for one trainee: own CA (JITR), function, rule, permission."""
    ensure_stack(ws)
    ca, _status = ensure_ca(ws, ws.name("workshop-ca"))
    ws.iot.update_ca_certificate(certificateId=ca.certificate_id, removeAutoRegistration=True,
                                 newAutoRegistrationStatus="ENABLE")
    function = ws.name("jitr")
    arn = ws.lambda_.create_function(
        FunctionName=function, Runtime="python3.12", Role=ws.stack_outputs["ArnLambdaRole"],
        Handler="lambda_function.lambda_handler", Code={"ZipFile": function_zip()}, Timeout=30,
        Environment={"Variables": {"THING_PREFIX": ws.name("jitr-")}})["FunctionArn"]
    ws.lambda_.get_waiter("function_active_v2").wait(FunctionName=function)
    rule = rule_name(ws.name("JITRRule"))
    sql = SCOPED_SQL.format(ca_id=ca.certificate_id)
    ws.iot.create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": sql, "awsIotSqlVersion": "2016-03-23", "ruleDisabled": False,
        "actions": [{"lambda": {"functionArn": arn}}]})
    ws.lambda_.add_permission(FunctionName=function, StatementId="iot-invokes-jitr", Action="lambda:InvokeFunction",
                              Principal="iot.amazonaws.com", SourceArn=ws.iot.get_topic_rule(ruleName=rule)["ruleArn"],
                              SourceAccount=ws.account_id)
    # Chapter 05's exercise: an error action writing into a log group of the trainee's own.
    errors = "AWSIotLogsV2-" + ws.name("jitr-rule-errors")
    ws.logs.create_log_group(logGroupName=errors)
    ws.iot.replace_topic_rule(ruleName=rule, topicRulePayload={
        "sql": sql, "awsIotSqlVersion": "2016-03-23", "ruleDisabled": False,
        "actions": [{"lambda": {"functionArn": arn}}],
        "errorAction": {"cloudwatchLogs": {"logGroupName": errors, "roleArn": ws.stack_outputs["ArnIoTLoggingRole"]}}})
    return {"ca": ca, "function": function, "rule": rule, "log group": f"/aws/lambda/{function}", "errors": errors}


def unscoped_listener(ws) -> dict:
    """A rule on every CA's announcements, as the kit's JITR rule once listened, that only writes them
    to a log group (it provisions nothing, so it cannot race the trainees' functions)."""
    ensure_stack(ws)
    group = ws.name("every-ca-announcement")
    ws.logs.create_log_group(logGroupName=group)
    rule = rule_name(ws.name("EveryCA"))
    ws.iot.create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": UNSCOPED_SQL, "awsIotSqlVersion": "2016-03-23", "ruleDisabled": False,
        "actions": [{"cloudwatchLogs": {"logGroupName": group, "roleArn": ws.stack_outputs["ArnIoTLoggingRole"]}}]})
    return {"rule": rule, "log group": group}


def connect_new_device(ws, ca, name: str) -> str:
    """A device certificate of ``ca`` for ``name``, connected once (AWS IoT refuses the first
    connection of an auto-registered certificate); its certificate id."""
    key = new_key("ec")
    pem = sign_device_certificate(ca, key, name, country="DE")
    cert_id = certificate_id(pem)
    save_device(ws, name, chain_pem(pem, ca), key)
    with pytest.raises(ConnectionRefused):
        Device.from_workshop(ws, name, client_id=f"jitr-{cert_id}").connect()
    return cert_id


def function_log(ws, group: str) -> list[str]:
    try:
        return [e["message"] for page in ws.logs.get_paginator("filter_log_events").paginate(logGroupName=group)
                for e in page["events"]]
    except ws.logs.exceptions.ResourceNotFoundException:
        return []


def wait_for_log_naming(ws, group: str, cert_id: str, *, invocation: bool = True) -> None:
    """Until the log group names ``cert_id`` (a function's: in a finished invocation)."""
    deadline = time.monotonic() + WAIT_S
    while not (cert_id in "".join(lines := function_log(ws, group))
               and (not invocation or any(m.startswith("REPORT") for m in lines))):
        assert time.monotonic() < deadline, f"{group} never named {cert_id[:12]}…:\n" + "".join(lines)[-2000:]
        time.sleep(0.2)


@pytest.fixture(scope="module")
def trainees(lab, tmp_path_factory):
    anna = connect_to(lab, tmp_path_factory.mktemp("anna"), prefix="anna-")
    ben = connect_to(lab, tmp_path_factory.mktemp("ben"), prefix="ben-")
    return {"anna": anna, "ben": ben, "jitr": {"anna": jitr(anna), "ben": jitr(ben)}}


# -- names, stack, buckets ---------------------------------------------------------------------------


def test_each_trainee_has_a_stack_of_their_own(trainees):
    anna, ben = trainees["anna"], trainees["ben"]
    assert anna.stack_name != ben.stack_name
    for key in ("S3Bucket", "IoTPolicy", "ArnIoTProvisioningRole", "ArnIoTLoggingRole", "ArnLambdaRole"):
        assert anna.stack_outputs[key] != ben.stack_outputs[key], key
    assert anna.stack_outputs["IoTPolicy"].startswith("anna") and ben.stack_outputs["IoTPolicy"].startswith("ben")
    for role in ("ArnIoTProvisioningRole", "ArnIoTLoggingRole", "ArnLambdaRole"):
        assert anna.stack_outputs[role].split("/")[-1].startswith("anna-"), anna.stack_outputs[role]


def test_bucket_names_are_distinct_and_globally_unique(trainees):
    for who in ("anna", "ben"):
        ws = trainees[who]
        expected = bucket_name(stack_prefix(ws.prefix), ws.account_id, ws.region)
        assert ws.stack_outputs["S3Bucket"] == expected
        assert ws.account_id in expected and ws.region in expected
        ws.s3.head_bucket(Bucket=expected)


# -- JITR ------------------------------------------------------------------------------------------


def test_a_device_of_bens_ca_is_provisioned_by_bens_function_only(lab, trainees, tmp_path_factory):
    anna, ben, setups = trainees["anna"], trainees["ben"], trainees["jitr"]
    # A third trainee whose rule still listens to every CA, as the kit's rule did: it must see both
    # devices below, which shows that the announcements do reach an unscoped rule.
    carla = connect_to(lab, tmp_path_factory.mktemp("carla"), prefix="carla-")
    carla_setup = unscoped_listener(carla)
    try:
        ben_cert = connect_new_device(ben, setups["ben"]["ca"], ben.name("my-jitr-device"))
        assert wait_for_provisioning(ben, ben_cert, timeout=WAIT_S)["status"] == "ACTIVE"
        assert f"ben-jitr-{ben_cert}" in things_of_ca(ben, setups["ben"]["ca"].certificate_id)  # ben's function's
        wait_for_log_naming(ben, setups["ben"]["log group"], ben_cert)
        wait_for_log_naming(carla, carla_setup["log group"], ben_cert, invocation=False)  # the unscoped rule saw it

        # anna's device comes after ben's: her function's queue has run whatever reached it before.
        anna_cert = connect_new_device(anna, setups["anna"]["ca"], anna.name("my-jitr-device"))
        wait_for_provisioning(anna, anna_cert, timeout=WAIT_S)
        wait_for_log_naming(anna, setups["anna"]["log group"], anna_cert)
        wait_for_log_naming(carla, carla_setup["log group"], anna_cert, invocation=False)

        anna_log = "".join(function_log(anna, setups["anna"]["log group"]))
        ben_log = "".join(function_log(ben, setups["ben"]["log group"]))
        assert ben_cert not in anna_log
        assert anna_cert not in ben_log  # weaker: an invocation of ben's for it could still be queued
        assert sum(m.startswith("START") for m in function_log(anna, setups["anna"]["log group"])) == 1
    finally:
        carla.iot.delete_topic_rule(ruleName=carla_setup["rule"])


# -- fleet indexing ---------------------------------------------------------------------------------

TEMPERATURES = {"anna": [17, 21, 25], "ben": [19, 23, 30, 31]}


@pytest.fixture(scope="module")
def fleet(trainees):
    anna = trainees["anna"]
    anna.iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS",
        "customFields": [{"name": "shadow.reported.temperature", "type": "Number"}]})
    names = {}
    for who, temperatures in TEMPERATURES.items():
        ws = trainees[who]
        names[who] = [f"{ws.name('bulky')}{n}" for n in range(1, len(temperatures) + 1)]
        for name, temperature in zip(names[who], temperatures):
            ws.iot.create_thing(thingName=name, attributePayload={"attributes": {"room_number": f"{who}-{name[-1]}"}})
            ws.iot_data.update_thing_shadow(thingName=name, payload=json.dumps(
                {"state": {"reported": {"temperature": temperature}}}).encode())
    return names


def test_chapter_07s_queries_find_the_trainees_own_things_only(trainees, fleet):
    for who in ("anna", "ben"):
        ws = trainees[who]
        name_query = f"thingName:{ws.name('bulky')}*"  # chapter 07's NAME_QUERY
        assert sorted(t["thingName"] for t in search_all(ws, name_query)) == sorted(fleet[who])
        warm = {t["thingName"] for t in search_all(ws, f"{name_query} AND shadow.reported.temperature>20 "
                                                       "AND attributes.room_number:*")}
        assert warm == {n for n, t in zip(fleet[who], TEMPERATURES[who]) if t > 20}
        statistics = ws.iot.get_statistics(indexName="AWS_Things", queryString=name_query,
                                           aggregationField="shadow.reported.temperature")["statistics"]
        assert statistics["count"] == len(TEMPERATURES[who])
        assert statistics["average"] == pytest.approx(sum(TEMPERATURES[who]) / len(TEMPERATURES[who]))


def test_chapter_07s_checks_are_not_fooled_by_the_other_trainees_things(trainees, fleet):
    anna, ben = trainees["anna"], trainees["ben"]
    ben.iot.create_thing_group(thingGroupName=ben.name("comfortable"))
    for name in fleet["ben"]:
        ben.iot.add_thing_to_thing_group(thingGroupName=ben.name("comfortable"), thingName=name)
    assert group_of_exactly_problem(anna, fleet["anna"][:2], "rooms").startswith("no thing group holds")
    # Ben's devices online count for ben, never for anna, even with a query that names ben's things.
    for name in fleet["ben"]:
        with _connected_as(ben, name):
            pass
    assert seen_online_problem(ben, f"thingName:{ben.name('bulky')}*", len(fleet["ben"])) == ""
    assert "has seen 0 of the 0 things" in seen_online_problem(anna, f"thingName:{ben.name('bulky')}*", 1)


class _connected_as:
    """A device of ``ws`` connected as ``name`` for a moment (its own certificate, allow-all policy)."""

    def __init__(self, ws, name: str) -> None:
        created = ws.iot.create_keys_and_certificate(setAsActive=True)
        policy = ws.name("connect-all")
        try:
            ws.iot.create_policy(policyName=policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
        except ws.iot.exceptions.ResourceAlreadyExistsException:
            pass
        ws.iot.attach_policy(policyName=policy, target=created["certificateArn"])
        ws.iot.attach_thing_principal(thingName=name, principal=created["certificateArn"])
        files = save_device(ws, name, created["certificatePem"], created["keyPair"]["PrivateKey"])
        self.device = Device(name, files.cert, files.key, ws.endpoint, ws.port, ws.root_ca, name)

    def __enter__(self):
        self.device.connect()
        return self.device

    def __exit__(self, *exc) -> None:
        self.device.disconnect()


# -- clean-up ---------------------------------------------------------------------------------------


def thing_names(ws) -> set[str]:
    return {t["thingName"] for page in ws.iot.get_paginator("list_things").paginate() for t in page["things"]}


def test_annas_clean_up_leaves_every_one_of_bens_resources(trainees, fleet):
    anna, ben, setups = trainees["anna"], trainees["ben"], trainees["jitr"]
    ben_before = {
        "things": {t for t in thing_names(ben) if t.startswith("ben-")}
                  | set(things_of_ca(ben, setups["ben"]["ca"].certificate_id)),
        "rules": {r["ruleName"] for r in ben.iot.list_topic_rules()["rules"] if r["ruleName"].startswith("ben_")},
        "functions": {f["FunctionName"] for f in ben.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("ben-")},
        "log groups": {g["logGroupName"] for g in ben.logs.describe_log_groups()["logGroups"] if "ben-" in g["logGroupName"]},
    }
    assert {setups["ben"]["log group"], setups["ben"]["errors"]} <= ben_before["log groups"]
    assert setups["ben"]["rule"] in ben_before["rules"]

    found = cleanup.inventory(anna, progress=False)
    results = cleanup.run(anna, cleanup.plan(anna, found), dry_run=False, progress=False)
    assert not results.empty

    # anna's are gone ...
    assert not any(t.startswith("anna-") for t in thing_names(ben))
    assert not things_of_ca(ben, setups["anna"]["ca"].certificate_id)
    assert setups["anna"]["rule"] not in {r["ruleName"] for r in ben.iot.list_topic_rules()["rules"]}
    groups_left = {g["logGroupName"] for g in ben.logs.describe_log_groups()["logGroups"]}
    assert not {setups["anna"]["log group"], setups["anna"]["errors"]} & groups_left
    # ... and ben's all stay.
    assert ben_before["things"] <= thing_names(ben)
    assert ben_before["rules"] <= {r["ruleName"] for r in ben.iot.list_topic_rules()["rules"]}
    assert ben_before["functions"] <= {f["FunctionName"] for f in ben.lambda_.list_functions()["Functions"]}
    assert ben_before["log groups"] <= {g["logGroupName"] for g in ben.logs.describe_log_groups()["logGroups"]}
    ca = ben.iot.describe_ca_certificate(certificateId=setups["ben"]["ca"].certificate_id)["certificateDescription"]
    assert ca["status"] == "ACTIVE"
    assert ben.cloudformation.describe_stacks(StackName=ben.stack_name)["Stacks"][0]["StackStatus"].endswith("COMPLETE")
    ben.s3.head_bucket(Bucket=ben.stack_outputs["S3Bucket"])
    assert provisioning_state(ben, ben.iot.list_certificates_by_ca(
        caCertificateId=setups["ben"]["ca"].certificate_id)["certificates"][0]["certificateId"])["status"] == "ACTIVE"


def test_the_status_panel_counts_a_trainees_own_things_policies_and_groups(lab, tmp_path):
    anna, ben = connect_to(lab, tmp_path / "anna", prefix="anna-"), connect_to(lab, tmp_path / "ben", prefix="ben-")
    before = anna.counts()
    ben.iot.create_thing(thingName=ben.name("counted-not"))
    ben.iot.create_thing_group(thingGroupName=ben.name("counted-not"))
    anna.iot.create_thing(thingName=anna.name("counted"))

    after = anna.counts()
    assert (after["things"], after["thing groups"]) == (before["things"] + 1, before["thing groups"])
    assert "names starting anna-" in str(anna.status_panel())
