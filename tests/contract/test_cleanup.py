"""The ledger and the clean-up against a real lab of their own (settings changes stay in it).

A workshop session creates what the chapters create (stack, settings, things, certificates,
policies, groups, a type, a bulk task, a CA with a JITP device, a JITR-style rule with its Lambda
function and the log groups both cause, a job, a shadow, files) through ``connect()``'s clients;
bystanders are made with clients that do not record. The first clean-up must remove the former,
restore the settings and leave the bystanders alone.

Then the issue's case: after that clean-up, a trainee makes ``job-agent``, ``group-member``,
``building-one`` and ``SmartBuilding_Policy`` again by hand with the AWS CLI, and a Lambda function
``jitr`` of their own that writes its log; the workshop's set-up runs again (stack, type, an object in
the bucket); the trainee puts an object of their own in the stack's bucket, attaches the workshop's
policy to a certificate of their own and makes a thing of the workshop's type. The second clean-up
lists each side effect in its dry run and leaves all of theirs alone.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from awscli import Cli
from helpers import certs, cleanup, ledger
from helpers.catchup import ensure_building_group, ensure_device, ensure_group_and_type, ensure_setup
from helpers.device import ConnectionRefused, Device, PublishRefused
from helpers.provisioning import bulk_input, follow_task, make_devices
from helpers.secrets import write_private
from labfixture import connect_to, start_lab, stop_lab

pytestmark = pytest.mark.lab

LAMBDA_CODE = "def lambda_handler(event, context):\n    print('provisioning', event)\n    return event\n"
CONNECT_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                                                                   "Resource": "*"}]})
FINE = {"done", "already gone", "nothing to do"}
ERRORS_GROUP = "AWSIotLogsV2-jitr-rule-errors"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("cleanup-lab"))
    yield running
    stop_lab(running)



def raw(ws, service: str = "iot"):
    """A client of the same session that the ledger does not watch: the trainee's own."""
    return ws.session.client(service, endpoint_url=ws.http_url)


def exists(call) -> bool:
    try:
        call()
    except Exception as error:  # noqa: BLE001
        if cleanup.is_gone(error):
            return False
        raise
    return True


def log_groups(ws) -> set[str]:
    return {g["logGroupName"] for g in raw(ws, "logs").describe_log_groups()["logGroups"]}


def make_ca(name: str):
    key = certs.new_key("ec")
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert, key


def sign(ca_cert, ca_key, common_name: str, public_key) -> x509.Certificate:
    now = datetime.now(timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1)).sign(ca_key, hashes.SHA256()))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def jitp_device(ws, group: str, policy: str) -> str:
    """Register a CA with a JITP template (through the workshop's client) and let one device provision."""
    ca_cert, ca_key = make_ca("cleanup test CA")
    code = ws.iot.get_registration_code()["registrationCode"]
    verification = sign(ca_cert, ca_key, code, certs.new_key("ec").public_key())
    ca = ws.iot.register_ca_certificate(caCertificate=pem(ca_cert), verificationCertificate=pem(verification),
                                        setAsActive=True, allowAutoRegistration=True)
    template = {"Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"},
                               "AWS::IoT::Certificate::CommonName": {"Type": "String"}},
                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
                    "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}, "ThingGroups": [group]}},
                    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                        "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
                    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": policy}}}}
    ws.iot.update_ca_certificate(certificateId=ca["certificateId"], newAutoRegistrationStatus="ENABLE",
                                 registrationConfig={"templateBody": json.dumps(template),
                                                     "roleArn": ws.stack_outputs["ArnIoTProvisioningRole"]})
    folder = ws.work_dir / "jitp"
    write_private(folder / "rootCA.pem", pem(ca_cert))
    write_private(folder / "rootCA.key", certs.key_pem(ca_key))
    device_key = certs.new_key("ec")
    device = sign(ca_cert, ca_key, "jitp-device", device_key.public_key())
    chain = write_private(folder / "jitp-deviceAndCA.crt", pem(device) + pem(ca_cert))
    key = write_private(folder / "jitp-device.key", certs.key_pem(device_key))
    with pytest.raises(ConnectionRefused):
        Device("jitp-device", chain, key, ws.endpoint, ws.port, ws.root_ca).connect()
    return ca["certificateId"]


