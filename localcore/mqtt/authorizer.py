"""Policy decisions for one MQTT connection, cached for one registry generation.

AWS IoT authorises each MQTT action of a certificate-authenticated client against the union of

* the policies attached to its certificate, and
* when the thing named by the client id is attached to that certificate, the policies attached to
  every thing group that thing belongs to and to all their ancestor groups (reference 5.5),

with the connection's policy variables (client id, thing name, type and attributes, IsAttached,
certificate fields; reference 5.4). `resolve_grants` gathers that from moto's registry;
`ConnectionAuthorizer` answers ``allowed(action, name)`` from a per-connection cache of decisions,
rebuilt when ``generation()`` changes (the lab bumps ``lab.generation`` on every registry change
that can alter a decision). A cache hit is one integer comparison and one dict look-up, which keeps
the broker's per-message cost small; policies are parsed once per distinct document (`PolicyBook`).
`publish_problem` is the whole decision on a client's PUBLISH, reserved ``$`` topics included.

moto's dicts are read from the broker's thread while HTTP threads write them: every iteration here
runs over a ``list(...)`` snapshot, which CPython takes atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from localcore.errors import MalformedPolicyException
from localcore.iot.policy import Policy, RequestContext, arn, evaluate, parse_policy

from . import lifecycle_events as events
from .identity import Identity

log = logging.getLogger("localcore.mqtt.authorizer")

CONNECT = "iot:Connect"
PUBLISH = "iot:Publish"
RETAIN_PUBLISH = "iot:RetainPublish"
SUBSCRIBE = "iot:Subscribe"
RECEIVE = "iot:Receive"

# The resource kind each MQTT action is checked on (reference 5.2).
RESOURCE_KINDS = {
    CONNECT: "client",
    PUBLISH: "topic",
    RETAIN_PUBLISH: "topic",
    SUBSCRIBE: "topicfilter",
    RECEIVE: "topic",
}
# A connection that publishes to ever-new topics must not grow its cache without bound.
CACHE_LIMIT = 4096

SHADOW, JOBS, BASIC_INGEST, FORBIDDEN = "shadow", "jobs", "rules", "forbidden"
# Reserved topics a client may publish to: ``$aws/things/<thing>/<kind>/...`` for these kinds, and
# ``$aws/rules/<rule>/...`` (basic ingest). Any other ``$`` topic is forbidden.
THING_TOPIC_KINDS = (SHADOW, JOBS)


@dataclass(frozen=True)
class ReservedTopic:
    """A ``$`` topic: ``kind`` is shadow, jobs, rules (basic ingest) or forbidden."""

    kind: str
    name: str = ""  # the thing name or the rule name


def reserved_topic(topic: str) -> ReservedTopic | None:
    """How a client's publish to ``topic`` is routed when it starts with ``$`` (None otherwise)."""
    if not topic.startswith("$"):
        return None
    parts = topic.split("/")
    if len(parts) >= 5 and parts[:2] == ["$aws", "things"] and parts[2] and parts[3] in THING_TOPIC_KINDS:
        return ReservedTopic(parts[3], parts[2])
    if len(parts) >= 4 and parts[:2] == ["$aws", "rules"] and parts[2]:
        return ReservedTopic(BASIC_INGEST, parts[2])
    return ReservedTopic(FORBIDDEN)


def publish_problem(topic: str, retain: bool, authorizer: Any) -> str | None:
    """The disconnect reason a client's PUBLISH earns, or None when it is accepted.

    Wildcards in a topic name and forbidden ``$`` topics are protocol errors; otherwise
    ``iot:Publish`` (and ``iot:RetainPublish`` for a retained message) must be allowed.
    """
    if not topic or "+" in topic or "#" in topic:
        return events.CLIENT_ERROR
    if topic[0] == "$" and reserved_topic(topic).kind == FORBIDDEN:  # type: ignore[union-attr]
        return events.CLIENT_ERROR
    if not authorizer.allowed(PUBLISH, topic) or (retain and not authorizer.allowed(RETAIN_PUBLISH, topic)):
        return events.AUTH_ERROR
    return None


class PolicyBook:
    """Parsed policies by document text, so a document is parsed once however often it is used."""

    def __init__(self) -> None:
        self._parsed: dict[str, Policy | None] = {}

    def parsed(self, name: str, document: Any) -> Policy | None:
        """The compiled policy, or None (logged once) if the stored document does not parse."""
        key = document if isinstance(document, str) else repr(document)
        if key not in self._parsed:
            try:
                self._parsed[key] = parse_policy(document)
            except MalformedPolicyException as error:
                log.warning("policy %s is ignored: %s", name, error.message)
                self._parsed[key] = None
        return self._parsed[key]


