"""Start, stop and inspect the one lab process (`python -m localcore start|stop|status|env`).

The running lab writes ``<home>/lab.json`` (pid, ports, start time) once both listeners answer and
removes it when it stops. A lab that died leaves that file behind; it is recognised as stale because
its pid is gone or its health endpoint does not answer with that pid, and it never blocks a start.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_WS_PORT, LabConfig

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HEALTH_PATH = "/_localcore/health"
STATUS_PATH = "/_localcore/status"


class LabError(RuntimeError):
    """A lab command could not do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class LabInfo:
    pid: int
    http_port: int
    mqtt_port: int
    started_at: float
    home: str
    ws_port: int = 0  # 0: a lab from before the WebSocket listener


def read_state(config: LabConfig) -> LabInfo | None:
    try:
        data = json.loads(config.state_file.read_text())
        return LabInfo(**{k: data[k] for k in LabInfo.__dataclass_fields__ if k in data})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(config: LabConfig, info: LabInfo) -> None:
    config.home.mkdir(parents=True, exist_ok=True)
    tmp = config.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info.__dict__, indent=2))
    os.replace(tmp, config.state_file)


def remove_state(config: LabConfig, pid: int) -> None:
    """Remove the state file if it still belongs to ``pid``."""
    info = read_state(config)
    if info is not None and info.pid == pid:
        config.state_file.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (a dead lab not yet reaped by its parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state == "Z":
        try:  # reap it if it is our child (a lab started by this process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def _get_json(url: str, timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def running_lab(config: LabConfig) -> LabInfo | None:
    """The lab described by the state file, if it is really alive and answering; else None."""
    info = read_state(config)
    if info is None or not _pid_alive(info.pid):
        return None
    health = _get_json(f"http://{config.host}:{info.http_port}{HEALTH_PATH}")
    if not health or health.get("pid") != info.pid:
        return None
    if not _port_answers(config.host, info.mqtt_port):
        return None
    return info


def _port_free(host: str, port: int) -> OSError | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


# Ports chosen now and bound later (by a lab process, a broker of a test or a bench) are taken below the
# kernel's ephemeral range: a port from that range (what binding port 0 gives) may be handed to
# another socket before it is bound, e.g. one of a Jupyter kernel's ports or an outgoing connection.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORTS_BELOW_EPHEMERAL = 12_000
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free now, below the ephemeral range where the system says where that
    is, and that this process has not handed out before."""
    try:
        first_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 0
    low = max(10_000, first_ephemeral - PORTS_BELOW_EPHEMERAL)
    for _ in range(200):
        port = random.randrange(low, first_ephemeral) if first_ephemeral > low else 0
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            port = probe.getsockname()[1]
        _handed_out.add(port)
        return port
    raise LabError(f"No free port on {host} below the ephemeral range: set the LOCALCORE_*_PORT variables.")


def _check_port_free(host: str, port: int, what: str, variable: str, grace_s: float = 0.0) -> None:
    """Fail with a message naming the port if it stays taken for ``grace_s`` seconds."""
    deadline = time.monotonic() + grace_s
    while (exc := _port_free(host, port)) is not None:
        if time.monotonic() >= deadline:
            raise LabError(
                f"Cannot start the lab: port {port} ({what}) on {host} is already in use "
                f"by another program ({exc.strerror}). Stop that program, or choose another port, "
                f"e.g. `export {variable}={port + 1}`."
            ) from None
        time.sleep(0.05)


def start(config: LabConfig, *, quiet: bool = False) -> LabInfo:
    """Start the lab in the background, or reuse the one already running. Returns when it answers."""
    existing = running_lab(config)
    if existing is not None:
        if not quiet:
            print(f"The lab is already running (pid {existing.pid}); reusing it.")
        return existing
    stale = read_state(config)
    grace = 0.0
    if stale is not None:
        grace = 5.0  # a killed lab's threads may still be closing its sockets
        # The lab died (or was killed) without cleaning up: its state file must not block us.
        if _pid_alive(stale.pid) and _is_lab_process(stale.pid):
            _terminate(stale.pid)
        config.state_file.unlink(missing_ok=True)

    _check_port_free(config.host, config.http_port, "AWS APIs over HTTP", "LOCALCORE_HTTP_PORT", grace)
    _check_port_free(config.host, config.mqtt_port, "MQTT over TLS", "LOCALCORE_MQTT_PORT", grace)
    ws_port = config.ws_port
    if ws_port is None:  # not chosen: the default, or any free port when another program holds it
        ws_port = DEFAULT_WS_PORT if _port_free(config.host, DEFAULT_WS_PORT) is None else free_port(config.host)
    else:
        _check_port_free(config.host, ws_port, "MQTT over WebSockets", "LOCALCORE_WS_PORT", grace)

    config.home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        LOCALCORE_HOME=str(config.home),
        LOCALCORE_HTTP_PORT=str(config.http_port),
        LOCALCORE_MQTT_PORT=str(config.mqtt_port),
        LOCALCORE_WS_PORT=str(ws_port),
        LOCALCORE_REGION=config.region,
    )
    # The lab logs to lab.log itself (rotated); what it prints by accident goes to lab.out.
    with open(config.out_file, "ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "localcore", "serve"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the notebook kernel or shell that started it
            cwd=str(config.home),
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabError(f"The lab exited during start (exit code {process.returncode}).\n{_tails(config)}")
        info = running_lab(config)
        if info is not None and info.pid == process.pid:
            if not quiet:
                print(
                    f"Lab started (pid {info.pid}): AWS APIs on {config.http_url}, "
                    f"MQTT on {config.endpoint_host}:{info.mqtt_port} (and over WebSockets on {info.ws_port})"
                )
                restored = ((status(config) or {}).get("persistence") or {}).get("restored") or {}
                if restored.get("problem"):
                    print(restored["problem"])
                elif restored.get("found"):
                    counts = ", ".join(f"{k} {v}" for k, v in (restored.get("counts") or {}).items() if v)
                    print("It has everything it held before it stopped" + (f" ({counts})." if counts else "."))
            return info
        time.sleep(0.05)
    _terminate(process.pid)
    raise LabError(f"The lab did not answer within {START_TIMEOUT_S:.0f} s; stopped it.\n{_tails(config)}")


def _is_lab_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"localcore" in cmdline and b"serve" in cmdline


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid_alive(pid):
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def env_exports(config: LabConfig) -> dict[str, str]:
    """`LabConfig.env_exports`, with the ports of the running lab where it chose one itself."""
    exports = config.env_exports()
    info = running_lab(config)
    if info is not None and info.ws_port:
        exports["IOT_WS_PORT"] = str(info.ws_port)
    return exports


def stop(config: LabConfig, *, quiet: bool = False) -> bool:
    """Stop the lab started from this home. Returns False when none was running."""
    info = read_state(config)
    if info is None or not _pid_alive(info.pid) or not _is_lab_process(info.pid):
        config.state_file.unlink(missing_ok=True)
        if not quiet:
            print("No lab is running.")
        return False
    _terminate(info.pid)
    config.state_file.unlink(missing_ok=True)
    if not quiet:
        print(f"Lab stopped (pid {info.pid}).")
    return True


def status(config: LabConfig) -> dict | None:
    info = running_lab(config)
    if info is None:
        return None
    return _get_json(f"http://{config.host}:{info.http_port}{STATUS_PATH}")


def _tails(config: LabConfig) -> str:
    """The last lines of lab.log, and of lab.out when the lab printed anything there."""
    text = f"Last lines of {config.log_file}:\n{_tail(config.log_file)}"
    if config.out_file.is_file() and config.out_file.stat().st_size:
        text += f"\nLast lines of {config.out_file}:\n{_tail(config.out_file)}"
    return text


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
