"""Account-level IoT settings moto lacks: registry event configuration and v2 logging options.

The values live on the `Lab` (``lab.event_configurations``, ``lab.logging``) because the broker and
the moto hooks read them on every event and every log line.
"""

from __future__ import annotations

import time
from typing import Any

from ...errors import AwsError, InvalidRequestException, ResourceNotFoundException
from .. import registry
from ...runtime import EVENT_TYPES
from . import handles

LOG_LEVELS = ("DEBUG", "INFO", "ERROR", "WARN", "DISABLED")
LOG_TARGET_TYPES = ("DEFAULT", "THING_GROUP", "CLIENT_ID", "SOURCE_IP", "PRINCIPAL_ID")


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


def _check_level(level: str | None) -> str:
    if level not in LOG_LEVELS:
        raise InvalidRequestException(f"Log level {level!r} is not valid; expected one of {', '.join(LOG_LEVELS)}.")
    return level


@handles("iot", "SetV2LoggingOptions")
def set_v2_logging_options(lab, params: dict) -> dict:
    options = dict(_logging(lab)["options"] or {"defaultLogLevel": "ERROR", "disableAllLogs": False})
    if "roleArn" in params:
        options["roleArn"] = params["roleArn"]
    if "defaultLogLevel" in params:
        options["defaultLogLevel"] = _check_level(params["defaultLogLevel"])
    if "disableAllLogs" in params:
        options["disableAllLogs"] = bool(params["disableAllLogs"])
    with lab.lock:
        _logging(lab)["options"] = options
    return {}


@handles("iot", "GetV2LoggingOptions")
def get_v2_logging_options(lab, params: dict) -> dict:
    options = _logging(lab)["options"]
    if options is None:
        raise NotConfiguredException("V2 logging options are not configured for this account.")
    return dict(options)


@handles("iot", "SetV2LoggingLevel")
def set_v2_logging_level(lab, params: dict) -> dict:
    if _logging(lab)["options"] is None:
        raise NotConfiguredException("Set the v2 logging options (SetV2LoggingOptions) before setting levels.")
    target = params.get("logTarget") or {}
    target_type = target.get("targetType")
    if target_type not in LOG_TARGET_TYPES:
        raise InvalidRequestException(f"Target type {target_type!r} is not valid.")
    name = target.get("targetName")
    if target_type != "DEFAULT" and not name:
        raise InvalidRequestException(f"targetName is required for target type {target_type}.")
    if target_type == "THING_GROUP" and registry.thing_group(lab, name) is None:
        raise ResourceNotFoundException(f"Thing group {name} does not exist.")
    with lab.lock:
        _logging(lab)["levels"][(target_type, name)] = _check_level(params.get("logLevel"))
    lab.registry_changed()
    return {}


@handles("iot", "ListV2LoggingLevels")
def list_v2_logging_levels(lab, params: dict) -> dict:
    if _logging(lab)["options"] is None:
        raise NotConfiguredException("V2 logging options are not configured for this account.")
    wanted = params.get("targetType")
    rows = [
        {"logTarget": {"targetType": t, **({"targetName": n} if n else {})}, "logLevel": level}
        for (t, n), level in sorted(_logging(lab)["levels"].items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if wanted in (None, t)
    ]
    return {"logTargetConfigurations": rows}


@handles("iot", "DeleteV2LoggingLevel")
def delete_v2_logging_level(lab, params: dict) -> dict:
    key = (params.get("targetType"), params.get("targetName"))
    with lab.lock:
        _logging(lab)["levels"].pop(key, None)
    lab.registry_changed()
    return {}
