"""May a state machine's role make this call? The lab's check for Step Functions' service tasks.

On AWS a Task state calls the service with the credentials of the state machine's role, so a step the
role's policies do not allow fails (``AccessDeniedException`` from the service, e.g. ``iot:UpdateThing``
missing when a trainee adds a firmware-version step). The lab enforces no IAM on API calls, but it
checks this one thing, because it is the mistake a trainee extending a workflow makes, and the lab
would otherwise hide it until the workshop runs on AWS.

What is checked: the **action** only (``iot:UpdateThing``), against the role's inline and managed
policies: an explicit ``Deny`` wins, then an ``Allow`` whose ``Action`` (or ``NotAction``) admits it.
Resources, conditions and permission boundaries are not evaluated (a lab simplification: a role that
allows the action on the wrong resource passes here and fails on AWS). A role the lab does not know
(a made-up ARN in a test) is not checked.

The error text follows AWS's AccessDenied message for identity-based policies [unconfirmed for
Step Functions' aws-sdk tasks; the task's error name is then ``<Service>.AccessDeniedException``].
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

# IAM's service prefix where it differs from boto3's service name
SERVICE_PREFIX = {"stepfunctions": "states", "iot-data": "iot", "iot-jobs-data": "iotjobsdata"}
# API operations whose IAM action has another name (Service Authorization Reference)
ACTION_OF = {
    ("s3", "delete_objects"): "s3:DeleteObject",
    ("s3", "list_objects_v2"): "s3:ListBucket",
    ("s3", "list_objects"): "s3:ListBucket",
    ("s3", "head_object"): "s3:GetObject",
    ("s3", "head_bucket"): "s3:ListBucket",
}


def iam_action(service: str, snake_action: str) -> str:
    """``("iot", "update_thing")`` → ``iot:UpdateThing``."""
    if (service, snake_action) in ACTION_OF:
        return ACTION_OF[(service, snake_action)]
    pascal = "".join(part[:1].upper() + part[1:] for part in snake_action.split("_"))
    return f"{SERVICE_PREFIX.get(service, service)}:{pascal}"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(patterns: Iterable[str], action: str) -> bool:
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        if re.match(regex, action, re.IGNORECASE):
            return True
    return False


def _statements(documents: Iterable[Any]) -> list[dict]:
    found = []
    for document in documents:
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                continue
        if isinstance(document, dict):
            found += [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]
    return found


def _admits(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not _matches(_as_list(statement["NotAction"]), action)
    return _matches(_as_list(statement.get("Action")), action)


def allows(documents: Iterable[Any], action: str) -> bool:
    """Do these policy documents (dicts or JSON text) allow ``action``? Deny wins; nothing allows = no."""
    statements = _statements(documents)
    if any(s.get("Effect") == "Deny" and _admits(s, action) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _admits(s, action) for s in statements)


def denied_message(role_arn: str, action: str, execution_name: str = "states") -> str:
    """AWS's AccessDenied text for an assumed role whose policies do not allow ``action``."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    role = role_arn.rsplit("/", 1)[-1]
    return (f"User: arn:aws:sts::{account}:assumed-role/{role}/{execution_name} is not authorized to perform: "
            f"{action} because no identity-based policy allows the {action} action")


__all__ = ["allows", "denied_message", "iam_action"]
