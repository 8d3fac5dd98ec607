"""helpers.cleanup without a lab: the prefix rule, planning from an inventory (order, side effects on
what is not the workshop's, what stays and why), local files, the thing type's wait, and run's results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from helpers import certs, cleanup
from helpers.cleanup import Step
from helpers.cleanup.waiting import NotYet, StillRefused, delete_thing_type

CERT = "c" * 64
OTHER_CERT = "e" * 64
CA_CERT = "d" * 64
ARN = "arn:aws:iot:us-east-1:123456789012"
WS = SimpleNamespace(prefix="", stack_name="iot-dm-workshop")


def row(kind: str, name: str, *, ours: bool = True, exists: bool = True, status: str = "", detail: dict | None = None,
        deps: dict | None = None, arn: str = "", identity: dict | None = None, source: str = "ledger") -> dict:
    return {"kind": kind, "name": name, "exists": exists, "ours": ours, "status": status, "detail": detail or {},
            "deps": deps or {}, "arn": arn, "identity": identity or {}, "source": source, "why": ""}


def cert_arn(cert_id: str) -> str:
    return f"{ARN}:cert/{cert_id}"


def client_error(code: str, operation: str = "Operation", message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or f"{code} message"}}, operation)


def steps_of(the_plan, name: str) -> list[str]:
    return [s.action for s in the_plan.steps if s.name == name]


def kept(the_plan) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["name"]): r["why it stays"] for r in the_plan.kept.to_dict("records")}


# -- the prefix rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name", "prefix", "expected"), [
    ("thing", "bulky1", "", True),
    ("thing", "anna-bulky1", "anna-", True),
    ("thing", "bulky1", "anna-", False),
    ("thing", "anna_bulky1", "anna-", False),
    ("topic rule", "anna_JITRRule", "anna-", True),
    ("topic rule", "JITRRule", "anna-", False),
    ("certificate", CERT, "anna-", True),
    ("CA certificate", CA_CERT, "anna-", True),
    ("event configuration", "THING", "anna-", True),
    ("local file", "devices/bulky1.key", "anna-", True),
    ("log group", "/aws/lambda/anna-jitr", "anna-", True),
], ids=["no-prefix", "prefixed", "unprefixed-thing", "underscore-only-for-rules", "rule-with-underscored-prefix",
        "rule-without-prefix", "certificate-id", "ca-id", "setting", "local-file", "log-group"])
def test_carries_prefix(kind, name, prefix, expected):
    assert cleanup.carries_prefix(kind, name, prefix) is expected


@pytest.mark.parametrize(("kind", "name", "prefix", "by_stack", "allowed"), [
    ("stack", "iot-dm-workshop", "", False, True),
    ("stack", "someone-else-iot-dm-workshop", "", False, False),
    ("policy", "iotdm-device-policy", "anna-", True, True),
    ("policy", "my-policy", "anna-", False, False),
], ids=["own-stack", "other-stack", "stack-resource", "unprefixed-policy"])
def test_decide(kind, name, prefix, by_stack, allowed):
    ok, why = cleanup.decide(kind, name, prefix, "iot-dm-workshop", by_stack)
    assert ok is allowed
    assert (why == "") is allowed


# -- the order ---------------------------------------------------------------------------------------


FULL = [
    row("stack", "iot-dm-workshop", detail={"bucket": "bkt"}, identity={"StackId": "arn:stack/1"}),
    row("S3 bucket", "bkt", detail={"by_stack": "iot-dm-workshop"}, deps={"objects": [{"Key": "in.json", "ETag": '"e"'}]}),
    row("thing type", "bulk-type", deps={"things": ["bulky1"]}),
    row("thing group", "parent", detail={"depth": 0}, arn=f"{ARN}:thinggroup/parent", deps={"children": ["child"]}),
    row("thing group", "child", detail={"depth": 1}, arn=f"{ARN}:thinggroup/child", deps={"things": ["bulky1"]}),
    row("thing", "bulky1", deps={"groups": ["child"], "certificates": [cert_arn(CERT)]}, identity={"thingId": "t-1"}),
    row("certificate", CERT, arn=cert_arn(CERT), deps={"policies": ["p"], "things": ["bulky1"]}),
    row("policy", "p", deps={"targets": [cert_arn(CERT)]}),
    row("job", "job-1", status="IN_PROGRESS"),
    row("topic rule", "JITRRule", status="enabled"),
    row("Lambda function", "jitr"),
    row("log group", "/aws/lambda/jitr", identity={"creationTime": 1}),
    row("CA certificate", CA_CERT),
    row("S3 object", "in.json", detail={"bucket": "bkt"}, identity={"ETag": '"e"'}),
    row("fleet indexing", "indexing configuration", detail={"before": {}}),
    row("log level", "THING_GROUP:parent", detail={"before": None}),
    row("logging options", "v2 logging", detail={"before": None}),
    row("event configuration", "THING", detail={"before": False}),
    row("event configuration", "JOB", detail={"before": False}),
    row("IAM role", "iotdm-iot-logging", detail={"by_stack": "iot-dm-workshop"}),
    row("local file", "devices/bulky1.key", detail={"path": "/w/devices/bulky1.key", "certificates": [CERT]}),
]

EXPECTED_ORDER = [
    ("deprecate thing type", "bulk-type"),
    ("cancel job", "job-1"), ("delete job", "job-1"),
    ("disable topic rule", "JITRRule"), ("delete topic rule", "JITRRule"),
    ("delete Lambda function", "jitr"),
    ("detach policies from certificate", CERT), ("detach things from certificate", CERT),
    ("deactivate certificate", CERT), ("delete certificate", CERT),
    ("remove thing from its groups", "bulky1"), ("delete shadows", "bulky1"), ("delete thing", "bulky1"),
    ("detach policies from thing group", "parent"), ("detach policies from thing group", "child"),
    ("delete thing group", "child"), ("delete thing group", "parent"),
    ("delete thing type", "bulk-type"),
    ("detach policy from its targets", "p"), ("delete old policy versions", "p"), ("delete policy", "p"),
    ("deactivate CA certificate", CA_CERT), ("delete CA certificate", CA_CERT),
    ("restore fleet indexing", "indexing configuration"), ("restore log level", "THING_GROUP:parent"),
    ("restore logging options", "v2 logging"),
    ("delete log group", "/aws/lambda/jitr"),
    ("delete S3 object", "in.json"), ("delete stack", "iot-dm-workshop"),
    ("check what the stack left", "bkt"), ("check what the stack left", "iotdm-iot-logging"),
    ("delete local files", "1 file(s)"),
    ("restore event configuration", "JOB, THING"),
]


def test_the_plan_follows_the_order_aws_accepts():
    the_plan = cleanup.plan(WS, FULL)
    assert [(s.action, s.name) for s in the_plan.steps] == EXPECTED_ORDER
    assert the_plan.side_effects.empty and the_plan.kept.empty and the_plan.not_ours.empty


def test_the_plan_is_the_same_from_a_dataframe():
    assert cleanup.plan(WS, pd.DataFrame(FULL)).steps == cleanup.plan(WS, FULL).steps


def test_each_step_carries_the_identity_it_expects():
    steps = {(s.action, s.name): s for s in cleanup.plan(WS, FULL).steps}
    assert steps[("delete thing", "bulky1")].args["expect"] == {"thingId": "t-1"}
    assert steps[("delete stack", "iot-dm-workshop")].args["expect"] == {"StackId": "arn:stack/1"}
    assert steps[("delete S3 object", "in.json")].args["expect"] == {"ETag": '"e"'}


def test_the_plan_never_touches_what_is_not_ours_or_lacks_the_prefix():
    prefixed = SimpleNamespace(prefix="anna-", stack_name="anna-iot-dm-workshop")
    rows = [row("thing", "anna-t1"), row("thing", "t2"), row("thing", "anna-t3", ours=False),
            row("thing", "anna-t4", exists=False), row("stack", "iot-dm-workshop"), row("certificate", CERT, arn="arn")]
    the_plan = cleanup.plan(prefixed, rows)
    assert {s.name for s in the_plan.steps} == {"anna-t1", CERT}
    assert kept(the_plan) == {("thing", "t2"): "its name does not start with the workshop's prefix 'anna-'",
                              ("stack", "iot-dm-workshop"): "not the workshop's stack (anna-iot-dm-workshop)"}
    assert list(the_plan.not_ours["name"]) == ["anna-t3"]


@pytest.mark.parametrize(("the_row", "actions"), [
    (row("thing type", "t", detail={"deprecated": True}), ["delete thing type"]),
    (row("job", "j", status="COMPLETED"), ["delete job"]),
    (row("topic rule", "r", status="disabled"), ["delete topic rule"]),
    (row("thing group", "g", detail={"depth": 0}), ["detach policies from thing group", "delete thing group"]),
    (row("event configuration", "THING", detail={"before": "unknown"}), []),
    (row("logging options", "v2 logging", detail={"before": "unknown"}), []),
], ids=["deprecated-type", "finished-job", "disabled-rule", "group", "event-with-unknown-before", "logging-unknown"])
def test_steps_already_done_or_unknowable_are_left_out(the_row, actions):
    assert [s.action for s in cleanup.plan(WS, [the_row]).steps] == actions


def test_a_certificate_of_the_workshops_ca_is_deleted_with_force():
    [*_, delete] = cleanup.plan(WS, [row("certificate", CERT, arn="arn", detail={"ca": CA_CERT})]).steps
    assert (delete.action, delete.args) == ("delete certificate", {"force": True})


def test_event_configurations_are_restored_in_one_call_to_their_value_before():
    rows = [row("event configuration", "THING", detail={"before": False}),
            row("event configuration", "JOB", detail={"before": True})]
    [step] = cleanup.plan(WS, rows).steps
    assert step.args == {"configurations": {"THING": False, "JOB": True}}


def test_an_empty_inventory_plans_nothing():
    the_plan = cleanup.plan(WS, pd.DataFrame(columns=["kind", "name", "exists", "ours"]))
    assert the_plan.steps == [] and len(the_plan) == 0


def test_every_action_has_a_call_to_show_and_a_place_in_the_order():
    from helpers.cleanup.actions import ACTIONS

    assert set(cleanup.CALLS) == set(cleanup.ORDER) == set(ACTIONS) | {"delete thing type"}


# -- side effects on what is not the workshop's, and what stays --------------------------------------


def test_a_policy_attached_to_a_certificate_that_is_not_ours_stays_and_the_dry_run_says_why():
    rows = [row("policy", "p", deps={"targets": [cert_arn(OTHER_CERT), cert_arn(CERT)]}),
            row("certificate", CERT, arn=cert_arn(CERT), deps={"policies": ["p"]})]
    the_plan = cleanup.plan(WS, rows)

    assert steps_of(the_plan, "p") == []
    assert steps_of(the_plan, CERT)[0] == "detach policies from certificate"  # ours from ours: cut freely
    [effect] = the_plan.side_effects.to_dict("records")
    assert effect["not the workshop's"] == f"certificate {OTHER_CERT[:12]}…"
    assert effect["what would happen to it"].startswith("would lose the policy p")
    assert (effect["because the clean-up would"], effect["the clean-up"]) == ("delete policy p", "leaves it alone: policy p stays")
    assert kept(the_plan)[("policy", "p")].startswith(f"certificate {OTHER_CERT[:12]}… is not the workshop's and would lose")


def test_allowed_side_effects_detach_our_policy_from_the_other_certificate_too():
    rows = [row("policy", "p", deps={"targets": [cert_arn(OTHER_CERT)]})]
    the_plan = cleanup.plan(WS, rows, allow_side_effects=True)
    [detach, _, _] = [s for s in the_plan.steps if s.name == "p"]
    assert detach.args["targets"] == [cert_arn(OTHER_CERT)]
    assert list(the_plan.side_effects["the clean-up"]) == ["does it (you allowed side effects)"]
    assert the_plan.kept.empty


def test_an_object_that_is_not_ours_keeps_the_bucket_and_the_stack_but_ours_goes():
    rows = [row("stack", "iot-dm-workshop", detail={"bucket": "bkt"}),
            row("S3 bucket", "bkt", detail={"by_stack": "iot-dm-workshop"},
                deps={"objects": [{"Key": "in.json", "ETag": '"e"'}, {"Key": "my-notes.txt", "ETag": '"n"'}]}),
            row("IAM role", "iotdm-iot-logging", detail={"by_stack": "iot-dm-workshop"}),
            row("S3 object", "in.json", detail={"bucket": "bkt"}, identity={"ETag": '"e"'})]
    the_plan = cleanup.plan(WS, rows)

    assert [(s.action, s.name) for s in the_plan.steps] == [("delete S3 object", "in.json")]
    why = kept(the_plan)
    assert why[("S3 bucket", "bkt")].startswith("S3 object my-notes.txt is not the workshop's and would be deleted")
    assert why[("stack", "iot-dm-workshop")].startswith("S3 bucket bkt stays: S3 object my-notes.txt")
    assert why[("IAM role", "iotdm-iot-logging")].startswith("stack iot-dm-workshop stays: S3 object my-notes.txt")

    allowed = cleanup.plan(WS, rows, allow_side_effects=True)
    empty = next(s for s in allowed.steps if s.action == "empty bucket")
    assert empty.args["objects"] == [{"Key": "my-notes.txt", "ETag": '"n"'}]
    assert [s.action for s in allowed.steps].index("empty bucket") < [s.action for s in allowed.steps].index("delete stack")


def test_a_type_that_a_thing_not_ours_uses_is_neither_deprecated_nor_deleted():
    rows = [row("thing type", "bulk-type", deps={"things": ["foreign-sensor", "bulky1"]}), row("thing", "bulky1")]
    the_plan = cleanup.plan(WS, rows)
    assert steps_of(the_plan, "bulk-type") == [] and "delete thing" in steps_of(the_plan, "bulky1")
    assert list(the_plan.side_effects["not the workshop's"]) == ["thing foreign-sensor"]

    allowed = cleanup.plan(WS, rows, allow_side_effects=True)
    assert steps_of(allowed, "bulk-type") == ["deprecate thing type"]
    assert kept(allowed)[("thing type", "bulk-type")].startswith("deprecated only")


def test_a_group_with_a_member_not_ours_stays_with_the_policy_that_serves_that_member():
    rows = [row("thing group", "building-one", arn=f"{ARN}:thinggroup/building-one",
                deps={"things": ["their-sensor"], "policies": ["SmartBuilding_Policy"]}),
            row("policy", "SmartBuilding_Policy", deps={"targets": [f"{ARN}:thinggroup/building-one"]})]
    the_plan = cleanup.plan(WS, rows)
    assert the_plan.steps == []
    why = kept(the_plan)
    assert why[("thing group", "building-one")].startswith("thing their-sensor is not the workshop's and would leave")
    assert why[("policy", "SmartBuilding_Policy")].startswith("thing group building-one stays: thing their-sensor")


def test_a_group_with_a_child_group_not_ours_stays_even_when_side_effects_are_allowed():
    rows = [row("thing group", "parent", deps={"children": ["their-group"]})]
    the_plan = cleanup.plan(WS, rows, allow_side_effects=True)
    assert the_plan.steps == [] and "AWS deletes no group that has child groups" in kept(the_plan)[("thing group", "parent")]


def test_a_certificate_attached_to_a_thing_not_ours_stays_with_its_ca_policies_and_files():
    rows = [row("certificate", CERT, arn=cert_arn(CERT), detail={"ca": CA_CERT}, deps={"things": ["their-thing"],
                                                                                        "policies": ["p"]}),
            row("policy", "p", deps={"targets": [cert_arn(CERT)]}),
            row("CA certificate", CA_CERT),
            row("local file", "jitp/device.key", detail={"path": "/w/jitp/device.key", "certificates": [CERT]})]
    the_plan = cleanup.plan(WS, rows)
    assert the_plan.steps == []
    assert set(kept(the_plan)) == {("certificate", CERT), ("policy", "p"), ("CA certificate", CA_CERT)}


def test_what_the_inventory_learned_is_offered_to_the_ledger():
    rows = [row("thing", "bulky1", source="bulk task 1234abcd…", identity={"thingId": "t-1"}),
            row("thing", "my-thing", identity={"thingId": "t-2"})]
    [learned] = cleanup.plan(WS, rows).learned
    assert (learned.kind, learned.name, learned.identity, learned.operation) == (
        "thing", "bulky1", {"thingId": "t-1"}, "found by the clean-up")


# -- local files -------------------------------------------------------------------------------------


def self_signed(key, name: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_local_files_are_the_workshops_certificates_and_their_keys(tmp_path):
    ours_key, theirs_key = certs.new_key("ec"), certs.new_key("ec")
    ours, theirs = self_signed(ours_key, "ours"), self_signed(theirs_key, "theirs")
    devices = certs.save_device(tmp_path, "ours", ours, ours_key)
    other = certs.save_device(tmp_path, "theirs", theirs, theirs_key)
    chain = tmp_path / "chain" / "oursAndCA.crt"
    chain.parent.mkdir()
    chain.write_text(ours + theirs)
    root = tmp_path / "AmazonRootCA1.pem"
    root.write_text(ours)
    ours_id = certs.certificate_id(ours)

    found = cleanup.local_files(tmp_path, {ours_id}, keep=[root])

    assert sorted((p.relative_to(tmp_path).as_posix(), what, ids) for p, what, ids in found) == [
        ("chain/oursAndCA.crt", "certificate", (ours_id,)), ("ours.crt", "certificate", (ours_id,)),
        ("ours.key", "private key", (ours_id,))]
    assert devices.cert in [p for p, _, _ in found]
    assert other.key not in [p for p, _, _ in found]


# -- the thing type's wait ---------------------------------------------------------------------------


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self, start: datetime):
        self.now, self.slept = start, 0.0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


class TypeIot:
    """DeleteThingType as AWS answers it: refused until ``accepts_at``, and while things use the type."""

    def __init__(self, clock: Clock, deprecated_at: datetime, accepts_at: datetime, users: list[str] | None = None):
        self.clock, self.deprecated_at, self.accepts_at, self.users = clock, deprecated_at, accepts_at, users or []
        self.deleted = False

    def get_paginator(self, operation):
        assert operation == "list_things"
        return SimpleNamespace(paginate=lambda **kw: [{"things": [{"thingName": u} for u in self.users]}])

    def describe_thing_type(self, thingTypeName):
        return {"thingTypeMetadata": {"deprecated": True, "deprecationDate": self.deprecated_at}}

    def delete_thing_type(self, thingTypeName):
        if self.clock() < self.accepts_at:
            raise client_error("InvalidRequestException", "DeleteThingType",
                               f"Thing type {thingTypeName} was deprecated less than 300 s ago; try again later.")
        self.deleted = True


T0 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_on_aws_the_wait_counts_down_five_minutes_then_deletes():
    clock, said = Clock(T0), []
    iot = TypeIot(clock, deprecated_at=T0, accepts_at=T0 + timedelta(seconds=300))
    result = delete_thing_type(iot, "bulk-type", "aws", patience_s=360, say=said.append, now=clock, sleep=clock.sleep)
    assert iot.deleted and result == "deleted after waiting 300 s"
    assert said[0] == "AWS deletes a thing type 5 minutes after its deprecation: bulk-type in 5:00"
    assert any(text.endswith("in 0:01") for text in said)


def test_on_the_lab_the_type_goes_at_once():
    clock, said = Clock(T0), []
    iot = TypeIot(clock, deprecated_at=T0, accepts_at=T0)
    assert delete_thing_type(iot, "bulk-type", "local", patience_s=360, say=said.append, now=clock, sleep=clock.sleep) == "deleted"
    assert (clock.slept, said) == (0.0, [])


def test_a_wait_longer_than_the_patience_says_when_to_come_back():
    clock = Clock(T0)
    iot = TypeIot(clock, deprecated_at=T0, accepts_at=T0 + timedelta(seconds=300))
    with pytest.raises(NotYet, match="run the clean-up again after that"):
        delete_thing_type(iot, "bulk-type", "aws", patience_s=0, say=print, now=clock, sleep=clock.sleep)
    assert clock.slept == 0


def test_things_that_still_use_the_type_are_named_at_once_without_waiting():
    clock = Clock(T0)
    iot = TypeIot(clock, deprecated_at=T0, accepts_at=T0, users=["foreign-sensor"])
    with pytest.raises(StillRefused, match="things still use the type: foreign-sensor"):
        delete_thing_type(iot, "bulk-type", "aws", patience_s=360, say=print, now=clock, sleep=clock.sleep)
    assert clock.slept == 0


def test_a_lab_that_keeps_refusing_fails_within_seconds_saying_what_it_waited_for():
    clock, said = Clock(T0), []
    iot = TypeIot(clock, deprecated_at=T0, accepts_at=T0 + timedelta(hours=1))  # a lab rehearsing AWS's delay
    with pytest.raises(StillRefused) as refused:
        delete_thing_type(iot, "bulk-type", "local", patience_s=360, say=said.append, now=clock, sleep=clock.sleep)
    assert 10 <= clock.slept <= 11
    assert "was deprecated less than 300 s ago; try again later." in str(refused.value)
    assert "aws iot delete-thing-type --thing-type-name bulk-type" in str(refused.value)
    assert said and said[0].startswith("waiting for AWS to accept DeleteThingType for bulk-type")


def test_a_thing_type_becomes_deletable_five_minutes_after_deprecation_on_aws_only():
    assert cleanup.ready_at(T0, "aws") == T0 + timedelta(minutes=5)
    assert cleanup.ready_at(T0, "local") == T0


# -- run -----------------------------------------------------------------------------------------------


class FakeIot:
    """The few IoT calls the tests below need; anything else is an AttributeError."""

    def __init__(self, ids: dict[str, str] | None = None):
        self.ids = ids or {}
        self.calls: list[str] = []

    def describe_thing(self, thingName):
        self.calls.append(f"describe_thing {thingName}")
        if thingName == "gone":
            raise client_error("ResourceNotFoundException", "DescribeThing")
        return {"thingName": thingName, "thingId": self.ids.get(thingName, "id-1")}

    def can_paginate(self, operation):
        return False

    def list_thing_principals(self, thingName):
        return {"principals": []}

    def list_thing_groups_for_thing(self, thingName):
        return {"thingGroups": []}

    def delete_thing(self, thingName):
        self.calls.append(f"delete_thing {thingName}")
        if thingName == "locked":
            raise client_error("UnauthorizedException", "DeleteThing", "You are not allowed to delete things in this "
                               "account; ask the person who gave you the credentials for iot:DeleteThing")


def test_a_dry_run_calls_nothing_and_lists_every_step():
    the_plan = cleanup.plan(WS, FULL)
    result = cleanup.run(SimpleNamespace(), the_plan, dry_run=True)
    assert list(result["result"].unique()) == ["would run"]
    assert list(result["step"]) == list(range(1, len(the_plan.steps) + 1))
    assert result.loc[result["action"] == "delete thing", "calls"].item() == "iot.delete_thing"


def test_run_reports_each_step_with_aws_whole_answer_and_goes_on_after_an_error():
    iot = FakeIot()
    ws = SimpleNamespace(iot=iot)
    steps = [Step("delete thing", "thing", name, {"expect": {"thingId": "id-1"}}) for name in ("gone", "locked", "t1")]

    result = cleanup.run(ws, steps, dry_run=False, progress=False)

    assert list(result["result"]) == ["already gone", "error", "done"]
    assert result["detail"][1] == ("UnauthorizedException: You are not allowed to delete things in this account; ask "
                                   "the person who gave you the credentials for iot:DeleteThing")
    assert "delete_thing t1" in iot.calls
    assert list(cleanup.problems(result)["name"]) == ["locked"]


def test_a_thing_whose_id_changed_since_the_inventory_is_left_alone():
    iot = FakeIot(ids={"job-agent": "made-by-hand"})
    result, detail = cleanup.run_step(SimpleNamespace(iot=iot), Step("delete thing", "thing", "job-agent",
                                                                     {"expect": {"thingId": "made-by-the-workshop"}}))
    assert result == "left alone" and "thingId" in detail and "made again outside the workshop" in detail
    assert "delete_thing job-agent" not in iot.calls


@pytest.mark.parametrize(("error", "gone"), [
    (client_error("ResourceNotFoundException"), True),
    (client_error("NoSuchEntity"), True),
    (client_error("404"), True),
    (client_error("ValidationError"), False),
    (ClientError({"Error": {"Code": "ValidationError", "Message": "Stack with id x does not exist"}}, "DescribeStacks"),
     True),
    (client_error("DeleteConflictException"), False),
], ids=["iot", "iam", "s3-head", "other-validation", "cloudformation-missing-stack", "conflict"])
def test_is_gone(error, gone):
    assert cleanup.is_gone(error) is gone


def test_view_shortens_ids_and_never_cuts_a_text():
    reason = "AWS answered: " + "a long explanation of what went wrong and what to do about it " * 4
    frame = pd.DataFrame([{"name": CERT, "detail": reason}])
    shown = cleanup.view(frame).to_dict("records")
    assert shown == [{"name": CERT[:12] + "…", "detail": reason}]


def test_the_summary_counts_per_kind_and_source():
    found = pd.DataFrame([{**row("thing", f"bulky{n}"), "source": "bulk task 1"} for n in range(1, 6)]
                         + [row("thing", "a"), row("thing", "b", exists=False), row("thing", "c", ours=False),
                            row("thing", "kept-one")])
    the_plan = SimpleNamespace(kept=pd.DataFrame([{"kind": "thing", "name": "kept-one", "why it stays": "..."}]))
    summary = cleanup.summary(found, the_plan)
    assert summary.to_dict("records") == [
        {"kind": "thing", "source": "bulk task 1", "found": 5, "still there": 5, "the workshop's": 5,
         "not the workshop's": 0, "to clean up": 5, "kept": 0, "names": "bulky1, bulky2, bulky3 (+2)"},
        {"kind": "thing", "source": "ledger", "found": 4, "still there": 3, "the workshop's": 2,
         "not the workshop's": 1, "to clean up": 1, "kept": 1, "names": "a, c, kept-one"},
    ]


@pytest.mark.parametrize(
    ("found", "request_"),
    [
        ({}, {"thingIndexingConfiguration": {"thingIndexingMode": "OFF"},
              "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"}}),
        ({"thingIndexingConfiguration": {"thingIndexingMode": "OFF", "customFields": [{"name": "a", "type": "String"}]}},
         {"thingIndexingConfiguration": {"thingIndexingMode": "OFF"},
          "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"}}),
        ({"thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS",
                                         "customFields": [{"name": "attributes.site", "type": "String"}],
                                         "managedFields": [{"name": "thingName", "type": "String"}]},
          "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "ON",
                                              "customFields": [{"name": "description", "type": "String"}]}},
         {"thingIndexingConfiguration": {"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS",
                                         "customFields": [{"name": "attributes.site", "type": "String"}]},
          "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "ON",
                                              "customFields": [{"name": "description", "type": "String"}]}}),
    ],
    ids=["never-set", "off-keeps-only-the-mode", "modes-and-custom-fields-not-managed-ones"],
)
def test_the_indexing_found_becomes_the_request_that_restores_it(found, request_):
    from helpers.cleanup.probes import indexing_request

    assert indexing_request(found) == request_
