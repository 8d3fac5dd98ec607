"""helpers.logs (entries as rows, paging, the bounded wait) and chapter 09's catch-up steps in
helpers.catchup (devices, the building group, the default level, removing log levels)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from helpers import catchup, logs
from helpers.certs import read_device

REGION, ACCOUNT = "eu-west-1", "123456789012"
ROLE = "arn:aws:iam::123456789012:role/iotdm-iot-logging"


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, "FilterLogEvents")


def event(ms: int, **fields) -> dict:
    """A FilterLogEvents event whose message is an AWS IoT entry with ``fields``."""
    return {"timestamp": ms, "message": json.dumps(fields), "eventId": str(ms)}


MEMBER_PUBLISH = event(2000, timestamp="2024-05-01 10:15:02.000", logLevel="INFO", eventType="Publish-In",
                       clientId="member", topicName="t/member", status="Success", principalId="c1")
MEMBER_REFUSED = event(3000, timestamp="2024-05-01 10:15:03.000", logLevel="ERROR", eventType="Publish-In",
                       clientId="member", topicName="t/member_foo", status="Failure",
                       reason="AUTHORIZATION_FAILURE", details="Authorization Failure", principalId="c1")
OUTSIDER_REFUSED = event(1000, timestamp="2024-05-01 10:15:01.000", logLevel="ERROR", eventType="Publish-In",
                         clientId="outsider", topicName="t/outsider_foo", status="Failure",
                         reason="AUTHORIZATION_FAILURE", details="Authorization Failure", principalId="c2")


# -- entries as rows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "fields"), [
    ('{"logLevel": "INFO", "clientId": "a"}', {"logLevel": "INFO", "clientId": "a"}),
    ("START RequestId: 1", {"details": "START RequestId: 1"}),
    ("[1, 2]", {"details": "[1, 2]"}),
], ids=["json-object", "plain-text", "json-but-not-an-object"])
def test_an_entry_is_its_json_fields_or_its_text(message, fields):
    assert logs.parse_entry({"message": message}) == fields


def test_entries_become_rows_oldest_first_with_the_columns_in_reading_order():
    frame = logs.entries_frame([MEMBER_PUBLISH, MEMBER_REFUSED, OUTSIDER_REFUSED])

    assert list(frame.columns) == [*logs.COLUMNS, "principalId"]
    assert list(frame["clientId"]) == ["outsider", "member", "member"]
    assert frame.iloc[1]["reason"] == "" and frame.iloc[2]["reason"] == "AUTHORIZATION_FAILURE"


@pytest.mark.parametrize(("fields", "column", "text"), [
    ({"resources": {"RepublishTopic": "out"}}, "details", ""),
    ({"topicName": None}, "topicName", ""),
    ({"details": {"code": 1}}, "details", '{"code": 1}'),
    ({"status": 1}, "status", "1"),
], ids=["extra-field-left-out", "null-is-empty", "object-as-json", "number-as-text"])
def test_every_cell_is_text(fields, column, text):
    assert logs.entries_frame([event(1, **fields)]).iloc[0][column] == text


def test_no_events_give_an_empty_table_with_the_columns():
    frame = logs.entries_frame([])
    assert frame.empty and list(frame.columns) == [*logs.COLUMNS, "principalId"]


def test_level_counts_has_a_row_per_client_asked_for_even_without_entries():
    frame = logs.entries_frame([MEMBER_PUBLISH, MEMBER_REFUSED, OUTSIDER_REFUSED])

    counts = logs.level_counts(frame, ["member", "outsider", "nobody"]).set_index("clientId")

    assert list(counts.columns) == ["ERROR", "WARN", "INFO", "DEBUG", "total"]
    assert counts.loc["member"].to_dict() == {"ERROR": 1, "WARN": 0, "INFO": 1, "DEBUG": 0, "total": 2}
    assert counts.loc["outsider", "INFO"] == 0 and counts.loc["nobody", "total"] == 0


@pytest.mark.parametrize(("count", "newest", "rows", "title"), [
    (3, 20, 3, "t: 3 entries"),
    (3, 2, 2, "t: the newest 2 of 3 entries"),
    (0, 20, 0, "t: 0 entries"),
], ids=["all-fit", "only-the-newest", "none"])
def test_an_entries_table_shows_the_newest_and_says_how_many_there_are(count, newest, rows, title):
    frame = logs.entries_frame([MEMBER_PUBLISH, MEMBER_REFUSED, OUTSIDER_REFUSED][:count])

    shown = logs.entries_table(frame, "t", newest=newest)

    assert shown.title == title and len(shown.rows) == rows and shown.header == list(logs.COLUMNS)
    if rows:
        assert shown.rows[-1][0] == frame.iloc[-1]["timestamp"]


# -- paging and waiting --------------------------------------------------------------------------------


class FakeFilter:
    """Stands in for ``logs_client.filter_log_events``: each call returns the next scripted answer
    (a page dict, or an exception to raise) and records its parameters."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[dict] = []

    def __call__(self, **params):
        self.calls.append(params)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def test_all_events_follows_next_token_through_every_page_even_an_empty_one():
    call = FakeFilter({"events": [MEMBER_PUBLISH], "nextToken": "a"}, {"events": [], "nextToken": "b"},
                      {"events": [MEMBER_REFUSED]})

    events = logs.all_events(call, logGroupName="AWSIotLogsV2", startTime=5)

    assert events == [MEMBER_PUBLISH, MEMBER_REFUSED]
    assert [c.get("nextToken") for c in call.calls] == [None, "a", "b"]
    assert all(c["logGroupName"] == "AWSIotLogsV2" and c["startTime"] == 5 for c in call.calls)


