"""Chapters 04 and 05: devices of your own CA, provisioned just in time (JITP), or refused and then registered (JITR)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.x509.oid import NameOID

from ..logs import all_events
from . import certificates_of, policies_of


def subject_field(certificate_pem: str, oid: Any = NameOID.COMMON_NAME) -> str:
    """The first value of a subject field (the common name by default) of a PEM certificate, or ""."""
    subject = x509.load_pem_x509_certificate(certificate_pem.encode()).subject
    values = subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def certificates_of_ca(ws: Any, ca_id: str, common_name: str) -> list[dict]:
    """``describe_certificate`` of each certificate that the CA ``ca_id`` signed for ``common_name``
    (its subject's CN), oldest first: what AWS IoT registered when that device connected."""
    found = []
    for page in ws.iot.get_paginator("list_certificates_by_ca").paginate(caCertificateId=ca_id):
        for listed in page.get("certificates", []):
            described = ws.iot.describe_certificate(certificateId=listed["certificateId"])["certificateDescription"]
            if subject_field(described["certificatePem"]) == common_name:
                found.append(described)
    return sorted(found, key=lambda d: d["creationDate"])


def jitp_device_problem(ws: Any, thing: str, ca_id: str, country: str, group: str) -> str:
    """Chapter 04's exercise: JITP made ``thing`` from a certificate the CA ``ca_id`` signed: the thing
    has the attribute Country = ``country`` and is in ``group``; an ACTIVE certificate of that CA,
    with a policy, is attached to it."""
    try:
        attributes = ws.iot.describe_thing(thingName=thing).get("attributes", {})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return f"{thing} does not exist yet: connect its device (a certificate your CA signed) to provision it"
    if attributes.get("Country") != country:
        return f"{thing} has Country = {attributes.get('Country') or '(none)'}, not {country}"
    groups = [g["groupName"] for g in ws.iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]]
    if group not in groups:
        return f"{thing} is not in the thing group {group}"
    for arn in certificates_of(ws, thing):
        described = ws.iot.describe_certificate(certificateId=arn.rsplit("/", 1)[1])["certificateDescription"]
        if described.get("caCertificateId") == ca_id and described["status"] == "ACTIVE" and policies_of(ws, arn):
            return ""
    return f"no ACTIVE certificate signed by your CA, with a policy, is attached to {thing}"


LOG_GROUP_V2 = "AWSIotLogsV2"  # where AWS IoT writes its own log entries (v2 logging)


def _log_events(ws: Any, group: str, since_ms: int, pattern: str = "") -> list[dict]:
    """Every event of the log group since ``since_ms`` (matching ``pattern``); none when the group does not exist."""
    request = {"logGroupName": group, "startTime": since_ms, **({"filterPattern": pattern} if pattern else {})}
    try:
        return all_events(ws.logs.filter_log_events, **request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return []


def lambda_action_failures(ws: Any, rule: str, since_ms: int) -> list[tuple[int, str | None]]:
    """When the rule's Lambda action failed since ``since_ms``, and for which certificate if that is
    known: ``[(ms, certificate id or None)]``, oldest first. The messages of the rule's CloudWatch
    Logs error action, if it has one, name it (they carry the announcement); AWS IoT's own entries
    (RuleExecution failures in AWSIotLogsV2) do not, unless an error-action message has their trace id."""
    named: dict[str, tuple[int, str | None]] = {}
    error_action = ws.iot.get_topic_rule(ruleName=rule)["rule"].get("errorAction") or {}
    group = (error_action.get("cloudwatchLogs") or {}).get("logGroupName")
    for event in _log_events(ws, group, since_ms) if group else []:
        try:
            error = json.loads(event["message"])
            announced = json.loads(base64.b64decode(error.get("base64OriginalPayload", ""))).get("certificateId")
        except (ValueError, TypeError, AttributeError):
            continue
        if any(f.get("failedAction") == "LambdaAction" for f in error.get("failures", [])):
            named[error.get("cloudwatchTraceId") or f"event-{len(named)}"] = (event["timestamp"], announced)
    pattern = f'{{ $.eventType = "RuleExecution" && $.ruleName = "{rule}" && $.status = "Failure" }}'
    unnamed = [(event["timestamp"], None) for event in _log_events(ws, LOG_GROUP_V2, since_ms, pattern)
               if (entry := json.loads(event["message"])).get("ruleAction") == "LambdaAction"
               and entry.get("traceId") not in named]
    return sorted([*named.values(), *unnamed], key=lambda failure: failure[0])


# creationDate and log timestamps come from different clocks (the lab's, CloudWatch's): seconds apart at most
CLOCK_SLACK_MS = 2000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _refused(ws: Any, ca_id: str, device: str, rule: str) -> tuple[list[dict], list[dict]]:
    """``(certificates of device, those of them the rule failed for)``: a failure counts for a
    certificate when it names it, or names none and came after the certificate was registered."""
    certificates = certificates_of_ca(ws, ca_id, device)
    if not certificates:
        return [], []
    failures = lambda_action_failures(ws, rule, _ms(certificates[0]["creationDate"]) - CLOCK_SLACK_MS)
    refused = [c for c in certificates if any(
        named == c["certificateId"] or (named is None and ms >= _ms(c["creationDate"]) - CLOCK_SLACK_MS)
        for ms, named in failures)]
    return certificates, refused


def jitr_refused_problem(ws: Any, ca_id: str, device: str, rule: str) -> str:
    """Chapter 05's exercise, first half: ``device`` (a certificate the CA signed, CN = ``device``)
    connected while the rule could not invoke its Lambda function, and a log says so."""
    certificates, refused = _refused(ws, ca_id, device, rule)
    if not certificates:
        return f"no certificate of {device} signed by your CA has connected yet"
    if not refused:
        return (f"no log says the rule {rule} failed to invoke its function since {device} first connected: "
                "remove the permission, then connect the device (on AWS, log entries take a minute or two)")
    return ""


def jitr_recovered_problem(ws: Any, ca_id: str, device: str, rule: str) -> str:
    """Chapter 05's exercise, second half: a certificate of ``device`` that the rule failed for is
    ACTIVE now, attached to a thing, with a policy: provisioned once the permission was back."""
    _certificates, refused = _refused(ws, ca_id, device, rule)
    if not refused:
        return f"first connect {device} while AWS IoT may not invoke the function"
    for described in refused:
        arn = described["certificateArn"]
        if described["status"] == "ACTIVE" and ws.iot.list_principal_things(principal=arn).get("things") \
                and policies_of(ws, arn):
            return ""
    statuses = ", ".join(sorted({c["status"] for c in refused}))
    return (f"the certificate {device} connected with while the permission was missing is {statuses}, not "
            "provisioned yet: add the permission again and connect the same device once more")
