"""helpers.failures: botocore's failures become a few plain lines that say what to run; AWS's answers stay."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore import exceptions as boto
from botocore.exceptions import ClientError

from helpers import failures
from helpers.failures import BackendUnreachable, CredentialsMissing, RegionMissing, WorkshopError
from helpers.workshop import Workshop

MAX_LINES = 10  # what a trainee sees of a failure, at most


def closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_client(port: int, session: boto3.Session | None = None):
    session = session or boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    return failures.explain_errors(session.client("iot", endpoint_url=f"http://127.0.0.1:{port}"), "local")


def shown(error: BaseException) -> list[str]:
    return error._render_traceback_()


@pytest.mark.parametrize(
    ("error", "kind"),
    [(boto.EndpointConnectionError(endpoint_url="http://127.0.0.1:4510/things"), BackendUnreachable),
     (boto.ConnectTimeoutError(endpoint_url="http://127.0.0.1:4510/things"), BackendUnreachable),
     (boto.ReadTimeoutError(endpoint_url="http://127.0.0.1:4510/things"), BackendUnreachable),
     (boto.ConnectionClosedError(endpoint_url="http://127.0.0.1:4510/things"), BackendUnreachable),
     (boto.NoCredentialsError(), CredentialsMissing),
     (boto.TokenRetrievalError(provider="sso", error_msg="expired"), CredentialsMissing),
     (boto.NoRegionError(), RegionMissing)],
    ids=["refused", "connect-timeout", "read-timeout", "closed", "no-credentials", "sso-expired", "no-region"],
)
def test_botocore_failures_become_one_workshop_error_each(error, kind):
    translated = failures.translate(error, backend="aws", operation="ws.iot.list_things", endpoint="https://iot")

    assert type(translated) is kind and isinstance(translated, WorkshopError)
    assert 1 <= len(shown(translated)) <= MAX_LINES


def test_aws_own_answers_are_left_alone():
    answer = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "DescribeThing")

    assert failures.translate(answer, backend="local", operation="x", endpoint="y") is None


@pytest.mark.parametrize(
    ("backend", "words"),
    [("local", ["ws.iot.list_things", "lab does not answer", "make lab", "New > Terminal", "What you made is kept"]),
     ("aws", ["ws.iot.list_things", "AWS cannot be reached", "AWS_DEFAULT_REGION"])],
    ids=["local", "aws"],
)
def test_an_unreachable_backend_says_what_to_run(backend, words):
    error = boto.EndpointConnectionError(endpoint_url="http://127.0.0.1:4510/things")

    text = str(failures.translate(error, backend=backend, operation="ws.iot.list_things", endpoint="http://127.0.0.1:4510"))

    assert all(word in text for word in words), text


def test_an_expired_sso_session_names_aws_sso_login():
    text = str(failures.translate(boto.TokenRetrievalError(provider="sso", error_msg="expired"),
                                  backend="aws", operation="ws.iot.list_things", endpoint="https://iot"))

    assert "aws sso login" in text


def test_the_rendered_failure_names_the_class_then_the_message_without_a_traceback():
    error = BackendUnreachable("first line\nsecond line")

    lines = shown(error)

    assert "BackendUnreachable" in lines[0] and lines[0].endswith("first line") and lines[1:] == ["second line"]
    assert not any("Traceback" in line or "File " in line for line in lines)


# -- a real botocore client ----------------------------------------------------------------------


def test_a_call_to_a_stopped_lab_raises_backend_unreachable_with_the_original_attached():
    iot = lab_client(closed_port())

    with pytest.raises(BackendUnreachable) as caught:
        iot.list_things()

    assert isinstance(caught.value.__cause__, boto.EndpointConnectionError)
    assert "ws.iot.list_things" in str(caught.value) and len(shown(caught.value)) <= MAX_LINES


def test_paginators_fail_the_same_way():
    iot = lab_client(closed_port())

    with pytest.raises(BackendUnreachable, match="ws.iot.list_things"):
        list(iot.get_paginator("list_things").paginate())


class AwsAnswers(BaseHTTPRequestHandler):
    """Answers every request as AWS IoT answers a thing that does not exist."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"message": "Thing nope cannot be found"}).encode()
        self.send_response(404)
        self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def test_client_errors_still_reach_the_notebook_as_the_service_exception():
    server = HTTPServer(("127.0.0.1", 0), AwsAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        iot = lab_client(server.server_address[1])
        with pytest.raises(iot.exceptions.ResourceNotFoundException):
            iot.describe_thing(thingName="nope")
    finally:
        server.shutdown()
        thread.join(5)


def test_missing_credentials_raise_credentials_missing():
    core = botocore.session.Session()
    core.get_component("credential_provider").providers = []  # no environment, files or metadata service
    iot = lab_client(closed_port(), boto3.Session(botocore_session=core, region_name="us-east-1"))

    with pytest.raises(CredentialsMissing, match="aws configure"):
        iot.list_things()


def test_a_workshop_without_a_region_raises_region_missing(monkeypatch, tmp_path):
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    ws = Workshop("aws", boto3.Session(), endpoint="x", port=8883, root_ca=Path("ca.pem"), work_dir=tmp_path)

    with pytest.raises(RegionMissing, match="AWS_DEFAULT_REGION"):
        ws.iot  # noqa: B018 - making the client is what fails
