"""The local Lambda runner: a function's zip run in a child process, as AWS Lambda runs it.

Runner tests use `LambdaRunner` directly with zips built here; the last group runs an in-process lab
(`build_lab` + its HTTP app on a free port) so that boto3 inside a function and the Invoke API are
the real thing.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import uuid
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from labfixture import free_port
from moto.backends import get_backend
from werkzeug.serving import make_server

from localcore.aws import moto_patches
from localcore.aws.app import LabApp
from localcore.config import LabConfig
from localcore.lambda_runner import permissions
from localcore.lambda_runner.permissions import InvokeRequest, invoke_allowed
from localcore.lambda_runner.runner import (
    FunctionSpec,
    InvalidZipFileException,
    LambdaRunner,
    UnsupportedRuntime,
    log_stream_name,
)
from localcore.lambda_runner.service import function_spec, local_lambda
from localcore.server import _request_handler, build_lab

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
RULE_ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/JITRRule"
BASE_ENV = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}

HANDLERS = '''
import json, logging, os, sys, time

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def echo(event, context):
    return {"event": event, "name": context.function_name, "version": context.function_version,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "request": context.aws_request_id, "group": context.log_group_name,
            "stream": context.log_stream_name, "remaining": context.get_remaining_time_in_millis()}


def environment(event, context):
    return {name: os.environ.get(name) for name in event["names"]}


def fail(event, context):
    raise ValueError("the sensor is on fire")


def chatty(event, context):
    print("first line")
    print("to stderr", file=sys.stderr)
    logger.info("two lines\\nin one record")
    return None


def slow(event, context):
    print("going to sleep")
    time.sleep(60)


def leave(event, context):
    sys.exit(3)


def unserialisable(event, context):
    return {"when": object()}
'''


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def spec(handler: str = "app.echo", *, files: dict[str, str] | None = None, runtime: str | None = "python3.12",
         timeout_s: int = 10, environment: dict[str, str] | None = None, code: bytes | None = None) -> FunctionSpec:
    code = code if code is not None else make_zip(files or {"app.py": HANDLERS})
    return FunctionSpec(name="fn", arn=ARN, version="$LATEST", handler=handler, runtime=runtime,
                        timeout_s=timeout_s, memory_mb=256, environment=environment or {}, code=code,
                        code_sha256=uuid.uuid4().hex)


@pytest.fixture
def runner(tmp_path):
    runner = LambdaRunner(tmp_path / "cache", BASE_ENV)
    yield runner
    runner.close()


def messages(result) -> list[str]:
    return [event.message for event in result.log_events]


# -- results ---------------------------------------------------------------------------------------

def test_a_returned_value_is_the_payload_and_the_context_describes_the_invocation(runner):
    result = runner.run(spec(), json.dumps({"temperature": 31}))
    body = json.loads(result.payload)
    assert result.function_error is None
    assert body["event"] == {"temperature": 31}
    assert (body["name"], body["version"], body["arn"], body["memory"]) == ("fn", "$LATEST", ARN, "256")
    assert body["request"] == result.request_id and body["group"] == "/aws/lambda/fn"
    assert body["stream"] == result.log_stream
    assert 0 < body["remaining"] <= 10_000


def test_an_exception_is_reported_as_an_unhandled_function_error_with_its_stack(runner):
    result = runner.run(spec("app.fail"), "{}")
    body = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "the sensor is on fire")
    assert len(body["stackTrace"]) == 1 and "in fail" in body["stackTrace"][0]  # the function's frames only
    error_event = next(m for m in messages(result) if m.startswith("[ERROR]"))
    assert error_event.startswith("[ERROR] ValueError: the sensor is on fire\nTraceback (most recent call last):")


def test_a_function_running_past_its_timeout_is_killed_and_reported(runner):
    started = time.monotonic()
    result = runner.run(spec("app.slow", timeout_s=1), "{}")
    assert time.monotonic() - started < 10  # the child sleeps for 60 s
    body = json.loads(result.payload)
    assert result.function_error == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "going to sleep" in messages(result)
    assert any(m.endswith(f"{result.request_id} Task timed out after 1.00 seconds") for m in messages(result))
    assert messages(result)[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: 1000.00 ms")
    assert "Status: timeout" in messages(result)[-1]


@pytest.mark.parametrize(
    ("handler", "files", "error_type", "message"),
    [
        pytest.param("nomodule.handler", None, "Runtime.ImportModuleError",
                     "Unable to import module 'nomodule': No module named 'nomodule'", id="missing-module"),
        pytest.param("app.absent", None, "Runtime.HandlerNotFound", "Handler 'absent' missing on module 'app'",
                     id="missing-function"),
        pytest.param("app", None, "Runtime.MalformedHandlerName", "Bad handler 'app'", id="no-dot"),
        pytest.param("broken.handler", {"broken.py": "def handler(:\n"}, "Runtime.UserCodeSyntaxError",
                     "Syntax error in module 'broken'", id="syntax-error"),
        pytest.param("app.unserialisable", None, "Runtime.MarshalError", "Unable to marshal response",
                     id="result-not-json"),
        pytest.param("app.leave", None, "Runtime.ExitError", "Runtime exited with error: exit status 3",
                     id="sys-exit"),
    ],
)
def test_runtime_failures_carry_aws_error_types(runner, handler, files, error_type, message):
    files = {"app.py": HANDLERS, **(files or {})}
    result = runner.run(spec(handler, files=files), "{}")
    body = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert body["errorType"] == error_type and message in body["errorMessage"]


def test_a_handler_in_a_folder_is_found_by_its_slash_path(runner):
    files = {"pkg/__init__.py": "", "pkg/handlers.py": "def go(event, context):\n    return event['x'] * 2\n"}
    assert runner.run(spec("pkg/handlers.go", files=files), '{"x": 21}').payload == b"42"


# -- logs ------------------------------------------------------------------------------------------

def test_output_becomes_log_events_between_start_and_report(runner):
    result = runner.run(spec("app.chatty"), "{}")
    lines, request = messages(result), result.request_id
    assert lines[0] == f"START RequestId: {request} Version: $LATEST"
    assert "first line" in lines and "to stderr" in lines
    assert any(re.fullmatch(rf"\[INFO\]\t\S+Z\t{request}\ttwo lines\nin one record", m) for m in lines)
    assert lines[-2] == f"END RequestId: {request}"
    assert re.fullmatch(rf"REPORT RequestId: {request}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms\t", lines[-1])
    stamps = [event.timestamp_ms for event in result.log_events]
    assert stamps == sorted(stamps)


def test_log_result_is_the_base64_tail_of_the_log(runner):
    result = runner.run(spec("app.chatty"), "{}")
    tail = base64.b64decode(result.log_result).decode()
    assert tail.startswith("START RequestId") and tail.rstrip("\n").endswith(messages(result)[-1])


def test_log_stream_names_follow_aws(runner):
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", log_stream_name("$LATEST", time.time()))


# -- environment -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("AWS_ENDPOINT_URL", BASE_ENV["AWS_ENDPOINT_URL"], id="lab-endpoint"),
        pytest.param("AWS_REGION", REGION, id="region"),
        pytest.param("AWS_ACCESS_KEY_ID", "k", id="dummy-credentials"),
        pytest.param("TABLE", "devices", id="function-variable"),
        pytest.param("AWS_LAMBDA_FUNCTION_NAME", "fn", id="lambda-variable"),
        pytest.param("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn", id="log-group"),
        pytest.param("_HANDLER", "app.environment", id="handler"),
    ],
)
def test_the_function_sees_lambda_and_its_own_environment(runner, name, expected):
    fn = spec("app.environment", environment={"TABLE": "devices", "AWS_REGION": "eu-west-1"})
    assert json.loads(runner.run(fn, json.dumps({"names": [name]})).payload) == {name: expected}


def test_unzipped_code_is_cached_per_name_and_sha(runner):
    fn = spec()
    first = runner.code_dir(fn)
    assert first == runner.cache_dir / "fn" / fn.code_sha256 and (first / "app.py").is_file()
    assert runner.code_dir(fn) == first


@pytest.mark.parametrize(
    ("fn", "error"),
    [
        pytest.param(spec(runtime="nodejs20.x"), UnsupportedRuntime, id="nodejs"),
        pytest.param(spec(runtime=None), UnsupportedRuntime, id="container-image"),
        pytest.param(spec(code=b"not a zip"), InvalidZipFileException, id="bad-zip"),
    ],
)
def test_what_the_lab_cannot_run_is_a_clear_error(runner, fn, error):
    with pytest.raises(error) as raised:
        runner.run(fn, "{}")
    if error is UnsupportedRuntime:
        assert "the lab runs Python functions only" in raised.value.message


def test_python_2_runtime_runs_on_the_labs_interpreter(runner):
    assert json.loads(runner.run(spec(runtime="python2.7"), "{}").payload)["name"] == "fn"


# -- resource-based policy -------------------------------------------------------------------------

def statement(**overrides) -> dict:
    base = {"Sid": "s", "Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": ARN,
            "Condition": {"ArnLike": {"AWS:SourceArn": RULE_ARN}}}
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        pytest.param([statement()], True, id="rule-arn-granted"),
        pytest.param([], False, id="no-policy"),
        pytest.param([statement(Condition={"ArnLike": {"AWS:SourceArn": RULE_ARN + "2"}})], False, id="other-rule"),
        pytest.param([statement(Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/*"}})],
                     True, id="wildcard-rule"),
        pytest.param([statement(Condition={})], True, id="any-source"),
        pytest.param([statement(Condition={"StringEquals": {"AWS:SourceAccount": ACCOUNT}})], True, id="account"),
        pytest.param([statement(Condition={"StringEquals": {"AWS:SourceAccount": "999999999999"}})], False,
                     id="other-account"),
        pytest.param([statement(Principal={"Service": "s3.amazonaws.com"})], False, id="other-service"),
        pytest.param([statement(Action="lambda:GetFunction")], False, id="other-action"),
        pytest.param([statement(Action="lambda:*")], True, id="action-wildcard"),
        pytest.param([statement(Resource=ARN + ":prod")], False, id="other-qualifier"),
        pytest.param([statement(), statement(Effect="Deny")], False, id="deny-wins"),
        pytest.param([statement(Condition={"IpAddress": {"aws:SourceIp": "1.2.3.4"}})], False,
                     id="unknown-operator"),
    ],
)
def test_invoke_allowed_reads_the_policy_as_lambda_does(statements, allowed):
    request = InvokeRequest("iot.amazonaws.com", ARN, None, RULE_ARN, ACCOUNT)
    assert invoke_allowed(statements, request) is allowed
    assert permissions.INVOKE == "lambda:InvokeFunction"


# -- in a lab --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An in-process lab with its HTTP API on a free port (no broker)."""
    for service in ("iot", "iam", "lambda", "logs"):
        get_backend(service)[ACCOUNT].reset()
    config = LabConfig(home=tmp_path_factory.mktemp("lab"), http_port=free_port(), mqtt_port=free_port())
    lab = build_lab(config)
    http = make_server(config.host, config.http_port, LabApp(lab), threaded=True, request_handler=_request_handler())
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield lab
    http.shutdown()
    local_lambda(lab).close()
    moto_patches.reset()


