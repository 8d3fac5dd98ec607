"""Does a function's resource-based policy let an AWS service invoke it? (pure functions)

The policy is what Lambda's GetPolicy returns (moto stores what AddPermission wrote): statements
with ``Principal: {"Service": ...}``, ``Action``, ``Resource`` and conditions such as
``{"ArnLike": {"AWS:SourceArn": <rule ARN>}}`` and ``{"StringEquals": {"AWS:SourceAccount": ...}}``.
An explicit Deny wins; otherwise one matching Allow is needed. A condition operator the lab does not
know makes its statement not apply (never a silent grant).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

INVOKE = "lambda:InvokeFunction"


@dataclass(frozen=True)
class InvokeRequest:
    """Who asks to invoke what: ``service`` (e.g. ``iot.amazonaws.com``) on behalf of ``source_arn``."""

    service: str
    function_arn: str  # unqualified
    qualifier: str | None
    source_arn: str
    source_account: str


def invoke_allowed(statements: Iterable[dict[str, Any]], request: InvokeRequest) -> bool:
    matching = [s for s in statements if _applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect", "Allow") == "Allow" for s in matching)


def _applies(statement: dict[str, Any], request: InvokeRequest) -> bool:
    return (
        _principal_matches(statement.get("Principal"), request.service)
        and any(fnmatchcase(INVOKE.lower(), a.lower()) for a in _as_list(statement.get("Action")))
        and _resource_matches(_as_list(statement.get("Resource")), request)
        and _conditions_hold(statement.get("Condition") or {}, request)
    )


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return service in _as_list(principal.get("Service")) or "*" in _as_list(principal.get("AWS"))


def _resource_matches(resources: list[str], request: InvokeRequest) -> bool:
    """A statement on the unqualified ARN covers every version; one on ``arn:qualifier`` only that one."""
    wanted = [request.function_arn]
    if request.qualifier:
        wanted.append(f"{request.function_arn}:{request.qualifier}")
    return any(fnmatchcase(arn, pattern) for pattern in resources for arn in wanted)


def _conditions_hold(conditions: dict[str, Any], request: InvokeRequest) -> bool:
    context = {"aws:sourcearn": request.source_arn, "aws:sourceaccount": request.source_account}
    for operator, tests in conditions.items():
        compare = _OPERATORS.get(operator)
        if compare is None or not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None or not any(compare(actual, value) for value in _as_list(expected)):
                return False
    return True


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_OPERATORS = {
    "StringEquals": lambda actual, value: actual == value,
    "ArnEquals": lambda actual, value: actual == value,
    "StringLike": lambda actual, value: fnmatchcase(actual, value),
    "ArnLike": lambda actual, value: fnmatchcase(actual, value),
}
