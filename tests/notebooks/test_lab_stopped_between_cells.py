"""The lab stops between two cells of a notebook: what the trainee sees is short and says what to do.

A small notebook runs cell by cell in a real kernel (nbclient) against its own lab. After the first
cells (connect, a device's files, an MQTT console that received one message) the test stops the
lab, as a trainee's laptop might; the next cells call the registry, connect the device and wait for
a message. Each must end in at most `MAX_LINES` lines that name the command to run, never a
botocore traceback nor a refusal that reads like a policy's. The console's displayed output, as the
saved notebook holds it, must tell the truth: the message that arrived, and the disconnection.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from nbrun import ROOT, localcore, notebook_env

pytestmark = pytest.mark.lab

MAX_LINES = 10
ANSI = re.compile(r"\x1b\[[0-9;]*m")

SET_UP = """\
from helpers import Device, MqttConsole, connect, save_device
ws = connect()
ws.iot.create_thing(thingName="stopped-lab-device")
created = ws.iot.create_keys_and_certificate(setAsActive=True)
save_device(ws, "stopped-lab-device", created["certificatePem"], created["keyPair"]["PrivateKey"])
console = MqttConsole(ws, ["iot/ws"])
console"""
PUBLISH = """\
ws.iot_data.publish(topic="iot/ws", payload=b'{"hello": "lab"}')
console.wait_for("iot/ws").json"""
# After the lab stopped:
REGISTRY = 'ws.iot.list_things()'
DEVICE = 'Device.from_workshop(ws, "stopped-lab-device").connect()'
CONSOLE = 'console.wait_for("iot/ws", lambda m: m.json == {"hello": "again"}, timeout=2)'


def seen(cell) -> list[str]:
    """Every line the trainee sees under a cell: streams, displays, and the error."""
    lines: list[str] = []
    for output in cell.outputs:
        if output.output_type == "stream":
            lines += output.text.splitlines()
        elif output.output_type == "error":
            lines += ANSI.sub("", "\n".join(output.traceback)).splitlines()
        elif "text/plain" in output.get("data", {}):
            lines += output.data["text/plain"].splitlines()
    return lines


def error_of(cell) -> tuple[str, str]:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return errors[0].ename, ANSI.sub("", "\n".join(errors[0].traceback))


@pytest.fixture()
def env(tmp_path):
    env = notebook_env(tmp_path / "lab", tmp_path / "work")
    started = localcore(env, "start")
    assert started.returncode == 0, started.stderr
    yield env
    localcore(env, "stop")


def test_a_lab_stopped_between_cells_is_explained_in_a_few_lines(env):
    cells = [nbformat.v4.new_code_cell(source) for source in (SET_UP, PUBLISH, REGISTRY, DEVICE, CONSOLE)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                              "display_name": "Python 3"}})
    client = NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with client.setup_kernel(env=env):
        for index in (0, 1):
            client.execute_cell(cells[index], index)
        assert not [o for c in cells[:2] for o in c.outputs if o.output_type == "error"], cells[:2]

        stopped = localcore(env, "stop")
        assert stopped.returncode == 0, stopped.stderr

        for index in (2, 3, 4):
            client.execute_cell(cells[index], index)

    registry, device, console = cells[2], cells[3], cells[4]
    for cell, ename in ((registry, "BackendUnreachable"), (device, "EndpointUnreachable"), (console, "WaitTimedOut")):
        name, text = error_of(cell)
        assert name == ename, text
        assert len(seen(cell)) <= MAX_LINES, "\n".join(seen(cell))
        assert "make lab" in text, text
        assert "Traceback" not in text and "botocore" not in text and "refused" not in text.lower(), text
    assert "ws.iot.list_things" in error_of(registry)[1]
    assert "missed" in error_of(console)[1]

    saved = cells[0].outputs[-1].data  # the console's display, as the saved notebook holds it
    for copy in (saved["text/plain"], saved["text/html"]):
        assert "1 message(s)" in copy and "disconnected" in copy and "make lab" in copy, copy
    assert '{"hello": "lab"}' in saved["text/plain"]
