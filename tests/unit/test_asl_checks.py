"""Step Functions' static checks of a definition (`localcore.aws.asl_checks`), case by case."""

from __future__ import annotations

import json

import pytest

from localcore.aws.asl_checks import diagnostics, message

PASS_END = {"Type": "Pass", "End": True}


def machine(states, start="A"):
    return {"StartAt": start, "States": states}


CASES = [
    ("runs", machine({"A": {"Type": "Pass", "Next": "B"}, "B": PASS_END}), []),
    ("next names no state", machine({"A": {"Type": "Pass", "Next": "C"}, "B": PASS_END}),
     ["MISSING_TRANSITION_TARGET: Missing 'Next' target: C at /States/A/Next",
      'MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B']),
    ("start names no state", machine({"A": PASS_END}, start="Z"),
     ["MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /StartAt",
      'MISSING_TRANSITION_TARGET: State "A" is not reachable. at /States/A']),
    ("catch names no state", machine({"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:iot:updateThing",
                                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}], "End": True}}),
     ["MISSING_TRANSITION_TARGET: Missing 'Next' target: Undo at /States/A/Catch[0]/Next"]),
    ("choice and default", machine({"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "X"}],
                                          "Default": "Y"}, "Y": PASS_END}),
     ["MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Choices[0]/Next"]),
    ("no terminal state", machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}, "C": {"Type": "Pass", "Next": "A"}}),
     ["MISSING_END_STATE: Workflow has no terminal state"]),
    ("task without resource", machine({"A": {"Type": "Task", "End": True}}),
     ['SCHEMA_VALIDATION_FAILED: The field "Resource" is required but was missing at /States/A']),
    ("neither next nor end", machine({"A": {"Type": "Pass"}, "B": PASS_END}, start="B"),
     ['SCHEMA_VALIDATION_FAILED: The state must have either a "Next" field or "End": true at /States/A',
      'MISSING_TRANSITION_TARGET: State "A" is not reachable. at /States/A']),
    ("unknown type", machine({"A": {"Type": "Tusk", "End": True}}),
     ['SCHEMA_VALIDATION_FAILED: "Tusk" is not a valid value for the field "Type" at /States/A/Type']),
    ("no states", {"StartAt": "A"}, ['SCHEMA_VALIDATION_FAILED: The field "States" is required but was missing at /']),
    ("not an object", [1, 2], ['SCHEMA_VALIDATION_FAILED: The definition must be a JSON object with the fields "StartAt" and "States" at /']),
    ("inside a parallel branch", machine({"A": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "A"}}}]}}),
     ["MISSING_TRANSITION_TARGET: Missing 'Next' target: A at /States/A/Branches[0]/States/P/Next",
      "MISSING_END_STATE: Workflow has no terminal state"]),
    ("inside a map", machine({"A": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "M", "States": {"M": PASS_END}}}}), []),
]


@pytest.mark.parametrize("definition, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diagnostics(definition, expected):
    assert diagnostics(definition) == expected
    assert diagnostics(json.dumps(definition)) == expected


def test_text_that_is_not_json():
    found = diagnostics('{"StartAt": ')
    assert len(found) == 1 and found[0].startswith("INVALID_JSON_DESCRIPTION: ")


def test_the_kits_own_state_machines_run():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "data" / "stepfunctions"
    files = sorted(folder.glob("*.asl.json"))
    assert files
    for file in files:
        assert diagnostics(file.read_text()) == [], file.name


def test_message_lists_every_diagnostic_as_aws_does():
    assert message(["A at /x", "B at /y"]) == "Invalid State Machine Definition: 'A at /x, B at /y'"
