"""Policy decisions of one MQTT connection from moto's registry, and their cache (no sockets)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from moto.core.config import default_user_config
from moto.iot.models import IoTBackend

from localcore.mqtt.authorizer import (
    BASIC_INGEST,
    CONNECT,
    FORBIDDEN,
    JOBS,
    SHADOW,
    PUBLISH,
    RECEIVE,
    RETAIN_PUBLISH,
    SUBSCRIBE,
    UNRESTRICTED,
    ConnectionAuthorizer,
    PolicyBook,
    ReservedTopic,
    group_chain,
    publish_problem,
    reserved_topic,
    resolve_grants,
)
from localcore.mqtt.identity import Identity, identify
from localcore.pki import LabPKI

REGION, ACCOUNT = "us-east-1", "123456789012"
THING = "sensor-1"


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, *resources: str) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": [f"arn:aws:iot:{REGION}:{ACCOUNT}:{r}" for r in resources]}


def deny(action: str, *resources: str) -> dict:
    return {**allow(action, *resources), "Effect": "Deny"}


# Group policies: on the root group (the thing is in its grandchild) and on the middle group.
ROOT_POLICY = document(
    allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}"),
    allow("iot:Publish", "topic/groups/${iot:ClientId}/*"),
)
MIDDLE_POLICY = document(deny("iot:Publish", "topic/groups/*/secret"))
# The certificate's own policy.
CERT_POLICY = document(
    allow("iot:Subscribe", "topicfilter/rooms/${iot:Connection.Thing.Attributes[room]}/#"),
    allow("iot:Publish", "topic/certs/${iot:Certificate.Subject.CommonName}", "topic/groups/sensor-1/secret",
          "topic/types/${iot:Connection.Thing.ThingTypeName}"),
    allow("iot:RetainPublish", "topic/certs/*"),
    allow("iot:Receive", "topic/*"),
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> LabPKI:
    return LabPKI.load_or_create(tmp_path_factory.mktemp("home"))


@dataclass
class World:
    iot: IoTBackend
    attached: Identity  # certificate attached to THING, with CERT_POLICY
    unattached: Identity  # certificate attached to nothing and holding no policy
    generation: int = 0

    def authorizer(self, identity: Identity, client_id: str, book: PolicyBook | None = None) -> ConnectionAuthorizer:
        book = book or PolicyBook()
        return ConnectionAuthorizer(
            lambda: resolve_grants(self.iot, book, region=REGION, account_id=ACCOUNT, identity=identity,
                                   client_id=client_id, source_ip="127.0.0.1"),
            lambda: self.generation,
        )


def _identity(iot: IoTBackend, pki: LabPKI, cn: str) -> Identity:
    pem = pki.create_keys_and_certificate(cn)[0]
    iot.register_certificate(pem, None, set_as_active=True, status="ACTIVE")
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return identify(iot, [der], cn)


@pytest.fixture
def world(monkeypatch, pki) -> World:
    """root ⊃ middle ⊃ leaf groups; THING (type thermo, room=lab) in leaf, attached to a cert."""
    monkeypatch.setitem(default_user_config, "iot", {"use_valid_cert": True})
    iot = IoTBackend(REGION, ACCOUNT)
    iot.create_thing_type("thermo", {})
    iot.create_thing(THING, "thermo", {"attributes": {"room": "lab"}})
    iot.create_thing_group("root", None, {})
    iot.create_thing_group("middle", "root", {})
    iot.create_thing_group("leaf", "middle", {})
    iot.add_thing_to_thing_group("leaf", None, THING, None)
    for name, text in (("root-policy", ROOT_POLICY), ("middle-policy", MIDDLE_POLICY), ("cert-policy", CERT_POLICY)):
        iot.create_policy(name, text)
    iot.attach_policy("root-policy", iot.describe_thing_group("root").arn)
    iot.attach_policy("middle-policy", iot.describe_thing_group("middle").arn)
    attached = _identity(iot, pki, "dev-cn")
    iot.attach_policy("cert-policy", attached.certificate_arn)
    iot.attach_thing_principal(THING, attached.certificate_arn)
    unattached = _identity(iot, pki, "spare-cn")
    return World(iot, attached, unattached)


@pytest.mark.parametrize(
    ("certificate", "client_id", "action", "name", "allowed"),
    [
        ("attached", THING, CONNECT, THING, True),
        ("attached", "other-client", CONNECT, "other-client", False),
        ("attached", THING, PUBLISH, "groups/sensor-1/data", True),
        ("attached", "other-client", PUBLISH, "groups/other-client/data", False),
        ("attached", THING, PUBLISH, "groups/sensor-1/secret", False),
        ("attached", THING, SUBSCRIBE, "rooms/lab/#", True),
        ("attached", THING, SUBSCRIBE, "rooms/kitchen/#", False),
        ("attached", "other-client", SUBSCRIBE, "rooms/lab/#", False),
        ("attached", THING, PUBLISH, "certs/dev-cn", True),
        ("attached", THING, PUBLISH, "certs/spare-cn", False),
        ("attached", THING, RETAIN_PUBLISH, "certs/dev-cn", True),
        ("attached", THING, RETAIN_PUBLISH, "groups/sensor-1/data", False),
        ("attached", THING, PUBLISH, "types/thermo", True),
        ("attached", THING, RECEIVE, "anything/at/all", True),
        ("unattached", THING, CONNECT, THING, False),
        ("unattached", THING, PUBLISH, "groups/sensor-1/data", False),
        ("unattached", THING, RECEIVE, "anything/at/all", False),
    ],
    ids=[
        "group-policy-of-ancestor-allows-connect-as-thing",
        "group-policies-need-client-id-equal-to-thing-name",
        "root-group-policy-reaches-grandchild-group",
        "other-client-id-gets-no-group-policy",
        "deny-in-middle-group-beats-certificate-allow",
        "thing-attribute-variable",
        "thing-attribute-variable-other-value",
        "thing-variables-unresolved-for-other-client-id",
        "certificate-subject-variable",
        "certificate-subject-variable-other-value",
        "retain-publish-allowed",
        "retain-publish-implicitly-denied",
        "thing-type-variable",
        "receive-allowed",
        "unattached-certificate-gets-no-group-policy",
        "unattached-certificate-without-policy-publishes-nothing",
        "unattached-certificate-receives-nothing",
    ],
)
def test_decisions(world, certificate, client_id, action, name, allowed):
    authorizer = world.authorizer(getattr(world, certificate), client_id)

    assert authorizer.allowed(action, name) is allowed


def test_group_chain_lists_groups_then_ancestors(world):
    thing = world.iot.describe_thing(THING)

    assert [g.thing_group_name for g in group_chain(world.iot, thing.arn)] == ["leaf", "middle", "root"]


def test_grants_name_the_policies_in_force(world):
    grants = world.authorizer(world.attached, THING).grants

    assert set(grants.policy_names) == {"cert-policy", "middle-policy", "root-policy"}
    assert grants.context.is_attached and grants.context.thing_name == THING
    assert grants.context.thing_attributes == {"room": "lab"}


def test_decisions_are_cached_until_the_registry_generation_changes(world):
    authorizer = world.authorizer(world.attached, THING)
    assert authorizer.allowed(PUBLISH, "groups/sensor-1/data")

    world.iot.remove_thing_from_thing_group("leaf", None, THING, None)
    cached = authorizer.allowed(PUBLISH, "groups/sensor-1/data")
    world.generation += 1
    fresh = authorizer.allowed(PUBLISH, "groups/sensor-1/data")

    assert (cached, fresh) == (True, False)


def test_a_new_generation_sees_a_new_policy(world):
    authorizer = world.authorizer(world.unattached, "spare")
    assert not authorizer.allowed(PUBLISH, "open/topic")

    world.iot.create_policy("open", document(allow("iot:Publish", "topic/open/*")))
    world.iot.attach_policy("open", world.unattached.certificate_arn)
    world.generation += 1

    assert authorizer.allowed(PUBLISH, "open/topic")


def test_policy_book_parses_each_document_once_and_ignores_malformed_ones():
    book = PolicyBook()

    first = book.parsed("a", CERT_POLICY)
    assert book.parsed("b", CERT_POLICY) is first
    assert book.parsed("broken", '{"Statement": "not a statement"}') is None


def test_unrestricted_allows_everything():
    assert UNRESTRICTED.allowed(PUBLISH, "$aws/anything") and UNRESTRICTED.allowed(CONNECT, "x")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("telemetry/x", None),
        ("$aws/things/lamp/shadow/update", ReservedTopic(SHADOW, "lamp")),
        ("$aws/things/lamp/shadow/name/cfg/get", ReservedTopic(SHADOW, "lamp")),
        ("$aws/things/lamp/jobs/get", ReservedTopic(JOBS, "lamp")),
        ("$aws/rules/store_it/sensors/1", ReservedTopic(BASIC_INGEST, "store_it")),
        ("$aws/rules/store_it", ReservedTopic(FORBIDDEN)),
        ("$aws/events/presence/connected/x", ReservedTopic(FORBIDDEN)),
        ("$aws/things/lamp/tunnels/notify", ReservedTopic(FORBIDDEN)),
        ("$SYS/broker/uptime", ReservedTopic(FORBIDDEN)),
    ],
    ids=["plain", "classic-shadow", "named-shadow", "jobs", "basic-ingest", "basic-ingest-without-topic",
         "lifecycle-events", "other-thing-topic", "sys-topic"],
)
def test_reserved_topics_are_routed_or_forbidden(topic, expected):
    assert reserved_topic(topic) == expected


class FixedDecisions:
    """An authorizer stand-in that allows exactly the listed (action, name) pairs."""

    def __init__(self, *allowed: tuple[str, str]) -> None:
        self.allowed_pairs = set(allowed)

    def allowed(self, action: str, name: str) -> bool:
        return (action, name) in self.allowed_pairs


@pytest.mark.parametrize(
    ("topic", "retain", "grants", "problem"),
    [
        ("a/b", False, FixedDecisions((PUBLISH, "a/b")), None),
        ("a/b", False, FixedDecisions(), "AUTH_ERROR"),
        ("a/b", True, FixedDecisions((PUBLISH, "a/b")), "AUTH_ERROR"),
        ("a/b", True, FixedDecisions((PUBLISH, "a/b"), (RETAIN_PUBLISH, "a/b")), None),
        ("a/+", False, UNRESTRICTED, "CLIENT_ERROR"),
        ("", False, UNRESTRICTED, "CLIENT_ERROR"),
        ("$aws/events/x", False, UNRESTRICTED, "CLIENT_ERROR"),
        ("$aws/things/t/shadow/update", False, FixedDecisions((PUBLISH, "$aws/things/t/shadow/update")), None),
        ("$aws/things/t/shadow/update", False, FixedDecisions(), "AUTH_ERROR"),
    ],
    ids=["allowed", "not-allowed", "retain-without-retain-publish", "retain-allowed", "wildcard-in-topic",
         "empty-topic", "forbidden-reserved-topic", "shadow-topic-allowed", "shadow-topic-not-allowed"],
)
def test_publish_decisions(topic, retain, grants, problem):
    assert publish_problem(topic, retain, grants) == problem
