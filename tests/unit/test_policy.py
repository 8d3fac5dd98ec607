"""The IoT policy evaluator: document validation, matching, variables, conditions, workshop policies."""

from __future__ import annotations

import json

import pytest

from localcore.errors import MalformedPolicyException
from localcore.iot import policy as policy_module
from localcore.iot.policy import Decision, RequestContext, arn, evaluate, parse_policy

REGION, ACCOUNT = "eu-west-1", "123456789012"
PREFIX = f"arn:aws:iot:{REGION}:{ACCOUNT}:"
ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource, **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ctx(**fields) -> RequestContext:
    return RequestContext(region=REGION, account_id=ACCOUNT, **fields)


def decide(documents, action: str, kind: str, name: str, context: RequestContext | None = None) -> Decision:
    policies = [parse_policy(d) for d in documents]
    return evaluate(policies, action, arn(REGION, ACCOUNT, kind, name), context or ctx(client_id="dev-1"))


ALLOW_ALL = doc(allow("iot:*", "*"))
ATTACHED = dict(client_id="lamp-1", thing_name="lamp-1", is_attached=True)


# --- explicit deny wins ------------------------------------------------------------------------

DENY_WINS = [
    pytest.param([doc(allow("iot:*", "*"), deny("iot:Publish", PREFIX + "topic/secret"))],
                 "iot:Publish", "topic", "secret", DENY, id="deny-beats-allow-in-same-policy"),
    pytest.param([doc(allow("iot:*", "*"), deny("iot:Publish", PREFIX + "topic/secret"))],
                 "iot:Publish", "topic", "public", ALLOW, id="deny-elsewhere-leaves-allow"),
    pytest.param([doc(deny("iot:Publish", PREFIX + "topic/secret"), allow("iot:*", "*"))],
                 "iot:Publish", "topic", "secret", DENY, id="statement-order-irrelevant"),
    pytest.param([ALLOW_ALL, doc(deny("iot:*", "*"))],
                 "iot:Connect", "client", "dev-1", DENY, id="deny-in-another-policy"),
    pytest.param([doc(allow("iot:Publish", PREFIX + "topic/a"), deny("iot:Pub*", PREFIX + "topic/*"))],
                 "iot:Publish", "topic", "a", DENY, id="wildcard-deny-beats-exact-allow"),
    pytest.param([doc(allow("iot:Receive", PREFIX + "topic/a/*"),
                      {"Effect": "Deny", "Action": "iot:Receive", "NotResource": PREFIX + "topic/a/public/*"})],
                 "iot:Receive", "topic", "a/restricted/x", DENY, id="deny-notresource-hits-outside"),
    pytest.param([doc(allow("iot:Receive", PREFIX + "topic/a/*"),
                      {"Effect": "Deny", "Action": "iot:Receive", "NotResource": PREFIX + "topic/a/public/*"})],
                 "iot:Receive", "topic", "a/public/x", ALLOW, id="deny-notresource-spares-inside"),
]


@pytest.mark.parametrize("documents, action, kind, name, expected", DENY_WINS)
def test_explicit_deny_wins(documents, action, kind, name, expected):
    assert decide(documents, action, kind, name) is expected


# --- implicit deny -----------------------------------------------------------------------------

IMPLICIT_DENIES = [
    pytest.param([], "iot:Connect", "client", "dev-1", id="no-policies"),
    pytest.param([doc(allow("iot:Connect", "*"))], "iot:Publish", "topic", "a", id="other-action"),
    pytest.param([doc(allow("iot:Publish", PREFIX + "topic/a"))], "iot:Publish", "topic", "b", id="other-topic"),
    pytest.param([doc(allow("iot:Publish", f"arn:aws:iot:us-east-1:{ACCOUNT}:topic/a"))],
                 "iot:Publish", "topic", "a", id="other-region"),
    pytest.param([doc(allow("iot:Publish", f"arn:aws:iot:{REGION}:999999999999:topic/a"))],
                 "iot:Publish", "topic", "a", id="other-account"),
    pytest.param([doc({"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"})],
                 "iot:Publish", "topic", "a", id="notaction-excludes"),
    pytest.param([doc({"Effect": "Allow", "Action": "iot:Publish", "NotResource": PREFIX + "topic/a"})],
                 "iot:Publish", "topic", "a", id="notresource-excludes"),
]


