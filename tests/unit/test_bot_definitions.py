"""Chapter 11's state machine definitions, the bots stack that embeds them, and the lab's Step
Functions pieces that need no running lab (error names, definition substitution, saved executions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from localcore.aws.moto_patches import stepfunctions as sfn_patch

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cfn" / "iot-dm-bots.yaml"
ASL = {"ProvisionBot": ROOT / "data" / "stepfunctions" / "provision_bot.asl.json",
       "RemoveBot": ROOT / "data" / "stepfunctions" / "remove_bot.asl.json"}
SUBSTITUTIONS = {"BotsTableName": "p-bots", "BotsBucketName": "iotdm-bots-p-123456789012-us-east-1",
                 "BotPolicyName": "p-bot-policy"}
STEPS = {
    "ProvisionBot": ["CreateThing", "CreateKeysAndCertificate", "AttachPolicy", "AttachThingPrincipal", "SaveKeys",
                     "SaveMetadata", "Provisioned", "ProvisioningFailed"],
    "RemoveBot": ["GetMetadata", "BotNotFound", "DeactivateCertificate", "DetachThingPrincipal", "DetachPolicy",
                  "DeleteCertificate", "DeleteThing", "DeleteKeys", "DeleteMetadata", "Removed"],
}


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Sub, !Ref, !GetAtt) as plain tagged values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: loader.construct_scalar(node)}
                              if isinstance(node, yaml.ScalarNode) else {suffix: loader.construct_sequence(node)})


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def definition(machine: str) -> dict:
    return json.loads(ASL[machine].read_text())


def all_states(states: dict) -> dict:
    """Every state, those inside Parallel branches included."""
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(all_states(branch["States"]))
    return found


@pytest.mark.parametrize("machine", sorted(ASL))
def test_the_stack_embeds_the_definition_file_unchanged(machine):
    properties = template()["Resources"][machine]["Properties"]
    assert json.loads(properties["DefinitionString"]) == definition(machine)
    assert set(properties["DefinitionSubstitutions"]) == set(SUBSTITUTIONS)
    assert properties["StateMachineType"] == "STANDARD"


def test_the_stack_has_the_interface_outputs_and_a_private_encrypted_bucket():
    loaded = template()
    assert set(loaded["Outputs"]) == {"BotsTableName", "BotsBucketName", "BotPolicyName", "ProvisionBotArn",
                                      "RemoveBotArn", "StatesRoleArn"}
    bucket = loaded["Resources"]["BotsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    statements = loaded["Resources"]["StatesRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["iot:CreateKeysAndCertificate"]  # nothing else on "*"


@pytest.mark.parametrize("machine", sorted(ASL))
def test_the_definition_parses_and_names_the_interface_steps(machine):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    text = sfn_patch.definition_of({"DefinitionString": ASL[machine].read_text(), "DefinitionSubstitutions": SUBSTITUTIONS})
    assert "${" not in text
    AmazonStateLanguageParser.parse(text)
    states = all_states(definition(machine)["States"])
    assert set(STEPS[machine]) <= set(states)
    for name, state in states.items():
        for target in [state.get("Next"), state.get("Default")] + [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]:
            assert target is None or target in states, f"{name} goes to unknown {target}"


@pytest.mark.parametrize("machine", sorted(ASL))
def test_every_task_retries_throttling_and_uses_real_integration_arns(machine):
    for name, state in all_states(definition(machine)["States"]).items():
        if state["Type"] != "Task":
            continue
        resource = state["Resource"]
        assert resource.startswith(("arn:aws:states:::aws-sdk:iot:", "arn:aws:states:::aws-sdk:s3:",
                                    "arn:aws:states:::dynamodb:")), resource
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        service = "Iot" if ":iot:" in resource else "S3" if ":s3:" in resource else "DynamoDB"
        assert any(e.startswith(service + ".") and ("Throttl" in e or "SlowDown" in e) for e in retried), name
        assert "States.ALL" not in retried and "States.TaskFailed" not in retried, name


def test_a_failure_after_each_provisioning_step_is_undone_in_reverse():
    states = definition("ProvisionBot")["States"]

    def undo_chain(start: str) -> list[str]:
        chain, name = [], start
        while name != "ProvisioningFailed":
            chain.append(name)
            name = states[name]["Next"]
        return chain

    catch = {name: states[name]["Catch"][0]["Next"] for name in STEPS["ProvisionBot"][:6]}
    assert catch["CreateThing"] == "ProvisioningFailed"
    assert undo_chain(catch["SaveMetadata"]) == ["UndoSaveKeys", "UndoAttachThingPrincipal", "UndoAttachPolicy",
                                                 "UndoDeactivateCertificate", "UndoDeleteCertificate", "UndoCreateThing"]
    assert undo_chain(catch["SaveKeys"]) == undo_chain(catch["SaveMetadata"])
    assert undo_chain(catch["AttachThingPrincipal"]) == undo_chain(catch["SaveMetadata"])[2:]
    assert undo_chain(catch["AttachPolicy"]) == undo_chain(catch["SaveMetadata"])[3:]
    assert undo_chain(catch["CreateKeysAndCertificate"]) == ["UndoCreateThing"]
    for name in undo_chain(catch["SaveMetadata"]):  # an undo step that fails does not stop the others
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.undoError", "Next": states[name]["Next"]}]
    assert states["ProvisioningFailed"] == {**states["ProvisioningFailed"], "Type": "Fail",
                                            "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


@pytest.mark.parametrize("service, code, expected", [
    ("iot", "ResourceNotFoundException", "Iot.ResourceNotFoundException"),
    ("iot", "ThrottlingException", "Iot.ThrottlingException"),
    ("s3", "NoSuchKey", "S3.NoSuchKeyException"),
    ("s3", "BucketAlreadyExists", "S3.BucketAlreadyExistsException"),
    ("dynamodb", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),
    ("acmpca", "ResourceNotFoundException", "Acmpca.ResourceNotFoundException"),
])
def test_aws_sdk_error_names(service, code, expected):
    assert sfn_patch.aws_sdk_error_name(service, code) == expected


@pytest.mark.parametrize("properties, expected", [
    ({"DefinitionString": '{"a": "${X}"}', "DefinitionSubstitutions": {"X": "t"}}, '{"a": "t"}'),
    ({"DefinitionString": '{"a": "${X}", "b": "${X}"}', "DefinitionSubstitutions": {"X": 1}}, '{"a": "1", "b": "1"}'),
    ({"DefinitionString": '{"a": "${Y}"}', "DefinitionSubstitutions": {"X": "t"}}, '{"a": "${Y}"}'),
    ({"DefinitionString": '{"a": "${X}"}'}, '{"a": "${X}"}'),
])
def test_definition_substitutions(properties, expected):
    assert sfn_patch.definition_of(properties) == expected


def test_a_definition_object_becomes_json_text():
    assert json.loads(sfn_patch.definition_of({"Definition": {"StartAt": "${S}"}, "DefinitionSubstitutions": {"S": "A"}})) == {"StartAt": "A"}


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """moto with the lab's patches (as in test_moto_patches), removed afterwards."""
    from localcore.aws import moto_patches
    from localcore.config import LabConfig
    from localcore.server import build_lab

    build_lab(LabConfig(home=tmp_path_factory.mktemp("lab")))
    import moto.stepfunctions.parser.backend.execution  # noqa: F401 - the patches wait for its import
    yield
    moto_patches.reset()


