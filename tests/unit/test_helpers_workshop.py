"""helpers.workshop without a lab or an account: choices, lab start-up plumbing, stack handling."""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import pytest

from helpers import workshop as wsmod
from helpers.workshop import StackDeployError, Workshop, WorkshopError

LAB_ENV = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4599", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "localcore", "AWS_SECRET_ACCESS_KEY": "localcore", "IOT_ENDPOINT": "localhost",
    "IOT_PORT": "18883", "IOT_WS_PORT": "14511", "IOT_ROOT_CA": "/lab/pki/root-ca.pem",
}


@pytest.mark.parametrize(
    ("argument", "environ", "expected"),
    [(None, {}, "local"), (None, {"WORKSHOP_BACKEND": "aws"}, "aws"), ("local", {"WORKSHOP_BACKEND": "aws"}, "local"),
     (" AWS ", {}, "aws")],
    ids=["default-local", "from-env", "argument-wins", "case-and-space"],
)
def test_choose_backend(argument, environ, expected):
    assert wsmod.choose_backend(argument, environ) == expected


def test_an_unknown_backend_is_explained():
    with pytest.raises(WorkshopError, match="use 'local'"):
        wsmod.choose_backend("azure", {})


@pytest.mark.parametrize(
    ("argument", "environ", "expected"),
    [(None, {}, ""), (None, {"WORKSHOP_PREFIX": "anna-"}, "anna-"), ("bob_", {"WORKSHOP_PREFIX": "anna-"}, "bob-"),
     ("", {"WORKSHOP_PREFIX": "anna-"}, "")],
    ids=["none", "from-env", "argument-wins", "empty-argument-wins"],
)
def test_choose_prefix(argument, environ, expected):
    assert wsmod.choose_prefix(argument, environ) == expected


@pytest.mark.parametrize(("prefix", "why"), [("x" * 20, "too long"), ("7up", "start with a letter"), ("__", "no letters")],
                         ids=["too-long", "digit-first", "nothing-left"])
def test_a_prefix_unusable_in_names_is_refused(prefix, why):
    with pytest.raises(WorkshopError, match=why):
        wsmod.choose_prefix(prefix, {})


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", "iotdm"), ("anna-", "anna"), ("Bob_2", "bob-2"), ("__", "iotdm"), ("a" * 20 + "-", "a" * 20)],
    ids=["default", "trailing-dash", "case-and-underscore", "nothing-left", "twenty-chars"],
)
def test_stack_prefix_fits_the_templates_pattern(prefix, expected):
    assert wsmod.stack_prefix(prefix) == expected


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", "iot-dm-workshop"), ("anna-", "anna-iot-dm-workshop"), ("team_1", "team-1-iot-dm-workshop"),
     ("7up", "ws-7up-iot-dm-workshop")],
    ids=["no-prefix", "prefix", "underscore", "starts-with-digit"],
)
def test_stack_name(prefix, expected):
    assert wsmod.stack_name(prefix) == expected


