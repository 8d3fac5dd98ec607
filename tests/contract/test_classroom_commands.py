"""`python -m helpers.classroom` against a lab of its own: set-up sets, status tells, teardown restores.

The account-wide settings are one per lab, so this module has its own lab and runs its steps in order.
"""

from __future__ import annotations

import json

import pytest

from helpers import classroom
from helpers import ledger as L
from helpers.catchup import EVENT_TYPES, ensure_setup, logging_problem
from helpers.cleanup.probes import indexing_modes
from helpers.workshop import CLASS_STACK_NAME, ClassSettingMissing, connect
from labfixture import start_lab, stop_lab

LAB_VARIABLES = ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT")
# The account as the class finds it: two event types on (someone else's), logging and indexing never set.
BEFORE_EVENTS = {"THING": True, "JOB": True}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("classroom-lab"))
    yield running
    stop_lab(running)


@pytest.fixture()
def env(lab, monkeypatch):
    for variable in LAB_VARIABLES:
        monkeypatch.setenv(variable, lab.env[variable])
    for variable in ("WORKSHOP_BACKEND", "WORKSHOP_MODE", "WORKSHOP_PREFIX", "JPY_SESSION_NAME"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def settings(lab):
    iot = lab.client("iot")
    return {"events": {t: bool(v.get("Enabled")) for t, v in L.read_events(iot, {}).items()},
            "logging": L.read_logging(iot, {}), "indexing": indexing_modes(L.read_indexing(iot, {}))}


def stacks(lab):
    return {s["StackName"] for s in lab.client("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"}


def test_the_class_from_setup_to_teardown(lab, env, tmp_path, capsys):
    lab.client("iot").update_event_configurations(
        eventConfigurations={t: {"Enabled": BEFORE_EVENTS.get(t, False)} for t in EVENT_TYPES})
    found = settings(lab)
    instructor = ["--work-dir", str(tmp_path / "instructor")]

    # Before the set-up: status says what is missing, and a trainee's chapter says whom to ask.
    assert classroom.main(["status", *instructor]) == 1
    assert "Missing:" in capsys.readouterr().out
    anna = connect(mode="class", prefix="Anna_", work_dir=tmp_path / "anna")
    assert anna.prefix == "anna-" and not anna.owns_account_settings
    with pytest.raises(ClassSettingMissing, match="classroom setup"):
        ensure_setup(anna)

    # The set-up: every setting on, the settings found recorded once; a second run changes nothing.
    assert classroom.main(["setup", *instructor]) == 0
    recorded = json.loads((tmp_path / "instructor" / classroom.BEFORE_FILE).read_text())
    assert classroom.main(["setup", *instructor]) == 0
    assert json.loads((tmp_path / "instructor" / classroom.BEFORE_FILE).read_text()) == recorded
    capsys.readouterr()
    assert classroom.main(["status", *instructor]) == 0
    assert "in place" in capsys.readouterr().out
    now = settings(lab)
    assert all(now["events"][t] for t in EVENT_TYPES)
    assert not logging_problem(now["logging"], "WARN") and now["indexing"][0] == "REGISTRY_AND_SHADOW"
    class_role = now["logging"]["roleArn"]

    # A trainee's set-up checks and changes nothing; the trainee's stack uses the class's logging role.
    assert ensure_setup(anna)["v2 logging"].endswith("set by the instructor")
    assert anna.stack_outputs["ArnIoTLoggingRole"] == class_role
    assert settings(lab) == now
    roles = {r["RoleName"] for r in lab.client("iam").list_roles()["Roles"]}
    assert "anna-iot-logging" not in roles and "anna-iot-provisioning" in roles
    anna.iot.create_thing(thingName=anna.name("leftover"))

    # One trainee's leftovers go by identity; the class's settings and stack stay.
    assert classroom.main(["teardown", "--trainee", "anna", "--work-dir", str(tmp_path / "anna")]) == 0
    assert anna.stack_name not in stacks(lab) and CLASS_STACK_NAME in stacks(lab)
    assert "anna-leftover" not in {t["thingName"] for t in lab.client("iot").list_things()["things"]}
    assert settings(lab) == now

    # The teardown: the settings as the class found them, the class stack gone.
    assert classroom.main(["teardown", *instructor]) == 0
    assert CLASS_STACK_NAME not in stacks(lab)
    after = settings(lab)
    assert after["events"] == found["events"] and after["indexing"] == found["indexing"] == ("OFF", "OFF")
    assert found["logging"] is None and logging_problem(after["logging"] or {})  # off again
    assert classroom.main(["status", *instructor]) == 1


def test_expected_failures_are_short_messages(env, tmp_path, capsys):
    assert classroom.main(["setup", "--trainee", "anna", "--work-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "--trainee goes with teardown only" in error and "Traceback" not in error


def test_teardown_puts_back_the_indexing_the_class_found_custom_fields_included(lab, env, tmp_path):
    iot = lab.client("iot")
    found = {"thingIndexingMode": "REGISTRY", "customFields": [{"name": "attributes.site", "type": "String"}]}
    iot.update_indexing_configuration(thingIndexingConfiguration=found)
    instructor = ["--work-dir", str(tmp_path / "instructor")]

    assert classroom.main(["setup", *instructor]) == 0
    during = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert during["thingIndexingMode"] == "REGISTRY_AND_SHADOW"
    assert {"name": "shadow.reported.temperature", "type": "Number"} in during["customFields"]

    assert classroom.main(["teardown", *instructor]) == 0
    after = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert (after["thingIndexingMode"], after.get("customFields")) == ("REGISTRY", found["customFields"])
