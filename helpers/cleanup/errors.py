"""What AWS said, in full: error codes, "it does not exist", and messages for the result tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..ledger.reads import is_missing

RETRY_CODES = ("DeleteConflictException", "InvalidRequestException")
# AWS applies detach calls asynchronously: a delete right after is retried this long (the lab applies
# them at once, so a refusal there is final after a moment).
SETTLE_S = {"aws": 30.0, "local": 2.0}
POLL_S = 1.0


def error_code(error: BaseException) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) if hasattr(error, "response") else ""


def is_gone(error: BaseException) -> bool:
    """Does this error say that the resource does not exist?"""
    return is_missing(error)


def describe_error(error: BaseException) -> str:
    """``Code: message``, the whole message: a trainee needs all of what AWS said."""
    code = error_code(error) or type(error).__name__
    message = getattr(error, "response", {}).get("Error", {}).get("Message", "") if hasattr(error, "response") else ""
    return f"{code}: {message or str(error)}"


def settled(ws: Any, call: Callable[[], Any]) -> Any:
    """Run ``call``, retrying while AWS still sees an attachment that was just removed."""
    deadline = time.monotonic() + SETTLE_S.get(getattr(ws, "backend", "aws"), SETTLE_S["aws"])
    while True:
        try:
            return call()
        except Exception as error:
            if error_code(error) not in RETRY_CODES or time.monotonic() > deadline:
                raise
        time.sleep(POLL_S)


def all_items(client: Any, operation: str, key: str, **kwargs: Any) -> list:
    """Every item of a listing, following pages when boto3 has a paginator for it."""
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return list(getattr(client, operation)(**kwargs).get(key, []))


__all__ = ["all_items", "describe_error", "error_code", "is_gone", "settled"]
