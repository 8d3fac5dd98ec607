"""helpers.catchup: the pure choices, and the ensure/put steps over a small in-memory IoT stand-in."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers import catchup


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


class FakeIot:
    """Just the IoT calls catchup makes, keeping state in dicts and recording every change."""

    def __init__(self, events: dict | None = None, logging: dict | None = None, policies: dict | None = None):
        self.events = events or {}
        self.logging = logging
        self.policies = policies or {}  # name -> list of {"versionId", "isDefaultVersion", "document"}
        self.calls: list[tuple[str, dict]] = []

    def describe_event_configurations(self):
        return {"eventConfigurations": {k: dict(v) for k, v in self.events.items()}}

    def update_event_configurations(self, eventConfigurations):
        self.calls.append(("update_event_configurations", eventConfigurations))
        self.events.update(eventConfigurations)

    def get_v2_logging_options(self):
        if self.logging is None:
            raise client_error("NotConfiguredException")
        return dict(self.logging)

    def set_v2_logging_options(self, **options):
        self.calls.append(("set_v2_logging_options", options))
        self.logging = options

    def create_policy(self, policyName, policyDocument):
        if policyName in self.policies:
            raise client_error("ResourceAlreadyExistsException")
        self.calls.append(("create_policy", {"policyName": policyName}))
        self.policies[policyName] = [{"versionId": "1", "isDefaultVersion": True, "document": policyDocument}]

    def get_policy(self, policyName):
        default = next(v for v in self.policies[policyName] if v["isDefaultVersion"])
        return {"policyDocument": default["document"]}

    def list_policy_versions(self, policyName):
        return {"policyVersions": [dict(v) for v in self.policies[policyName]]}

    def delete_policy_version(self, policyName, policyVersionId):
        self.calls.append(("delete_policy_version", {"policyVersionId": policyVersionId}))
        self.policies[policyName] = [v for v in self.policies[policyName] if v["versionId"] != policyVersionId]

    def create_policy_version(self, policyName, policyDocument, setAsDefault):
        versions = self.policies[policyName]
        new_id = str(max(int(v["versionId"]) for v in versions) + 1)
        for version in versions:
            version["isDefaultVersion"] = False
        versions.append({"versionId": new_id, "isDefaultVersion": setAsDefault, "document": policyDocument})
        self.calls.append(("create_policy_version", {"policyVersionId": new_id}))
        return {"policyVersionId": new_id}


def workshop(iot: FakeIot, outputs: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(iot=iot, stack_outputs=outputs or {}, stack_name="iot-dm-workshop")


ROLE = "arn:aws:iam::123456789012:role/iotdm-iot-logging"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
NARROW = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}


# -- pure choices ------------------------------------------------------------------------------


def test_event_types_are_the_eleven_of_the_iot_api_model():
    model = boto3.client("iot", region_name="us-east-1").meta.service_model
    assert sorted(catchup.EVENT_TYPES) == sorted(model.shape_for("EventType").enum)
    assert len(catchup.EVENT_TYPES) == 11


@pytest.mark.parametrize("configurations, expected", [
    pytest.param({t: {"Enabled": False} for t in catchup.EVENT_TYPES}, list(catchup.EVENT_TYPES), id="fresh-account-all-off"),
    pytest.param({t: {"Enabled": True} for t in catchup.EVENT_TYPES}, [], id="all-on"),
    pytest.param({}, list(catchup.EVENT_TYPES), id="keys-missing-count-as-off"),
    pytest.param({"THING": {"Enabled": True}, "JOB": {"Enabled": False}}, [t for t in catchup.EVENT_TYPES if t != "THING"],
                 id="partly-on"),
])
def test_disabled_event_types(configurations, expected):
    assert catchup.disabled_event_types(configurations) == expected


@pytest.mark.parametrize("text, values, expected", [
    pytest.param("client/{{client_id}}", {"client_id": "my-button"}, "client/my-button", id="one"),
    pytest.param("{{ region }}:{{account_id}}", {"region": "eu-west-1", "account_id": 42}, "eu-west-1:42", id="spaces-and-numbers"),
    pytest.param("topic/${iot:ClientId}", {}, "topic/${iot:ClientId}", id="iot-policy-variables-untouched"),
    pytest.param("{{a}}", {"a": "x", "unused": "y"}, "x", id="extra-values-ignored"),
])
def test_fill_placeholders(text, values, expected):
    assert catchup.fill_placeholders(text, values) == expected


def test_fill_placeholders_names_every_missing_value():
    with pytest.raises(KeyError, match="account_id, region"):
        catchup.fill_placeholders("{{region}}:{{account_id}}:{{topic}}", {"topic": "t"})


def versions(count: int, default: str) -> list[dict]:
    return [{"versionId": str(i), "isDefaultVersion": str(i) == default} for i in range(1, count + 1)]


@pytest.mark.parametrize("listed, expected", [
    pytest.param(versions(1, "1"), None, id="room-left"),
    pytest.param(versions(4, "4"), None, id="four-still-fit-a-fifth"),
    pytest.param(versions(5, "5"), "1", id="full-oldest-goes"),
    pytest.param(versions(5, "1"), "2", id="full-default-is-oldest-next-goes"),
    pytest.param([{"versionId": v, "isDefaultVersion": v == "12"} for v in ("9", "10", "11", "12", "13")], "9",
                 id="numeric-not-text-order"),
])
def test_version_to_prune(listed, expected):
    assert catchup.version_to_prune(listed) == expected


@pytest.mark.parametrize("error, expected", [
    pytest.param(client_error("ResourceNotFoundException"), "ResourceNotFoundException", id="client-error"),
    pytest.param(ValueError("x"), "", id="other-error"),
])
def test_error_code(error, expected):
    assert catchup.error_code(error) == expected


def test_button_policy_template_allows_connect_as_itself_and_publish_to_one_topic():
    document = catchup.policy_document("button-policy", region="eu-west-1", account_id="111122223333",
                                       client_id="my-button", topic="iotbutton/my-button")
    grants = {s["Action"]: s["Resource"] for s in document["Statement"] if s["Effect"] == "Allow"}
    assert grants == {
        "iot:Connect": "arn:aws:iot:eu-west-1:111122223333:client/my-button",
        "iot:Publish": "arn:aws:iot:eu-west-1:111122223333:topic/iotbutton/my-button",
    }


def test_an_unknown_policy_template_lists_the_known_ones(tmp_path):
    (tmp_path / "known.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="known"):
        catchup.policy_document("missing", folder=tmp_path)


# -- ensure steps ------------------------------------------------------------------------------


@pytest.mark.parametrize("events, expected_update, expected_status", [
    pytest.param({}, {t: {"Enabled": True} for t in catchup.EVENT_TYPES}, "enabled 11 of 11", id="fresh"),
    pytest.param({t: {"Enabled": t != "JOB"} for t in catchup.EVENT_TYPES}, {"JOB": {"Enabled": True}}, "enabled 1 of 11",
                 id="only-the-missing-one"),
    pytest.param({t: {"Enabled": True} for t in catchup.EVENT_TYPES}, None, "all 11 already enabled", id="nothing-to-do"),
])
def test_ensure_events_enables_only_what_is_off(events, expected_update, expected_status):
    iot = FakeIot(events=events)
    assert catchup.ensure_events(workshop(iot)) == expected_status
    updates = [args for name, args in iot.calls if name == "update_event_configurations"]
    assert updates == ([expected_update] if expected_update else [])
    assert catchup.disabled_event_types(iot.events) == []


@pytest.mark.parametrize("logging, expected_set", [
    pytest.param(None, {"roleArn": ROLE, "defaultLogLevel": "WARN", "disableAllLogs": False}, id="never-configured"),
    pytest.param({"roleArn": ROLE, "defaultLogLevel": "DEBUG"}, None, id="configured-level-kept"),
    pytest.param({"roleArn": ROLE, "defaultLogLevel": "WARN", "disableAllLogs": True},
                 {"roleArn": ROLE, "defaultLogLevel": "WARN", "disableAllLogs": False}, id="switched-off-by-a-clean-up"),
])
def test_ensure_logging(logging, expected_set):
    iot = FakeIot(logging=logging)
    catchup.ensure_logging(workshop(iot, {"ArnIoTLoggingRole": ROLE}))
    sets = [args for name, args in iot.calls if name == "set_v2_logging_options"]
    assert sets == ([expected_set] if expected_set else [])


@pytest.mark.parametrize("existing, document, expected_status, expected_calls", [
    pytest.param({}, ALLOW_ALL, "created", ["create_policy"], id="new"),
    pytest.param({"p": [{"versionId": "1", "isDefaultVersion": True, "document": json.dumps(ALLOW_ALL)}]},
                 ALLOW_ALL, "unchanged", [], id="same-document"),
    pytest.param({"p": [{"versionId": "1", "isDefaultVersion": True, "document": json.dumps(ALLOW_ALL)}]},
                 NARROW, "updated (version 2)", ["create_policy_version"], id="changed-document"),
    pytest.param({"p": [{"versionId": str(i), "isDefaultVersion": i == 5, "document": json.dumps(ALLOW_ALL)} for i in range(1, 6)]},
                 NARROW, "updated (version 6)", ["delete_policy_version", "create_policy_version"], id="five-versions-prune-first"),
])
def test_put_policy(existing, document, expected_status, expected_calls):
    iot = FakeIot(policies=existing)
    assert catchup.put_policy(workshop(iot), "p", document) == expected_status
    assert [name for name, _ in iot.calls] == expected_calls
    assert json.loads(iot.get_policy("p")["policyDocument"]) == document
    assert len(iot.policies["p"]) <= catchup.MAX_POLICY_VERSIONS
