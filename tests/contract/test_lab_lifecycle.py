"""`python -m localcore start|stop|status|env` as a trainee and CI use them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from labfixture import free_port
from localcore import lifecycle
from localcore.config import LabConfig


def run_cli(config: LabConfig, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LOCALCORE_HOME=str(config.home), LOCALCORE_HTTP_PORT=str(config.http_port),
               LOCALCORE_MQTT_PORT=str(config.mqtt_port))
    return subprocess.run([sys.executable, "-m", "localcore", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def config(tmp_path):
    config = LabConfig(home=tmp_path / "lab", http_port=free_port(), mqtt_port=free_port())
    yield config
    lifecycle.stop(config, quiet=True)


def wait_until_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lifecycle._pid_alive(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} still alive")


def test_start_is_idempotent_and_status_reports_the_lab(config):
    first = run_cli(config, "start")
    assert first.returncode == 0, first.stderr
    info = lifecycle.read_state(config)
    second = run_cli(config, "start")
    assert second.returncode == 0 and "already running" in second.stdout
    assert lifecycle.read_state(config).pid == info.pid

    status = run_cli(config, "status")
    assert status.returncode == 0
    assert f"127.0.0.1:{config.http_port}" in status.stdout
    assert f"localhost:{config.mqtt_port}" in status.stdout
    assert "things 0" in status.stdout and "up " in status.stdout

    assert run_cli(config, "stop").returncode == 0
    wait_until_gone(info.pid)
    assert run_cli(config, "status").returncode == 3


def test_env_prints_exports_that_reach_the_lab(config):
    out = run_cli(config, "env").stdout
    exports = dict(line[len("export "):].split("=", 1) for line in out.splitlines())
    assert exports["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{config.http_port}"
    assert exports["IOT_PORT"] == str(config.mqtt_port)
    assert exports["IOT_ENDPOINT"] == "localhost"
    assert exports["IOT_ROOT_CA"].endswith("root-ca.pem")
    assert {"AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exports)


def test_a_taken_port_is_named_in_the_error(config):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", config.mqtt_port))
        squatter.listen()
        result = run_cli(config, "start")
    assert result.returncode == 1
    assert f"port {config.mqtt_port}" in result.stderr and "LOCALCORE_MQTT_PORT" in result.stderr


def test_a_lab_that_died_leaves_no_lock_behind(config):
    first = lifecycle.start(config, quiet=True)
    os.kill(first.pid, signal.SIGKILL)
    wait_until_gone(first.pid)
    assert config.state_file.exists()  # the dead lab could not clean up

    second = lifecycle.start(config, quiet=True)
    assert second.pid != first.pid
    assert lifecycle.running_lab(config).pid == second.pid