@pytest.mark.parametrize("documents, action, kind, name", IMPLICIT_DENIES)
def test_nothing_matching_is_an_implicit_deny(documents, action, kind, name):
    assert decide(documents, action, kind, name) is IMPLICIT


@pytest.mark.parametrize("decision, allowed", [(ALLOW, True), (DENY, False), (IMPLICIT, False)],
                         ids=lambda v: v.name if isinstance(v, Decision) else str(v))
def test_decision_allowed_property(decision, allowed):
    assert decision.allowed is allowed


def test_notaction_allows_the_other_actions():
    documents = [doc({"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"})]
    assert decide(documents, "iot:Subscribe", "topicfilter", "a") is ALLOW


# --- action wildcards and case -----------------------------------------------------------------

ACTIONS = [
    pytest.param("iot:*", "iot:Publish", True, id="iot-star-publish"),
    pytest.param("iot:*", "iot:GetThingShadow", True, id="iot-star-shadow"),
    pytest.param("*", "iot:Connect", True, id="bare-star"),
    pytest.param("iot:Pub*", "iot:Publish", True, id="prefix-star-match"),
    pytest.param("iot:Pub*", "iot:Subscribe", False, id="prefix-star-miss"),
    pytest.param("iot:?eceive", "iot:Receive", True, id="question-mark"),
    pytest.param("iot:*ThingShadow", "iot:DeleteThingShadow", True, id="suffix-star-shadow"),
    pytest.param("iot:*ThingShadow", "iot:Publish", False, id="suffix-star-miss"),
    pytest.param("iot:Publish", "iot:RetainPublish", False, id="exact-is-whole-name"),
    pytest.param("IOT:publish", "iot:Publish", True, id="policy-case-insensitive"),
    pytest.param("iot:Publish", "iot:PUBLISH", True, id="request-case-insensitive"),
    pytest.param(["iot:Connect", "iot:Subscribe"], "iot:Subscribe", True, id="list-of-actions"),
]


@pytest.mark.parametrize("policy_action, action, allowed", ACTIONS)
def test_action_patterns(policy_action, action, allowed):
    assert decide([doc(allow(policy_action, "*"))], action, "topic", "a").allowed is allowed


# --- resource wildcards ------------------------------------------------------------------------

RESOURCES = [
    pytest.param("*", "topic", "any/thing/at/all", True, id="star-alone"),
    pytest.param(PREFIX + "topic/a/*", "topic", "a/b/c", True, id="star-crosses-slashes"),
    pytest.param(PREFIX + "topic/a/*", "topic", "a", False, id="star-needs-the-prefix"),
    pytest.param(PREFIX + "topic/a/*/c", "topic", "a/b/x/c", True, id="star-in-the-middle"),
    pytest.param(PREFIX + "topic/a/?", "topic", "a/b", True, id="question-one-char"),
    pytest.param(PREFIX + "topic/a/?", "topic", "a/bc", False, id="question-not-two"),
    pytest.param(PREFIX + "client/dev-??", "client", "dev-1", False, id="two-questions-need-two"),
    pytest.param(f"arn:aws:iot:*:{ACCOUNT}:topic/a", "topic", "a", True, id="star-in-region"),
    pytest.param(PREFIX + "topic/A", "topic", "a", False, id="case-sensitive"),
    pytest.param(PREFIX + "topic/a.b", "topic", "aXb", False, id="dot-is-literal"),
    pytest.param(PREFIX + "topic/a(b)|c", "topic", "a(b)|c", True, id="regex-chars-literal"),
    pytest.param(PREFIX + "topic/$aws/things/t1/shadow/*", "topic", "$aws/things/t1/shadow/get", True,
                 id="dollar-literal"),
]


@pytest.mark.parametrize("resource, kind, name, allowed", RESOURCES)
def test_resource_wildcards(resource, kind, name, allowed):
    action = "iot:Connect" if kind == "client" else "iot:Publish"
    assert decide([doc(allow(action, resource))], action, kind, name).allowed is allowed


# --- topic versus topicfilter ------------------------------------------------------------------

