"""What the self-checks look up: the state of the world, found by what it is, not by a variable's name.

An exercise may be solved in many ways (another policy name, a certificate from a CSR, statements
split differently), so its check asks AWS IoT what matters: does *some* certificate of the thing
exist, is it ACTIVE, and would AWS IoT let it do what the exercise asks (``TestAuthorization``, the
API that answers as the broker decides)? Each check returns ``""`` when the state is there, else a
sentence saying what is missing (`helpers.selfcheck.SelfCheck` shows it as "not done yet").
"""

from __future__ import annotations

from pathlib import Path
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


# ------------------------------------------------------------------- chapter 10: clean up by hand


def _still_there(ws: Any, entry: Any) -> bool:
    """Is the resource of this ledger entry still there (the same one, by its identity)?"""
    from .ledger import CERTIFICATE, IDENTITY, read_identity

    if entry.kind == CERTIFICATE:
        try:
            ws.iot.describe_certificate(certificateId=entry.name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True
    now = read_identity(entry.kind, ws.iot, entry.name)
    recorded = entry.identity.get(IDENTITY[entry.kind])
    return now is not None and (recorded is None or now.get(IDENTITY[entry.kind]) == recorded)


def by_hand_cleanup_problem(ws: Any, since: str) -> str:
    """Chapter 10's exercise: some thing, certificate and policy that the workshop's client created
    after ``since`` (ISO 8601; the ledger recorded them) are all gone again, and no local file of
    such a certificate (its certificate or its private key) is left in the work folder."""
    from .cleanup.files import local_files
    from .cleanup.survey import DERIVED_OPERATION
    from .ledger import CERTIFICATE, POLICY, THING, ledger_path, read

    made = [e for e in read(ws) if e.time > since and e.operation != DERIVED_OPERATION
            and e.kind in (THING, CERTIFICATE, POLICY)]
    missing = [kind for kind in (THING, CERTIFICATE, POLICY) if not any(e.kind == kind for e in made)]
    if missing:
        return f"the ledger has no {', '.join(missing)} made with ws.iot since the clean-up ran (step 1)"
    left = [f"{e.kind} {e.name[:12] + '…' if e.kind == CERTIFICATE else e.name}" for e in made if _still_there(ws, e)]
    if left:
        return f"still there: {', '.join(dict.fromkeys(left))} (step 3)"
    ids = {e.name for e in made if e.kind == CERTIFICATE}
    files = local_files(Path(ws.work_dir), ids, keep=[ledger_path(ws)])
    if files:
        names = ", ".join(str(path.relative_to(ws.work_dir)) for path, _, _ in files)
        return f"files of a deleted certificate are left: {names} (step 4)"
    return ""
