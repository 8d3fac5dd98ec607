"""helpers.bots.bot without a broker: payloads, names, states, the fleet's bookkeeping, and what a bot
does when its connection closes (a fake device and registry)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from helpers.bots import bot as bot_module
from helpers.bots.bot import Fleet, heartbeat, s3_keys, screen_status, telemetry, topics
from helpers.device import ConnectionRefused, EndpointUnreachable


def test_s3_keys_and_topics_follow_the_interface():
    assert s3_keys("anna-bot1") == ("bots/anna-bot1/certificate.pem.crt", "bots/anna-bot1/private.pem.key")
    assert topics("anna-bot1") == ("bots/anna-bot1/heartbeat", "bots/anna-bot1/telemetry")


def test_heartbeat_payload():
    assert heartbeat("b", 12.34, 1_764_748_800.5) == {"thingName": "b", "uptime_s": 12.3, "ts": 1_764_748_800_500}


@pytest.mark.parametrize(("uptime_s", "battery"), [(0, 100), (59, 100), (60, 99), (3600, 40), (10_000, 0)],
                         ids=["new", "under-a-minute", "a-minute", "an-hour", "flat"])
def test_telemetry_battery_runs_down_a_percent_a_minute(uptime_s, battery):
    reading = telemetry("b", uptime_s, 0.0, random.Random(1))
    assert reading["battery"] == battery and 19.5 <= reading["temperature"] <= 22.5
    assert set(reading) == {"thingName", "battery", "temperature", "ts"}


@pytest.mark.parametrize(
    ("state", "shown"),
    [("online", "online"), ("starting", "offline"), ("stopped", "offline"), ("reconnecting", "disconnected"),
     ("disconnected: certificate disabled", "disconnected"), ("disconnected: connection closed", "disconnected")],
    ids=["online", "starting", "stopped", "reconnecting", "disabled", "closed"],
)
def test_screen_status(state, shown):
    assert screen_status(state) == shown


class FakeBot:
    def __init__(self, ws, name, bucket, *, interval_s):
        self.name, self.bucket, self.interval_s = name, bucket, interval_s
        self.state, self.starts = "starting", 0

    @property
    def running(self):
        return self.state == "online"

    @property
    def status(self):
        return screen_status(self.state)

    def start(self):
        self.starts += 1
        self.state = "online"
        return self

    def stop(self):
        if self.state == "online":
            self.state = "stopped"


def test_the_fleet_starts_a_bot_once_and_restarts_a_stopped_one():
    fleet = Fleet(object(), bucket="bkt", interval_s=1, bot_factory=FakeBot)

    first = fleet.start("b1")
    again = fleet.start("b1")
    fleet.stop("b1")
    status_after_stop = fleet.status("b1")
    restarted = fleet.start("b1")

    assert first is again and first.starts == 1 and first.bucket == "bkt"
    assert status_after_stop == "offline"
    assert restarted is not first and fleet.status("b1") == "online"


def test_the_fleet_reports_unknown_bots_offline_and_forgets():
    fleet = Fleet(object(), bucket="bkt", bot_factory=FakeBot)
    fleet.start("b1")
    fleet.start("b2")

    fleet.forget("b1")
    fleet.stop_all()

    assert (fleet.status("b1"), fleet.state("b1")) == ("offline", "not running")
    assert fleet.state("b2") == "stopped" and list(fleet.bots) == ["b2"]


# -- a bot whose connection closed, with a fake device and registry ---------------------------------

class FakeDevice:
    def __init__(self, outcomes):
        self.outcomes, self.attempts, self.connected = list(outcomes), 0, False

    def connect(self, _timeout):
        self.attempts += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.connected = True


class FakeRegistry:
    def __init__(self, status=None, code=None):
        self.status, self.code = status, code

    def describe_certificate(self, certificateId):
        if self.code is not None:
            raise ClientError({"Error": {"Code": self.code, "Message": "gone"}}, "DescribeCertificate")
        return {"certificateDescription": {"certificateId": certificateId, "status": self.status}}


def lost_bot(monkeypatch, registry, outcomes):
    monkeypatch.setattr(bot_module, "RECONNECT_PAUSES_S", (0, 0, 0))
    bot = bot_module.Bot(SimpleNamespace(iot=registry), "anna-bot1", "bkt")
    bot.device, bot._certificate_id = FakeDevice(outcomes), "c" * 64
    return bot


@pytest.mark.parametrize(
    ("status", "code", "outcomes", "recovered", "state", "attempts"),
    [("INACTIVE", None, [], False, "disconnected: certificate disabled", 0),
     ("REVOKED", None, [], False, "disconnected: certificate disabled", 0),
     (None, "ResourceNotFoundException", [], False, "disconnected: certificate deleted", 0),
     ("ACTIVE", None, [], True, "online", 1),
     ("ACTIVE", None, [EndpointUnreachable("unreachable", "lab stopped")], True, "online", 2),
     ("ACTIVE", None, [ConnectionRefused("certificate_inactive", "now INACTIVE")], False,
      "disconnected: certificate disabled", 1),
     ("ACTIVE", None, [EndpointUnreachable("unreachable", "lab stopped")] * 3, False,
      "disconnected: nothing answers (is the lab running?)", 3)],
    ids=["inactive", "revoked", "deleted", "back-at-once", "back-on-the-second-try", "disabled-meanwhile",
         "gives-up-after-three"],
)
def test_a_bot_whose_connection_closed(monkeypatch, status, code, outcomes, recovered, state, attempts):
    bot = lost_bot(monkeypatch, FakeRegistry(status, code), outcomes)

    assert bot._recover() is recovered
    assert (bot.state, bot.device.attempts) == (state, attempts)