def client(lab, service: str):
    return boto3.client(service, endpoint_url=lab.config.http_url, region_name=REGION,
                        aws_access_key_id="k", aws_secret_access_key="s")


@pytest.fixture(scope="module")
def function(served):
    role = client(served, "iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = HANDLERS + '''

def make_thing(event, context):
    import boto3
    boto3.client("iot").create_thing(thingName=event["name"])
    print("made", event["name"])
    return {"made": event["name"]}
'''
    name = "runner-fn"
    client(served, "lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.make_thing",
        Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30, Environment={"Variables": {"STAGE": "lab"}},
    )
    return name


def test_boto3_inside_the_function_reaches_the_lab(served, function):
    result = local_lambda(served).invoke(function, b'{"name": "made-by-function"}')
    assert result.function_error is None, result.payload
    assert served.iot.describe_thing("made-by-function").thing_name == "made-by-function"


def test_invoke_returns_payload_and_writes_the_log_group(served, function):
    response = client(served, "lambda").invoke(FunctionName=function, Payload=b'{"name": "via-invoke"}',
                                                LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"made": "via-invoke"}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "made via-invoke" in base64.b64decode(response["LogResult"]).decode()
    events = client(served, "logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    assert any(event["message"] == "made via-invoke" for event in events)
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", e["logStreamName"]) for e in events)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"InvocationType": "DryRun"}, 204, id="dry-run"),
        pytest.param({"InvocationType": "Event", "Payload": b'{"name": "async-thing"}'}, 202, id="event"),
    ],
)
def test_invocation_types_answer_as_aws(served, function, kwargs, status):
    assert client(served, "lambda").invoke(FunctionName=function, **kwargs)["StatusCode"] == status


def test_a_function_error_sets_the_function_error_header(served, function):
    response = client(served, "lambda").invoke(FunctionName=function, Payload=b'{"no-name": 1}')
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "KeyError"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        pytest.param({"FunctionName": "no-such-function"}, "ResourceNotFoundException", id="missing"),
        pytest.param({"Payload": b"not json"}, "InvalidRequestContentException", id="payload-not-json"),
    ],
)
def test_invoke_errors_carry_lambda_codes(served, function, kwargs, code):
    with pytest.raises(ClientError) as raised:
        client(served, "lambda").invoke(**{"FunctionName": function, **kwargs})
    assert raised.value.response["Error"]["Code"] == code


def test_function_spec_reads_what_moto_stores(served, function):
    """Fails loudly when a moto upgrade renames what the lab reads from a LambdaFunction."""
    fn = function_spec(served.backend("lambda").get_function(function))
    assert (fn.name, fn.version, fn.handler, fn.runtime, fn.timeout_s, fn.memory_mb) == (
        function, "$LATEST", "app.make_thing", "python3.12", 30, 128)
    assert fn.environment == {"STAGE": "lab"} and fn.code.startswith(b"PK") and len(fn.code_sha256) == 64
