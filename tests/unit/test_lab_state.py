"""The lab's state file (lab.json) across versions: the WebSocket port is optional when read."""

from __future__ import annotations

import json

import pytest

from localcore import lifecycle
from localcore.config import LabConfig

BEFORE_WEBSOCKETS = {"pid": 42, "http_port": 4510, "mqtt_port": 8883, "started_at": 1.0, "home": "/lab"}


@pytest.mark.parametrize("saved, ws_port", [
    (BEFORE_WEBSOCKETS, 0),
    ({**BEFORE_WEBSOCKETS, "ws_port": 4511}, 4511),
], ids=["from-before-websockets", "current"])
def test_a_state_file_is_read_with_or_without_the_websocket_port(tmp_path, saved, ws_port):
    config = LabConfig(home=tmp_path)
    config.state_file.write_text(json.dumps(saved))

    info = lifecycle.read_state(config)

    assert info is not None and (info.pid, info.ws_port) == (42, ws_port)


def test_a_state_file_missing_a_required_port_is_not_a_lab(tmp_path):
    config = LabConfig(home=tmp_path)
    config.state_file.write_text(json.dumps({k: v for k, v in BEFORE_WEBSOCKETS.items() if k != "mqtt_port"}))

    assert lifecycle.read_state(config) is None


@pytest.mark.parametrize("environ, expected", [
    ({}, None), ({"LOCALCORE_WS_PORT": "14511"}, 14511),
], ids=["unset-means-default-or-free", "chosen"])
def test_the_websocket_port_setting(monkeypatch, environ, expected):
    monkeypatch.delenv("LOCALCORE_WS_PORT", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)

    config = LabConfig.from_env()

    assert config.ws_port == expected
    assert config.env_exports()["IOT_WS_PORT"] == str(expected or 4511)


def test_free_ports_are_below_the_ephemeral_range_free_and_never_handed_out_twice(tmp_path, monkeypatch):
    """A port chosen now and bound later must not be one the system hands out meanwhile (port 0's range)."""
    import socket

    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("32768\t60999\n")
    monkeypatch.setattr(lifecycle, "EPHEMERAL_RANGE", ranges)
    ports = [lifecycle.free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(32768 - lifecycle.PORTS_BELOW_EPHEMERAL <= port < 32768 for port in ports)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", ports[-1]))  # free when handed out


def test_without_a_known_ephemeral_range_a_free_port_is_still_found(tmp_path, monkeypatch):
    monkeypatch.setattr(lifecycle, "EPHEMERAL_RANGE", tmp_path / "missing")
    assert lifecycle.free_port() > 0
