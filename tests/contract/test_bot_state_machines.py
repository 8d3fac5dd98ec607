"""Chapter 11's state machines run for real on the lab, driven with the AWS CLI as on AWS.

The bots stack (``cfn/iot-dm-bots.yaml``) is deployed with ``aws cloudformation``; ``ProvisionBot``
and ``RemoveBot`` run with ``aws stepfunctions start-execution`` / ``describe-execution`` /
``get-execution-history``. What an execution created or removed is read back with the CLI and boto3;
the stored key pair must connect to the lab's broker over mutual TLS.
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from awscli import AWS, Cli, CliError
from devices import write_secret
from labfixture import unique

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cfn" / "iot-dm-bots.yaml"
pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv (pip install awscli)")

EXECUTION_S = 60  # an execution's deadline (a few seconds on the lab)
WAIT_S = 10
PROVISION_STEPS = ["CreateThing", "CreateKeysAndCertificate", "AttachPolicy", "AttachThingPrincipal", "SaveKeys",
                   "SaveMetadata", "Provisioned"]
REMOVE_STEPS = ["GetMetadata", "DeactivateCertificate", "DetachThingPrincipal", "DetachPolicy", "DeleteCertificate",
                "DeleteThing", "DeleteKeys", "DeleteMetadata", "Removed"]


def deploy(aws: Cli, prefix: str) -> dict[str, str]:
    name = f"{prefix}-bots"
    aws("cloudformation", "create-stack", "--stack-name", name, "--template-body", f"file://{TEMPLATE}",
        "--parameters", f"ParameterKey=Prefix,ParameterValue={prefix}", "--capabilities", "CAPABILITY_NAMED_IAM")
    stack = aws.wait_stack(name, ("CREATE_COMPLETE",), timeout=120)
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def tear_down(aws: Cli, prefix: str, outputs: dict[str, str], stack_name: str | None = None) -> None:
    """Remove the bots a failed test left (with RemoveBot), empty the bucket, delete the stack."""
    sfn, s3 = aws.client("stepfunctions"), aws.client("s3")
    for item in aws.client("dynamodb").scan(TableName=outputs["BotsTableName"]).get("Items", []):
        started = sfn.start_execution(stateMachineArn=outputs["RemoveBotArn"],
                                      input=json.dumps({"thingName": item["thingName"]["S"]}))
        deadline = time.monotonic() + EXECUTION_S
        while sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    for item in s3.list_objects_v2(Bucket=outputs["BotsBucketName"]).get("Contents", []):
        s3.delete_object(Bucket=outputs["BotsBucketName"], Key=item["Key"])
    aws("cloudformation", "delete-stack", "--stack-name", stack_name or f"{prefix}-bots")
    deadline = time.monotonic() + 60
    while any(s["StackName"] == (stack_name or f"{prefix}-bots") for s in aws.client("cloudformation").list_stacks(
            StackStatusFilter=["CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED"])["StackSummaries"]):
        assert time.monotonic() < deadline, "the bots stack was not deleted within 60 s"
        time.sleep(0.2)


def run(aws: Cli, machine_arn: str, thing_name: str) -> dict:
    """Start an execution with the CLI and poll describe-execution until it ends; its description."""
    started = aws("stepfunctions", "start-execution", "--state-machine-arn", machine_arn,
                  "--input", json.dumps({"thingName": thing_name}))
    deadline = time.monotonic() + EXECUTION_S
    while True:
        described = aws("stepfunctions", "describe-execution", "--execution-arn", started["executionArn"])
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{machine_arn} still RUNNING after {EXECUTION_S} s"
        time.sleep(0.2)


def history(aws: Cli, execution_arn: str) -> list[dict]:
    return aws("stepfunctions", "get-execution-history", "--execution-arn", execution_arn)["events"]


def entered(events: list[dict]) -> list[str]:
    """The names of the states entered, in order."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def gone(call, **params) -> bool:
    try:
        call(**params)
    except Exception as error:  # noqa: BLE001 - botocore ClientError
        return "NotFound" in type(error).__name__ or "NoSuchKey" in type(error).__name__ or "404" in str(error)
    return False


@pytest.fixture(scope="module")
def stack(lab):
    aws = Cli(lab)
    prefix = unique("b")
    outputs = deploy(aws, prefix)
    yield prefix, outputs
    tear_down(aws, prefix, outputs)