def function_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", LAMBDA_CODE)
    return archive.getvalue()


def wait_for_log_group(ws, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while name not in log_groups(ws):
        assert time.monotonic() < deadline, f"{name} did not appear within {timeout} s"
        time.sleep(0.2)


def jitr_function_and_rule(ws) -> None:
    """Chapter 05's function (run once, so Lambda makes its log group) and its rule, whose error
    action writes to a log group the workshop creates."""
    function = ws.lambda_.create_function(FunctionName="jitr", Runtime="python3.12", Role=ws.stack_outputs["ArnLambdaRole"],
                                          Handler="lambda_function.lambda_handler", Code={"ZipFile": function_zip()})
    ws.lambda_.update_function_code(FunctionName="jitr", ZipFile=function_zip())  # a re-run of the chapter's cell
    ws.lambda_.invoke(FunctionName="jitr", Payload=b"{}")
    rule = {"sql": "SELECT * FROM '$aws/events/certificates/registered/#'",
            "actions": [{"lambda": {"functionArn": function["FunctionArn"]}}]}
    ws.iot.create_topic_rule(ruleName="JITRRule", topicRulePayload=rule)
    ws.logs.create_log_group(logGroupName=ERRORS_GROUP)  # chapter 05's exercise: an error action for the rule
    errors = {"cloudwatchLogs": {"logGroupName": ERRORS_GROUP, "roleArn": ws.stack_outputs["ArnIoTLoggingRole"]}}
    ws.iot.replace_topic_rule(ruleName="JITRRule", topicRulePayload={**rule, "errorAction": errors})
    wait_for_log_group(ws, "/aws/lambda/jitr")


def clean_up(ws, allow_side_effects: bool = False) -> dict:
    found = cleanup.inventory(ws, progress=False)
    the_plan = cleanup.plan(ws, found, allow_side_effects=allow_side_effects)
    dry = cleanup.run(ws, the_plan, dry_run=True)
    started = time.monotonic()
    results = cleanup.run(ws, the_plan, dry_run=False, progress=False)
    return {"found": found, "plan": the_plan, "dry": dry, "results": results, "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def session(lab, tmp_path_factory):
    """A whole workshop's worth of resources, made through the workshop's clients, plus bystanders;
    then the first clean-up."""
    ws = connect_to(lab, tmp_path_factory.mktemp("workshop"))
    ensure_setup(ws)
    ensure_group_and_type(ws, "bulk-group", "bulk-type")
    ensure_building_group(ws)  # building-one, SmartBuilding_Policy, group-member (chapter 08)
    member = Device.from_workshop(ws, "group-member")
    with pytest.raises(PublishRefused), member:  # refused: AWS IoT logs it, so its log group appears
        member.publish("not/the/members/topic", {"hello": "refused"})
    wait_for_log_group(ws, "AWSIotLogsV2")
    ensure_device(ws, "job-agent")  # chapter 06's agent
    iot = ws.iot
    iot.create_thing(thingName="my-first-thing", thingTypeName="bulk-type")
    iot.create_thing(thingName="my-first-thing", thingTypeName="bulk-type")  # a re-run: AWS answers the same thing
    created = iot.create_keys_and_certificate(setAsActive=True)
    certs.save_device(ws, "my-first-thing", created["certificatePem"], created["keyPair"]["PrivateKey"])
    iot.create_policy(policyName="my-first-thing_Policy", policyDocument=CONNECT_ONLY)
    iot.create_policy_version(policyName="my-first-thing_Policy", setAsDefault=True, policyDocument=CONNECT_ONLY)
    iot.attach_policy(policyName="my-first-thing_Policy", target=created["certificateArn"])
    iot.attach_policy(policyName=ws.stack_outputs["IoTPolicy"], target=created["certificateArn"])
    iot.attach_thing_principal(thingName="my-first-thing", principal=created["certificateArn"])
    iot.add_thing_to_thing_group(thingGroupName="building-one", thingName="my-first-thing")
    ws.iot_data.update_thing_shadow(thingName="my-first-thing", payload=b'{"state": {"reported": {"temperature": 21}}}')
    iot.set_v2_logging_level(logTarget={"targetType": "THING_GROUP", "targetName": "building-one"}, logLevel="DEBUG")
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY_AND_SHADOW"})
    agent = iot.describe_thing(thingName="job-agent")["thingArn"]
    iot.create_job(jobId="job-1", document="{}", targets=[agent])

    devices = make_devices("bulky", 2, key_kind="ec")
    ws.s3.put_object(Bucket=ws.stack_outputs["S3Bucket"], Key="bulky-input.json", Body=bulk_input(devices).encode())
    template = json.loads(Path(__file__).resolve().parents[2].joinpath("data/provisioning-template.json").read_text())
    task = iot.start_thing_registration_task(
        templateBody=json.dumps(template), inputFileBucket=ws.stack_outputs["S3Bucket"], inputFileKey="bulky-input.json",
        roleArn=ws.stack_outputs["ArnIoTProvisioningRole"])
    assert follow_task(ws, task["taskId"], progress=False)["successCount"] == 2

    ca_id = jitp_device(ws, "bulk-group", ws.stack_outputs["IoTPolicy"])
    jitr_function_and_rule(ws)

    trainee, trainee_logs = raw(ws), raw(ws, "logs")
    # What a JITR Lambda does: a policy of its own, made outside the ledger, for the CA's device.
    [device_cert] = trainee.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]
    trainee.create_policy(policyName="jitr-device-policy", policyDocument=CONNECT_ONLY)
    trainee.attach_policy(policyName="jitr-device-policy", target=device_cert["certificateArn"])
    # Bystanders: a thing, a policy attached to a certificate of their own, a log group of their own.
    trainee.create_thing(thingName="not-from-the-workshop")
    trainee.create_policy(policyName="bystander-policy", policyDocument=CONNECT_ONLY)
    own_cert = trainee.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    trainee.attach_policy(policyName="bystander-policy", target=own_cert)
    trainee_logs.create_log_group(logGroupName="AWSIotLogsV2-not-the-workshops")
    before = log_groups(ws)
    return {"ws": ws, "ca": ca_id, "log groups before": before, **clean_up(ws)}


def names(found, kind: str) -> set[str]:
    return set(found.loc[found["kind"] == kind, "name"])


def ours(found, kind: str) -> set[str]:
    return set(found.loc[(found["kind"] == kind) & found["ours"], "name"])


# -- the first clean-up ------------------------------------------------------------------------------


def test_the_ledger_records_identities_and_not_what_existed_before(session):
    entries = ledger.read(session["ws"])
    things = [e for e in entries if e.kind == "thing" and e.name == "my-first-thing"]
    assert len(things) == 1 and things[0].identity["thingId"]  # the second CreateThing answered the same thing
    [policy] = [e for e in entries if e.kind == "policy" and e.name == "my-first-thing_Policy"]
    assert policy.identity["creationDate"].startswith("20")
    created, replaced = [e for e in entries if e.kind == "topic rule"]
    assert created.identity["createdAt"] and replaced.detail["previous"] == created.identity
    [group] = [e for e in entries if e.kind == "log group"]
    assert (group.name, type(group.identity["creationTime"])) == (ERRORS_GROUP, int)
    functions = [e for e in entries if e.kind == "Lambda function"]
    assert [e.operation for e in functions] == ["CreateFunction", "UpdateFunctionCode"]
    assert functions[1].detail["previous"]["LastModified"] == functions[0].identity["LastModified"]


def test_the_inventory_names_what_the_calls_created(session):
    found = session["found"]
    assert {"my-first-thing", "bulky1", "bulky2", "jitp-device", "job-agent", "group-member"} <= ours(found, "thing")
    assert {"bulk-group", "building-one"} <= ours(found, "thing group")
    assert {"my-first-thing_Policy", "SmartBuilding_Policy", "iotdm-device-policy", "jitr-device-policy"} <= ours(found, "policy")
    assert ours(found, "CA certificate") == {session["ca"]}
    assert ours(found, "topic rule") == {"JITRRule"} and ours(found, "Lambda function") == {"jitr"}
    assert ours(found, "job") == {"job-1"}
    assert len(ours(found, "certificate")) == 6  # my-first-thing, group-member, job-agent, two bulk, one JITP
    assert {"THING", "JOB"} <= names(found, "event configuration")
    assert {"jitp/rootCA.key", "jitp/jitp-device.key", "devices/my-first-thing.key"} <= names(found, "local file")


def test_the_inventory_says_where_derived_resources_come_from(session):
    source = session["found"].set_index(["kind", "name"])["source"]
    assert source[("thing", "bulky1")].startswith("bulk task ")
    assert source[("thing", "jitp-device")].startswith("attached to a certificate of CA ")
    assert source[("policy", "jitr-device-policy")].startswith("attached to a certificate of CA ")
    assert source[("policy", "iotdm-device-policy")] == "stack iot-dm-workshop"
    assert source[("log group", "/aws/lambda/jitr")] == "log of the function jitr"


def test_the_inventory_never_lists_the_bystanders(session):
    found = session["found"]
    assert "not-from-the-workshop" not in names(found, "thing")
    assert "bystander-policy" not in names(found, "policy")
    assert "AWSIotLogsV2-not-the-workshops" not in names(found, "log group")


def test_every_step_of_the_first_clean_up_succeeds(session):
    results = session["results"]
    failed = results[~results["result"].isin(FINE)]
    assert failed.empty, failed[["action", "name", "result", "detail"]].to_string()
    assert session["plan"].side_effects.empty and session["plan"].kept.empty


def test_nothing_the_workshop_created_is_left(session):
    left = cleanup.leftovers(session["ws"])
    assert left.empty, left[["kind", "name", "status", "note"]].to_string()


def test_the_log_groups_the_workshop_caused_are_gone_and_others_stay(session):
    before, after = session["log groups before"], log_groups(session["ws"])
    assert {"/aws/lambda/jitr", ERRORS_GROUP, "AWSIotLogsV2"} <= before
    assert not {"/aws/lambda/jitr", ERRORS_GROUP, "AWSIotLogsV2"} & after
    assert "AWSIotLogsV2-not-the-workshops" in after


def test_the_bystanders_survive(session):
    trainee = raw(session["ws"])
    assert trainee.describe_thing(thingName="not-from-the-workshop")["thingName"] == "not-from-the-workshop"
    assert len(trainee.list_targets_for_policy(policyName="bystander-policy")["targets"]) == 1


def test_settings_are_back_to_their_values_from_before(session):
    iot = session["ws"].iot
    events = iot.describe_event_configurations()["eventConfigurations"]
    assert not any(configuration["Enabled"] for configuration in events.values())
    assert iot.get_indexing_configuration()["thingIndexingConfiguration"]["thingIndexingMode"] == "OFF"
    assert iot.get_v2_logging_options()["disableAllLogs"] is True
    assert iot.list_v2_logging_levels(targetType="THING_GROUP")["logTargetConfigurations"] == []


def test_the_stack_and_the_key_files_are_gone(session):
    ws = session["ws"]
    assert not exists(lambda: ws.cloudformation.describe_stacks(StackName=ws.stack_name))
    assert not exists(lambda: ws.iot.get_policy(policyName="iotdm-device-policy"))
    assert not [p for p in ws.work_dir.rglob("*.key")]


def test_running_the_clean_up_again_finds_nothing_to_do(session):
    ws = session["ws"]
    again = cleanup.run(ws, session["plan"], dry_run=False, progress=False)
    assert set(again["result"]) <= {"already gone", "nothing to do"}, again[["action", "name", "result"]].to_string()
    assert cleanup.plan(ws, cleanup.inventory(ws, progress=False)).steps == []


# -- the case: same names made again by hand, and things of the trainee's own -----------------


@pytest.fixture(scope="module")
def second(lab, session):
    """After the first clean-up: the trainee's own resources (AWS CLI) and the workshop's set-up again;
    then the second clean-up, with what was there after it."""
    ws, cli = session["ws"], Cli(lab)
    for thing in ("job-agent", "group-member"):
        cli("iot", "create-thing", "--thing-name", thing)
    cli("iot", "create-thing-group", "--thing-group-name", "building-one")
    cli("iot", "create-policy", "--policy-name", "SmartBuilding_Policy", "--policy-document", CONNECT_ONLY)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = raw(ws, "iam").create_role(RoleName="my-lambda-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    trainee_lambda = raw(ws, "lambda")
    trainee_lambda.create_function(FunctionName="jitr", Runtime="python3.12", Role=role,
                                   Handler="lambda_function.lambda_handler", Code={"ZipFile": function_zip()})
    trainee_lambda.invoke(FunctionName="jitr", Payload=b"{}")
    wait_for_log_group(ws, "/aws/lambda/jitr")

    ensure_setup(ws)  # the workshop again: its stack, logging, events
    ensure_group_and_type(ws, "bulk-group", "bulk-type")
    bucket, policy = ws.stack_outputs["S3Bucket"], ws.stack_outputs["IoTPolicy"]
    ws.s3.put_object(Bucket=bucket, Key="job-document.json", Body=b'{"operation": "sys-info"}')

    cli("s3api", "put-object", "--bucket", bucket, "--key", "my-notes.txt", "--body", __file__)
    foreign_cert = cli("iot", "create-keys-and-certificate", "--set-as-active")["certificateArn"]
    cli("iot", "attach-policy", "--policy-name", policy, "--target", foreign_cert)
    cli("iot", "create-thing", "--thing-name", "foreign-sensor", "--thing-type-name", "bulk-type")
    identities = {
        "job-agent": ws.iot.describe_thing(thingName="job-agent")["thingId"],
        "group-member": ws.iot.describe_thing(thingName="group-member")["thingId"],
        "building-one": ws.iot.describe_thing_group(thingGroupName="building-one")["thingGroupId"],
        "SmartBuilding_Policy": ws.iot.get_policy(policyName="SmartBuilding_Policy")["creationDate"],
    }

    done = clean_up(ws)
    iot, s3 = raw(ws), raw(ws, "s3")
    after = {
        "job-agent": iot.describe_thing(thingName="job-agent")["thingId"],
        "group-member": iot.describe_thing(thingName="group-member")["thingId"],
        "building-one": iot.describe_thing_group(thingGroupName="building-one")["thingGroupId"],
        "SmartBuilding_Policy": iot.get_policy(policyName="SmartBuilding_Policy")["creationDate"],
        "objects": {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])},
        "policies of the foreign certificate": [p["policyName"] for p in iot.list_attached_policies(target=foreign_cert)["policies"]],
        "type of foreign-sensor": iot.describe_thing(thingName="foreign-sensor").get("thingTypeName"),
        "bulk-type deprecated": iot.describe_thing_type(thingTypeName="bulk-type")["thingTypeMetadata"]["deprecated"],
        "jitr function": exists(lambda: trainee_lambda.get_function(FunctionName="jitr")),
        "log groups": log_groups(ws),
        "stack": exists(lambda: ws.cloudformation.describe_stacks(StackName=ws.stack_name)),
    }
    return {**done, "ws": ws, "bucket": bucket, "policy": policy, "foreign cert": foreign_cert, "before": identities,
            "after": after}


