"""A real lab process for tests: its own home folder and free ports, stopped by PID afterwards."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

from localcore import lifecycle
from localcore.config import LabConfig
from localcore.lifecycle import free_port  # noqa: F401 - the tests' port picker (one for labs, tests and benches)


@dataclass
class RunningLab:
    config: LabConfig
    info: lifecycle.LabInfo

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (AWS CLI, mosquitto, notebooks) pointing at this lab."""
        env = dict(os.environ)
        env.update(self.config.env_exports())
        env.update(
            LOCALCORE_HOME=str(self.config.home),
            LOCALCORE_HTTP_PORT=str(self.config.http_port),
            LOCALCORE_MQTT_PORT=str(self.config.mqtt_port),
            LOCALCORE_WS_PORT=str(self.ws_port),
        )
        env.pop("AWS_PROFILE", None)
        return env

    def client(self, service: str):
        exports = self.config.env_exports()
        return boto3.client(
            service,
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=self.config.region,
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )

    @property
    def root_ca(self) -> Path:
        return self.config.root_ca_path

    @property
    def mqtt_host(self) -> str:
        return self.config.endpoint_host

    @property
    def mqtt_port(self) -> int:
        return self.config.mqtt_port

    @property
    def ws_port(self) -> int:
        """MQTT over WebSockets (wss, SigV4)."""
        return self.info.ws_port or self.config.ws_port_or_default


def unique(prefix: str) -> str:
    """``prefix`` with a random suffix, so that tests sharing a lab never meet each other's resources."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_lab(home: Path) -> RunningLab:
    config = LabConfig(home=home, http_port=free_port(), mqtt_port=free_port(), ws_port=free_port())
    info = lifecycle.start(config, quiet=True)
    return RunningLab(config, info)


def stop_lab(lab: RunningLab) -> None:
    lifecycle.stop(lab.config, quiet=True)


@contextmanager
def console_device(lab: RunningLab, *topic_filters: str, qos: int = 1, name: str = "console", **options):
    """The lab's console identity (the AWS console's MQTT test client) connected with a fresh client
    id and subscribed to ``topic_filters``; disconnected afterwards. ``options`` go to `Device`."""
    import uuid

    from helpers.device import Device

    device = Device("console", lab.config.console_cert_path, lab.config.console_key_path, lab.mqtt_host,
                    lab.mqtt_port, lab.root_ca, client_id=f"{name}-{uuid.uuid4().hex[:6]}", **options)
    device.connect()
    try:
        for topic_filter in topic_filters:
            device.subscribe(topic_filter, qos=qos)
        yield device
    finally:
        device.disconnect()


LAB_VARIABLES = ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT", "LOCALCORE_WS_PORT")
CHOICE_VARIABLES = ("WORKSHOP_BACKEND", "WORKSHOP_PREFIX", "JPY_SESSION_NAME")


def connect_to(lab: RunningLab, work_dir: Path, **options):
    """`helpers.workshop.connect(**options)` as a notebook calls it, with the environment naming this
    lab and none of the runner's own workshop choices (backend, prefix, session) leaking in."""
    import pytest

    from helpers.workshop import connect

    with pytest.MonkeyPatch.context() as env:
        for variable in LAB_VARIABLES:
            env.setenv(variable, lab.env[variable])
        for variable in CHOICE_VARIABLES:
            env.delenv(variable, raising=False)
        return connect(work_dir=work_dir, **options)


@contextmanager
def in_process_lab(home: Path, *, decode_json: bool = True):
    """The lab's state and handlers in this process, without listeners (unit tests of handlers).

    ``lab.published`` records every service publish as ``(topic, payload)``, the payload parsed as
    JSON when ``decode_json``. moto's patches are undone afterwards.
    """
    import json

    from localcore.aws import moto_patches
    from localcore.aws.handlers import load_all
    from localcore.server import build_lab

    lab = build_lab(LabConfig(home=home))
    load_all()
    lab.published = []
    lab.on_publish(lambda topic, data: lab.published.append((topic, json.loads(data) if decode_json else data)))
    try:
        yield lab
    finally:
        moto_patches.reset()
