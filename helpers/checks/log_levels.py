"""Chapter 09: fine-grained logging: a device's own log level, and its entries in AWSIotLogsV2."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from . import certificates_of


VERBOSE = ("INFO", "DEBUG")  # the levels at which AWS IoT writes successes


def own_log_levels(ws: Any, client_id: str, certificate_ids: Any = ()) -> dict[tuple[str, str], str]:
    """The log levels set for this client id (``CLIENT_ID``) or its certificates (``PRINCIPAL_ID``):
    ``{(target type, target name): level}``."""
    mine = {("CLIENT_ID", client_id), *(("PRINCIPAL_ID", c) for c in certificate_ids)}
    try:
        configurations = [c for page in ws.iot.get_paginator("list_v2_logging_levels").paginate()
                          for c in page.get("logTargetConfigurations", [])]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotConfiguredException":
            return {}
        raise
    return {(c["logTarget"]["targetType"], c["logTarget"].get("targetName")): c["logLevel"]
            for c in configurations if (c["logTarget"]["targetType"], c["logTarget"].get("targetName")) in mine}


def logged_successes(ws: Any, client_id: str, certificate_ids: Any, start_ms: int,
                     log_group: str = "AWSIotLogsV2") -> list[dict]:
    """The entries of ``log_group`` since ``start_ms`` of a successful publish by ``client_id`` with
    one of ``certificate_ids``: one look, no waiting ([] when the log group does not exist yet)."""
    from ..logs import all_events, parse_entry

    try:
        events = all_events(ws.logs.filter_log_events, logGroupName=log_group, startTime=start_ms,
                            filterPattern=f'{{$.clientId = "{client_id}"}}')
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
    entries = [parse_entry(event) for event in events]
    return [e for e in entries if e.get("eventType") == "Publish-In" and e.get("status") == "Success"
            and e.get("clientId") == client_id and e.get("principalId") in set(certificate_ids)]


def watched_device_problem(ws: Any, thing: str, start_ms: int) -> str:
    """Chapter 09's exercise: the device ``thing`` (connecting with its name as client id) has a log
    level of its own, for its client id or its certificate, that writes successes (INFO or DEBUG), and
    an allowed publish of it is in the log since ``start_ms``. Looks once: on AWS entries arrive late."""
    certificate_ids = [arn.rsplit("/", 1)[1] for arn in certificates_of(ws, thing)]
    if not certificate_ids:
        return f"{thing} does not exist yet, or has no certificate attached"
    levels = own_log_levels(ws, thing, certificate_ids)
    if not levels:
        return f"{thing} has no log level of its own: set one for its client id (CLIENT_ID) at INFO"
    named = ", ".join(f"{level} for {kind} {name}" for (kind, name), level in levels.items())
    if not any(level in VERBOSE for level in levels.values()):
        return f"{thing}'s own level is {named}; successes are written at {' or '.join(VERBOSE)}"
    if not logged_successes(ws, thing, certificate_ids, start_ms):
        return (f"{thing} has its own level ({named}), but no "
                f"allowed publish of its certificate is in the log yet: let it publish again (on AWS the "
                f"entries arrive a minute or two later; then run the self-check again)")
    return ""