def test_without_until_log_entries_asks_once_and_raises_what_aws_answers():
    with pytest.raises(ClientError):
        logs.log_entries(FakeFilter(client_error("ResourceNotFoundException")), logGroupName="AWSIotLogsV2")
    call = FakeFilter({"events": [MEMBER_PUBLISH]})
    assert len(logs.log_entries(call, logGroupName="AWSIotLogsV2", filterPattern="{$.logLevel = INFO}")) == 1
    assert call.calls == [{"logGroupName": "AWSIotLogsV2", "filterPattern": "{$.logLevel = INFO}"}]


def test_log_entries_asks_again_with_growing_pauses_until_the_entries_arrive():
    clock = Clock()
    call = FakeFilter(client_error("ResourceNotFoundException"), client_error("ThrottlingException"),
                      {"events": [MEMBER_PUBLISH]}, {"events": [MEMBER_PUBLISH, OUTSIDER_REFUSED]})

    frame = logs.log_entries(call, until=lambda f: (f["clientId"] == "outsider").any(), sleep=clock.sleep,
                             clock=clock, logGroupName="AWSIotLogsV2")

    assert set(frame["clientId"]) == {"member", "outsider"}
    assert clock.sleeps == [0.25, 0.5, 1.0] and len(call.calls) == 4


def test_the_pause_grows_to_at_most_ten_seconds_and_the_wait_ends_at_the_timeout():
    clock = Clock()

    with pytest.raises(TimeoutError, match=r"Waited 60 s .*AWSIotLogsV2 \(\{\$.logLevel = INFO\}\).*1 entries"):
        logs.log_entries(FakeFilter({"events": [MEMBER_PUBLISH]}), until=lambda f: False, timeout=60,
                         sleep=clock.sleep, clock=clock, logGroupName="AWSIotLogsV2",
                         filterPattern="{$.logLevel = INFO}")

    assert max(clock.sleeps) == 10.0 and sum(clock.sleeps) == pytest.approx(60.0)


def test_a_wait_that_never_sees_the_group_says_so():
    clock = Clock()
    with pytest.raises(TimeoutError, match="ResourceNotFoundException"):
        logs.log_entries(FakeFilter(client_error("ResourceNotFoundException")), until=bool, timeout=5,
                         sleep=clock.sleep, clock=clock, logGroupName="AWSIotLogsV2")


def test_other_errors_end_the_wait_at_once():
    clock = Clock()
    with pytest.raises(ClientError, match="InvalidParameterException"):
        logs.log_entries(FakeFilter(client_error("InvalidParameterException")), until=bool,
                         sleep=clock.sleep, clock=clock, logGroupName="AWSIotLogsV2", filterPattern="{oops")
    assert clock.sleeps == []