@pytest.fixture
def aws(lab):
    cli = Cli(lab)
    yield cli
    cli.assert_serving()


class Bot:
    """An mTLS MQTT connection with a bot's key pair; ``events`` gets connack/puback/gone."""

    def __init__(self, lab, folder: Path, client_id: str, cert_pem: str, key_pem: str) -> None:
        cert = write_secret(folder / f"{client_id}.crt", cert_pem)
        key = write_secret(folder / f"{client_id}.key", key_pem)
        self.client_id, self.events = client_id, queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = lambda c, u, flags, rc, props: self.events.put(("connack", rc.value))
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.events.put(("gone", rc.value))
        self.client.on_publish = lambda c, u, mid, rc, props: self.events.put(("puback", rc.value))
        self.client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30)
        self.client.loop_start()

    def connack(self) -> int:
        """CONNACK reason code (0: accepted); an accepted bot's heartbeat must be acknowledged."""
        kind, code = self.events.get(timeout=WAIT_S)
        if kind == "connack" and code == 0:
            info = self.client.publish(f"bots/{self.client_id}/heartbeat", json.dumps({"thingName": self.client_id}), qos=1)
            assert info.rc == 0
            assert self.events.get(timeout=WAIT_S) == ("puback", 0), "the bot's heartbeat was not acknowledged"
        return code

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(lab, folder: Path, client_id: str, cert_pem: str, key_pem: str) -> int:
    bot = Bot(lab, folder, client_id, cert_pem, key_pem)
    try:
        return bot.connack()
    finally:
        bot.close()


def test_provision_then_remove_a_bot(lab, aws, stack, tmp_path):
    prefix, outputs = stack
    name = unique("bot")
    iot, s3, ddb = aws.client("iot"), aws.client("s3"), aws.client("dynamodb")

    done = run(aws, outputs["ProvisionBotArn"], name)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert set(output) == {"thingName", "certificateArn", "certificateId"} and output["thingName"] == name
    cert_arn, cert_id = output["certificateArn"], output["certificateId"]

    assert aws("iot", "describe-thing", "--thing-name", name)["thingName"] == name
    described = aws("iot", "describe-certificate", "--certificate-id", cert_id)["certificateDescription"]
    assert described["status"] == "ACTIVE" and described["certificateArn"] == cert_arn
    assert aws("iot", "list-thing-principals", "--thing-name", name)["principals"] == [cert_arn]
    attached = aws("iot", "list-attached-policies", "--target", cert_arn)["policies"]
    assert [p["policyName"] for p in attached] == [outputs["BotPolicyName"]]

    item = aws("dynamodb", "get-item", "--table-name", outputs["BotsTableName"],
               "--key", json.dumps({"thingName": {"S": name}}))["Item"]
    assert {k: v["S"] for k, v in item.items()} == {
        "thingName": name, "status": "PROVISIONED", "certificateArn": cert_arn, "certificateId": cert_id,
        "policyName": outputs["BotPolicyName"], "certificateKey": f"bots/{name}/certificate.pem.crt",
        "privateKeyKey": f"bots/{name}/private.pem.key", "createdAt": item["createdAt"]["S"],
        "executionArn": done["executionArn"],
    }
    assert item["createdAt"]["S"].startswith(time.strftime("%Y-")) and "T" in item["createdAt"]["S"]

    bucket = outputs["BotsBucketName"]
    stored = {}
    for key in (f"bots/{name}/certificate.pem.crt", f"bots/{name}/private.pem.key"):
        obj = s3.get_object(Bucket=bucket, Key=key)
        assert obj["ServerSideEncryption"] == "AES256"
        stored[key.rsplit("/", 1)[1]] = obj["Body"].read().decode()
    assert stored["certificate.pem.crt"] == described["certificatePem"]
    assert stored["private.pem.key"].startswith("-----BEGIN RSA PRIVATE KEY-----")

    # the stored pair is the bot's identity: it connects with its thing name as client id, and only so
    assert connect(lab, tmp_path, name, stored["certificate.pem.crt"], stored["private.pem.key"]) == 0
    assert connect(lab, tmp_path, f"{name}-other", stored["certificate.pem.crt"], stored["private.pem.key"]) != 0

    steps = entered(history(aws, done["executionArn"]))
    assert [s for s in steps if s in PROVISION_STEPS] == PROVISION_STEPS
    assert {"SaveCertificate", "SavePrivateKey"} <= set(steps) and not any(s.startswith("Undo") for s in steps)

    bot = Bot(lab, tmp_path, name, stored["certificate.pem.crt"], stored["private.pem.key"])  # stays online
    try:
        assert bot.connack() == 0
        removed = run(aws, outputs["RemoveBotArn"], name)
        assert removed["status"] == "SUCCEEDED", removed
        assert bot.events.get(timeout=WAIT_S)[0] == "gone", "the removed bot was not disconnected"
    finally:
        bot.close()
    assert entered(history(aws, removed["executionArn"])) == REMOVE_STEPS[:1] + ["BotExists"] + REMOVE_STEPS[1:]
    assert aws.fails("iot", "describe-thing", "--thing-name", name).stderr.count("ResourceNotFoundException")
    assert gone(iot.describe_certificate, certificateId=cert_id)
    assert "Item" not in ddb.get_item(TableName=outputs["BotsTableName"], Key={"thingName": {"S": name}})
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"bots/{name}/").get("KeyCount", 0) == 0
    assert iot.get_policy(policyName=outputs["BotPolicyName"])["policyName"]  # shared by all bots: kept


