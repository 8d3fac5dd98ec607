"""The lab's Lambda service: functions stored by moto, run by `LambdaRunner`, logged into moto's
CloudWatch Logs, invoked by the Invoke API and by the rules engine.

One `LocalLambda` per lab, created on first use and kept in ``lab.services``. Functions reach the lab
with no code change: their environment points boto3 at the lab's HTTP endpoint with dummy
credentials. Event invocations (``InvocationType=Event``, rule actions) run on a small thread pool.
[not emulated] AWS retries a failed asynchronous invocation twice; the lab runs it once.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from moto.core.exceptions import JsonRESTError

from localcore.errors import AwsError, ResourceNotFoundException

from .permissions import InvokeRequest, invoke_allowed
from .runner import FunctionSpec, InvocationResult, LambdaRunner, check_runtime

log = logging.getLogger("localcore.lambda")

STATE_KEY = "lambda"
ASYNC_WORKERS = 4  # event invocations running at once
IOT_SERVICE = "iot.amazonaws.com"
DUMMY_SESSION_TOKEN = "localcore"
_ARN = re.compile(r"^arn:aws[\w-]*:lambda:(?P<region>[^:]+):(?P<account>\d{12}):function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$")


class InvalidRequestContentException(AwsError):
    code, status = "InvalidRequestContentException", 400


class AccessDeniedException(AwsError):
    code, status = "AccessDeniedException", 403


class LocalLambda:
    def __init__(self, lab: Any, runner: LambdaRunner, workers: int = ASYNC_WORKERS) -> None:
        self.lab = lab
        self.runner = runner
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")

    # -- look-up --------------------------------------------------------------------------------
    def spec(self, name_or_arn: str, qualifier: str | None = None) -> FunctionSpec:
        """The function version as plain data; ResourceNotFoundException as Lambda words it."""
        match = _ARN.match(name_or_arn)
        config = self.lab.config
        if match and (match["region"] != config.region or match["account"] != config.account_id):
            raise ResourceNotFoundException(f"Function not found: {name_or_arn}")
        try:
            fn = self.lab.backend("lambda").get_function(name_or_arn, qualifier)
        except JsonRESTError as exc:
            raise AwsError(exc.message, code=exc.error_type, status=exc.code) from None
        return function_spec(fn)

    def policy_statements(self, name: str, qualifier: str | None = None) -> list[dict[str, Any]]:
        """The function's resource-based policy (Lambda's GetPolicy), no statements if it has none."""
        try:
            document = json.loads(self.lab.backend("lambda").get_policy(name, qualifier))
        except JsonRESTError:
            return []
        return json.loads(document["Policy"]).get("Statement", [])

    # -- invocation -----------------------------------------------------------------------------
    def invoke(self, name_or_arn: str, payload: bytes | None, qualifier: str | None = None) -> InvocationResult:
        """RequestResponse: run now, store the logs, return the result."""
        spec = self.spec(name_or_arn, qualifier)
        return self._run(spec, event_json(payload))

    def invoke_event(self, name_or_arn: str, payload: bytes | None, qualifier: str | None = None) -> Future:
        """Event: check everything a caller would hear about now, run later."""
        spec = self.spec(name_or_arn, qualifier)
        check_runtime(spec)
        return self.pool.submit(self._run_quietly, spec, event_json(payload))

    def invoke_for_service(self, function_arn: str, event: str, source_arn: str,
                           service: str = IOT_SERVICE) -> Future:
        """An asynchronous invocation by an AWS service (a rule's lambda action, ``event`` JSON text),
        which needs the function's policy to allow ``service`` (and ``source_arn``, if the policy names one)."""
        spec = self.spec(function_arn)
        match = _ARN.match(function_arn)
        qualifier = match["qualifier"] if match else None
        request = InvokeRequest(service, _unqualified(spec.arn), qualifier, source_arn, self.lab.config.account_id)
        if not invoke_allowed(self.policy_statements(spec.name, qualifier), request):
            raise AccessDeniedException(
                f"User: {service} is not authorized to perform: lambda:InvokeFunction on resource: "
                f"{function_arn} because no resource-based policy allows the lambda:InvokeFunction action "
                f"(add it with AddPermission, Principal {service}, SourceArn {source_arn})"
            )
        check_runtime(spec)
        return self.pool.submit(self._run_quietly, spec, event)

    def _run(self, spec: FunctionSpec, event: str) -> InvocationResult:
        result = self.runner.run(spec, event)
        store_logs(self.lab, result)
        return result

    def _run_quietly(self, spec: FunctionSpec, event: str) -> InvocationResult | None:
        try:
            result = self._run(spec, event)
        except Exception:  # a background invocation has no caller to tell
            log.exception("asynchronous invocation of %s failed", spec.name)
            return None
        if result.function_error:
            log.info("function %s failed (request %s); see %s", spec.name, result.request_id, spec.log_group)
        return result

    def close(self) -> None:
        self.runner.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def function_spec(fn: Any) -> FunctionSpec:
    """moto's ``LambdaFunction`` → `FunctionSpec` (the attributes the lab reads; see the unit test)."""
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        version=str(fn.version),
        handler=fn.handler or "",
        runtime=fn.run_time if getattr(fn, "package_type", "Zip") == "Zip" else None,
        timeout_s=int(fn.timeout),
        memory_mb=int(fn.memory_size),
        environment=dict(fn.environment_vars or {}),
        code=getattr(fn, "code_bytes", b""),
        code_sha256=getattr(fn, "code_digest", "") or "unknown",
    )


def event_json(payload: bytes | None) -> str:
    """The Invoke payload as JSON text (``{}`` when empty), or Lambda's InvalidRequestContentException."""
    if not payload or not payload.strip():
        return "{}"
    try:
        json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
    return payload.decode("utf-8")


def store_logs(lab: Any, result: InvocationResult) -> None:
    """Write an invocation's log events into moto's CloudWatch Logs (group and stream created as needed)."""
    logs = lab.backend("logs")
    events = sorted(({"timestamp": e.timestamp_ms, "message": e.message} for e in result.log_events),
                    key=lambda event: event["timestamp"])
    with lab.changing():
        if result.log_group not in logs.groups:
            logs.create_log_group(result.log_group, tags={})
        logs.ensure_log_stream(result.log_group, result.log_stream)
        logs.put_log_events(result.log_group, result.log_stream, events)


def _unqualified(arn: str) -> str:
    match = _ARN.match(arn)
    return arn if match is None or match["qualifier"] is None else arn.rsplit(":", 1)[0]


def base_environment(lab: Any) -> dict[str, str]:
    """What every function gets so that boto3 inside it reaches the lab."""
    exports = lab.config.env_exports()
    return {
        "AWS_REGION": lab.config.region,
        "AWS_DEFAULT_REGION": lab.config.region,
        "AWS_ENDPOINT_URL": lab.config.http_url,
        "AWS_ACCESS_KEY_ID": exports["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": exports["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": DUMMY_SESSION_TOKEN,
    }


def local_lambda(lab: Any) -> LocalLambda:
    """The lab's Lambda service, created on first use."""
    with lab.lock:
        service = lab.services.get(STATE_KEY)
        if service is None:
            runner = LambdaRunner(lab.config.home / "lambda", base_environment(lab))
            service = lab.services[STATE_KEY] = LocalLambda(lab, runner)
        return service


def close(lab: Any) -> None:
    """Kill running invocations and drop queued ones (the lab is stopping)."""
    service = lab.services.pop(STATE_KEY, None)
    if service is not None:
        service.close()

