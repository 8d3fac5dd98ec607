"""The HTTP front (LabApp) in-process, with a stand-in for moto: what reaches moto, and what the
caller gets when moto fails in any way."""

from __future__ import annotations

import io
import json
import logging

import pytest
from werkzeug.test import Client

from labfixture import in_process_lab
from localcore.aws.app import LabApp


def signed(service: str, **headers: str) -> dict[str, str]:
    scope = f"AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00", **headers}


class FakeMoto:
    """Records what reaches moto and answers as told: a response, or an exception."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self.answer: Exception | tuple[str, list, bytes] = ("200 OK", [("Content-Type", "application/json")], b"{}")

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        if isinstance(self.answer, Exception):
            raise self.answer
        status, headers, payload = self.answer
        start_response(status, headers)
        return [payload]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with in_process_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture
def front(lab):
    app = LabApp(lab)
    app.moto = FakeMoto()
    return app, Client(app)


def test_a_valid_request_reaches_moto_as_botocore_would_send_it(front):
    app, client = front
    body = b'{"attributePayload": {"attributes": {"a": "1", "gone": null}}, "notAMember": 5, "thingTypeName": null}'

    response = client.post("/things/t1", data=body, headers=signed("iot", **{"Content-Type": "application/json"}))

    assert response.status_code == 200
    assert app.moto.calls == [("POST", "/things/t1", b'{"attributePayload": {"attributes": {"a": "1"}}}')]


@pytest.mark.parametrize("body", [b'{"attributePayload": {"attributes": 5}}', b"{not json", b"[1]",
                                  b'{"attributePayload": {"attributes": {"k": "' + b"v" * 801 + b'"}}}'])
def test_an_invalid_request_never_reaches_moto(front, body):
    app, client = front

    response = client.post("/things/t1", data=body, headers=signed("iot"))

    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] in ("SerializationException", "InvalidRequestException")
    assert app.moto.calls == []


@pytest.mark.parametrize(("service", "path", "headers", "body", "content_type", "code"), [
    ("iot", "/things", {}, b"", "application/json", "InternalFailureException"),
    ("logs", "/", {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"}, b"{}", "application/x-amz-json-1.1",
     "ServiceUnavailableException"),
    ("iam", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListRoles&Version=2010-05-08",
     "text/xml", "ServiceFailure"),
    ("s3", "/bucket/key", {}, b"", "text/xml", "InternalError"),
])
def test_an_exception_in_moto_is_the_services_internal_error_in_its_format(front, caplog, service, path, headers,
                                                                         body, content_type, code):
    app, client = front
    app.moto.answer = KeyError("deep inside moto")

    with caplog.at_level(logging.INFO, logger="localcore.http"):
        response = client.open(path, method="GET" if not body else "POST", data=body, headers=signed(service, **headers))

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith(content_type)
    assert code.encode() in response.data or response.headers.get("x-amzn-ErrorType") == code
    assert b"KeyError" in response.data and b"<html" not in response.data.lower()
    assert response.headers["x-amzn-RequestId"]
    [record] = caplog.records
    assert record.levelname == "WARNING" and f"-> 500 {code}" in record.getMessage() and record.exc_info is None


def test_an_html_error_page_from_moto_becomes_an_aws_error(front):
    app, client = front
    app.moto.answer = ("500 INTERNAL SERVER ERROR", [("Content-Type", "text/html")], b"<!doctype html><title>500</title>")

    response = client.get("/things", headers=signed("iot"))

    assert response.status_code == 500 and response.headers["x-amzn-ErrorType"] == "InternalFailureException"
    assert json.loads(response.data)["message"].startswith("The lab failed while handling ListThings")


def test_a_route_moto_does_not_know_is_an_aws_error(front):
    app, client = front
    app.moto.answer = ("404 NOT FOUND", [("Content-Type", "text/html")], b"<!doctype html><title>404</title>")

    response = client.get("/no/such/route", headers=signed("iot"))

    assert (response.status_code, response.headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


def test_moto_not_implementing_something_is_a_501(front):
    app, client = front
    app.moto.answer = NotImplementedError("The simulate_principal_policy action has not been implemented")

    response = client.post("/", data=b"Action=SimulatePrincipalPolicy", headers=signed(
        "iam", **{"Content-Type": "application/x-www-form-urlencoded"}))

    assert response.status_code == 501
    assert b"<Code>NotImplementedException</Code>" in response.data and b"SimulatePrincipalPolicy" in response.data


def test_moto_errors_pass_through_with_one_log_line(front, caplog):
    app, client = front
    app.moto.answer = ("404 NOT FOUND", [("Content-Type", "application/json"), ("X-Amzn-ErrorType", "ResourceNotFoundException")],
                       b'{"message": "The specified resource does not exist"}')

    with caplog.at_level(logging.INFO, logger="localcore.http"):
        response = client.get("/things/t1", headers=signed("iot"))

    assert response.status_code == 404 and response.data == b'{"message": "The specified resource does not exist"}'
    assert [r.getMessage() for r in caplog.records] == [
        "iot DescribeThing /things/t1 -> 404 ResourceNotFoundException: The specified resource does not exist"]


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_an_oversized_body_is_refused_unread(front):
    app, _ = front
    stream = CountingStream(b"x" * (1024 * 1024 + 1))
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/things/t1", "QUERY_STRING": "", "wsgi.input": stream,
               "CONTENT_LENGTH": str(1024 * 1024 + 1), "CONTENT_TYPE": "application/json",
               **{f"HTTP_{k.upper()}": v for k, v in signed("iot").items()}}
    started = []

    body = b"".join(app(environ, lambda status, headers, exc_info=None: started.append(status)))

    assert started == ["413 Payload Too Large"] and stream.bytes_read == 0 and app.moto.calls == []
    assert json.loads(body)["message"].startswith("The CreateThing request body is 1048577 bytes")


def test_a_head_request_keeps_moto_s_status_whatever_its_body(front):
    app, client = front
    app.moto.answer = ("404 NOT FOUND", [("Content-Type", "text/html")], b"<!doctype html><title>404</title>")

    response = client.head("/bucket", headers=signed("s3"))

    assert response.status_code == 404 and response.headers["Content-Type"] == "text/html"  # moto's own answer
