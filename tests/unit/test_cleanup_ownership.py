"""helpers.cleanup.ownership: is what is there now the resource the workshop created (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpers.cleanup import ownership
from helpers.ledger import Entry

T = "2025-01-01T12:00:00.000+00:00"


def entry(kind: str, name: str, identity: dict, operation: str = "", time: str = T, chapter: str = "08_thing_groups",
          detail: dict | None = None) -> Entry:
    return Entry(kind, name, operation=operation, chapter=chapter, time=time, identity=identity, detail=detail or {})


@pytest.mark.parametrize(("kind", "key"), [("thing", "thingId"), ("thing group", "thingGroupId"),
                                           ("policy", "creationDate"), ("job", "createdAt"), ("stack", "StackId")])
def test_the_same_identity_is_ours_another_is_not(kind, key):
    recorded = [entry(kind, "x", {key: "first"}), entry(kind, "x", {key: "second"})]
    assert ownership.judge(kind, recorded, {key: "second"}).ours
    verdict = ownership.judge(kind, recorded, {key: "made-by-hand"})
    assert not verdict.ours
    assert verdict.why.startswith(f"not the workshop's: its {key} made-by-hand is not the one the workshop created")


def test_a_resource_recorded_without_its_identity_is_ours_by_name_and_says_so():
    verdict = ownership.judge("thing", [entry("thing", "x", {})], {"thingId": "any"})
    assert verdict.ours and verdict.why == "recorded by name only (the ledger holds no thingId for it)"


def test_ids_that_aws_chose_are_their_own_identity():
    assert ownership.judge("certificate", [entry("certificate", "c" * 64, {})], {}).ours


def test_an_object_is_judged_by_its_version_when_both_sides_know_one():
    recorded = [entry("S3 object", "k", {"ETag": '"same"', "VersionId": "v1"})]
    assert not ownership.judge("S3 object", recorded, {"ETag": '"same"', "VersionId": "v2"}).ours
    assert ownership.judge("S3 object", [entry("S3 object", "k", {"ETag": '"same"'})], {"ETag": '"same"'}).ours


def test_a_function_is_ours_along_the_chain_of_the_workshops_own_updates():
    created = entry("Lambda function", "jitr", {"LastModified": "m1"}, "CreateFunction")
    updated = entry("Lambda function", "jitr", {"LastModified": "m2"}, "UpdateFunctionCode",
                    detail={"previous": {"LastModified": "m1"}})
    theirs = entry("Lambda function", "jitr", {"LastModified": "m4"}, "UpdateFunctionCode",
                   detail={"previous": {"LastModified": "m3"}})  # the workshop updated a function it had not made
    assert ownership.chained_identities("Lambda function", [created, updated, theirs]) == {"m1", "m2"}
    assert ownership.judge("Lambda function", [created, updated, theirs], {"LastModified": "m2"}).ours
    assert not ownership.judge("Lambda function", [created, updated, theirs], {"LastModified": "m4"}).ours


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-01-01T12:00:00.000+0000", datetime(2025, 1, 1, 12, tzinfo=timezone.utc)),
    ("2026-12-02T16:58:20.277340000Z", datetime(2026, 12, 2, 16, 58, 20, 277340, tzinfo=timezone.utc)),
    (1735732800000, datetime(2025, 1, 1, 12, tzinfo=timezone.utc)),
    (datetime(2025, 1, 1, 12), datetime(2025, 1, 1, 12, tzinfo=timezone.utc)),
    ("", None), ("not a time", None),
], ids=["lambda", "lab-nanoseconds", "epoch-ms", "naive", "empty", "garbage"])
def test_times_in_every_shape_aws_answers(value, expected):
    assert ownership.to_datetime(value) == expected


def test_a_function_log_is_ours_from_the_function_made_by_the_workshop_until_one_made_by_hand():
    made = [entry("Lambda function", "jitr", {"LastModified": "2025-01-01T12:00:00.000+0000"}, "CreateFunction")]
    ms = lambda hour: int(datetime(2025, 1, 1, hour, tzinfo=timezone.utc).timestamp() * 1000)  # noqa: E731
    assert ownership.lambda_log_group(ms(13), made, None).ours  # our function is gone, its log stayed
    assert not ownership.lambda_log_group(ms(9), made, None).ours  # older than our function
    theirs = ownership.Verdict(False, "made by hand")
    assert not ownership.lambda_log_group(ms(15), made, theirs, "2025-01-01T14:00:00.000+0000").ours
    assert ownership.lambda_log_group(ms(13), made, theirs, "2025-01-01T14:00:00.000+0000").ours


@pytest.mark.parametrize(("before", "created", "ours"), [
    (None, "2025-01-01T12:05:00+00:00", True),
    ({"roleArn": "r", "defaultLogLevel": "DISABLED", "disableAllLogs": True}, "2025-01-01T12:05:00+00:00", True),
    ({"roleArn": "r", "defaultLogLevel": "ERROR", "disableAllLogs": False}, "2025-01-01T12:05:00+00:00", False),
    ("unknown", "2025-01-01T12:05:00+00:00", False),
    (None, "2024-06-01T00:00:00+00:00", False),
], ids=["never-configured", "was-off", "was-on", "unknown", "older-than-the-switch"])
def test_aws_iots_log_group_is_ours_when_the_workshop_switched_logging_on(before, created, ours):
    switch = Entry("logging options", "v2 logging", time=T, detail={"before": before})
    assert ownership.iot_log_group(created, switch).ours is ours


def test_a_policy_of_the_cas_devices_is_ours_only_when_attached_to_nothing_else_and_no_older_than_the_ca():
    device = "arn:aws:iot:r:1:cert/" + "d" * 64
    assert ownership.ca_policy("2025-01-01T12:10:00+00:00", T, [device], {device}).ours
    assert not ownership.ca_policy("2025-01-01T12:10:00+00:00", T, [device, "arn:aws:iot:r:1:cert/x"], {device}).ours
    assert not ownership.ca_policy("2024-01-01T00:00:00+00:00", T, [device], {device}).ours


def test_a_replaced_rule_stays_ours_along_the_workshops_own_replacements():
    created = entry("topic rule", "JITRRule", {"createdAt": "c1"}, "CreateTopicRule")
    replaced = entry("topic rule", "JITRRule", {"createdAt": "c2"}, "ReplaceTopicRule",
                     detail={"previous": {"createdAt": "c1"}})
    assert ownership.judge("topic rule", [created, replaced], {"createdAt": "c2"}).ours
    assert not ownership.judge("topic rule", [created, replaced], {"createdAt": "c3"}).ours