def test_same_named_resources_made_by_hand_are_listed_as_not_the_workshops(second):
    not_ours = second["plan"].not_ours.set_index(["kind", "name"])["why"]
    for key in [("thing", "job-agent"), ("thing", "group-member"), ("thing group", "building-one"),
                ("policy", "SmartBuilding_Policy"), ("Lambda function", "jitr"), ("log group", "/aws/lambda/jitr")]:
        assert key in not_ours.index, f"{key} is not listed as not the workshop's"
        assert not_ours[key].startswith("not the workshop's")
    assert "thingId" in not_ours[("thing", "job-agent")] and "made again outside the workshop" in not_ours[("thing", "job-agent")]


def test_the_second_clean_up_leaves_every_one_of_them_alone(second):
    before, after = second["before"], second["after"]
    assert {k: after[k] for k in before} == before
    assert after["jitr function"] and "/aws/lambda/jitr" in after["log groups"]
    assert after["objects"] == {"my-notes.txt"}  # the workshop's object went, the trainee's stayed
    assert after["policies of the foreign certificate"] == [second["policy"]]
    assert (after["type of foreign-sensor"], after["bulk-type deprecated"]) == ("bulk-type", False)


def test_its_dry_run_lists_each_side_effect_and_says_it_leaves_them_alone(second):
    effects = second["plan"].side_effects
    table = {(row["not the workshop's"], row["because the clean-up would"]): row for row in effects.to_dict("records")}
    cert = f"certificate {second['foreign cert'].rsplit('/', 1)[1][:12]}…"
    policy = second["policy"]
    assert set(table) == {(cert, f"delete policy {policy}"), ("S3 object my-notes.txt", f"delete S3 bucket {second['bucket']}"),
                          ("thing foreign-sensor", "delete thing type bulk-type")}
    assert table[(cert, f"delete policy {policy}")]["what would happen to it"].startswith(f"would lose the policy {policy}")
    assert all(row["the clean-up"].startswith("leaves it alone") for row in table.values())


