"""helpers.bots.bot without a broker: payloads, names, states and the fleet's bookkeeping."""

from __future__ import annotations

import random

import pytest

from helpers.bots.bot import Fleet, heartbeat, s3_keys, screen_status, telemetry, topics


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