# -- the default level and log levels (catch-up) -------------------------------------------------------


class FakeLoggingIot:
    """The v2 logging calls of the IoT API, over dicts (moto has none of them)."""

    def __init__(self, options: dict | None, levels: dict | None = None):
        self.options, self.levels = options, dict(levels or {})
        self.calls: list[tuple[str, dict]] = []

    def _configured(self):
        if self.options is None:
            raise client_error("NotConfiguredException")

    def get_v2_logging_options(self):
        self._configured()
        return dict(self.options)

    def set_v2_logging_options(self, **options):
        self.calls.append(("set_v2_logging_options", options))
        self.options = options

    def get_paginator(self, name):
        assert name == "list_v2_logging_levels"
        return SimpleNamespace(paginate=self._pages)

    def _pages(self):
        self._configured()
        rows = [{"logTarget": {"targetType": "DEFAULT"}, "logLevel": self.options["defaultLogLevel"]}]
        rows += [{"logTarget": {"targetType": t, "targetName": n}, "logLevel": level}
                 for (t, n), level in self.levels.items()]
        return iter([{"logTargetConfigurations": rows[:2]}, {"logTargetConfigurations": rows[2:]}])

    def delete_v2_logging_level(self, targetType, targetName):
        self.calls.append(("delete_v2_logging_level", {"targetType": targetType, "targetName": targetName}))
        del self.levels[(targetType, targetName)]


def options(level="WARN", **more):
    return {"roleArn": ROLE, "defaultLogLevel": level, "disableAllLogs": False, **more}


@pytest.mark.parametrize(("before", "status", "after"), [
    (options("WARN"), "WARN, as wanted", None),
    (options("DEBUG"), "was DEBUG, now WARN", options("WARN")),
    ({**options("WARN"), "disableAllLogs": True}, "was off, now WARN", options("WARN")),
    (options("INFO", eventConfigurations=[{"eventType": "Connect", "logLevel": "ERROR"}]), "was INFO, now WARN",
     options("WARN", eventConfigurations=[{"eventType": "Connect", "logLevel": "ERROR"}])),
], ids=["already-warn", "other-level", "all-disabled", "event-overrides-kept"])
def test_the_default_level_is_set_back_keeping_the_role(before, status, after):
    iot = FakeLoggingIot(before)

    ws = SimpleNamespace(iot=iot, stack_outputs={"ArnIoTLoggingRole": ROLE})

    assert catchup.ensure_default_log_level(ws, "WARN") == status

    assert iot.calls == ([] if after is None else [("set_v2_logging_options", after)])


def test_the_default_level_is_configured_with_the_stacks_role_when_logging_never_was():
    iot = FakeLoggingIot(None)

    status = catchup.ensure_default_log_level(SimpleNamespace(iot=iot, stack_outputs={"ArnIoTLoggingRole": ROLE}))

    assert status == "was off, now WARN" and iot.options == options("WARN")


@pytest.mark.parametrize(("wanted", "present"), [
    ([("THING_GROUP", "g")], [("THING_GROUP", "g")]),
    ([("CLIENT_ID", "g")], []),
    ([("CLIENT_ID", "c"), ("THING_GROUP", "other")], [("CLIENT_ID", "c")]),
    ([], []),
], ids=["listed", "same-name-other-type", "some", "none-wanted"])
def test_log_targets_present_are_those_listed(wanted, present):
    listed = [{"logTarget": {"targetType": "DEFAULT"}, "logLevel": "WARN"},
              {"logTarget": {"targetType": "THING_GROUP", "targetName": "g"}, "logLevel": "DEBUG"},
              {"logTarget": {"targetType": "CLIENT_ID", "targetName": "c"}, "logLevel": "INFO"}]
    assert catchup.log_targets_present(listed, wanted) == present


