"""TestAuthorization: would a certificate's policies allow an MQTT action, decided as the broker decides.

The same registry look-ups (`resolve_grants`: the certificate's policies, those of the thing it is
attached to for ``clientId`` and of that thing's groups) and the same evaluator the broker uses, so
the answer is what a connection with that certificate and client id would meet. Per AWS's API: each
``authInfo`` gets ``authDecision`` (``ALLOWED``, ``EXPLICIT_DENY`` or ``IMPLICIT_DENY``) and the
policies that allowed or denied it; ``policyNamesToAdd``/``policyNamesToSkip`` change the set tried.
https://docs.aws.amazon.com/iot/latest/apireference/API_TestAuthorization.html
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from localcore.errors import InvalidRequestException, ResourceNotFoundException
from localcore.iot import cert_fields
from localcore.iot.policy import Decision, RequestContext, evaluate, parse_policy
from localcore.mqtt.authorizer import PolicyBook, attached_policies, attached_thing, policy_targets, resolve_grants
from localcore.mqtt.identity import Identity

from . import handles

# TestAuthorization's actionType → the IoT policy action it stands for.
ACTIONS = {"PUBLISH": "iot:Publish", "SUBSCRIBE": "iot:Subscribe", "RECEIVE": "iot:Receive", "CONNECT": "iot:Connect"}
DECISIONS = {Decision.ALLOW: "ALLOWED", Decision.EXPLICIT_DENY: "EXPLICIT_DENY",
             Decision.IMPLICIT_DENY: "IMPLICIT_DENY"}


def _identity(lab: Any, principal: str) -> Identity:
    certificate_id = principal.rpartition("/")[2] if ":cert/" in principal else ""
    certificate = lab.iot.certificates.get(certificate_id)
    if certificate is None:
        raise ResourceNotFoundException(f"The certificate {principal} does not exist.")
    leaf = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    return Identity(certificate_id, certificate.arn, subject=cert_fields.subject_fields(leaf),
                    issuer=cert_fields.issuer_fields(leaf), serial_number=cert_fields.serial_number(leaf))


@handles("iot", "TestAuthorization")
def authorization(lab: Any, params: dict) -> dict:
    principal = params.get("principal") or ""
    if params.get("cognitoIdentityPoolId") or ":cert/" not in principal:
        raise InvalidRequestException("The lab tests the authorization of certificates only: give "
                                      "principal as a certificate ARN.")
    identity, client_id, book = _identity(lab, principal), params.get("clientId") or "", PolicyBook()
    grants = resolve_grants(lab.iot, book, region=lab.config.region, account_id=lab.config.account_id,
                            identity=identity, client_id=client_id, source_ip=None)
    thing = attached_thing(lab.iot, principal, client_id)
    attached = attached_policies(lab.iot, policy_targets(lab.iot, principal, thing))
    named = {policy.name: book.parsed(policy.name, policy.document) for policy in attached}
    named = {name: policy for name, policy in named.items() if policy is not None}
    for name in params.get("policyNamesToSkip") or ():
        named.pop(name, None)
    for name in params.get("policyNamesToAdd") or ():
        policy = lab.iot.policies.get(name)
        if policy is None:
            raise ResourceNotFoundException(f"The policy {name} does not exist.")
        named[name] = parse_policy(policy.document)
    return {"authResults": [_result(lab, info, named, grants.context) for info in params.get("authInfos") or ()]}


def _result(lab: Any, info: dict, policies: dict[str, Any], context: RequestContext) -> dict:
    action = ACTIONS.get(info.get("actionType") or "")
    if action is None:
        raise InvalidRequestException(f"actionType must be one of {', '.join(ACTIONS)}.")
    decision, allowed, denied = Decision.ALLOW, [], []
    for resource in info.get("resources") or ():
        per_policy = {name: evaluate([policy], action, resource, context) for name, policy in policies.items()}
        allowed += [name for name, verdict in per_policy.items() if verdict is Decision.ALLOW]
        denied += [name for name, verdict in per_policy.items() if verdict is Decision.EXPLICIT_DENY]
        verdict = evaluate(policies.values(), action, resource, context)
        if verdict is not Decision.ALLOW and decision is not Decision.EXPLICIT_DENY:
            decision = verdict
    if not info.get("resources"):
        decision = Decision.IMPLICIT_DENY

    def named(names: list[str]) -> list[dict]:
        return [{"policyName": name, "policyArn": lab.arn("policy", name)} for name in dict.fromkeys(names)]

    implicit = [name for name in policies if name not in allowed and name not in denied]
    return {
        "authInfo": info,
        "allowed": {"policies": named(allowed)},
        "denied": {"implicitDeny": {"policies": named(implicit) if decision is Decision.IMPLICIT_DENY else []},
                   "explicitDeny": {"policies": named(denied)}},
        "authDecision": DECISIONS[decision],
        "missingContextValues": [],
    }
