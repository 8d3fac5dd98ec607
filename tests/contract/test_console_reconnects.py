"""The MQTT console across a lab restart: it says it is disconnected, reconnects by itself, says so,
and receives again. The test owns its lab (it stops and starts it)."""

from __future__ import annotations

import time

import pytest

from helpers.console import MqttConsole
from labfixture import RunningLab, start_lab, stop_lab
from localcore import lifecycle
from labfixture import connect_to

pytestmark = pytest.mark.lab

NOTICED_WITHIN_S = 10
BACK_WITHIN_S = 30


def eventually(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_the_console_says_it_lost_the_lab_and_reconnects_when_it_is_back(tmp_path):
    lab = start_lab(tmp_path / "lab")
    console = None
    try:
        ws = connect_to(lab, tmp_path / "work")
        console = MqttConsole(ws, ["iot/ws"])
        stop_lab(lab)

        assert eventually(lambda: console.state == "reconnecting", NOTICED_WITHIN_S)
        assert "disconnected since" in console._repr_html_() and "make lab" in console._repr_html_()

        lab = RunningLab(lab.config, lifecycle.start(lab.config, quiet=True))
        assert eventually(lambda: console.connected, BACK_WITHIN_S), console.history
        ws.iot_data.publish(topic="iot/ws", payload=b'{"back": true}')

        assert console.wait_for("iot/ws").json == {"back": True}
        assert "reconnected after" in console._repr_html_() and "missed" in console._repr_html_()
        assert [what.split(" ")[0] for _at, what in console.history] == ["connected", "disconnected", "reconnected"]
    finally:
        if console is not None:
            console.close()
        stop_lab(lab)