def test_remove_log_levels_deletes_only_the_levels_that_exist_on_every_page():
    levels = {("THING_GROUP", "g"): "DEBUG", ("CLIENT_ID", "c"): "INFO", ("CLIENT_ID", "x"): "INFO"}
    iot = FakeLoggingIot(options(), levels)

    removed = catchup.remove_log_levels(SimpleNamespace(iot=iot), [("CLIENT_ID", "c"), ("CLIENT_ID", "gone")])

    assert removed == ["CLIENT_ID c"]
    assert set(iot.levels) == {("THING_GROUP", "g"), ("CLIENT_ID", "x")}


def test_remove_log_levels_without_logging_removes_nothing():
    assert catchup.remove_log_levels(SimpleNamespace(iot=FakeLoggingIot(None)), [("CLIENT_ID", "c")]) == []


# -- devices and the building group (catch-up, over moto's IoT) -----------------------------------------


@pytest.fixture
def ws(tmp_path):
    with mock_aws():
        iot = boto3.client("iot", region_name=REGION)
        yield SimpleNamespace(iot=iot, work_dir=tmp_path, region=REGION, account_id=ACCOUNT,
                              name=lambda base: f"p-{base}")


def certificate_of(ws, thing):
    return ws.iot.list_thing_principals(thingName=thing)["principals"]


def test_a_new_device_gets_a_thing_an_active_certificate_and_key_files(ws):
    ws.iot.create_policy(policyName="pol", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    ws.iot.create_thing_group(thingGroupName="grp")

    status = catchup.ensure_device(ws, "dev", policy="pol", group="grp")

    [arn] = certificate_of(ws, "dev")
    assert status.startswith("made, certificate ") and status.endswith("policy pol on its certificate, in grp")
    assert read_device(ws, "dev") is not None
    assert [p["policyName"] for p in ws.iot.list_attached_policies(target=arn)["policies"]] == ["pol"]
    assert ws.iot.list_things_in_thing_group(thingGroupName="grp")["things"] == ["dev"]


def test_a_device_with_its_files_and_an_active_certificate_is_kept(ws):
    catchup.ensure_device(ws, "dev")
    before = certificate_of(ws, "dev")

    assert catchup.ensure_device(ws, "dev").startswith("exists, certificate ")
    assert certificate_of(ws, "dev") == before


@pytest.mark.parametrize("spoil", ["inactive", "files-lost"])
def test_a_device_whose_certificate_cannot_be_used_here_is_made_anew(ws, spoil):
    catchup.ensure_device(ws, "dev")
    [old] = certificate_of(ws, "dev")
    if spoil == "inactive":
        ws.iot.update_certificate(certificateId=old.rsplit("/", 1)[-1], newStatus="INACTIVE")
    else:
        files = read_device(ws, "dev")
        files.cert.unlink()
        files.key.unlink()

    assert catchup.ensure_device(ws, "dev").startswith("made, ")

    [new] = certificate_of(ws, "dev")
    assert new != old and read_device(ws, "dev") is not None
    assert old not in [c["certificateArn"] for c in ws.iot.list_certificates()["certificates"]]


def test_the_building_group_is_what_chapter_08_leaves_and_a_second_call_changes_nothing(ws):
    first = catchup.ensure_building_group(ws)
    second = catchup.ensure_building_group(ws)

    group_arn = ws.iot.describe_thing_group(thingGroupName="p-building-one")["thingGroupArn"]
    [member_cert] = certificate_of(ws, "p-group-member")
    document = json.loads(ws.iot.get_policy(policyName="p-SmartBuilding_Policy")["policyDocument"])
    on_group = ws.iot.list_attached_policies(target=group_arn)["policies"]
    assert [p["policyName"] for p in on_group] == ["p-SmartBuilding_Policy"]
    assert ws.iot.list_attached_policies(target=member_cert)["policies"] == []
    assert ws.iot.list_things_in_thing_group(thingGroupName="p-building-one")["things"] == ["p-group-member"]
    assert document["Statement"][1]["Resource"].endswith(f"{ACCOUNT}:topic/telemetry/building/one/${{iot:ClientId}}")
    assert first["thing group p-building-one"] == "created" and second["thing group p-building-one"] == "exists"
    assert second["policy p-SmartBuilding_Policy"] == "unchanged"
    assert second["p-SmartBuilding_Policy on p-building-one"] == "attached"
    assert second["device p-group-member"].startswith("exists, ")
