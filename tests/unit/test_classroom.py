"""Solo and class mode without a lab: the mode, the prefix, who owns the account's settings, the
instructor's status rows and restore steps, and the trainee's check-only set-up."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers import catchup, classroom
from helpers import ledger as L
from helpers.cleanup.planning import CLASS_KEPT, account_wide, class_keeps
from helpers.failures import WorkshopError
from helpers.workshop import (CLASS_STACK_NAME, ClassSettingMissing, Workshop, choose_mode, choose_prefix,
                              normalise_prefix, stack_name, stack_prefix, where)


@pytest.mark.parametrize(("argument", "environ", "expected"), [
    (None, {}, "solo"), (None, {"WORKSHOP_MODE": "class"}, "class"), ("solo", {"WORKSHOP_MODE": "class"}, "solo"),
    (None, {"WORKSHOP_MODE": " Class "}, "class"), ("", {}, "solo"),
], ids=["default", "from-env", "argument-wins", "case-and-spaces", "empty-argument"])
def test_choose_mode(argument, environ, expected):
    assert choose_mode(argument, environ) == expected


def test_an_unknown_mode_is_explained():
    with pytest.raises(WorkshopError, match="use 'solo'"):
        choose_mode("team", {})


@pytest.mark.parametrize(("raw", "expected"), [
    ("anna", "anna-"), ("Anna_", "anna-"), ("ANNA-", "anna-"), (" anna ", "anna-"), ("anna--", "anna-"),
    ("Anna Smith", "anna-smith-"), ("team_1", "team-1-"), ("", ""), ("   ", ""), ("a" * 19, "a" * 19 + "-"),
], ids=["plain", "capital-underscore", "upper-hyphen", "spaces", "two-hyphens", "space-inside", "digit",
        "empty", "blank", "longest"])
def test_normalise_prefix_gives_one_spelling(raw, expected):
    assert normalise_prefix(raw) == expected


@pytest.mark.parametrize(("raw", "why"), [
    ("a" * 20, "too long"), ("7up", "start with a letter"), ("__", "no letters"), ("-", "no letters"),
], ids=["too-long", "digit-first", "underscores-only", "hyphen-only"])
def test_normalise_prefix_refuses_unusable_input(raw, why):
    with pytest.raises(WorkshopError, match=why):
        normalise_prefix(raw)


@pytest.mark.parametrize("raw", ["anna", "Anna_", "ANNA-", " anna "])
def test_every_spelling_makes_the_same_valid_names(raw):
    prefix = normalise_prefix(raw)
    assert stack_name(prefix) == "anna-iot-dm-workshop" and stack_prefix(prefix) == "anna"
    assert f"{stack_prefix(prefix)}-iot-logging" == "anna-iot-logging"


def test_class_mode_requires_a_prefix_but_the_instructor_does_not():
    with pytest.raises(WorkshopError, match="WORKSHOP_PREFIX=<your name>"):
        choose_prefix(None, {}, "class")
    assert choose_prefix(None, {"WORKSHOP_PREFIX": "Ben"}, "class") == "ben-"
    assert choose_prefix(None, {}, "class", instructor=True) == ""
    assert choose_prefix(None, {}, "solo") == ""


def make_ws(tmp_path: Path, mode: str, instructor: bool = False, prefix: str = "anna-") -> Workshop:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")
    return Workshop("local", session, endpoint="127.0.0.1", port=8883, root_ca=tmp_path / "ca.pem",
                    work_dir=tmp_path, prefix=prefix, http_url="http://127.0.0.1:1", mode=mode, instructor=instructor)


@pytest.mark.parametrize(("mode", "instructor", "owns"), [
    ("solo", False, True), ("solo", True, True), ("class", False, False), ("class", True, True),
])
def test_owns_account_settings(tmp_path, mode, instructor, owns):
    assert make_ws(tmp_path, mode, instructor).owns_account_settings is owns


def test_the_summary_says_where(tmp_path):
    assert make_ws(tmp_path, "class")._summary()["where"] == "local lab · class mode · prefix anna-"
    assert where("aws", "solo", "") == "AWS account · solo mode · no prefix"


# -- the trainee's set-up in class mode: check, never change ------------------------------------------


class FakeIot:
    """The account-wide settings of an account, and every call that would change them."""

    def __init__(self, events=None, logging=None, indexing=None):
        self.events = events or {}
        self.logging = logging
        self.indexing = indexing or {}
        self.changes: list[str] = []

    def describe_event_configurations(self):
        return {"eventConfigurations": self.events}

    def get_v2_logging_options(self):
        if self.logging is None:
            raise ClientError({"Error": {"Code": "NotConfiguredException", "Message": ""}}, "GetV2LoggingOptions")
        return self.logging

    def get_indexing_configuration(self):
        return {"thingIndexingConfiguration": self.indexing}

    def __getattr__(self, name):
        if name.startswith(("update_", "set_")):
            return lambda **kwargs: self.changes.append(name)
        raise AttributeError(name)


class Trainee:
    owns_account_settings = False

    def __init__(self, iot):
        self.iot = iot
        self.stack_outputs = {}


ALL_EVENTS = {t: {"Enabled": True} for t in catchup.EVENT_TYPES}
LOGGING_ON = {"roleArn": "arn:aws:iam::1:role/iot-dm-class-iot-logging", "defaultLogLevel": "WARN", "disableAllLogs": False}


@pytest.mark.parametrize(("ensure", "iot", "missing"), [
    (catchup.ensure_events, FakeIot(events={"THING": {"Enabled": True}}), "registry events are off for THING_GROUP"),
    (catchup.ensure_logging, FakeIot(), "v2 logging is not configured"),
    (catchup.ensure_logging, FakeIot(logging={**LOGGING_ON, "disableAllLogs": True}), "switched off"),
    (catchup.ensure_default_log_level, FakeIot(logging={**LOGGING_ON, "defaultLogLevel": "ERROR"}), "is ERROR, not WARN"),
    (catchup.ensure_indexing, FakeIot(indexing={"thingIndexingMode": "REGISTRY"}), "thingIndexingMode is REGISTRY"),
], ids=["events", "logging-never-set", "logging-off", "level", "indexing"])
def test_class_mode_set_up_checks_and_names_who_fixes_it(ensure, iot, missing):
    with pytest.raises(ClassSettingMissing, match=missing) as raised:
        ensure(Trainee(iot))
    assert "ask your instructor to run `python -m helpers.classroom setup`" in str(raised.value)
    assert iot.changes == []


def test_class_mode_set_up_passes_when_the_instructor_set_everything():
    iot = FakeIot(events=ALL_EVENTS, logging=LOGGING_ON, indexing=dict(catchup.INDEXING_CONFIGURATION))
    trainee = Trainee(iot)
    for ensure in (catchup.ensure_events, catchup.ensure_logging, catchup.ensure_default_log_level,
                   catchup.ensure_indexing):
        ensure(trainee)
    assert iot.changes == []


def test_solo_mode_indexing_is_switched_on_and_keeps_other_custom_fields():
    other = {"name": "attributes.floor", "type": "Number"}
    iot = FakeIot(indexing={"thingIndexingMode": "OFF", "customFields": [other]})
    solo = Trainee(iot)
    solo.owns_account_settings = True
    captured = {}
    iot.update_indexing_configuration = lambda **kwargs: captured.update(kwargs)
    assert catchup.ensure_indexing(solo).startswith("switched on")
    fields = captured["thingIndexingConfiguration"]["customFields"]
    assert other in fields and catchup.INDEXING_CONFIGURATION["customFields"][0] in fields


# -- the instructor's pure parts ------------------------------------------------------------------------


def test_status_rows_name_each_missing_setting():
    rows = classroom.settings_rows({}, None, {}, None)
    assert {r["setting"] for r in rows if r["problem"]} == {
        "class stack", "registry events", "v2 logging", "logging role", "default log level", "fleet indexing"}
    ready = classroom.settings_rows(ALL_EVENTS, LOGGING_ON, {"thingIndexingConfiguration": catchup.INDEXING_CONFIGURATION},
                                    LOGGING_ON["roleArn"])
    assert [r["problem"] for r in ready] == [""] * len(ready)


def test_status_rows_tell_a_trainees_logging_role_from_the_class_role():
    trainee_role = {**LOGGING_ON, "roleArn": "arn:aws:iam::1:role/ben-iot-logging"}
    rows = {r["setting"]: r for r in classroom.settings_rows(ALL_EVENTS, trainee_role, {}, LOGGING_ON["roleArn"])}
    assert "not the class stack's role" in rows["logging role"]["problem"]


def test_restore_steps_put_back_what_setup_found():
    before = {"events": {"THING": {"Enabled": True}}, "logging": None,
              "indexing": {"thingIndexingConfiguration": {"thingIndexingMode": "OFF"}}}
    steps = {s.action: s for s in classroom.restore_steps(before)}
    assert steps["restore event configuration"].args["configurations"] == {
        t: t == "THING" for t in catchup.EVENT_TYPES}
    assert steps["restore logging options"].args == {"before": None}
    assert steps["restore fleet indexing"].args["before"] == before["indexing"]
    assert {s.kind for s in steps.values()} == {L.EVENT_CONFIGURATION, L.LOGGING, L.FLEET_INDEXING}


@pytest.mark.parametrize(("kind", "name", "detail", "owns", "kept"), [
    (L.LOGGING, "v2 logging", {}, False, True),
    (L.EVENT_CONFIGURATION, "THING", {}, False, True),
    (L.FLEET_INDEXING, "fleet indexing", {}, False, True),
    (L.LOG_LEVEL, "DEFAULT", {"targetType": "DEFAULT"}, False, True),
    (L.LOG_LEVEL, "THING_GROUP:anna-building-one", {"targetType": "THING_GROUP"}, False, False),
    (L.LOGGING, "v2 logging", {}, True, False),
    (L.STACK, CLASS_STACK_NAME, {}, True, True),
    (L.STACK, "anna-iot-dm-workshop", {}, False, False),
], ids=["logging", "events", "indexing", "default-level", "own-group-level", "solo-logging", "class-stack",
        "own-stack"])
def test_a_class_trainees_clean_up_keeps_the_account_wide_settings_and_the_class_stack(kind, name, detail, owns, kept):
    assert bool(class_keeps(kind, name, detail, owns)) is kept


def test_account_wide_kinds():
    assert account_wide(L.LOGGING) and not account_wide(L.LOG_LEVEL, {"targetType": "CLIENT_ID"})
    assert CLASS_KEPT.startswith("an account-wide setting")