@dataclass(frozen=True)
class Grants:
    """What one connection's decisions are made from."""

    policies: tuple[Policy, ...]
    context: RequestContext
    policy_names: tuple[str, ...]


def attached_thing(iot: Any, certificate_arn: str, client_id: str) -> Any | None:
    """The thing named by the client id, if it is attached to the certificate."""
    entry = iot.principal_things.get((certificate_arn, client_id))
    return entry[1] if entry is not None else None


def group_chain(iot: Any, thing_arn: str) -> list[Any]:
    """The thing groups the thing is in, followed by all their ancestors, each once."""
    groups = list(iot.thing_groups.values())
    by_name = {group.thing_group_name: group for group in groups}
    chain: list[Any] = []
    seen: set[str] = set()
    for group in groups:
        if thing_arn not in group.things:
            continue
        while group is not None and group.arn not in seen:
            seen.add(group.arn)
            chain.append(group)
            group = by_name.get(group.parent_group_name) if group.parent_group_name else None
    return chain


def policy_targets(iot: Any, certificate_arn: str, thing: Any | None) -> list[str]:
    """ARNs whose attached policies apply: the certificate, then the thing's groups and ancestors."""
    targets = [certificate_arn]
    if thing is not None:
        targets += [group.arn for group in group_chain(iot, thing.arn)]
    return targets


def attached_policies(iot: Any, targets: list[str]) -> list[Any]:
    """moto's policy objects attached to any of ``targets``, each once, in attachment order."""
    wanted = set(targets)
    found: dict[str, Any] = {}
    for (target, name), (_principal, policy) in list(iot.principal_policies.items()):
        if target in wanted:
            found.setdefault(name, policy)
    return list(found.values())


def resolve_grants(
    iot: Any, book: PolicyBook, *, region: str, account_id: str, identity: Identity,
    client_id: str, source_ip: str | None,
) -> Grants:
    """Gather a connection's policies and policy-variable context from the registry."""
    certificate_arn = identity.certificate_arn or ""
    thing = attached_thing(iot, certificate_arn, client_id)
    policies = attached_policies(iot, policy_targets(iot, certificate_arn, thing))
    parsed = [(p.name, book.parsed(p.name, p.document)) for p in policies]
    thing_type = getattr(thing, "thing_type", None) if thing is not None else None
    context = RequestContext(
        region=region,
        account_id=account_id,
        client_id=client_id,
        thing_name=thing.thing_name if thing is not None else None,
        thing_type_name=thing_type.thing_type_name if thing_type is not None else None,
        thing_attributes=dict(thing.attributes or {}) if thing is not None else {},
        is_attached=thing is not None,
        certificate_id=identity.certificate_id,
        certificate_subject=identity.subject,
        certificate_issuer=identity.issuer,
        certificate_serial_number=identity.serial_number,
        source_ip=source_ip,
    )
    return Grants(
        tuple(policy for _name, policy in parsed if policy is not None),
        context,
        tuple(name for name, _policy in parsed),
    )


class ConnectionAuthorizer:
    """``allowed(action, name)`` for one connection, e.g. ``allowed(PUBLISH, "telemetry/t1")``."""

    __slots__ = ("_resolve", "_generation", "_seen", "_grants", "_cache")

    def __init__(self, resolve: Callable[[], Grants], generation: Callable[[], int]) -> None:
        self._resolve = resolve
        self._generation = generation
        self._seen: int | None = None
        self._grants: Grants | None = None
        self._cache: dict[tuple[str, str], bool] = {}

    def allowed(self, action: str, name: str) -> bool:
        generation = self._generation()
        if generation != self._seen:
            self._seen, self._grants = generation, None
            self._cache.clear()
        key = (action, name)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._decide(action, name)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = decision
        return decision

    @property
    def grants(self) -> Grants:
        """The policies and context decisions are currently made from."""
        if self._grants is None:
            self._grants = self._resolve()
        return self._grants

    def _decide(self, action: str, name: str) -> bool:
        grants = self.grants
        context = grants.context
        resource = arn(context.region, context.account_id, RESOURCE_KINDS[action], name)
        return evaluate(grants.policies, action, resource, context).allowed


class Unrestricted:
    """The authorizer of the console identity and of a broker run with policy checks off."""

    __slots__ = ()

    def allowed(self, action: str, name: str) -> bool:
        return True


UNRESTRICTED = Unrestricted()
