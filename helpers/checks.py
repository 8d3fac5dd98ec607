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


# -- chapter 07: fleet indexing ------------------------------------------------------------------------

def search_all(ws: Any, query: str, index: str = "AWS_Things") -> list[dict]:
    """Every document of ``index`` that matches ``query`` (all pages of SearchIndex)."""
    things, token = [], None
    while True:
        page = ws.iot.search_index(indexName=index, queryString=query, maxResults=100,
                                   **({"nextToken": token} if token else {}))
        things += page.get("things", [])
        token = page.get("nextToken")
        if not token:
            return things


def groups_of(ws: Any, thing: str) -> list[str]:
    """The names of the thing groups ``thing`` is in directly ([] when the thing does not exist)."""
    try:
        return [g["groupName"] for page in ws.iot.get_paginator("list_thing_groups_for_thing").paginate(thingName=thing)
                for g in page.get("thingGroups", [])]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise


def things_in(ws: Any, group: str) -> set[str]:
    """The things directly in ``group``."""
    return {name for page in ws.iot.get_paginator("list_things_in_thing_group").paginate(thingGroupName=group)
            for name in page.get("things", [])}


def group_of_exactly_problem(ws: Any, wanted: Any, what: str) -> str:
    """Chapter 07's first exercise: some thing group holds exactly the things ``wanted`` (``what``
    says what they are: "rooms from 18 to 22 °C"), whatever the group is called."""
    wanted = set(wanted)
    if not wanted:
        return f"none of your devices is among the {what}: nothing to put in a group (another seed gives some)"
    closest = None  # (how far off, group, missing, extra)
    for group in groups_of(ws, min(wanted)):  # a group that holds them all holds this one
        held = things_in(ws, group)
        if held == wanted:
            return ""
        missing, extra = wanted - held, held - wanted
        if closest is None or len(missing) + len(extra) < closest[0]:
            closest = (len(missing) + len(extra), group, missing, extra)
    if closest is None:
        return f"no thing group holds the {len(wanted)} {what} yet"
    _, group, missing, extra = closest
    wrong = ([f"lacks {len(missing)} of them ({_some(missing)})"] if missing else []) + \
            ([f"also holds {len(extra)} other thing(s) ({_some(extra)})"] if extra else [])
    return f"no thing group holds exactly the {len(wanted)} {what} yet (closest: {group}, which " + " and ".join(wrong) + ")"


def _some(names: Any, shown: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def seen_online_problem(ws: Any, query: str, at_least: int) -> str:
    """Chapter 07's second exercise: at least ``at_least`` of the things ``query`` matches have
    connected since connectivity was indexed (their document has ``connectivity`` with a timestamp)."""
    found = search_all(ws, query)
    seen = [t["thingName"] for t in found if (t.get("connectivity") or {}).get("timestamp") is not None]
    if len(seen) >= at_least:
        return ""
    return (f"the index has seen {len(seen)} of the {len(found)} things of {query} connect"
            f"{' (' + _some(seen) + ')' if seen else ''}; connect {at_least} of them")


# -- chapter 08: thing groups --------------------------------------------------------------------------

def ancestors(ws: Any, group: str) -> list[str]:
    """The groups above ``group``, from the root down to its parent."""
    metadata = ws.iot.describe_thing_group(thingGroupName=group)["thingGroupMetadata"]
    return [g["groupName"] for g in metadata.get("rootToParentThingGroups") or []]


def policies_on(ws: Any, target: str) -> list[str]:
    """The names of the policies attached to ``target`` (a certificate or thing group ARN)."""
    return [p["policyName"] for page in ws.iot.get_paginator("list_attached_policies").paginate(target=target)
            for p in page.get("policies", [])]


def child_group_member_problem(ws: Any, thing: str, parent: str, topic: str) -> str:
    """Chapter 08's exercise: ``thing`` is in a group below ``parent`` (not in ``parent`` itself), and
    some ACTIVE certificate of it, with no policy of its own, may connect as ``thing`` and publish to
    ``topic``: the policy of ``parent`` allows it, inherited."""
    certificates = certificates_of(ws, thing)
    if not certificates:
        return f"{thing} does not exist yet, or has no certificate attached"
    active = [arn for arn in certificates if is_active(ws, arn)]
    if not active:
        return f"no certificate of {thing} is ACTIVE"
    groups = groups_of(ws, thing)
    if parent in groups:
        return f"{thing} is in {parent} itself; the exercise puts it in a group below {parent} only"
    below = [group for group in groups if parent in ancestors(ws, group)]
    if not below:
        return f"{thing} is in no group below {parent}" + (f" (it is in {', '.join(groups)})" if groups else "")
    bare = [arn for arn in active if not policies_on(ws, arn)]
    if not bare:
        return f"every ACTIVE certificate of {thing} has a policy of its own; the exercise gives it none"
    for arn in bare:
        if allows(ws, arn, thing, "CONNECT", thing) and allows(ws, arn, thing, "PUBLISH", topic):
            return ""
    return (f"{thing} is in {', '.join(below)}, but the policies of its groups do not let it connect as "
            f"{thing} and publish to {topic}")


# -- chapter 09: fine-grained logging ------------------------------------------------------------------

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
    from .logs import all_events, parse_entry

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
