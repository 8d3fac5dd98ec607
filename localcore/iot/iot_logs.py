"""AWS IoT's v2 ("fine-grained") logging as plain data: which level applies to a client, and the
JSON entries AWS IoT writes to the CloudWatch Logs group ``AWSIotLogsV2`` (reference section 9).

Levels, least to most verbose: DISABLED < ERROR < WARN < INFO < DEBUG. A client logged at a level
gets every entry at that level or a less verbose one (WARN: warnings and errors).

The level of a client comes from the account's options (``SetV2LoggingOptions``: role, default
level, ``disableAllLogs``, per-event-type overrides) and the resource-specific targets
(``SetV2LoggingLevel``): its client id, principal (certificate id), source IP, and the thing groups
of the thing named like the client id, with their ancestors. Nothing here touches the registry:
the caller hands in the group chains (`LogSubject`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DISABLED, ERROR, WARN, INFO, DEBUG = "DISABLED", "ERROR", "WARN", "INFO", "DEBUG"
LEVELS = (DISABLED, ERROR, WARN, INFO, DEBUG)  # least to most verbose
VERBOSITY = {level: rank for rank, level in enumerate(LEVELS)}

DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID = (
    "DEFAULT", "THING_GROUP", "CLIENT_ID", "SOURCE_IP", "PRINCIPAL_ID",
)
TARGET_TYPES = (DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID)

# [unconfirmed] AWS does not say which target wins when several match one client. The lab takes the
# most specific one: a client id names one connection, a principal the connections of one
# certificate, a source IP every device behind one address, a thing group many things; the
# account's default comes last. Reorder this tuple to change the rule.
TARGET_PRECEDENCE = (CLIENT_ID, PRINCIPAL_ID, SOURCE_IP, THING_GROUP)
# A child group's level overrides its ancestors' (documented). [unconfirmed] Between unrelated groups
# of one thing, the most verbose of their levels applies.

# Default level of options set without ``defaultLogLevel``. [unconfirmed]
OPTIONS_DEFAULT_LEVEL = ERROR

SUCCESS, FAILURE = "Success", "Failure"
LOG_GROUP = "AWSIotLogsV2"
MQTT = "MQTT"

# Event types (``eventType``) the lab writes.
CONNECT, DISCONNECT, PUBLISH_IN, PUBLISH_OUT, SUBSCRIBE = "Connect", "Disconnect", "Publish-In", "Publish-Out", "Subscribe"
RULE_MATCH, STARTING_RULE_EXECUTION, RULE_EXECUTION = "RuleMatch", "StartingRuleExecution", "RuleExecution"

# Failure reasons (``reason``) and their ``details``. AUTHORIZATION_FAILURE is from AWS's examples;
# the others and every ``details`` text but the first are [unconfirmed].
AUTHORIZATION_FAILURE = "AUTHORIZATION_FAILURE"
AUTHENTICATION_FAILURE = "AUTHENTICATION_FAILURE"
CLIENT_ERROR = "CLIENT_ERROR"
DUPLICATE_CLIENT_ID = "DUPLICATE_CLIENT_ID"
RULE_ACTION_FAILURE = "RULE_ACTION_FAILURE"
REASON_DETAILS = {
    AUTHORIZATION_FAILURE: "Authorization Failure",
    AUTHENTICATION_FAILURE: "Authentication Failure",
    CLIENT_ERROR: "Client Error",
    DUPLICATE_CLIENT_ID: "A new connection was established with the same client ID",
    RULE_ACTION_FAILURE: "Rule action failed",
}
# The broker's disconnect reasons (lifecycle events) that mean a refused action, as log reasons.
REFUSAL_REASONS = {"AUTH_ERROR": AUTHORIZATION_FAILURE, "CLIENT_ERROR": CLIENT_ERROR}

# Level of an entry: successes are INFO and failures ERROR in AWS's examples; the rule engine's
# "starting" entry is DEBUG. [unconfirmed] for the rest.
SUCCESS_LEVEL, FAILURE_LEVEL = INFO, ERROR
DEBUG_EVENTS = frozenset({STARTING_RULE_EXECUTION})

# Field order of an entry: the common fields, then the event's, then the failure's.
FIELD_ORDER = (
    "timestamp", "logLevel", "traceId", "accountId", "status", "eventType", "protocol", "topicName",
    "clientId", "principalId", "sourceIp", "sourcePort", "retain", "disconnectReason",
    "ruleName", "ruleAction", "resources",
)
TRAILING_FIELDS = ("reason", "details")


@dataclass(frozen=True)
class LogSubject:
    """Who an entry is about. ``group_chains`` holds, for each thing group the thing named like the
    client id is in, that group followed by its ancestors (nearest first)."""

    client_id: str | None = None
    principal_id: str | None = None
    source_ip: str | None = None
    group_chains: tuple[tuple[str, ...], ...] = ()


Levels = Mapping[tuple[str, "str | None"], str]


def more_verbose(a: str, b: str) -> str:
    return a if VERBOSITY[a] >= VERBOSITY[b] else b


def logging_on(options: Mapping[str, Any] | None) -> bool:
    """Whether AWS IoT writes any log: options set, a role to write with, and not all disabled."""
    return options is not None and bool(options.get("roleArn")) and not options.get("disableAllLogs")


def default_level(options: Mapping[str, Any] | None, event_type: str | None = None) -> str:
    """The account-level level, for one event type when the options override it (eventConfigurations)."""
    if options is None or not logging_on(options):
        return DISABLED
    if event_type is not None:
        for configuration in options.get("eventConfigurations") or ():
            if configuration.get("eventType") == event_type and configuration.get("logLevel"):
                return configuration["logLevel"]
    return options.get("defaultLogLevel") or OPTIONS_DEFAULT_LEVEL


def group_level(levels: Levels, group_chains: Iterable[tuple[str, ...]]) -> str | None:
    """The thing-group level of a thing: per group, the nearest of it and its ancestors with a level;
    a group whose level is overridden by a descendant's drops out; the most verbose one remains."""
    found: dict[str, tuple[str, frozenset[str]]] = {}  # group -> (level, its ancestors)
    for chain in group_chains:
        for depth, group in enumerate(chain):
            level = levels.get((THING_GROUP, group))
            if level is not None:
                found[group] = (level, frozenset(chain[depth + 1:]))
                break
    overridden = set().union(*(ancestors for _level, ancestors in found.values())) if found else set()
    result = None
    for group, (level, _ancestors) in found.items():
        if group not in overridden:
            result = level if result is None else more_verbose(result, level)
    return result


