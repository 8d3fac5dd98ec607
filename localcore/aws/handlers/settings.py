"""Account-level IoT settings moto lacks: registry event configuration and v2 logging options.

The values live on the `Lab` (``lab.event_configurations``, ``lab.logging``) because the broker and
the moto hooks read them on every event and every log line.
"""

from __future__ import annotations

import time
from typing import Any

from ...errors import AwsError, InvalidRequestException, LimitExceededException
from ...iot.iot_logs import DEFAULT, OPTIONS_DEFAULT_LEVEL, THING_GROUP
from ...iot.iot_logs import LEVELS as LOG_LEVELS
from ...iot.iot_logs import TARGET_TYPES as LOG_TARGET_TYPES
from ...runtime import EVENT_TYPES
from .. import registry
from ..iot_logging import REVISION
from ..paging import page
from ..roles import require_assumable
from . import handles

# [unconfirmed] AWS's limit on resource-specific log targets per account.
MAX_LOG_TARGETS = 1000


class NotConfiguredException(AwsError):
    code, status = "NotConfiguredException", 404


@handles("iot", "DescribeEventConfigurations")
def describe_event_configurations(lab, params: dict) -> dict:
    return {
        "eventConfigurations": {name: {"Enabled": enabled} for name, enabled in lab.event_configurations.items()},
        "creationDate": lab.event_configurations_dates["created"],
        "lastModifiedDate": lab.event_configurations_dates["modified"],
    }


@handles("iot", "UpdateEventConfigurations")
def update_event_configurations(lab, params: dict) -> dict:
    changes = params.get("eventConfigurations") or {}
    unknown = sorted(set(changes) - set(EVENT_TYPES))
    if unknown:
        raise InvalidRequestException(f"Unknown event type(s): {', '.join(unknown)}")
    with lab.lock:
        for name, configuration in changes.items():  # keys not named keep their value
            if "Enabled" in configuration:
                lab.event_configurations[name] = bool(configuration["Enabled"])
        lab.event_configurations_dates["modified"] = time.time()
    return {}


def _logging(lab) -> dict[str, Any]:
    return lab.logging


def _changed(lab) -> None:
    """Tell the running logger (`localcore.aws.iot_logging`) to re-read the settings. The handlers
    replace ``options`` and ``levels`` with new dicts (never change them in place), so the broker's
    thread reads them without the lock."""
    settings = _logging(lab)
    settings[REVISION] = settings.get(REVISION, 0) + 1


def _check_level(level: str | None) -> str:
    if level not in LOG_LEVELS:
        raise InvalidRequestException(f"Log level {level!r} is not valid; expected one of {', '.join(LOG_LEVELS)}.")
    return level


def _options(lab) -> dict[str, Any]:
    options = _logging(lab)["options"]
    if options is None:
        raise NotConfiguredException("V2 logging options are not configured for this account.")
    return options


@handles("iot", "SetV2LoggingOptions")
def set_v2_logging_options(lab, params: dict) -> dict:
    """Each call sets all the options: one left out takes its default (``disableAllLogs`` false, as
    AWS documents; `OPTIONS_DEFAULT_LEVEL`, no role, no event configurations: [unconfirmed])."""
    options: dict[str, Any] = {
        "defaultLogLevel": _check_level(params.get("defaultLogLevel", OPTIONS_DEFAULT_LEVEL)),
        "disableAllLogs": bool(params.get("disableAllLogs", False)),
    }
    if params.get("roleArn"):
        require_assumable(lab, [params["roleArn"]])
        options["roleArn"] = params["roleArn"]
    if params.get("eventConfigurations"):
        for configuration in params["eventConfigurations"]:
            if "logLevel" in configuration:
                _check_level(configuration["logLevel"])
        options["eventConfigurations"] = params["eventConfigurations"]
    with lab.lock:
        _logging(lab)["options"] = options
        _changed(lab)
    return {}


@handles("iot", "GetV2LoggingOptions")
def get_v2_logging_options(lab, params: dict) -> dict:
    return dict(_options(lab))


@handles("iot", "SetV2LoggingLevel")
def set_v2_logging_level(lab, params: dict) -> dict:
    """A DEFAULT target sets the account's default level (the one SetV2LoggingOptions sets)."""
    _options(lab)
    target = params.get("logTarget") or {}
    target_type, name = target.get("targetType"), target.get("targetName")
    if target_type not in LOG_TARGET_TYPES:
        raise InvalidRequestException(f"Target type {target_type!r} is not valid.")
    level = _check_level(params.get("logLevel"))
    if target_type != DEFAULT and not name:
        raise InvalidRequestException(f"targetName is required for target type {target_type}.")
    if target_type == THING_GROUP and registry.thing_group(lab, name) is None:
        # [unconfirmed] error for a missing group: the API model lists no ResourceNotFoundException here.
        raise InvalidRequestException(f"Thing group {name} does not exist.")
    with lab.lock:
        if target_type == DEFAULT:
            _logging(lab)["options"] = {**_options(lab), "defaultLogLevel": level}
        else:
            levels = _logging(lab)["levels"]
            if (target_type, name) not in levels and len(levels) >= MAX_LOG_TARGETS:
                raise LimitExceededException(f"No more than {MAX_LOG_TARGETS} log targets can be configured.")
            _logging(lab)["levels"] = {**levels, (target_type, name): level}
        _changed(lab)
    return {}


@handles("iot", "ListV2LoggingLevels")
def list_v2_logging_levels(lab, params: dict) -> dict:
    """The DEFAULT target (the default level) first, then the others by type and name."""
    options = _options(lab)
    wanted = params.get("targetType")
    rows = [{"logTarget": {"targetType": DEFAULT}, "logLevel": options.get("defaultLogLevel") or OPTIONS_DEFAULT_LEVEL}]
    rows += [
        {"logTarget": {"targetType": t, "targetName": n}, "logLevel": level}
        for (t, n), level in sorted(_logging(lab)["levels"].items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]
    rows = [row for row in rows if wanted in (None, row["logTarget"]["targetType"])]
    listed, next_token = page(rows, params.get("nextToken"), params.get("maxResults") or len(rows) or 1)
    return {"logTargetConfigurations": listed, **({"nextToken": next_token} if next_token else {})}


@handles("iot", "DeleteV2LoggingLevel")
def delete_v2_logging_level(lab, params: dict) -> dict:
    target_type = params.get("targetType")
    if target_type not in LOG_TARGET_TYPES:
        raise InvalidRequestException(f"Target type {target_type!r} is not valid.")
    if target_type == DEFAULT:  # [unconfirmed] AWS's answer; the default level is an option
        raise InvalidRequestException("The DEFAULT log level cannot be deleted; set it with SetV2LoggingOptions.")
    with lab.lock:
        key = (target_type, params.get("targetName"))
        _logging(lab)["levels"] = {k: v for k, v in _logging(lab)["levels"].items() if k != key}
        _changed(lab)
    return {}
