"""Run one Lambda invocation of a Python function in a child process, as AWS Lambda would.

The function's zip is unpacked once per code version under ``<cache>/<name>/<sha256>``; each
invocation is a fresh ``python bootstrap.py`` process (a cold start every time) with the Lambda
environment, the function's own variables, the event, and the configured timeout, after which the
process group is killed. Nothing here knows moto or the lab: `FunctionSpec` is plain data, and the
outcome is an `InvocationResult` carrying the payload and the CloudWatch Logs events AWS would write
(START, the function's output, END, REPORT) for the caller to store.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from localcore.errors import AwsError, NotImplementedInLab

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
UNHANDLED = "Unhandled"  # X-Amz-Function-Error for every error a Python function can end with
LOG_TAIL_BYTES = 4096  # Invoke's LogResult holds the last 4 KB of the log
READER_GRACE_S = 2.0  # how long to wait for the output pipe to drain once the process is gone
# Environment variables AWS Lambda sets itself; a function's own variables cannot replace them.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
# Host variables a Python process needs to start; nothing else of the lab's environment leaks in.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")


class UnsupportedRuntime(NotImplementedInLab):
    """The function's runtime is not Python (or it is a container image)."""


class InvalidZipFileException(AwsError):
    code, status = "InvalidZipFileException", 502


