"""The ledger and the clean-up against a real lab of their own (settings changes stay in it).

A workshop session creates what the chapters create (stack, settings, things, certificates,
policies, groups, a type, a bulk task, a CA with a JITP device, a rule with its Lambda function, a
job, a shadow, files) through ``connect()``'s clients; bystanders are made with clients that do not
record. The clean-up must remove the former, restore the settings, and leave the bystanders alone.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from helpers import certs, cleanup, ledger
from helpers.catchup import ensure_group_and_type, ensure_setup
from helpers.device import ConnectionRefused, Device
from helpers.provisioning import bulk_input, follow_task, make_devices
from helpers.secrets import write_private
from helpers.workshop import connect
from labfixture import start_lab, stop_lab

pytestmark = pytest.mark.lab

LAB_VARIABLES = ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT")
LAMBDA_CODE = "def lambda_handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("cleanup-lab"))
    yield running
    stop_lab(running)


def connect_to(lab, work_dir: Path, prefix: str = ""):
    with pytest.MonkeyPatch.context() as env:
        for variable in LAB_VARIABLES:
            env.setenv(variable, lab.env[variable])
        env.delenv("WORKSHOP_BACKEND", raising=False)
        env.delenv("JPY_SESSION_NAME", raising=False)
        return connect(prefix=prefix, work_dir=work_dir)


def raw_iot(ws):
    """An IoT client of the same session that the ledger does not watch."""
    return ws.session.client("iot", endpoint_url=ws.http_url)


def exists(call) -> bool:
    try:
        call()
    except Exception as error:  # noqa: BLE001
        if cleanup.is_gone(error):
            return False
        raise
    return True


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


def lambda_and_rule(ws) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", LAMBDA_CODE)
    function = ws.lambda_.create_function(FunctionName="jitr", Runtime="python3.12", Handler="lambda_function.lambda_handler",
                                          Role=ws.stack_outputs["ArnLambdaRole"], Code={"ZipFile": archive.getvalue()})
    ws.iot.create_topic_rule(ruleName="JITRRule", topicRulePayload={
        "sql": "SELECT * FROM '$aws/events/certificates/registered/#'",
        "actions": [{"lambda": {"functionArn": function["FunctionArn"]}}]})


@pytest.fixture(scope="module")
def session(lab, tmp_path_factory):
    """A whole workshop's worth of resources, made through the workshop's clients, plus bystanders."""
    ws = connect_to(lab, tmp_path_factory.mktemp("workshop"))
    ensure_setup(ws)
    ensure_group_and_type(ws, "bulk-group", "bulk-type")
    iot = ws.iot
    iot.create_thing_group(thingGroupName="building-one", parentGroupName="bulk-group")
    iot.create_thing(thingName="my-first-thing", thingTypeName="bulk-type")
    created = iot.create_keys_and_certificate(setAsActive=True)
    certs.save_device(ws, "my-first-thing", created["certificatePem"], created["keyPair"]["PrivateKey"])
    iot.create_policy(policyName="my-first-thing_Policy", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    iot.create_policy_version(policyName="my-first-thing_Policy", setAsDefault=True, policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    iot.attach_policy(policyName="my-first-thing_Policy", target=created["certificateArn"])
    iot.attach_policy(policyName=ws.stack_outputs["IoTPolicy"], target=created["certificateArn"])
    iot.attach_thing_principal(thingName="my-first-thing", principal=created["certificateArn"])
    iot.add_thing_to_thing_group(thingGroupName="building-one", thingName="my-first-thing")
    iot.attach_policy(policyName="my-first-thing_Policy",
                      target=iot.describe_thing_group(thingGroupName="building-one")["thingGroupArn"])
    ws.iot_data.update_thing_shadow(thingName="my-first-thing", payload=b'{"state": {"reported": {"temperature": 21}}}')
    iot.set_v2_logging_level(logTarget={"targetType": "THING_GROUP", "targetName": "building-one"}, logLevel="DEBUG")
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY_AND_SHADOW"})
    iot.create_job(jobId="job-1", document="{}", targets=[iot.describe_thing(thingName="my-first-thing")["thingArn"]])

    devices = make_devices("bulky", 2, key_kind="ec")
    ws.s3.put_object(Bucket=ws.stack_outputs["S3Bucket"], Key="bulky-input.json", Body=bulk_input(devices).encode())
    template = json.loads(Path(__file__).resolve().parents[2].joinpath("data/provisioning-template.json").read_text())
    task = iot.start_thing_registration_task(
        templateBody=json.dumps(template), inputFileBucket=ws.stack_outputs["S3Bucket"], inputFileKey="bulky-input.json",
        roleArn=ws.stack_outputs["ArnIoTProvisioningRole"])
    assert follow_task(ws, task["taskId"], progress=False)["successCount"] == 2

    ca_id = jitp_device(ws, "bulk-group", ws.stack_outputs["IoTPolicy"])
    lambda_and_rule(ws)

    raw = raw_iot(ws)
    connect_only = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                                                                        "Resource": "*"}]})
    # What a JITR Lambda does: a policy of its own, made outside the ledger, for the CA's device.
    [device_cert] = raw.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]
    raw.create_policy(policyName="jitr-device-policy", policyDocument=connect_only)
    raw.attach_policy(policyName="jitr-device-policy", target=device_cert["certificateArn"])
    # Bystanders: a thing, and a policy attached to a certificate of their own and to the CA's device.
    raw.create_thing(thingName="not-from-the-workshop")
    raw.create_policy(policyName="bystander-policy", policyDocument=connect_only)
    own_cert = raw.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    raw.attach_policy(policyName="bystander-policy", target=own_cert)
    raw.attach_policy(policyName="bystander-policy", target=device_cert["certificateArn"])
    found = cleanup.inventory(ws, progress=False)
    steps = cleanup.plan(ws, found)
    results = cleanup.run(ws, steps, dry_run=False, progress=False)
    return {"ws": ws, "found": found, "steps": steps, "results": results, "ca": ca_id}


def names(found, kind: str) -> set[str]:
    return set(found.loc[found["kind"] == kind, "name"])


def test_the_inventory_names_what_the_calls_created(session):
    found = session["found"]
    assert {"my-first-thing", "bulky1", "bulky2", "jitp-device"} <= names(found, "thing")
    assert {"bulk-group", "building-one"} <= names(found, "thing group")
    assert {"my-first-thing_Policy", "iotdm-device-policy", "jitr-device-policy"} <= names(found, "policy")
    assert names(found, "CA certificate") == {session["ca"]}
    assert names(found, "topic rule") == {"JITRRule"} and names(found, "Lambda function") == {"jitr"}
    assert names(found, "job") == {"job-1"}
    assert len(names(found, "certificate")) == 4  # one by API, two by the bulk task, one by JITP
    assert {"THING", "JOB"} <= names(found, "event configuration")
    assert {"jitp/rootCA.key", "jitp/jitp-device.key", "devices/my-first-thing.key"} <= names(found, "local file")


def test_the_inventory_says_where_derived_resources_come_from(session):
    source = session["found"].set_index(["kind", "name"])["source"]
    assert source[("thing", "bulky1")].startswith("bulk task ")
    assert source[("thing", "jitp-device")].startswith("attached to a certificate of CA ")
    assert source[("policy", "jitr-device-policy")].startswith("attached to a certificate of CA ")
    assert source[("policy", "iotdm-device-policy")] == "stack iot-dm-workshop"


def test_the_inventory_never_lists_the_bystanders(session):
    found = session["found"]
    assert "not-from-the-workshop" not in names(found, "thing")
    assert "bystander-policy" not in names(found, "policy")


def test_every_step_of_the_clean_up_succeeds(session):
    results = session["results"]
    failed = results[~results["result"].isin(["done", "already gone", "nothing to do"])]
    assert failed.empty, failed[["action", "name", "result", "detail"]].to_string()


def test_nothing_the_workshop_created_is_left(session):
    left = cleanup.leftovers(session["ws"])
    assert left.empty, left[["kind", "name", "status", "note"]].to_string()


def test_the_bystanders_survive(session):
    raw = raw_iot(session["ws"])
    assert raw.describe_thing(thingName="not-from-the-workshop")["thingName"] == "not-from-the-workshop"
    assert raw.get_policy(policyName="bystander-policy")["policyName"] == "bystander-policy"
    assert len(raw.list_targets_for_policy(policyName="bystander-policy")["targets"]) == 1  # its own certificate


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
    again = cleanup.run(ws, session["steps"], dry_run=False, progress=False)
    assert set(again["result"]) <= {"already gone", "nothing to do"}
    assert cleanup.plan(ws, cleanup.inventory(ws, progress=False)) == []


def test_with_a_prefix_an_unprefixed_name_is_kept_even_if_the_workshop_made_it(lab, tmp_path):
    ws = connect_to(lab, tmp_path, prefix="anna-")
    ws.iot.create_thing(thingName="anna-sensor")
    ws.iot.create_thing(thingName="sensor-without-prefix")

    found = cleanup.inventory(ws, progress=False)
    results = cleanup.run(ws, cleanup.plan(ws, found), dry_run=False, progress=False)

    kept = found.set_index("name").loc["sensor-without-prefix"]
    assert (bool(kept["delete"]), kept["note"]) == (False, "kept: the name does not start with the workshop's prefix 'anna-'")
    assert list(results["name"].unique()) == ["anna-sensor"]
    assert exists(lambda: ws.iot.describe_thing(thingName="sensor-without-prefix"))
    assert not exists(lambda: ws.iot.describe_thing(thingName="anna-sensor"))


def test_an_empty_ledger_plans_nothing(lab, tmp_path):
    ws = connect_to(lab, tmp_path)
    found = cleanup.inventory(ws, progress=False)
    assert found.empty and ledger.read(ws) == []
    assert cleanup.plan(ws, found) == []
    assert cleanup.run(ws, [], dry_run=False).empty