def test_the_stack_stays_and_the_plan_says_why(second):
    kept = second["plan"].kept.set_index(["kind", "name"])["why it stays"]
    assert second["after"]["stack"]
    why = kept[("stack", second["ws"].stack_name)]
    assert "my-notes.txt" in why or second["policy"] in why
    assert "my-notes.txt" in kept[("S3 bucket", second["bucket"])]
    assert "foreign-sensor" in kept[("thing type", "bulk-type")]


def test_the_second_clean_up_neither_fails_nor_waits(second):
    results = second["results"]
    failed = results[~results["result"].isin(FINE)]
    assert failed.empty, failed[["action", "name", "result", "detail"]].to_string()
    assert second["seconds"] < 30, f"the clean-up took {second['seconds']:.0f} s"
    assert set(second["dry"]["name"]) >= {"job-document.json"}
    assert not {"job-agent", "group-member", "building-one", "SmartBuilding_Policy", "foreign-sensor"} & set(second["dry"]["name"])


def test_allowing_side_effects_does_them_and_removes_the_stack(second):
    ws = second["ws"]
    done = clean_up(ws, allow_side_effects=True)
    assert set(done["plan"].side_effects["the clean-up"]) == {"does it (you allowed side effects)"}
    failed = done["results"][~done["results"]["result"].isin(FINE)]
    assert failed.empty, failed[["action", "name", "result", "detail"]].to_string()
    assert not exists(lambda: ws.cloudformation.describe_stacks(StackName=ws.stack_name))
    iot = raw(ws)
    assert iot.list_attached_policies(target=second["foreign cert"])["policies"] == []  # detached, as allowed
    assert iot.describe_thing_type(thingTypeName="bulk-type")["thingTypeMetadata"]["deprecated"] is True
    assert iot.describe_thing(thingName="foreign-sensor")["thingTypeName"] == "bulk-type"  # never deleted nor changed
    assert iot.describe_thing(thingName="job-agent")["thingId"] == second["before"]["job-agent"]
    left = cleanup.leftovers(ws, allow_side_effects=True)
    assert list(zip(left["kind"], left["name"])) == [("thing type", "bulk-type")]
    assert left["note"][0].startswith("deprecated only")