@dataclass(frozen=True)
class FunctionSpec:
    """What an invocation needs to know about a function version."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str | None
    timeout_s: int
    memory_mb: int
    environment: Mapping[str, str]
    code: bytes = field(repr=False)
    code_sha256: str

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    version: str
    payload: bytes
    function_error: str | None
    log_group: str
    log_stream: str
    log_events: tuple[LogEvent, ...]

    @property
    def log_result(self) -> str:
        """Invoke's ``LogResult``: the log's last 4 KB, base64-encoded."""
        text = "".join(event.message + "\n" for event in self.log_events).encode()
        return base64.b64encode(text[-LOG_TAIL_BYTES:]).decode("ascii")


def is_python(runtime: str | None) -> bool:
    return bool(runtime) and runtime.startswith("python")


def check_runtime(spec: FunctionSpec) -> None:
    if not is_python(spec.runtime):
        kind = f"runtime {spec.runtime}" if spec.runtime else "a container image"
        raise UnsupportedRuntime(
            f"Function {spec.name} uses {kind}: the lab runs Python functions only (any python3.x "
            f"runtime runs on the lab's own interpreter)."
        )


def log_stream_name(version: str, now: float) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``, as AWS names a function's log streams."""
    day = datetime.fromtimestamp(now, timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def report_line(request_id: str, duration_ms: float, memory_mb: int, used_mb: int | None,
                init_ms: float | None, timed_out: bool = False) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    if used_mb is not None:
        parts.append(f"Max Memory Used: {used_mb} MB")
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if timed_out:
        parts.append("Status: timeout")
    return "\t".join(parts) + "\t"


def timeout_payload(request_id: str, timeout_s: int) -> dict[str, str]:
    # [unconfirmed] shape of the timeout error; AWS's message text is "Task timed out after N.00 seconds".
    return {"errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"}


def exit_payload(request_id: str, returncode: int) -> dict[str, str]:
    return {"errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {returncode}"}


def _iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


class LambdaRunner:
    """Runs invocations; one per lab. ``base_env`` holds what every function gets (region, endpoint,
    credentials). Thread-safe: each `run` call owns its child process."""

    def __init__(self, cache_dir: Path, base_env: Mapping[str, str], python: str = sys.executable) -> None:
        self.cache_dir = Path(cache_dir)
        self.base_env = dict(base_env)
        self.python = python
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    # -- code -----------------------------------------------------------------------------------
    def code_dir(self, spec: FunctionSpec) -> Path:
        """The unpacked code of this version, unpacked on first use (atomically)."""
        target = self.cache_dir / spec.name / spec.code_sha256
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
        try:
            with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                archive.extractall(staging)  # zipfile drops absolute and '..' member paths
            os.replace(staging, target)
        except zipfile.BadZipFile as exc:
            raise InvalidZipFileException(f"Lambda was not able to unzip the code of {spec.name}: {exc}") from None
        except OSError:
            if not target.is_dir():  # another invocation may have won the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    # -- environment ----------------------------------------------------------------------------
    def environment(self, spec: FunctionSpec, task_root: Path, log_stream: str) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.update({name: value for name, value in spec.environment.items() if name not in RESERVED_VARIABLES})
        env.update(self.base_env)
        env.update(
            _HANDLER=spec.handler,
            AWS_EXECUTION_ENV=f"AWS_Lambda_{spec.runtime}",
            AWS_LAMBDA_FUNCTION_NAME=spec.name,
            AWS_LAMBDA_FUNCTION_VERSION=spec.version,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
            AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
            AWS_LAMBDA_LOG_GROUP_NAME=spec.log_group,
            AWS_LAMBDA_LOG_STREAM_NAME=log_stream,
            LAMBDA_TASK_ROOT=str(task_root),
            LAMBDA_RUNTIME_DIR=str(BOOTSTRAP.parent),
            # Lambda has no shared AWS config: the trainee's ~/.aws must not redirect the function.
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env

    # -- invocation -----------------------------------------------------------------------------
    def run(self, spec: FunctionSpec, event_json: str, request_id: str | None = None) -> InvocationResult:
        """Invoke once and wait (at most the function's timeout); never raises for the function's errors."""
        check_runtime(spec)
        request_id = request_id or str(uuid.uuid4())
        task_root = self.code_dir(spec)
        stream = log_stream_name(spec.version, time.time())
        with tempfile.TemporaryDirectory(prefix="lambda-invoke-") as scratch:
            invocation_path = Path(scratch) / "invocation.json"
            result_path = Path(scratch) / "result.json"
            started_ms = _now_ms()
            invocation_path.write_text(json.dumps({
                "event": event_json, "handler": spec.handler, "task_root": str(task_root),
                "result_path": str(result_path), "function_name": spec.name, "function_version": spec.version,
                "invoked_function_arn": spec.arn, "memory_limit_in_mb": spec.memory_mb,
                "aws_request_id": request_id, "log_group_name": spec.log_group, "log_stream_name": stream,
                "deadline_ms": started_ms + spec.timeout_s * 1000,
            }))
            lines, returncode, timed_out = self._execute(spec, task_root, stream, invocation_path)
            ended_ms = _now_ms()
            outcome = json.loads(result_path.read_text()) if result_path.is_file() else None
        events = [LogEvent(started_ms, f"START RequestId: {request_id} Version: {spec.version}"), *lines]
        if timed_out:
            events.append(LogEvent(ended_ms, f"{_iso_ms(ended_ms)} {request_id} Task timed out after {spec.timeout_s:.2f} seconds"))
            payload, error = json.dumps(timeout_payload(request_id, spec.timeout_s)), UNHANDLED
            duration, init, used = float(spec.timeout_s * 1000), None, None
        elif outcome is None:
            events.append(LogEvent(ended_ms, f"RequestId: {request_id} Error: Runtime exited with error: exit status {returncode}"))
            payload, error = json.dumps(exit_payload(request_id, returncode)), UNHANDLED
            duration, init, used = float(ended_ms - started_ms), None, None
        else:
            payload, error = outcome["payload"], None if outcome["ok"] else UNHANDLED
            duration, init, used = outcome["duration_ms"], outcome["init_ms"], outcome["max_memory_mb"]
        events.append(LogEvent(ended_ms, f"END RequestId: {request_id}"))
        events.append(LogEvent(ended_ms, report_line(request_id, duration, spec.memory_mb, used, init, timed_out)))
        return InvocationResult(request_id, spec.version, payload.encode(), error, spec.log_group, stream, tuple(events))

    def _execute(self, spec: FunctionSpec, task_root: Path, stream: str,
                 invocation_path: Path) -> tuple[list[LogEvent], int, bool]:
        """Run the child; return its output lines (stamped as they arrive), exit code, and timeout flag."""
        posix = os.name == "posix"
        process = subprocess.Popen(
            [self.python, "-u", str(BOOTSTRAP), str(invocation_path)],
            cwd=task_root, env=self.environment(spec, task_root, stream),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=posix,
            creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP,  # type: ignore[attr-defined]
        )
        with self._lock:
            self._live.add(process)
        lines: list[LogEvent] = []
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        timed_out = False
        try:
            process.wait(timeout=spec.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            process.wait()
        finally:
            with self._lock:
                self._live.discard(process)
        reader.join(READER_GRACE_S)
        return list(lines), process.returncode, timed_out

    def close(self) -> None:
        """Kill every running invocation (the lab is stopping)."""
        with self._lock:
            live = list(self._live)
        for process in live:
            _kill(process)


def _read_lines(stream: io.BufferedReader, into: list[LogEvent]) -> None:
    """One log event per output line; ``\\r`` inside a line separates the lines of one event."""
    with stream:
        for raw in stream:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n").replace("\r", "\n")
            if text.strip():
                into.append(LogEvent(_now_ms(), text))


def _kill(process: subprocess.Popen) -> None:
    """Kill the child and anything it started."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
