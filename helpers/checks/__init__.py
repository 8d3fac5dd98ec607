"""What the self-checks look up: the state of the world, found by what it is, not by a variable's name.

An exercise may be solved in many ways (another policy name, a certificate from a CSR, statements
split differently), so its check asks AWS what matters: does *some* certificate of the thing exist,
is it ACTIVE, and would AWS IoT let it do what the exercise asks (``TestAuthorization``, the API that
answers as the broker decides)? Each ``..._problem`` check returns ``""`` when the state is there,
else a sentence saying what is missing (`helpers.selfcheck.SelfCheck` shows it as "not done yet").

This module holds the look-ups every chapter shares; the chapters' own checks live in the modules
below, one per subject, and are imported here so that a self-check writes
``from helpers.checks import button_policy_problem``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


RESOURCE_KINDS = {"CONNECT": "client", "PUBLISH": "topic", "SUBSCRIBE": "topicfilter", "RECEIVE": "topic"}


def certificates_of(ws: Any, thing: str) -> list[str]:
    """ARNs of the certificates attached to ``thing`` ([] when the thing does not exist)."""
    try:
        principals = ws.iot.list_thing_principals(thingName=thing)["principals"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
    return [p for p in principals if ":cert/" in p]


def is_active(ws: Any, certificate_arn: str) -> bool:
    described = ws.iot.describe_certificate(certificateId=certificate_arn.rsplit("/", 1)[1])
    return described["certificateDescription"]["status"] == "ACTIVE"


def decision(ws: Any, certificate_arn: str, client_id: str, action: str, name: str) -> str:
    """``ALLOWED``, ``EXPLICIT_DENY`` or ``IMPLICIT_DENY``: what AWS IoT would decide for a connection
    with this certificate and client id doing ``action`` (CONNECT, PUBLISH, ...) on ``name``."""
    resource = f"arn:aws:iot:{ws.region}:{ws.account_id}:{RESOURCE_KINDS[action]}/{name}"
    answer = ws.iot.test_authorization(principal=certificate_arn, clientId=client_id,
                                       authInfos=[{"actionType": action, "resources": [resource]}])
    return answer["authResults"][0]["authDecision"]


def allows(ws: Any, certificate_arn: str, client_id: str, action: str, name: str) -> bool:
    return decision(ws, certificate_arn, client_id, action, name) == "ALLOWED"


def policies_of(ws: Any, target: str) -> list[str]:
    """The names of the policies attached to ``target`` (a certificate or thing group ARN)."""
    return [p["policyName"] for page in ws.iot.get_paginator("list_attached_policies").paginate(target=target)
            for p in page.get("policies", [])]


policies_on = policies_of  # the name chapter 08's self-check uses

from .bots import bot_problem, doomed_run_problem, firmware_problem, gone_problem  # noqa: E402
from .bulk import broken_line_task_problem, registration_task_reports  # noqa: E402
from .ca import (certificates_of_ca, jitp_device_problem, jitr_recovered_problem,  # noqa: E402
                 jitr_refused_problem, lambda_action_failures, subject_field)
from .cleanup import by_hand_cleanup_problem  # noqa: E402
from .devices import button_policy_problem, provisioned_device_problem  # noqa: E402
from .fleet import group_of_exactly_problem, groups_of, own_things, search_all, seen_online_problem, things_in  # noqa: E402
from .groups import ancestors, child_group_member_problem  # noqa: E402
from .iam import (iot_may_assume, may_write_iot_logs, policies_allow, role_policies,  # noqa: E402
                  service_may_assume, strict_logging_role_problem)
from .jobs import failed_job_problem  # noqa: E402
from .log_levels import logged_successes, own_log_levels, watched_device_problem  # noqa: E402

__all__ = [
    "RESOURCE_KINDS", "certificates_of", "is_active", "decision", "allows", "policies_of", "policies_on",
    "by_hand_cleanup_problem",
    "broken_line_task_problem", "registration_task_reports",
    "certificates_of_ca", "jitp_device_problem", "jitr_recovered_problem", "jitr_refused_problem",
    "lambda_action_failures", "subject_field",
    "button_policy_problem", "provisioned_device_problem",
    "group_of_exactly_problem", "groups_of", "own_things", "search_all", "seen_online_problem", "things_in",
    "ancestors", "child_group_member_problem",
    "iot_may_assume", "may_write_iot_logs", "policies_allow", "role_policies", "service_may_assume",
    "strict_logging_role_problem",
    "failed_job_problem",
    "logged_successes", "own_log_levels", "watched_device_problem",
]