# -- other rules ---------------------------------------------------------------------------------------


def test_with_a_prefix_an_unprefixed_name_is_kept_even_if_the_workshop_made_it(lab, tmp_path):
    ws = connect_to(lab, tmp_path, prefix="anna-")
    ws.iot.create_thing(thingName="anna-sensor")
    ws.iot.create_thing(thingName="sensor-without-prefix")

    found = cleanup.inventory(ws, progress=False)
    the_plan = cleanup.plan(ws, found)
    results = cleanup.run(ws, the_plan, dry_run=False, progress=False)

    kept = the_plan.kept.set_index("name")["why it stays"]
    assert kept["sensor-without-prefix"] == "its name does not start with the workshop's prefix 'anna-'"
    assert list(results["name"].unique()) == ["anna-sensor"]
    assert exists(lambda: ws.iot.describe_thing(thingName="sensor-without-prefix"))
    assert not exists(lambda: ws.iot.describe_thing(thingName="anna-sensor"))
    ws.iot.delete_thing(thingName="sensor-without-prefix")


def test_a_thing_made_again_between_dry_run_and_run_is_left_alone(lab, tmp_path):
    ws = connect_to(lab, tmp_path, prefix="ben-")
    ws.iot.create_thing(thingName="ben-sensor")
    the_plan = cleanup.plan(ws, cleanup.inventory(ws, progress=False))
    ws.iot.delete_thing(thingName="ben-sensor")
    raw(ws).create_thing(thingName="ben-sensor")  # someone else's, same name, between dry run and run

    results = cleanup.run(ws, the_plan, dry_run=False, progress=False)

    [row] = results[results["action"] == "delete thing"].to_dict("records")
    assert row["result"] == "left alone" and "thingId" in row["detail"]
    assert exists(lambda: ws.iot.describe_thing(thingName="ben-sensor"))
    raw(ws).delete_thing(thingName="ben-sensor")


