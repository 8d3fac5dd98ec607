"""helpers.cleanup without a lab: the safety rule, the plan's order, local files, and run's results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from helpers import certs, cleanup
from helpers.cleanup import Step

CERT = "c" * 64
CA_CERT = "d" * 64
WS = SimpleNamespace(prefix="", stack_name="iot-dm-workshop")


def row(kind: str, name: str, *, delete: bool = True, status: str = "", detail: dict | None = None,
        deps: dict | None = None, arn: str = "") -> dict:
    return {"kind": kind, "name": name, "exists": delete, "delete": delete, "status": status,
            "detail": detail or {}, "deps": deps or {}, "arn": arn}


def client_error(code: str, operation: str = "Operation") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, operation)


# -- the safety rule ---------------------------------------------------------------------------------


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
], ids=["no-prefix", "prefixed", "unprefixed-thing", "underscore-only-for-rules", "rule-with-underscored-prefix",
        "rule-without-prefix", "certificate-id", "ca-id", "setting", "local-file"])
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


# -- the plan ----------------------------------------------------------------------------------------


FULL = [
    row("stack", "iot-dm-workshop", detail={"bucket": "bkt"}),
    row("thing type", "bulk-type"),
    row("thing group", "parent", detail={"depth": 0}, arn="arn:g/parent"),
    row("thing group", "child", detail={"depth": 1}, arn="arn:g/child"),
    row("thing", "bulky1", deps={"groups": ["child"]}),
    row("certificate", CERT, arn=f"arn:cert/{CERT}", deps={"policies": ["p"], "things": ["bulky1"]}),
    row("policy", "p"),
    row("job", "job-1", status="IN_PROGRESS"),
    row("topic rule", "JITRRule", status="enabled"),
    row("Lambda function", "jitr"),
    row("CA certificate", CA_CERT),
    row("S3 object", "in.json", detail={"bucket": "bkt"}),
    row("fleet indexing", "indexing configuration", detail={"before": {}}),
    row("log level", "THING_GROUP:parent", detail={"before": None}),
    row("logging options", "v2 logging", detail={"before": None}),
    row("event configuration", "THING", detail={"before": False}),
    row("event configuration", "JOB", detail={"before": False}),
    row("IAM role", "iotdm-iot-logging", detail={"by_stack": True}),
    row("local file", "devices/bulky1.key", detail={"path": "/w/devices/bulky1.key"}),
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
    ("delete S3 object", "in.json"), ("empty bucket", "iot-dm-workshop"), ("delete stack", "iot-dm-workshop"),
    ("check what the stack left", "iotdm-iot-logging"),
    ("delete local files", "1 file(s)"),
    ("restore event configuration", "JOB, THING"),
]


def test_the_plan_follows_the_order_aws_accepts():
    steps = cleanup.plan(WS, FULL)
    assert [(s.action, s.name) for s in steps] == EXPECTED_ORDER


def test_the_plan_is_the_same_from_a_dataframe():
    assert cleanup.plan(WS, pd.DataFrame(FULL)) == cleanup.plan(WS, FULL)


def test_the_plan_never_touches_what_is_not_marked_or_lacks_the_prefix():
    prefixed = SimpleNamespace(prefix="anna-", stack_name="anna-iot-dm-workshop")
    rows = [row("thing", "anna-t1"), row("thing", "t2"), row("thing", "anna-t3", delete=False),
            row("stack", "iot-dm-workshop"), row("certificate", CERT, arn="arn")]
    names = {s.name for s in cleanup.plan(prefixed, rows)}
    assert names == {"anna-t1", CERT}


@pytest.mark.parametrize(("the_row", "actions"), [
    (row("thing type", "t", detail={"deprecated": True}), ["delete thing type"]),
    (row("job", "j", status="COMPLETED"), ["delete job"]),
    (row("topic rule", "r", status="disabled"), ["delete topic rule"]),
    (row("thing group", "g", detail={"depth": 0}), ["detach policies from thing group", "delete thing group"]),
    (row("event configuration", "THING", detail={"before": "unknown"}), []),
], ids=["deprecated-type", "finished-job", "disabled-rule", "group", "event-with-unknown-before"])
def test_steps_already_done_are_left_out(the_row, actions):
    assert [s.action for s in cleanup.plan(WS, [the_row])] == actions


def test_a_certificate_of_the_workshops_ca_is_deleted_with_force():
    [*_, delete] = cleanup.plan(WS, [row("certificate", CERT, arn="arn", detail={"ca": CA_CERT})])
    assert (delete.action, delete.args) == ("delete certificate", {"force": True})


def test_event_configurations_are_restored_in_one_call_to_their_value_before():
    rows = [row("event configuration", "THING", detail={"before": False}),
            row("event configuration", "JOB", detail={"before": True})]
    [step] = cleanup.plan(WS, rows)
    assert step.args == {"configurations": {"THING": False, "JOB": True}}


def test_an_empty_inventory_plans_nothing():
    assert cleanup.plan(WS, pd.DataFrame(columns=cleanup.COLUMNS)) == []


def test_every_action_has_a_call_to_show_and_a_place_in_the_order():
    assert set(cleanup.CALLS) == set(cleanup.ORDER) == set(cleanup.ACTIONS) | {"delete thing type"}


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

    found = cleanup.local_files(tmp_path, {certs.certificate_id(ours)}, keep=[root])

    assert sorted((p.relative_to(tmp_path).as_posix(), what) for p, what in found) == [
        ("chain/oursAndCA.crt", "certificate"), ("ours.crt", "certificate"), ("ours.key", "private key")]
    assert devices.cert in [p for p, _ in found]
    assert other.key not in [p for p, _ in found]


# -- run ---------------------------------------------------------------------------------------------


class FakeIot:
    """The few IoT calls the tests below need; anything else is an AttributeError."""

    def __init__(self, deprecated_at: datetime | None = None):
        self.deprecated_at = deprecated_at
        self.calls: list[str] = []

    def describe_thing(self, thingName):
        self.calls.append(f"describe_thing {thingName}")
        if thingName == "gone":
            raise client_error("ResourceNotFoundException", "DescribeThing")
        return {"thingName": thingName}

    def list_thing_principals(self, thingName):
        return {"principals": []}

    def delete_thing(self, thingName):
        self.calls.append(f"delete_thing {thingName}")
        if thingName == "locked":
            raise client_error("UnauthorizedException", "DeleteThing")

    def delete_thing_type(self, thingTypeName):
        raise client_error("InvalidRequestException", "DeleteThingType")

    def describe_thing_type(self, thingTypeName):
        return {"thingTypeMetadata": {"deprecated": True, "deprecationDate": self.deprecated_at}}


def test_a_dry_run_calls_nothing_and_lists_every_step():
    steps = cleanup.plan(WS, FULL)
    result = cleanup.run(SimpleNamespace(), steps, dry_run=True)
    assert list(result["result"].unique()) == ["would run"]
    assert list(result["step"]) == list(range(1, len(steps) + 1))
    assert result.loc[result["action"] == "delete thing", "calls"].item() == "iot.delete_thing"


def test_run_reports_each_step_and_goes_on_after_an_error():
    iot = FakeIot()
    ws = SimpleNamespace(iot=iot)
    steps = [Step("delete thing", "thing", name) for name in ("gone", "locked", "t1")]

    result = cleanup.run(ws, steps, dry_run=False, progress=False)

    assert list(result["result"]) == ["already gone", "error", "done"]
    assert result["detail"][1].startswith("UnauthorizedException")
    assert "delete_thing t1" in iot.calls


def test_a_thing_type_deprecated_moments_ago_is_not_yet_deletable():
    iot = FakeIot(deprecated_at=datetime.now(timezone.utc) - timedelta(seconds=10))
    step = Step("delete thing type", "thing type", "bulk-type")
    result, detail = cleanup.run_step(SimpleNamespace(iot=iot), step, patience_s=0)
    assert result == "not yet"
    assert "5 minutes after its deprecation" in detail and "run the clean-up again" in detail


def test_a_thing_type_refused_long_after_deprecation_is_an_error():
    iot = FakeIot(deprecated_at=datetime.now(timezone.utc) - timedelta(minutes=30))
    result, detail = cleanup.run_step(SimpleNamespace(iot=iot), Step("delete thing type", "thing type", "t"), patience_s=0)
    assert (result, detail.split(":")[0]) == ("error", "InvalidRequestException")


def test_thing_type_deletable_five_minutes_after_deprecation():
    deprecated = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert cleanup.thing_type_deletable_at(deprecated) == datetime(2025, 1, 1, 12, 5, tzinfo=timezone.utc)


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


def test_the_summary_counts_per_kind_and_source():
    found = pd.DataFrame([{**row("thing", f"bulky{n}"), "source": "bulk task 1"} for n in range(1, 6)]
                         + [{**row("thing", "a"), "source": "ledger"}, {**row("thing", "b", delete=False), "source": "ledger"},
                            {**row("thing", "c"), "delete": False, "source": "ledger"}])
    summary = cleanup.summary(found)
    assert summary.to_dict("records") == [
        {"kind": "thing", "source": "bulk task 1", "recorded": 5, "still there": 5, "to clean up": 5, "kept": 0,
         "names": "bulky1, bulky2, bulky3 (+2)"},
        {"kind": "thing", "source": "ledger", "recorded": 3, "still there": 2, "to clean up": 1, "kept": 1,
         "names": "a, c"},
    ]