def test_default_work_dir_is_under_the_repo_unless_set(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("")

    assert wsmod.default_work_dir("aws", {}, repo) == repo / "work" / "aws"
    assert wsmod.default_work_dir("aws", {"WORKSHOP_WORK_DIR": str(tmp_path / "w")}, repo) == tmp_path / "w"


def test_parse_lab_env_reads_the_labs_json():
    assert wsmod.parse_lab_env(json.dumps(LAB_ENV))["IOT_PORT"] == "18883"


@pytest.mark.parametrize(
    ("text", "message"),
    [("export A=1", "not JSON"), (json.dumps({"AWS_ENDPOINT_URL": "x"}), "lacks AWS_DEFAULT_REGION")],
    ids=["not-json", "missing-keys"],
)
def test_parse_lab_env_explains_bad_output(text, message):
    with pytest.raises(WorkshopError, match=message):
        wsmod.parse_lab_env(text)




def test_format_stack_failure_lists_failed_events_oldest_first():
    events = [  # CloudFormation lists the newest first
        {"LogicalResourceId": "Stack", "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {"LogicalResourceId": "LambdaRole", "ResourceType": "AWS::IAM::Role", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource creation cancelled"},
        {"LogicalResourceId": "WorkshopBucket", "ResourceType": "AWS::S3::Bucket", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Access Denied"},
    ]

    message = wsmod.format_stack_failure("iot-dm-workshop", "ROLLBACK_COMPLETE", events)

    assert message.splitlines() == [
        "The stack iot-dm-workshop ended in ROLLBACK_COMPLETE. Failed resources:",
        "  WorkshopBucket (AWS::S3::Bucket) CREATE_FAILED: Access Denied",
        "  LambdaRole (AWS::IAM::Role) CREATE_FAILED: Resource creation cancelled",
    ]


# -- starting the lab through a subprocess --------------------------------------------------------


def fake_python(folder: Path, start_exit: int = 0) -> str:
    """A stand-in interpreter that answers `-m localcore start` and `-m localcore env --json`."""
    script = folder / "python"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$3" = start ]; then echo "Lab started on port $LOCALCORE_MQTT_PORT"; echo "port busy" >&2; exit {start_exit}; fi
        cat <<'JSON'
        {json.dumps(LAB_ENV)}
        JSON
    """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_start_lab_runs_start_then_reads_env_json_with_the_callers_environment(tmp_path, capsys):
    lab = wsmod.start_lab(fake_python(tmp_path), {"LOCALCORE_MQTT_PORT": "18883", "PATH": "/usr/bin:/bin"})

    assert lab == LAB_ENV
    assert capsys.readouterr().out.strip() == "Lab started on port 18883"


def test_a_failing_lab_start_shows_what_localcore_said(tmp_path):
    with pytest.raises(WorkshopError, match="failed \\(exit 1\\):\nport busy"):
        wsmod.start_lab(fake_python(tmp_path, start_exit=1), {"PATH": "/usr/bin:/bin"})


# -- the Workshop object -------------------------------------------------------------------------


class FakeSession:
    region_name = "eu-west-1"

    def __init__(self) -> None:
        self.made: list[tuple[str, str | None]] = []

    def client(self, name, endpoint_url=None):
        self.made.append((name, endpoint_url))
        return object()


def make_ws(tmp_path, backend="local", http_url="http://127.0.0.1:4599", prefix="anna-") -> Workshop:
    return Workshop(backend, FakeSession(), endpoint="abc-ats.iot.eu-west-1.amazonaws.com", port=8883,
                    root_ca=tmp_path / "ca.pem", work_dir=tmp_path, prefix=prefix, http_url=http_url)


def test_local_clients_point_at_the_lab_and_are_made_once(tmp_path):
    ws = make_ws(tmp_path)

    assert ws.iot is ws.client("iot")
    assert ws.lambda_ is ws.client("lambda") and ws.iot_data is ws.client("iot-data")
    assert ws.session.made == [("iot", "http://127.0.0.1:4599"), ("lambda", "http://127.0.0.1:4599"),
                               ("iot-data", "http://127.0.0.1:4599")]


def test_aws_clients_use_default_endpoints_except_iot_data_on_the_ats_endpoint(tmp_path):
    ws = make_ws(tmp_path, backend="aws", http_url=None)
    ws.iot, ws.iot_data

    assert ws.session.made == [("iot", None), ("iot-data", "https://abc-ats.iot.eu-west-1.amazonaws.com")]


def test_names_carry_the_trainee_prefix(tmp_path):
    assert make_ws(tmp_path).name("bulky") == "anna-bulky"
    assert make_ws(tmp_path, prefix="").stack_name == "iot-dm-workshop"


def test_the_workshop_repr_and_html_show_endpoints_but_no_credentials(tmp_path):
    ws = make_ws(tmp_path)

    assert repr(ws) == "Workshop(backend='local', region='eu-west-1', mqtt=abc-ats.iot.eu-west-1.amazonaws.com:8883)"
    page = ws._repr_html_()
    assert "http://127.0.0.1:4599" in page and "localcore" not in page


def test_the_console_signs_in_over_websockets_on_443_unless_told_otherwise(tmp_path):
    """The MQTT console (helpers.iam_mqtt) uses AWS's WebSocket port; the lab names its own."""
    assert make_ws(tmp_path).ws_port == 443
    assert not hasattr(Workshop, "console_identity")  # no device certificate, no allow-all policy any more


class FakeCloudFormation:
    """A stack that fails: describe answers from a list of statuses, events explain the failure."""

    def __init__(self, statuses: list[str | None]) -> None:
        self.statuses = statuses
        self.calls: list[str] = []

    def describe_stacks(self, StackName):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            raise Exception(f"Stack with id {StackName} does not exist")
        return {"Stacks": [{"StackStatus": status, "Outputs": [{"OutputKey": "S3Bucket", "OutputValue": "b"}]}]}

    def create_stack(self, **request):
        self.calls.append("create")

    def delete_stack(self, StackName):
        self.calls.append("delete")

    def describe_stack_events(self, StackName):
        return {"StackEvents": [{"LogicalResourceId": "DevicePolicy", "ResourceType": "AWS::IoT::Policy",
                                 "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "policy exists"}]}


def with_cfn(tmp_path, cfn: FakeCloudFormation) -> Workshop:
    ws = make_ws(tmp_path)
    ws._clients["cloudformation"] = cfn
    return ws


def test_deploy_stack_creates_a_missing_stack_and_returns_its_outputs(tmp_path):
    cfn = FakeCloudFormation([None, "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    ws = with_cfn(tmp_path, cfn)

    assert ws.deploy_stack() == {"S3Bucket": "b"} == ws.stack_outputs
    assert cfn.calls == ["create"]


def test_deploy_stack_replaces_a_stack_whose_creation_rolled_back(tmp_path):
    cfn = FakeCloudFormation(["ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", None, "CREATE_COMPLETE"])

    with_cfn(tmp_path, cfn).deploy_stack()

    assert cfn.calls == ["delete", "create"]


def test_a_failed_deployment_raises_with_the_failed_events(tmp_path):
    cfn = FakeCloudFormation([None, "CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE"])

    with pytest.raises(StackDeployError) as caught:
        with_cfn(tmp_path, cfn).deploy_stack()

    assert "ended in ROLLBACK_COMPLETE" in str(caught.value)
    assert "DevicePolicy (AWS::IoT::Policy) CREATE_FAILED: policy exists" in str(caught.value)