TOPIC_KINDS = [
    pytest.param(PREFIX + "topicfilter/a/b", "iot:Subscribe", "topicfilter", True, id="subscribe-topicfilter"),
    pytest.param(PREFIX + "topic/a/b", "iot:Subscribe", "topicfilter", False, id="topic-arn-no-subscribe"),
    pytest.param(PREFIX + "topicfilter/a/b", "iot:Publish", "topic", False, id="topicfilter-arn-no-publish"),
    pytest.param(PREFIX + "topic/*", "iot:Subscribe", "topicfilter", False, id="topic-star-not-topicfilter"),
    pytest.param(PREFIX + "topic*", "iot:Subscribe", "topicfilter", True, id="topic-prefix-star-covers-both"),
]


@pytest.mark.parametrize("resource, action, kind, allowed", TOPIC_KINDS)
def test_topic_and_topicfilter_are_different_resources(resource, action, kind, allowed):
    assert decide([doc(allow(action, resource))], action, kind, "a/b").allowed is allowed


# --- MQTT wildcards are literal in policies ----------------------------------------------------

MQTT_LITERAL = [
    pytest.param("topicfilter/a/+", "a/+", True, id="plus-matches-plus"),
    pytest.param("topicfilter/a/+", "a/b", False, id="plus-not-a-level-wildcard"),
    pytest.param("topicfilter/a/#", "a/#", True, id="hash-matches-hash"),
    pytest.param("topicfilter/a/#", "a/b/c", False, id="hash-not-multi-level"),
    pytest.param("topicfilter/a/*", "a/#", True, id="star-allows-hash-filter"),
    pytest.param("topicfilter/a/*", "a/+/c", True, id="star-allows-plus-filter"),
]


@pytest.mark.parametrize("resource, topic_filter, allowed", MQTT_LITERAL)
def test_mqtt_wildcards_are_literal(resource, topic_filter, allowed):
    documents = [doc(allow("iot:Subscribe", PREFIX + resource))]
    assert decide(documents, "iot:Subscribe", "topicfilter", topic_filter).allowed is allowed


def test_deny_on_topicfilter_does_not_stop_a_broader_hash_subscription():
    documents = [doc(allow("iot:Subscribe", PREFIX + "topicfilter/a/*"),
                     deny("iot:Subscribe", PREFIX + "topicfilter/a/restricted/*"))]
    assert decide(documents, "iot:Subscribe", "topicfilter", "a/#") is ALLOW
    assert decide(documents, "iot:Subscribe", "topicfilter", "a/restricted/#") is DENY


def test_plus_in_publish_resource_does_not_match_a_level():
    assert decide([doc(allow("iot:Publish", PREFIX + "topic/a/+"))], "iot:Publish", "topic", "a/b") is IMPLICIT


# --- policy variables --------------------------------------------------------------------------

CERT = {"CommonName": "lamp-1", "Country": "DE", "Organization": "Acme", "OrganizationalUnit": ["Ops", "Lab"],
        "AlternativeName.DNSName": "lamp-1.example.com"}
FULL = ctx(**ATTACHED, thing_type_name="lamp", thing_attributes={"building": "one"},
           certificate_id="ab" * 32, certificate_subject=CERT, certificate_issuer={"CommonName": "Acme CA"},
           certificate_serial_number="1234", source_ip="10.0.0.7")