def test_an_execution_saved_while_running_comes_back_failed_with_the_reason(patched):
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    saved = {"exec_status": ExecutionStatus.RUNNING, "error": None, "cause": None, "stop_date": None,
             "_saved_history": [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}]}
    execution = sfn_patch._load_execution(Execution, saved)
    assert execution.exec_status == ExecutionStatus.FAILED and execution.stop_date is not None
    assert (execution.error, execution.cause) == (sfn_patch.LAB_RESTART_ERROR, sfn_patch.LAB_RESTART_CAUSE)
    assert [e["type"] for e in execution.to_history_output()["events"]] == ["ExecutionStarted", "ExecutionFailed"]
    assert execution.exec_worker is None and execution.stop(None, None, None) is None


def test_a_finished_execution_comes_back_as_it_was(patched):
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    history = [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted"},
               {"id": 2, "previousEventId": 1, "type": "ExecutionSucceeded"}]
    execution = sfn_patch._load_execution(Execution, {"exec_status": ExecutionStatus.SUCCEEDED, "error": None,
                                                      "cause": None, "_saved_history": list(history)})
    assert execution.exec_status == ExecutionStatus.SUCCEEDED and execution.error is None
    assert execution.to_history_output()["events"] == history


def test_embedding_an_edited_definition_changes_only_its_block():
    import importlib.util

    spec = importlib.util.spec_from_file_location("embed_asl", ROOT / "cfn" / "embed_asl.py")
    embed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(embed)
    original = TEMPLATE.read_text()
    assert embed.embedded(original, "RemoveBot", definition("RemoveBot")) == original  # up to date: no change
    edited = definition("ProvisionBot")
    edited["States"]["CreateThing"]["Comment"] = "edited"
    changed = yaml.load(embed.embedded(original, "ProvisionBot", edited), Loader=_Loader)  # noqa: S506
    assert json.loads(changed["Resources"]["ProvisionBot"]["Properties"]["DefinitionString"]) == edited
    assert json.loads(changed["Resources"]["RemoveBot"]["Properties"]["DefinitionString"]) == definition("RemoveBot")
    assert changed["Outputs"] == template()["Outputs"]