def target_level(levels: Levels, subject: LogSubject) -> str | None:
    """The level the resource-specific targets give ``subject`` (`TARGET_PRECEDENCE`), or None."""
    for target_type in TARGET_PRECEDENCE:
        if target_type == THING_GROUP:
            level = group_level(levels, subject.group_chains)
        else:
            name = {CLIENT_ID: subject.client_id, PRINCIPAL_ID: subject.principal_id,
                    SOURCE_IP: subject.source_ip}[target_type]
            level = levels.get((target_type, name)) if name else None
        if level is not None:
            return level
    return None


def resolve_level(
    options: Mapping[str, Any] | None, levels: Levels, subject: LogSubject, event_type: str | None = None
) -> str:
    """The level AWS IoT logs ``subject``'s ``event_type`` entries at."""
    if not logging_on(options):
        return DISABLED
    level = target_level(levels, subject)
    return level if level is not None else default_level(options, event_type)


def wanted(client_level: str, entry_level: str) -> bool:
    """Whether an entry at ``entry_level`` is written for a client logged at ``client_level``."""
    return entry_level != DISABLED and VERBOSITY[entry_level] <= VERBOSITY[client_level]


def entry_level(event_type: str, failed: bool) -> str:
    """The level of an entry: `FAILURE_LEVEL`, `DEBUG` for `DEBUG_EVENTS`, else `SUCCESS_LEVEL`."""
    if failed:
        return FAILURE_LEVEL
    return DEBUG if event_type in DEBUG_EVENTS else SUCCESS_LEVEL


def timestamp_text(epoch_s: float) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` in UTC, as AWS IoT writes ``timestamp``."""
    moment = _dt.datetime.fromtimestamp(epoch_s, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def log_entry(
    event_type: str, level: str, *, account_id: str, epoch_s: float, trace_id: str, **fields: Any
) -> dict[str, Any]:
    """One AWS IoT log entry. ``fields`` use AWS's names (``clientId``, ``topicName``, ...); None
    values are left out. ``status`` defaults to Failure when a ``reason`` is given, and ``details``
    to the reason's text."""
    fields = {name: value for name, value in fields.items() if value is not None}
    if "reason" in fields:
        fields.setdefault("status", FAILURE)
        fields.setdefault("details", REASON_DETAILS.get(fields["reason"], fields["reason"]))
    values = {
        "timestamp": timestamp_text(epoch_s), "logLevel": level, "traceId": trace_id,
        "accountId": account_id, "status": fields.pop("status", SUCCESS), "eventType": event_type, **fields,
    }
    ordered = {name: values.pop(name) for name in FIELD_ORDER if name in values}
    trailing = {name: values.pop(name) for name in TRAILING_FIELDS if name in values}
    return {**ordered, **values, **trailing}


# -- the fields of each kind of entry (AWS's names), for the broker and the rules engine ----------

def publish_in_fields(topic: str, retain: bool, refusal: str | None = None) -> dict[str, Any]:
    """A client's PUBLISH; ``refusal`` is the broker's disconnect reason when it was refused."""
    fields: dict[str, Any] = {"topicName": topic}
    if retain:
        fields["retain"] = "True"
    if refusal is not None:
        fields["reason"] = REFUSAL_REASONS.get(refusal, refusal)
    return fields


def disconnect_fields(disconnect_reason: str) -> tuple[str, dict[str, Any]]:
    """(level, fields) of a Disconnect entry. [unconfirmed] A duplicate client id is a failure."""
    fields: dict[str, Any] = {"disconnectReason": disconnect_reason}
    if disconnect_reason == "DUPLICATE_CLIENTID":
        fields["reason"] = DUPLICATE_CLIENT_ID
        return FAILURE_LEVEL, fields
    return SUCCESS_LEVEL, fields


def rule_fields(
    rule_name: str, topic: str, client_id: str | None, principal_id: str | None,
    action: str | None = None, resources: Mapping[str, str] | None = None, error: str | None = None,
) -> dict[str, Any]:
    """A rules-engine entry (RuleMatch, StartingRuleExecution, RuleExecution); ``error`` makes it a failure."""
    fields: dict[str, Any] = {
        "topicName": topic, "clientId": client_id, "principalId": principal_id, "ruleName": rule_name,
        "ruleAction": action, "resources": dict(resources) if resources else None,
    }
    if error is not None:
        fields["reason"], fields["details"] = RULE_ACTION_FAILURE, error
    return fields
