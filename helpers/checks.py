"""What the self-checks look up: the state of the world, found by what it is, not by a variable's name.

An exercise may be solved in many ways (another policy name, a certificate from a CSR, statements
split differently), so its check asks AWS IoT what matters: does *some* certificate of the thing
exist, is it ACTIVE, and would AWS IoT let it do what the exercise asks (``TestAuthorization``, the
API that answers as the broker decides)? Each check returns ``""`` when the state is there, else a
sentence saying what is missing (`helpers.selfcheck.SelfCheck` shows it as "not done yet").
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from .certs import certificate_id, read_device
from .provisioning import fetch_report, report_links, result_rows

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

# ------------------------------------------------ chapter 00: who may assume a role, and what it may do
# IAM has no lab API that answers "may this service assume the role?", so the few rules that matter
# are evaluated here, as IAM documents them: an explicit Deny wins, else one Allow must apply;
# ``*`` and ``?`` are wildcards (actions compare case-insensitively); condition keys compare
# case-insensitively, values of String/Arn operators case-sensitively (``...IgnoreCase`` aside); a
# key missing from the request fails a positive operator and satisfies a negated one (``IfExists``:
# satisfies both). An operator not understood here makes its statement not apply: never a silent grant.

IOT_SERVICE = "iot.amazonaws.com"
LOGS_GROUP = "AWSIotLogsV2"
# What AWS IoT does with the logging role: create the log group, its streams, and put the entries.
LOGGING_ACTIONS = (("logs:CreateLogGroup", "log-group:{group}"),
                   ("logs:CreateLogStream", "log-group:{group}:log-stream:example"),
                   ("logs:PutLogEvents", "log-group:{group}:log-stream:example"))
OTHER_ACCOUNTS = ("111122223333", "444455556666")  # AWS's example account ids: a stranger's account


def _listed(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _wildcard(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, str(text), flags) is not None


# Condition operators: ``test(value in the policy, value in the request)``.
_CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "StringLike": _wildcard,
    "ArnEquals": _wildcard,  # IAM matches ARNs with wildcards under both names
    "ArnLike": _wildcard,
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _condition_holds(operator: str, tests: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    name = operator[: -len("IfExists")] if if_exists else operator
    negated = name in _NEGATED
    compare = _CONDITION_TESTS.get(_NEGATED.get(name, name))
    if compare is None or not isinstance(tests, dict):
        return False  # not understood: the statement does not apply
    for key, expected in tests.items():
        actual = context.get(key.lower())
        if actual is None:
            if not (if_exists or negated):
                return False
            continue
        matched = any(compare(str(value), actual) for value in _listed(expected))
        if matched == negated:
            return False
    return True


def _names(statement: dict, element: str, value: str, *, ignore_case: bool = False) -> bool:
    """Does ``Action`` (or ``Resource``) name ``value``, or ``NotAction`` (``NotResource``) leave it out?"""
    if element in statement:
        return any(_wildcard(p, value, ignore_case=ignore_case) for p in _listed(statement[element]))
    if "Not" + element in statement:
        return not any(_wildcard(p, value, ignore_case=ignore_case) for p in _listed(statement["Not" + element]))
    return False


def _statement_applies(statement: dict, action: str, context: dict[str, str], *, principal: str | None = None,
                       resource: str | None = None) -> bool:
    if principal is not None:  # a trust policy: who may assume
        who = statement.get("Principal")
        if not (who == "*" or (isinstance(who, dict) and (principal in _listed(who.get("Service"))
                                                          or "*" in _listed(who.get("AWS"))))):
            return False
    if not _names(statement, "Action", action, ignore_case=True):
        return False
    if resource is not None and not _names(statement, "Resource", resource):
        return False
    conditions = statement.get("Condition") or {}
    return isinstance(conditions, dict) and all(_condition_holds(op, tests, context)
                                                for op, tests in conditions.items())


def _decide(documents: Iterable[Any], action: str, context: dict[str, str], **match: Any) -> bool:
    applying = [s for document in documents for s in _listed(_document(document).get("Statement"))
                if isinstance(s, dict) and _statement_applies(s, action, context, **match)]
    return not any(s.get("Effect") == "Deny" for s in applying) and any(s.get("Effect") == "Allow" for s in applying)


def _document(document: Any) -> dict:
    """A policy document as boto3 returns it (a dict), or as JSON text (URL-encoded, as IAM's wire has it)."""
    if isinstance(document, str):
        text = document.strip()
        return json.loads(text if text.startswith("{") else urllib.parse.unquote(text))
    return document or {}


def service_may_assume(trust_policy: Any, service: str, source_account: str, source_arn: str) -> bool:
    """Would this trust policy let ``service`` assume the role while acting for ``source_account``
    on behalf of ``source_arn`` (the ``aws:SourceAccount`` and ``aws:SourceArn`` of its request)?"""
    context = {"aws:sourceaccount": source_account, "aws:sourcearn": source_arn}
    return _decide([trust_policy], "sts:AssumeRole", context, principal=service)


def policies_allow(documents: Iterable[Any], action: str, resource: str) -> bool:
    """Do these permission policies (a role's inline and attached ones) allow ``action`` on ``resource``?"""
    return _decide(list(documents), action, {}, resource=resource)


def iot_may_assume(ws: Any, trust_policy: Any, account: str | None = None) -> bool:
    """May AWS IoT, acting for ``account`` (this one by default), assume a role with this trust policy?"""
    account = account or ws.account_id
    return service_may_assume(trust_policy, IOT_SERVICE, account, f"arn:aws:iot:{ws.region}:{account}:*")


def role_policies(ws: Any, role_name: str) -> list[dict]:
    """The permission policies of a role: its inline policies and the default versions of attached ones."""
    documents = []
    for page in ws.iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            documents.append(ws.iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for page in ws.iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            version = ws.iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(ws.iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
                             ["PolicyVersion"]["Document"])
    return documents


def may_write_iot_logs(ws: Any, role_name: str) -> bool:
    """May a role create the AWSIotLogsV2 log group and its streams and put log entries (what AWS IoT needs)?"""
    documents = role_policies(ws, role_name)
    base = f"arn:aws:logs:{ws.region}:{ws.account_id}:"
    return all(policies_allow(documents, action, base + resource.format(group=LOGS_GROUP))
               for action, resource in LOGGING_ACTIONS)


def strict_logging_role_problem(ws: Any, name_prefix: str) -> str:
    """Chapter 00's exercise: a role whose name starts with ``name_prefix`` that AWS IoT may assume
    for this account only (not for another account: the confused deputy), and that may write logs."""
    other = next(a for a in OTHER_ACCOUNTS if a != ws.account_id)
    roles = [r for page in ws.iam.get_paginator("list_roles").paginate() for r in page["Roles"]
             if r["RoleName"].startswith(name_prefix)]
    for_iot = [r for r in roles if iot_may_assume(ws, r["AssumeRolePolicyDocument"])]
    strict = [r["RoleName"] for r in for_iot if not iot_may_assume(ws, r["AssumeRolePolicyDocument"], other)]
    if any(may_write_iot_logs(ws, name) for name in strict):
        return ""
    if strict:
        return (f"{', '.join(strict)} lets only this account's AWS IoT assume it, but may not write to {LOGS_GROUP} "
                f"({', '.join(a for a, _ in LOGGING_ACTIONS)})")
    yours = f"whose name starts with {name_prefix!r} " if name_prefix else ""
    if for_iot:
        return (f"AWS IoT acting for any account may assume {', '.join(r['RoleName'] for r in for_iot)}: "
                f"no role {yours}limits it with aws:SourceAccount or aws:SourceArn yet")
    return f"no role {yours}lets AWS IoT assume it yet"


# ------------------------------------------------------- chapter 02: a device provisioned from a template


def provisioned_device_problem(ws: Any, thing: str, attributes: dict[str, str], topic: str) -> str:
    """Chapter 02's exercise: ``thing`` exists with ``attributes``; the certificate saved for it in the
    work folder (`save_device`) is an ACTIVE certificate of the thing that may connect as ``thing`` and
    publish to ``topic``: everything a device needs to publish as itself."""
    try:
        described = ws.iot.describe_thing(thingName=thing)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return f"{thing} does not exist yet"
        raise
    actual = described.get("attributes", {})
    wrong = {k: actual.get(k) for k, v in attributes.items() if actual.get(k) != v}
    if wrong:
        wanted = ", ".join(f"{k}={v}" for k, v in attributes.items())
        return (f"{thing} has {', '.join(f'{k}={v}' for k, v in wrong.items())}; wanted: {wanted} "
                f"(register_thing leaves an existing thing as it is: remove it and provision it again)")
    files = read_device(ws, thing)
    if files is None:
        return f"no certificate and key of {thing} are saved in the work folder (save_device)"
    saved_id = certificate_id(files.cert.read_text())
    attached = [arn for arn in certificates_of(ws, thing) if arn.rsplit("/", 1)[1] == saved_id]
    if not attached:
        return f"the certificate saved for {thing} is not attached to {thing} (an older one?)"
    saved = attached[0]
    if not is_active(ws, saved):
        return f"the certificate saved for {thing} is not ACTIVE"
    if not (allows(ws, saved, thing, "CONNECT", thing) and allows(ws, saved, thing, "PUBLISH", topic)):
        return f"no policy lets the certificate saved for {thing} connect as {thing} and publish to {topic}"
    return ""


# ------------------------------------------------------------ chapter 03: a bulk task with a broken line


def registration_task_reports(ws: Any, task_id: str) -> tuple[list[dict], list[dict]]:
    """The RESULTS and ERRORS lines of a thing registration task, parsed (each from every report link)."""
    return ([line for url in report_links(ws, task_id, "RESULTS") for line in fetch_report(url)],
            [line for url in report_links(ws, task_id, "ERRORS") for line in fetch_report(url)])


def broken_line_task_problem(ws: Any, bucket: str, good_things: list[str]) -> str:
    """Chapter 03's exercise: a completed thing registration task, with its input file in ``bucket``,
    provisioned every thing of ``good_things`` and reported at least one line in its ERRORS report."""
    task_ids: list[str] = []
    token = None
    while True:
        page = ws.iot.list_thing_registration_tasks(status="Completed", **({"nextToken": token} if token else {}))
        task_ids += page.get("taskIds", [])
        token = page.get("nextToken")
        if not token:
            break
    without_errors = False
    for task_id in task_ids:
        task = ws.iot.describe_thing_registration_task(taskId=task_id)
        if task.get("inputFileBucket") != bucket or task.get("successCount", 0) < len(good_things):
            continue
        results, errors = registration_task_reports(ws, task_id)
        if not set(good_things) <= {row["thing_name"] for row in result_rows(results)}:
            continue
        if errors:
            return ""
        without_errors = True
    names = " and ".join(good_things)
    if without_errors:
        return f"a task provisioned {names}, but no line failed: add a broken line and run a task again"
    return f"no completed registration task with its input in s3://{bucket} has provisioned {names} yet"
