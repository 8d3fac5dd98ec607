"""Chapter 11 end to end on the lab: the things screen provisions a bot through ProvisionBot, the bot comes
alive, and removing it through RemoveBot disconnects it (certificate disabled) and empties the table.

Needs the bots stack (cfn/iot-dm-bots.yaml) and the lab's Step Functions: skipped without the template."""

from __future__ import annotations

import time

import pytest

from helpers.bots import service
from helpers.bots.bot import CERTIFICATE_DELETED, CERTIFICATE_DISABLED, Fleet, topics
from helpers.bots.screen import ThingsScreen
from helpers.console import MqttConsole
from labfixture import connect_to

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not service.BOTS_TEMPLATE.is_file(), reason="cfn/iot-dm-bots.yaml is not here yet")]

DEADLINE_S = 60


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("bots-e2e"), prefix="e2e")


def until(screen, condition, what: str):
    """Drive the screen as its poller would, until ``condition()`` holds."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        screen.refresh()
        if condition():
            return
        assert time.monotonic() < deadline, f"not within {DEADLINE_S} s: {what}\n{screen.text()}"
        time.sleep(0.2)


def test_the_screen_provisions_a_bot_that_comes_alive_and_removes_it(ws):
    fleet = Fleet(ws, interval_s=0.5)
    screen = ThingsScreen(ws, fleet=fleet)
    name = ws.name("bot1")
    try:
        screen.name_box.value = "bot1"
        screen.create()
        assert not screen.message_is_error, screen.text()
        until(screen, lambda: not any(run.running for run in screen.runs.values()), "ProvisionBot ended")
        (run,) = screen.runs.values()
        assert run.status == "SUCCEEDED", screen.text()
        assert [state for state, status in run.lights() if status == "succeeded"] == list(
            ("CreateThing", "CreateKeysAndCertificate", "AttachPolicy", "AttachThingPrincipal", "SaveKeys",
             "SaveMetadata", "Provisioned"))
        assert [(r["thingName"], r["status"], r["online"]) for r in screen.rows] == [(name, "PROVISIONED", "online")]
        with MqttConsole(ws, filters=[topics(name)[0]]) as console:
            assert console.wait_for(topics(name)[0], timeout=10).json["thingName"] == name

        screen.remove(name)
        until(screen, lambda: not any(run.running for run in screen.runs.values()), "RemoveBot ended")
        until(screen, lambda: not screen.leaving, "the removed bot was disconnected")

        # the bot asks the registry why it was cut off: by then RemoveBot may have deleted the certificate
        assert screen.message in {f"✓ {name} removed (its bot: {why})." for why in (CERTIFICATE_DISABLED, CERTIFICATE_DELETED)}, \
            screen.text()
        assert screen.rows == [] and service.search(ws, name) == []
        with pytest.raises(ws.iot.exceptions.ResourceNotFoundException):
            ws.iot.describe_thing(thingName=name)
    finally:
        screen.close()
        fleet.stop_all()
