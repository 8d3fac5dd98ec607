"""Lambda's Invoke, run by the lab's own runner (moto's needs Docker).

Everything else about functions (CreateFunction, GetFunction, AddPermission, GetPolicy,
ListFunctions, DeleteFunction, ...) stays with moto, which stores the code the runner unpacks.
"""

from __future__ import annotations

from typing import Any

from localcore.errors import AwsError
from localcore.lambda_runner.runner import check_runtime
from localcore.lambda_runner.service import local_lambda

from . import handles

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class InvalidParameterValueException(AwsError):
    code, status = "InvalidParameterValueException", 400


@handles("lambda", "Invoke")
def invoke(lab: Any, params: dict) -> dict:
    name, qualifier = params["FunctionName"], params.get("Qualifier")
    kind = params.get("InvocationType") or "RequestResponse"
    payload = params.get("Payload")
    service = local_lambda(lab)
    if kind not in INVOCATION_TYPES:
        raise InvalidParameterValueException(
            f"Invalid InvocationType {kind!r}: expected one of {', '.join(INVOCATION_TYPES)}"
        )
    if kind == "DryRun":
        check_runtime(service.spec(name, qualifier))
        return {"StatusCode": 204}
    if kind == "Event":
        service.invoke_event(name, payload, qualifier)
        return {"StatusCode": 202}
    with lab.gate.outside():  # the function may call back into the lab: never hold a snapshot back
        result = service.invoke(name, payload, qualifier)
    output: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": result.version}
    if result.function_error:
        output["FunctionError"] = result.function_error
    if params.get("LogType") == "Tail":
        output["LogResult"] = result.log_result
    return output


@handles("lambda", "InvokeAsync")
def invoke_async(lab: Any, params: dict) -> dict:
    """The deprecated asynchronous Invoke: same as InvocationType=Event."""
    local_lambda(lab).invoke_event(params["FunctionName"], params.get("InvokeArgs"))
    return {"Status": 202}
