"""Chapter 00: who may assume a role, and what its policies allow (IAM's rules, as IAM documents them)."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Callable, Iterable


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
