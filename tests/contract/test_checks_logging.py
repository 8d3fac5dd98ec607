"""Chapter 09's check against the lab: the watched device has its own level and a logged publish."""

from __future__ import annotations

import time
import uuid

import pytest

from helpers.checks import watched_device_problem
from helpers.device import Device
from labfixture import connect_to
from test_helpers_lab import provision


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("work"))


ROLE = "arn:aws:iam::123456789012:role/iot-dm-logging"


LOG_WAIT_S = 15.0


@pytest.fixture
def warn_logging(ws):
    """v2 logging at WARN (as chapter 00 leaves it); afterwards all logs disabled, so other tests write none."""
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=False)
    yield
    ws.iot.set_v2_logging_options(roleArn=ROLE, defaultLogLevel="WARN", disableAllLogs=True)


def publisher(ws) -> tuple[str, str]:
    name = f"outsider-{uuid.uuid4().hex[:6]}"
    _files, certificate_id = provision(ws, name, [("iot:Connect", f"client/{name}"), ("iot:Publish", f"topic/t/{name}")])
    return name, certificate_id


def publish(ws, name: str) -> None:
    with Device.from_workshop(ws, name) as device:
        device.publish(f"t/{name}", {"temperature": 21})


def eventually_done(ws, name: str, since: int) -> str:
    """The check's answer once it is "" or after LOG_WAIT_S (the lab writes its entries in the background)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while (problem := watched_device_problem(ws, name, since)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return problem


def test_the_watched_device_needs_its_own_level_and_a_logged_publish(ws, warn_logging):
    since = int(time.time() * 1000) - 1000
    name, _certificate_id = publisher(ws)
    assert "no log level of its own" in watched_device_problem(ws, name, since)
    publish(ws, name)  # at WARN: its success is never written
    ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": name}, logLevel="WARN")
    assert "successes are written at INFO or DEBUG" in watched_device_problem(ws, name, since)
    ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": name}, logLevel="INFO")
    assert "no allowed publish" in watched_device_problem(ws, name, since)  # what was not written stays unwritten
    publish(ws, name)
    assert eventually_done(ws, name, since) == ""
    ws.iot.delete_v2_logging_level(targetType="CLIENT_ID", targetName=name)


def test_a_level_for_the_certificate_counts_as_its_own(ws, warn_logging):
    since = int(time.time() * 1000) - 1000
    name, certificate_id = publisher(ws)
    ws.iot.set_v2_logging_level(logTarget={"targetType": "PRINCIPAL_ID", "targetName": certificate_id}, logLevel="DEBUG")
    publish(ws, name)
    assert eventually_done(ws, name, since) == ""
    ws.iot.delete_v2_logging_level(targetType="PRINCIPAL_ID", targetName=certificate_id)
