"""The child side of a local Lambda invocation: import the handler, call it once, report.

Run as ``python -u bootstrap.py <invocation.json>`` by `localcore.lambda_runner.runner` in a fresh
process whose working directory is the unzipped code. Standard library only (the function's own
dependencies come from its zip or the lab's interpreter). What the function prints goes to stdout
and stderr, which the parent turns into CloudWatch Logs events, one per line; a log record or error
report that spans several lines is written with ``\\r`` between its lines so that it stays one event,
as in AWS's Python runtime. The outcome goes to ``result_path`` as JSON:
``{"ok": bool, "payload": str, "init_ms": float, "duration_ms": float, "max_memory_mb": int}``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class LambdaContext:
    """The ``context`` argument of a Python handler (the attributes AWS documents)."""

    def __init__(self, invocation: dict[str, Any]) -> None:
        self.function_name: str = invocation["function_name"]
        self.function_version: str = invocation["function_version"]
        self.invoked_function_arn: str = invocation["invoked_function_arn"]
        # AWS's runtime reads this from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, hence a string.
        self.memory_limit_in_mb: str = str(invocation["memory_limit_in_mb"])
        self.aws_request_id: str = invocation["aws_request_id"]
        self.log_group_name: str = invocation["log_group_name"]
        self.log_stream_name: str = invocation["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = invocation["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _OneEventHandler(logging.StreamHandler):
    """Writes each record as one line (inner newlines become ``\\r``) so it stays one log event."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


def _install_logging(request_id: str) -> None:
    """Give the root logger the handler AWS's runtime installs; its level stays Python's default."""
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler = _OneEventHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter(request_id))
    logging.getLogger().addHandler(handler)


class HandlerError(Exception):
    """A failure of the runtime itself (AWS's ``Runtime.*`` error types)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """``module.function`` (``module`` may be a dotted or slash-separated path) → the function."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)") from None
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        raise HandlerError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from None
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def error_payload(error_type: str, message: str, request_id: str, stack: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _failure(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The error payload of an exception, logged as the ``[ERROR]`` event AWS writes (one event)."""
    if isinstance(exc, HandlerError):
        error_type, message, stack = exc.error_type, exc.message, []
    else:  # the function's own exception: its frames, without this file's
        error_type, message = type(exc).__name__, str(exc)
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    line = f"[ERROR] {error_type}: {message}"
    if stack:
        line += "\nTraceback (most recent call last):\n" + "".join(stack).rstrip("\n")
    sys.stdout.write(line.replace("\n", "\r") + "\n")
    return error_payload(error_type, message, request_id, stack)


def _max_memory_mb() -> int:
    try:
        import resource
    except ImportError:  # not on POSIX
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


def invoke(invocation: dict[str, Any]) -> dict[str, Any]:
    """Import, call and serialise; the function's own errors are the outcome, never raised."""
    request_id = invocation["aws_request_id"]
    _install_logging(request_id)
    outcome: dict[str, Any] = {"ok": False, "init_ms": 0.0, "duration_ms": 0.0}
    started = time.perf_counter()
    try:
        function = load_handler(invocation["handler"])
    except Exception as exc:  # noqa: BLE001 - whatever the module raised at import is the outcome
        outcome.update(init_ms=_ms_since(started), payload=json.dumps(_failure(exc, request_id)))
        return outcome
    outcome["init_ms"] = _ms_since(started)
    event = json.loads(invocation["event"])
    started = time.perf_counter()
    try:
        result = function(event, LambdaContext(invocation))
        outcome["payload"] = _marshal(result)
        outcome["ok"] = True
    except Exception as exc:  # noqa: BLE001 - the function's error is the outcome
        outcome["payload"] = json.dumps(_failure(exc, request_id))
    outcome["duration_ms"] = _ms_since(started)
    return outcome


def _marshal(result: Any) -> str:
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise HandlerError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main(invocation_path: str) -> None:
    with open(invocation_path, encoding="utf-8") as handle:
        invocation = json.load(handle)
    # The function's code comes first on the path, not this file's folder.
    sys.path[0] = invocation["task_root"]
    outcome = invoke(invocation)
    outcome["max_memory_mb"] = _max_memory_mb()
    sys.stdout.flush()
    sys.stderr.flush()
    partial = invocation["result_path"] + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    os.replace(partial, invocation["result_path"])


if __name__ == "__main__":
    main(sys.argv[1])
