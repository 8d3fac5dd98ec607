"""What the self-checks look up: the state of the world, found by what it is, not by a variable's name.

An exercise may be solved in many ways (another policy name, a certificate from a CSR, statements
split differently), so its check asks AWS IoT what matters: does *some* certificate of the thing
exist, is it ACTIVE, and would AWS IoT let it do what the exercise asks (``TestAuthorization``, the
API that answers as the broker decides)? Each check returns ``""`` when the state is there, else a
sentence saying what is missing (`helpers.selfcheck.SelfCheck` shows it as "not done yet").
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# TestAuthorization's action types and the resource kind each applies to.
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


def button_policy_problem(ws: Any, button: str, own_topic: str, other_topic: str) -> str:
    """Chapter 01's exercise: some ACTIVE certificate of ``button`` may connect as ``button`` and
    publish to ``own_topic``, and may not publish to ``other_topic`` nor connect as another client."""
    certificates = certificates_of(ws, button)
    if not certificates:
        return f"{button} does not exist yet, or has no certificate attached"
    active = [arn for arn in certificates if is_active(ws, arn)]
    if not active:
        return f"no certificate of {button} is ACTIVE"
    for arn in active:
        if (allows(ws, arn, button, "CONNECT", button) and allows(ws, arn, button, "PUBLISH", own_topic)
                and not allows(ws, arn, button, "PUBLISH", other_topic)
                and not allows(ws, arn, f"{button}-impostor", "CONNECT", f"{button}-impostor")):
            return ""
    return (f"no certificate of {button} has policies that allow connecting as {button} and publishing to "
            f"{own_topic} while refusing {other_topic} and other client ids")