VARIABLES = [
    pytest.param("${iot:ClientId}", FULL, "lamp-1", True, id="client-id"),
    pytest.param("${iot:ClientId}", ctx(), "lamp-1", False, id="client-id-missing"),
    pytest.param("${iot:Connection.Thing.ThingName}", FULL, "lamp-1", True, id="thing-name"),
    pytest.param("${iot:Connection.Thing.ThingName}", ctx(client_id="lamp-1", thing_name="lamp-1"), "lamp-1",
                 False, id="thing-name-not-attached"),
    pytest.param("${iot:Connection.Thing.ThingName}", ctx(client_id="lamp-1", is_attached=True), "lamp-1",
                 False, id="thing-name-no-thing"),
    pytest.param("${iot:Connection.Thing.ThingTypeName}", FULL, "lamp", True, id="thing-type"),
    pytest.param("${iot:Connection.Thing.ThingTypeName}", ctx(**ATTACHED), "lamp", False, id="thing-type-none"),
    pytest.param("${iot:Connection.Thing.Attributes[building]}", FULL, "one", True, id="attribute"),
    pytest.param("${iot:Connection.Thing.Attributes[floor]}", FULL, "one", False, id="attribute-missing"),
    pytest.param("${iot:Connection.Thing.Attributes[building]}",
                 ctx(client_id="lamp-1", thing_name="lamp-1", thing_attributes={"building": "one"}), "one",
                 False, id="attribute-not-attached"),
    pytest.param("${iot:Connection.Thing.IsAttached}", FULL, "true", True, id="is-attached-true"),
    pytest.param("${iot:Connection.Thing.IsAttached}", ctx(), "false", True, id="is-attached-false"),
    pytest.param("${iot:Certificate.Subject.CommonName}", FULL, "lamp-1", True, id="subject-cn"),
    pytest.param("${iot:Certificate.Subject.CommonName}", ctx(), "lamp-1", False, id="subject-cn-missing"),
    pytest.param("${iot:Certificate.Subject.Country}", FULL, "DE", True, id="subject-country"),
    pytest.param("${iot:Certificate.Subject.Organization}", FULL, "Acme", True, id="subject-org"),
    pytest.param("${iot:Certificate.Subject.OrganizationalUnit}", FULL, "Ops", True, id="multi-value-first"),
    pytest.param("${iot:Certificate.Subject.OrganizationalUnit.1}", FULL, "Lab", True, id="index-one-is-second"),
    pytest.param("${iot:Certificate.Subject.OrganizationalUnit.2}", FULL, "Lab", False, id="index-past-end"),
    pytest.param("${iot:Certificate.Subject.AlternativeName.DNSName}", FULL, "lamp-1.example.com", True,
                 id="subject-alt-dns"),
    pytest.param("${iot:Certificate.Issuer.CommonName}", FULL, "Acme CA", True, id="issuer-cn"),
    pytest.param("${iot:Certificate.SerialNumber}", FULL, "1234", True, id="cert-serial"),
    pytest.param("${iot:CertificateId}", FULL, "ab" * 32, True, id="certificate-id"),
    pytest.param("${iot:CertificateId}", ctx(), "ab" * 32, False, id="certificate-id-missing"),
    pytest.param("${iot:Certificate.Subject.CommonName}", ctx(certificate_subject={"CommonName": "la*"}),
                 "la*", False, id="cert-value-with-wildcard-not-substituted"),
    pytest.param("${iot:Certificate.Subject.CommonName}", ctx(certificate_subject={"CommonName": "x" * 1025}),
                 "x" * 1025, False, id="cert-value-too-long"),
    pytest.param("${iot:Certificate.Subject.OrganizationalUnit.5}",
                 ctx(certificate_subject={"OrganizationalUnit": list("abcdef")}), "f", False,
                 id="cert-array-cut-at-five"),
    pytest.param("${iot:DomainName}", FULL, "${iot:DomainName}", False, id="unknown-variable"),
    pytest.param("${*}", ctx(), "*", True, id="fixed-star-is-literal"),
    pytest.param("${*}", ctx(), "b", False, id="fixed-star-not-wildcard"),
    pytest.param("${?}${$}", ctx(), "?$", True, id="fixed-question-and-dollar"),
    pytest.param("${iot:ClientId}", ctx(client_id="*"), "anything", False, id="substituted-star-is-literal"),
]


@pytest.mark.parametrize("variable, context, topic_tail, allowed", VARIABLES)
def test_policy_variables(variable, context, topic_tail, allowed):
    documents = [doc(allow("iot:Publish", PREFIX + "topic/t/" + variable))]
    assert decide(documents, "iot:Publish", "topic", "t/" + topic_tail, context).allowed is allowed


@pytest.mark.parametrize("client_id, topic, allowed", [
    pytest.param("lamp-1", "lamp-1/a/b", True, id="own-prefix"),
    pytest.param("lamp-1", "lamp-2/a", False, id="other-prefix"),
    pytest.param("*", "*/a", True, id="star-client-literal-prefix"),
    pytest.param("*", "lamp-2/a", False, id="star-client-is-no-wildcard"),
    pytest.param("a.b", "aXb/c", False, id="dot-client-is-no-regex"),
])
def test_variable_inside_a_wildcard_pattern(client_id, topic, allowed):
    documents = [doc(allow("iot:Publish", PREFIX + "topic/${iot:ClientId}/*"))]
    assert decide(documents, "iot:Publish", "topic", topic, ctx(client_id=client_id)).allowed is allowed


