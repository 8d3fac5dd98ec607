"""Handlers for the AWS operations moto lacks (or gets wrong), keyed by botocore operation name.

A handler is ``fn(lab, params) -> output``: ``params`` is the operation's input as botocore names
it, ``output`` the operation's output as botocore names it. The HTTP layer parses and serialises
both through botocore's service model (`localcore.aws.codec`), so no handler writes wire format.
Handlers raise `localcore.errors.AwsError` subclasses for AWS's errors.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

Handler = Callable[[Any, dict], dict]

HANDLERS: dict[tuple[str, str], Handler] = {}

# Modules that register handlers; imported once by `load_all`.
MODULES = (
    "settings",
    "endpoint",
    "register_thing",
    "registration_tasks",
    "ca_certificates",
    "data_plane",
    "fleet_indexing",
    "lambda_functions",
    "topic_rules",
    "jobs",
    "logs_filter",
    "policies",
    "authorization",
    "thing_types",
)


def handles(service: str, operation: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the lab's implementation of ``service``'s ``operation``."""

    def register(fn: Handler) -> Handler:
        key = (service, operation)
        if key in HANDLERS:
            raise RuntimeError(f"two handlers for {service} {operation}")
        HANDLERS[key] = fn
        return fn

    return register


def load_all() -> dict[tuple[str, str], Handler]:
    for name in MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return HANDLERS