def test_an_empty_ledger_plans_nothing(lab, tmp_path):
    ws = connect_to(lab, tmp_path)
    found = cleanup.inventory(ws, progress=False)
    assert found.empty and ledger.read(ws) == []
    assert cleanup.plan(ws, found).steps == []
    assert cleanup.run(ws, [], dry_run=False).empty


# -- chapter 10's exercise: the check says what is missing ---------------------------------------------


def test_the_by_hand_exercise_check_says_what_is_missing_until_it_is_done(lab, tmp_path):
    from helpers.checks import by_hand_cleanup_problem

    ws = connect_to(lab, tmp_path, prefix="cara-")
    since = ledger.now_iso()
    assert by_hand_cleanup_problem(ws, since) == ("the ledger has no thing, certificate, policy made with ws.iot since "
                                                  "the clean-up ran (step 1)")
    thing, policy = ws.name("scratch-thing"), ws.name("scratch-policy")
    ws.iot.create_thing(thingName=thing)
    created = ws.iot.create_keys_and_certificate(setAsActive=True)
    files = certs.save_device(ws, thing, created["certificatePem"], created["keyPair"]["PrivateKey"])
    ws.iot.create_policy(policyName=policy, policyDocument=CONNECT_ONLY)
    ws.iot.attach_policy(policyName=policy, target=created["certificateArn"])
    ws.iot.attach_thing_principal(thingName=thing, principal=created["certificateArn"])
    short_id = created["certificateId"][:12] + "…"
    assert by_hand_cleanup_problem(ws, since) == f"still there: thing {thing}, certificate {short_id}, policy {policy} (step 3)"

    ws.iot.detach_thing_principal(thingName=thing, principal=created["certificateArn"])
    ws.iot.delete_thing(thingName=thing)  # a wrong answer: the thing only; certificate and policy stay, still usable
    assert by_hand_cleanup_problem(ws, since) == f"still there: certificate {short_id}, policy {policy} (step 3)"

    ws.iot.detach_policy(policyName=policy, target=created["certificateArn"])
    ws.iot.update_certificate(certificateId=created["certificateId"], newStatus="INACTIVE")
    ws.iot.delete_certificate(certificateId=created["certificateId"])
    ws.iot.delete_policy(policyName=policy)
    assert by_hand_cleanup_problem(ws, since) == (f"files of a deleted certificate are left: devices/{thing}.crt, "
                                                  f"devices/{thing}.key (step 4)")

    files.cert.unlink()
    files.key.unlink()
    raw(ws).create_thing(thingName=thing)  # someone else's thing of that name is not the exercise's
    assert by_hand_cleanup_problem(ws, since) == ""
    raw(ws).delete_thing(thingName=thing)