def test_client_id_plus_opens_a_plus_subscription():
    """The pitfall AWS documents: a client named '+' may subscribe to my/+/topic."""
    documents = [doc(allow("iot:Subscribe", PREFIX + "topicfilter/my/${iot:ClientId}/topic"))]
    assert decide(documents, "iot:Subscribe", "topicfilter", "my/+/topic", ctx(client_id="+")) is ALLOW


UNRESOLVED_IN_STATEMENTS = [
    pytest.param([doc(allow("iot:*", "*"), deny("iot:Publish", PREFIX + "topic/${iot:Connection.Thing.ThingName}"))],
                 ALLOW, id="deny-with-unresolved-resource-ignored"),
    pytest.param([doc({"Effect": "Allow", "Action": "iot:Publish",
                       "NotResource": PREFIX + "topic/${iot:Connection.Thing.ThingName}"})],
                 IMPLICIT, id="allow-notresource-unresolved-does-not-apply"),
    pytest.param([doc(allow("iot:*", "*"), {"Effect": "Deny", "Action": "iot:Publish",
                                             "NotResource": PREFIX + "topic/${iot:Connection.Thing.ThingName}"})],
                 DENY, id="deny-notresource-unresolved-still-denies"),
]


@pytest.mark.parametrize("documents, expected", UNRESOLVED_IN_STATEMENTS)
def test_unresolved_variables_fail_closed(documents, expected):
    assert decide(documents, "iot:Publish", "topic", "x", ctx(client_id="x")) is expected


def test_unresolved_deny_switch(monkeypatch):
    monkeypatch.setattr(policy_module, "DENY_IGNORES_UNRESOLVED_RESOURCE", False)
    documents = [doc(allow("iot:*", "*"), deny("iot:Publish", PREFIX + "topic/${iot:Connection.Thing.ThingName}"))]
    assert decide(documents, "iot:Publish", "topic", "x", ctx(client_id="x")) is DENY


# --- conditions --------------------------------------------------------------------------------

NOT_ATTACHED = ctx(client_id="lamp-1", thing_name="lamp-1", source_ip="192.0.2.1")

