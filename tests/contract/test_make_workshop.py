"""`make workshop` in a terminal: a short start, and Ctrl-C stops JupyterLab and says the lab still runs."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from labfixture import free_port

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STARTED_WITHIN_S = 60
STOPPED_WITHIN_S = 30


class Terminal:
    """A command on a pseudo-terminal, as a trainee runs it; Ctrl-C goes through the terminal."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes the command
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, env)
        self.output = ""
        self.status: int | None = None

    def read_until(self, done, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done(self.output) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # the command ended and closed the terminal
                    break
                if not data:
                    break
                self.output += data.decode(errors="replace")
        return done(self.output)

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def wait(self, timeout: float) -> int | None:
        """The command's exit status, once it has ended within ``timeout`` seconds (else None)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
            elif time.monotonic() >= deadline:
                break
            else:
                time.sleep(0.1)
        return self.status


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def workshop_in_terminal(env: dict[str, str], *options: str):
    """`make workshop [options]` in a terminal, yielded with JupyterLab's address once its API answers
    (the install is taken as it is: `-o` keeps a test from re-running it). Afterwards the command is
    killed if it still runs, and the lab it may have started is stopped."""
    terminal = Terminal(["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "workshop", *options,
                         f"NOTEBOOK_PORT={free_port()}"], env)
    try:
        assert terminal.read_until(lambda out: "Ctrl-C here stops JupyterLab" in out, STARTED_WITHIN_S), terminal.output
        url = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=\w+", terminal.output).group(0)
        deadline = time.monotonic() + STARTED_WITHIN_S
        while not answers(url.replace("/lab?", "/api/status?")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answers(url.replace("/lab?", "/api/status?")), terminal.output
        yield terminal, url
    finally:
        if terminal.wait(0) is None:
            os.kill(terminal.pid, 9)
        subprocess.run([sys.executable, "-m", "localcore", "stop"], env=env, capture_output=True, timeout=60)


def test_ctrl_c_stops_jupyterlab_and_says_the_lab_is_still_running(tmp_path):
    env = dict(os.environ, LOCALCORE_HOME=str(tmp_path / "lab"), LOCALCORE_HTTP_PORT=str(free_port()),
               LOCALCORE_MQTT_PORT=str(free_port()))
    with workshop_in_terminal(env) as (terminal, url):
        started = terminal.output

        terminal.ctrl_c()
        terminal.read_until(lambda out: "Stop it with: make stop" in out or "lab is not running" in out, STOPPED_WITHIN_S)
        assert terminal.wait(STOPPED_WITHIN_S) is not None, terminal.output

    assert len(started.strip().splitlines()) <= 4, started  # the lab's line, the address, what to do
    assert "JupyterLab has stopped." in terminal.output
    assert "The lab is still running (what you made is kept). Stop it with: make stop" in terminal.output
    assert "(y/[n])" not in terminal.output
    assert not answers(url.replace("/lab?", "/api/status?"))


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def jupyter_environ(pid: int) -> dict[str, str]:
    """The environment of the JupyterLab server started below ``pid`` (what its kernels inherit)."""
    for child in descendants(pid):
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
            raw = (Path("/proc") / str(child) / "environ").read_bytes()
        except OSError:
            continue
        names = [part.rsplit(b"/", 1)[-1] for part in command]
        if b"jupyter-lab" in names or (b"jupyter" in names and b"lab" in names):  # `jupyter lab` execs jupyter-lab
            return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
    return {}


def test_backend_aws_starts_jupyterlab_alone_for_the_aws_backend(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_ENDPOINT_URL") and k not in ("IOT_ENDPOINT", "WORKSHOP_BACKEND")}
    env.update(LOCALCORE_HOME=str(tmp_path / "lab"), LOCALCORE_HTTP_PORT=str(free_port()),
               LOCALCORE_MQTT_PORT=str(free_port()))
    with workshop_in_terminal(env, "BACKEND=aws") as (terminal, url):
        kernels_get = jupyter_environ(terminal.pid)
        lab = subprocess.run([sys.executable, "-m", "localcore", "status"], env=env, capture_output=True, timeout=60)

        terminal.ctrl_c()
        terminal.read_until(lambda out: "JupyterLab has stopped." in out, STOPPED_WITHIN_S)
        assert terminal.wait(STOPPED_WITHIN_S) is not None, terminal.output

    assert kernels_get.get("WORKSHOP_BACKEND") == "aws"
    assert lab.returncode != 0  # no lab was started
    assert "Backend: aws" in terminal.output and "JupyterLab has stopped." in terminal.output
    assert "lab is still running" not in terminal.output and "lab is not running" not in terminal.output
    assert not answers(url.replace("/lab?", "/api/status?"))