def certificate_ids(iot) -> set[str]:
    return {c["certificateId"] for c in iot.list_certificates(pageSize=250)["certificates"]}


def test_a_provisioning_that_fails_half_way_undoes_what_it_created(aws, stack):
    """A record of the same name in the table makes SaveMetadata, the last step, fail."""
    prefix, outputs = stack
    name = unique("bot")
    iot, s3, ddb = aws.client("iot"), aws.client("s3"), aws.client("dynamodb")
    table = outputs["BotsTableName"]
    ddb.put_item(TableName=table, Item={"thingName": {"S": name}, "status": {"S": "RESERVED"}})
    certificates = certificate_ids(iot)

    done = run(aws, outputs["ProvisionBotArn"], name)
    assert done["status"] == "FAILED"
    assert done["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "conditional request failed" in done["cause"].lower()

    events = history(aws, done["executionArn"])
    steps = entered(events)
    assert steps[-8:] == ["SaveMetadata", "UndoSaveKeys", "UndoAttachThingPrincipal", "UndoAttachPolicy",
                          "UndoDeactivateCertificate", "UndoDeleteCertificate", "UndoCreateThing", "ProvisioningFailed"]
    failed = [e for e in events if e["type"] == "ExecutionFailed"][0]["executionFailedEventDetails"]
    assert failed["error"] == done["error"] and failed["cause"] == done["cause"]
    assert not any(e["type"] == "TaskFailed" for e in events if events.index(e) > steps.index("UndoSaveKeys") and
                   e.get("taskFailedEventDetails", {}).get("error", "").startswith(("Iot.", "S3.")))

    assert gone(iot.describe_thing, thingName=name)
    assert certificate_ids(iot) == certificates
    assert s3.list_objects_v2(Bucket=outputs["BotsBucketName"], Prefix=f"bots/{name}/").get("KeyCount", 0) == 0
    assert ddb.get_item(TableName=table, Key={"thingName": {"S": name}})["Item"]["status"] == {"S": "RESERVED"}
    ddb.delete_item(TableName=table, Key={"thingName": {"S": name}})


def test_provisioning_a_name_that_is_taken_leaves_the_existing_thing(aws, stack):
    prefix, outputs = stack
    name = unique("bot")
    aws("iot", "create-thing", "--thing-name", name)
    done = run(aws, outputs["ProvisionBotArn"], name)
    assert done["status"] == "FAILED" and done["error"] == "Iot.ResourceAlreadyExistsException"
    assert entered(history(aws, done["executionArn"])) == ["CreateThing", "ProvisioningFailed"]
    assert "(Service: Iot, Status Code: 409" in done["cause"]
    assert aws("iot", "describe-thing", "--thing-name", name)["thingName"] == name
    aws("iot", "delete-thing", "--thing-name", name)


def test_removing_an_unknown_bot_fails_with_bot_not_found(aws, stack):
    prefix, outputs = stack
    name = unique("nobot")
    done = run(aws, outputs["RemoveBotArn"], name)
    assert done["status"] == "FAILED" and done["error"] == "BotNotFound"
    assert name in done["cause"] and outputs["BotsTableName"] in done["cause"]
    assert entered(history(aws, done["executionArn"])) == ["GetMetadata", "BotExists", "BotNotFound"]


def test_start_execution_answers_before_the_execution_ends(aws, stack):
    prefix, outputs = stack
    name = unique("bot")
    sfn = aws.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=outputs["ProvisionBotArn"], input=json.dumps({"thingName": name}))
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] in ("RUNNING", "SUCCEEDED")
    deadline = time.monotonic() + EXECUTION_S
    while sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    everything = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    pages, token = [], None
    while True:  # page by page, newest first, as a progress display reads it
        page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=5, reverseOrder=True,
                                         **({"nextToken": token} if token else {}))
        pages.append(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert all(len(p) == 5 for p in pages[:-1]) and [e for p in pages for e in p] == everything[::-1]
    assert everything[-1]["type"] == "ExecutionSucceeded" and everything[0]["type"] == "ExecutionStarted"
    assert aws.error_code(sfn.get_execution_history, executionArn=started["executionArn"], nextToken="x") == "InvalidToken"
    listed = sfn.list_executions(stateMachineArn=outputs["ProvisionBotArn"])["executions"]
    assert any(e["executionArn"] == started["executionArn"] and e["status"] == "SUCCEEDED" for e in listed)
    assert run(aws, outputs["RemoveBotArn"], name)["status"] == "SUCCEEDED"


def test_state_machines_and_executions_survive_a_restart(tmp_path):
    """A lab of its own, stopped and started again: the machines, a finished execution (status,
    output, history) are back, and RemoveBot still removes the bot provisioned before the restart."""
    from labfixture import RunningLab, free_port
    from localcore import lifecycle
    from localcore.config import LabConfig

    config = LabConfig(home=tmp_path / "lab", http_port=free_port(), mqtt_port=free_port(), ws_port=free_port())
    lab = RunningLab(config, lifecycle.start(config, quiet=True))
    try:
        aws = Cli(lab)
        prefix, name = unique("r"), unique("bot")
        outputs = deploy(aws, prefix)
        done = run(aws, outputs["ProvisionBotArn"], name)
        assert done["status"] == "SUCCEEDED", done
        before = history(aws, done["executionArn"])

        assert lifecycle.stop(config, quiet=True)
        lab.info = lifecycle.start(config, quiet=True)
        aws = Cli(lab)

        machines = {m["name"] for m in aws("stepfunctions", "list-state-machines")["stateMachines"]}
        assert {f"{prefix}-ProvisionBot", f"{prefix}-RemoveBot"} <= machines
        again = aws("stepfunctions", "describe-execution", "--execution-arn", done["executionArn"])
        assert (again["status"], again["output"]) == ("SUCCEEDED", done["output"])
        after = history(aws, done["executionArn"])
        assert [(e["id"], e["type"]) for e in after] == [(e["id"], e["type"]) for e in before]
        assert entered(after) == entered(before)

        removed = run(aws, outputs["RemoveBotArn"], name)
        assert removed["status"] == "SUCCEEDED", removed
        assert aws.fails("iot", "describe-thing", "--thing-name", name).stderr.count("ResourceNotFoundException")
    finally:
        lifecycle.stop(config, quiet=True)


def test_the_kits_deploy_stack_deploys_the_bots_stack(lab, tmp_path):
    """As chapter 11 deploys it: ``ws.deploy_stack(name=..., template=..., parameters=...)``, idempotent."""
    from helpers.workshop import connect as workshop, stack_prefix

    with pytest.MonkeyPatch.context() as env:
        for variable in ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT"):
            env.setenv(variable, lab.env[variable])
        env.delenv("WORKSHOP_BACKEND", raising=False)
        ws = workshop(prefix=unique("k"), work_dir=tmp_path / "work")
    name, prefix = f"{ws.stack_name}-bots", stack_prefix(ws.prefix)
    outputs = ws.deploy_stack(name=name, template=TEMPLATE, parameters={"Prefix": prefix}, timeout=120)
    assert outputs["ProvisionBotArn"].endswith(f":stateMachine:{prefix}-ProvisionBot")
    assert outputs["BotsTableName"] == f"{prefix}-bots" and outputs["BotPolicyName"] == f"{prefix}-bot-policy"
    assert ws.deploy_stack(name=name, template=TEMPLATE, parameters={"Prefix": prefix}, timeout=120) == outputs
    tear_down(Cli(lab), prefix, outputs, stack_name=name)


def test_update_state_machine_checks_the_definition_and_new_runs_use_it(aws, tmp_path):
    """Chapter 11's second exercise with the AWS CLI: a definition that cannot run is refused with
    InvalidDefinition and the machine keeps its old one; a step writing ``firmwareVersion`` added
    with ``update-state-machine`` is denied while the role does not allow iot:UpdateThing (and
    compensated), and runs once it does: the next bot carries the attribute."""
    prefix = unique("fw")
    outputs = deploy(aws, prefix)
    try:
        arn = outputs["ProvisionBotArn"]
        shipped = json.loads(aws("stepfunctions", "describe-state-machine", "--state-machine-arn", arn)["definition"])
        broken = json.loads(json.dumps(shipped))
        broken["States"]["CreateThing"]["Next"] = "SetFirmwareVersion"  # the state itself is forgotten
        (tmp_path / "broken.json").write_text(json.dumps(broken))
        with pytest.raises(CliError) as refused:
            aws("stepfunctions", "update-state-machine", "--state-machine-arn", arn,
                "--definition", f"file://{tmp_path / 'broken.json'}")
        assert "InvalidDefinition" in str(refused.value)
        assert "Missing 'Next' target: SetFirmwareVersion at /States/CreateThing/Next" in str(refused.value)
        kept = json.loads(aws("stepfunctions", "describe-state-machine", "--state-machine-arn", arn)["definition"])
        assert kept == shipped

        fixed = json.loads(json.dumps(broken))
        fixed["States"]["SetFirmwareVersion"] = {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:iot:updateThing",
            "Parameters": {"ThingName.$": "$.thingName",
                           "AttributePayload": {"Attributes": {"firmwareVersion": "1.2.3"}, "Merge": True}},
            "ResultPath": None, "Next": shipped["States"]["CreateThing"]["Next"],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "UndoCreateThing"}]}
        (tmp_path / "fixed.json").write_text(json.dumps(fixed))
        aws("stepfunctions", "update-state-machine", "--state-machine-arn", arn,
            "--definition", f"file://{tmp_path / 'fixed.json'}")

        # The role runs each step: without iot:UpdateThing the new step is denied, and compensated.
        role = outputs["StatesRoleArn"].rsplit("/", 1)[-1]
        granted = aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "provision-and-remove-bots")
        narrower = json.loads(json.dumps(granted["PolicyDocument"]))
        for statement in narrower["Statement"]:
            if isinstance(statement["Action"], list):
                statement["Action"] = [a for a in statement["Action"] if a != "iot:UpdateThing"]
        aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "provision-and-remove-bots",
            "--policy-document", json.dumps(narrower))
        denied_name = unique(f"{prefix}-denied")
        denied = run(aws, arn, denied_name)
        assert denied["status"] == "FAILED", denied
        failed = [e for e in history(aws, denied["executionArn"]) if e["type"] == "TaskFailed"]
        assert failed[0]["taskFailedEventDetails"]["error"] == "Iot.AccessDeniedException"
        assert "iot:UpdateThing" in failed[0]["taskFailedEventDetails"]["cause"]
        assert "UndoCreateThing" in entered(history(aws, denied["executionArn"]))
        assert gone(aws.client("iot").describe_thing, thingName=denied_name)
        aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "provision-and-remove-bots",
            "--policy-document", json.dumps(granted["PolicyDocument"]))

        name = unique(f"{prefix}-bot")
        described = run(aws, arn, name)
        assert described["status"] == "SUCCEEDED", described
        attributes = aws("iot", "describe-thing", "--thing-name", name)["attributes"]
        assert attributes["firmwareVersion"] == "1.2.3"
        assert attributes["provisionedBy"] == described["name"]  # and the shipped steps still ran
        assert entered(history(aws, described["executionArn"]))[:3] == ["CreateThing", "SetFirmwareVersion",
                                                                         "CreateKeysAndCertificate"]
    finally:
        tear_down(aws, prefix, outputs)