CONDITIONS = [
    pytest.param({"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}}, FULL, True, id="bool-attached"),
    pytest.param({"Bool": {"iot:Connection.Thing.IsAttached": "true"}}, NOT_ATTACHED, False, id="bool-not-attached"),
    pytest.param({"Bool": {"iot:Connection.Thing.IsAttached": True}}, FULL, True, id="bool-json-true"),
    pytest.param({"StringEquals": {"iot:Connection.Thing.Attributes[building]": "one",
                                   "iot:Connection.Thing.ThingTypeName": "lamp"}}, FULL, True,
                 id="string-equals-all-keys"),
    pytest.param({"StringEquals": {"iot:Connection.Thing.Attributes[building]": "one",
                                   "iot:Connection.Thing.ThingTypeName": "fan"}}, FULL, False, id="keys-are-and"),
    pytest.param({"StringEquals": {"iot:Connection.Thing.ThingTypeName": ["fan", "lamp"]}}, FULL, True,
                 id="values-are-or"),
    pytest.param({"StringEquals": {"iot:Connection.Thing.ThingTypeName": "lamp"}}, NOT_ATTACHED, False,
                 id="positive-op-missing-key"),
    pytest.param({"StringNotEquals": {"iot:Connection.Thing.ThingTypeName": "lamp"}}, NOT_ATTACHED, True,
                 id="negated-op-missing-key"),
    pytest.param({"StringEqualsIfExists": {"iot:Connection.Thing.ThingTypeName": "fan"}}, NOT_ATTACHED, True,
                 id="if-exists-missing-key"),
    pytest.param({"StringEqualsIfExists": {"iot:Connection.Thing.ThingTypeName": "fan"}}, FULL, False,
                 id="if-exists-present-key"),
    pytest.param({"StringEqualsIgnoreCase": {"iot:Certificate.Subject.Country": "de"}}, FULL, True, id="ignore-case"),
    pytest.param({"StringLike": {"iot:Connection.Thing.ThingName": "lamp-*"}}, FULL, True, id="string-like"),
    pytest.param({"StringNotLike": {"iot:Connection.Thing.ThingName": "lamp-*"}}, FULL, False, id="string-not-like"),
    pytest.param({"StringEquals": {"iot:Connection.Thing.ThingName": "${iot:ClientId}"}}, FULL, True,
                 id="variable-in-value"),
    pytest.param({"ForAllValues:StringEquals": {"iot:Certificate.Subject.OrganizationalUnit.List": ["Ops", "Lab"]}},
                 FULL, True, id="for-all-values-inside"),
    pytest.param({"ForAllValues:StringEquals": {"iot:Certificate.Subject.OrganizationalUnit.List": ["Ops"]}},
                 FULL, False, id="for-all-values-outside"),
    pytest.param({"ForAnyValue:StringEquals": {"iot:Certificate.Subject.OrganizationalUnit.List": ["Lab"]}},
                 FULL, True, id="for-any-value"),
    pytest.param({"StringEquals": {"iot:Certificate.Subject.OrganizationalUnit.List": "Ops"}}, FULL, False,
                 id="list-key-needs-set-operator"),
    pytest.param({"IpAddress": {"aws:SourceIp": "10.0.0.0/24"}}, FULL, True, id="ip-in-cidr"),
    pytest.param({"IpAddress": {"aws:SourceIp": "10.0.0.0/24"}}, NOT_ATTACHED, False, id="ip-outside-cidr"),
    pytest.param({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, NOT_ATTACHED, True, id="not-ip-address"),
    pytest.param({"Null": {"iot:Connection.Thing.ThingTypeName": "true"}}, NOT_ATTACHED, True, id="null-missing"),
    pytest.param({"Null": {"iot:Connection.Thing.ThingTypeName": "false"}}, NOT_ATTACHED, False, id="null-present"),
    pytest.param({"NumericLessThan": {"iot:Connection.Thing.Attributes[floor]": "3"}}, FULL, False,
                 id="unsupported-operator-never-grants"),
]


@pytest.mark.parametrize("condition, context, allowed", CONDITIONS)
def test_conditions_on_allow(condition, context, allowed):
    documents = [doc(allow("iot:Connect", "*", Condition=condition))]
    assert decide(documents, "iot:Connect", "client", "lamp-1", context).allowed is allowed


def test_unsupported_operator_on_deny_still_denies():
    unsupported = {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}
    documents = [doc(allow("iot:*", "*"), deny("iot:Connect", "*", Condition=unsupported))]
    assert decide(documents, "iot:Connect", "client", "lamp-1", FULL) is DENY


# --- several policies --------------------------------------------------------------------------

CONNECT_ONLY = doc(allow("iot:Connect", PREFIX + "client/${iot:ClientId}"))
PUBLISH_ONLY = doc(allow("iot:Publish", PREFIX + "topic/data/${iot:ClientId}"))

MULTIPLE = [
    pytest.param([CONNECT_ONLY, PUBLISH_ONLY], "iot:Connect", "client", "lamp-1", ALLOW, id="union-connect"),
    pytest.param([CONNECT_ONLY, PUBLISH_ONLY], "iot:Publish", "topic", "data/lamp-1", ALLOW, id="union-publish"),
    pytest.param([CONNECT_ONLY, PUBLISH_ONLY], "iot:Subscribe", "topicfilter", "data/#", IMPLICIT,
                 id="union-no-subscribe"),
    pytest.param([CONNECT_ONLY, doc(deny("iot:Connect", "*"))], "iot:Connect", "client", "lamp-1", DENY,
                 id="group-deny-beats-cert-allow"),
]


@pytest.mark.parametrize("documents, action, kind, name, expected", MULTIPLE)
def test_multiple_policies(documents, action, kind, name, expected):
    assert decide(documents, action, kind, name, FULL) is expected


def test_policies_may_be_any_iterable():
    policies = (parse_policy(d) for d in [CONNECT_ONLY, PUBLISH_ONLY])
    assert evaluate(policies, "iot:Publish", arn(REGION, ACCOUNT, "topic", "data/lamp-1"), FULL) is ALLOW


# --- document validation -----------------------------------------------------------------------

STATEMENT = allow("iot:Publish", "*")

MALFORMED = [
    pytest.param('{"Statement": [', "not valid JSON", id="invalid-json"),
    pytest.param("[]", "must be a JSON object", id="not-an-object"),
    pytest.param({"Statement": [STATEMENT], "Extra": 1}, "top-level element(s) Extra", id="unknown-top-level"),
    pytest.param({"Version": "2020-01-01", "Statement": [STATEMENT]}, "Version must be", id="bad-version"),
    pytest.param({"Version": "2012-10-17"}, "missing Statement", id="missing-statement"),
    pytest.param({"Statement": []}, "Statement must not be empty", id="empty-statement"),
    pytest.param({"Statement": ["Allow"]}, "Statement[0] must be a JSON object", id="statement-not-object"),
    pytest.param(doc({**STATEMENT, "Effect": "allow"}), "Effect must be", id="effect-wrong-case"),
    pytest.param(doc({"Action": "iot:Publish", "Resource": "*"}), "Effect must be", id="effect-missing"),
    pytest.param(doc({"Effect": "Allow", "Resource": "*"}), "missing Action", id="action-missing"),
    pytest.param(doc({**STATEMENT, "NotAction": "iot:Connect"}), "either Action or NotAction",
                 id="action-and-notaction"),
    pytest.param(doc({**STATEMENT, "Action": []}), "Action must not be empty", id="action-empty-list"),
    pytest.param(doc({**STATEMENT, "Action": "s3:GetObject"}), 'not of the form "iot:<Name>"',
                 id="action-other-service"),
    pytest.param(doc({**STATEMENT, "Action": "iot:Pub lish"}), 'not of the form "iot:<Name>"', id="action-bad-chars"),
    pytest.param(doc({**STATEMENT, "Action": 7}), "Action must be a non-empty string", id="action-not-string"),
    pytest.param(doc({"Effect": "Allow", "Action": "iot:Publish"}), "missing Resource", id="resource-missing"),
    pytest.param(doc({**STATEMENT, "Resource": "topic/a"}), 'must be "*" or an ARN', id="resource-not-arn"),
    pytest.param(doc({**STATEMENT, "Resource": [""]}), "Resource must be a non-empty string",
                 id="resource-empty-string"),
    pytest.param(doc({**STATEMENT, "Principal": "*"}), "unsupported element(s) Principal", id="principal-not-allowed"),
    pytest.param(doc({**STATEMENT, "Sid": 3}), "Sid must be a string", id="sid-not-string"),
    pytest.param(doc({**STATEMENT, "Condition": ["Bool"]}), "Condition must map", id="condition-not-object"),
    pytest.param(doc({**STATEMENT, "Condition": {"StringEquals": {"k": {"a": 1}}}}), "condition values",
                 id="condition-value-object"),
    pytest.param(doc({**STATEMENT, "Condition": {"StringEquals": {"k": []}}}), "at least one value",
                 id="condition-empty-values"),
    pytest.param(doc({**STATEMENT, "Condition": {"IpAddress": {"aws:SourceIp": "nope"}}}), "CIDR", id="bad-cidr"),
    pytest.param(doc({**STATEMENT, "Condition": {"Null": {"k": "maybe"}}}), "Null takes", id="bad-null-value"),
]


@pytest.mark.parametrize("document, message", MALFORMED)
def test_malformed_documents_are_rejected(document, message):
    with pytest.raises(MalformedPolicyException) as raised:
        parse_policy(document)
    assert raised.value.code == "MalformedPolicyException" and raised.value.status == 400
    assert message in raised.value.message


ACCEPTED = [
    pytest.param({"Statement": STATEMENT}, id="single-statement-object"),
    pytest.param({"Version": "2008-10-17", "Statement": [STATEMENT]}, id="old-version"),
    pytest.param({"Id": "p1", "Statement": [{**STATEMENT, "Sid": "one"}]}, id="id-and-sid"),
    pytest.param(json.dumps(doc(allow(["iot:Publish"], ["*"]))), id="json-text-with-lists"),
    pytest.param(doc({"Effect": "Deny", "NotAction": "iot:Connect", "NotResource": "*"}), id="not-elements"),
]


@pytest.mark.parametrize("document", ACCEPTED)
def test_valid_document_shapes_parse(document):
    assert len(parse_policy(document).statements) == 1


# --- the workshop's policies -------------------------------------------------------------------

BUTTON = doc(allow("iot:Connect", PREFIX + "client/button-G030"),
             allow("iot:Publish", PREFIX + "topic/iotbutton/G030"))
MISPLACED_CONNECT = doc(allow("iot:Connect", PREFIX + "topic/iotbutton/G030"), allow("iot:Publish", "*"))
SMART_BUILDING = doc(allow(["iot:Connect"], [PREFIX + "client/${iot:ClientId}"]),
                     allow(["iot:Publish"], [PREFIX + "topic/telemetry/building/one/${iot:ClientId}"]))
MEMBER = ctx(client_id="group-member", thing_name="group-member", is_attached=True)
BUTTON_CTX = ctx(client_id="button-G030")

WORKSHOP = [
    pytest.param(ALLOW_ALL, "iot:Connect", "client", "anything", BUTTON_CTX, True, id="allow-all-connect"),
    pytest.param(ALLOW_ALL, "iot:Subscribe", "topicfilter", "$aws/events/#", BUTTON_CTX, True,
                 id="allow-all-subscribe"),
    pytest.param(ALLOW_ALL, "iot:UpdateThingShadow", "thing", "lamp-1", BUTTON_CTX, True, id="allow-all-shadow"),
    pytest.param(BUTTON, "iot:Connect", "client", "button-G030", BUTTON_CTX, True, id="button-connects-as-itself"),
    pytest.param(BUTTON, "iot:Connect", "client", "button-G031", BUTTON_CTX, False, id="button-other-client-id"),
    pytest.param(BUTTON, "iot:Publish", "topic", "iotbutton/G030", BUTTON_CTX, True, id="button-own-topic"),
    pytest.param(BUTTON, "iot:Publish", "topic", "iotbutton/G031", BUTTON_CTX, False, id="button-other-topic"),
    pytest.param(BUTTON, "iot:Subscribe", "topicfilter", "iotbutton/G030", BUTTON_CTX, False, id="button-no-subscribe"),
    pytest.param(MISPLACED_CONNECT, "iot:Connect", "client", "button-G030", BUTTON_CTX, False,
                 id="connect-on-topic-arn-grants-nothing"),
    pytest.param(SMART_BUILDING, "iot:Connect", "client", "group-member", MEMBER, True, id="group-connect"),
    pytest.param(SMART_BUILDING, "iot:Publish", "topic", "telemetry/building/one/group-member", MEMBER, True,
                 id="group-own-telemetry"),
    pytest.param(SMART_BUILDING, "iot:Publish", "topic", "telemetry/building/one/group-member_foo", MEMBER, False,
                 id="group-suffixed-topic"),
    pytest.param(SMART_BUILDING, "iot:Publish", "topic", "telemetry/building/one/other", MEMBER, False,
                 id="group-other-device-topic"),
    pytest.param(SMART_BUILDING, "iot:Subscribe", "topicfilter", "telemetry/building/one/#", MEMBER, False,
                 id="group-no-subscribe"),
]


@pytest.mark.parametrize("document, action, kind, name, context, allowed", WORKSHOP)
def test_workshop_policies(document, action, kind, name, context, allowed):
    assert decide([document], action, kind, name, context).allowed is allowed


# --- ARN helper --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, name, expected", [
    ("client", "dev-1", f"{PREFIX}client/dev-1"),
    ("topic", "a/b", f"{PREFIX}topic/a/b"),
    ("topicfilter", "a/#", f"{PREFIX}topicfilter/a/#"),
    ("thing", "lamp-1/night", f"{PREFIX}thing/lamp-1/night"),
])
def test_arn_builds_iot_resource_arns(kind, name, expected):
    assert arn(REGION, ACCOUNT, kind, name) == expected


def test_arn_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="resource kind"):
        arn(REGION, ACCOUNT, "bucket", "x")
