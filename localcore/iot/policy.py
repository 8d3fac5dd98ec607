"""AWS IoT policy documents: parse them once, then evaluate requests against them fast.

``parse_policy`` validates a document the way ``CreatePolicy`` does (``MalformedPolicyException``)
and compiles its patterns; ``evaluate`` decides one request (action, resource ARN, connection
context) against a set of parsed policies, with IAM's rules: default deny, any matching ``Deny``
wins over every ``Allow``.

The caller chooses the set. AWS unions the policies attached to the certificate with those of every
thing group (and ancestor group) of the connection's thing; the broker gathers that union itself
and passes it in, so this module knows nothing about groups, certificates or the registry.

Matching rules (reference section 5; AWS "IoT Core policy variables" and "pub-sub policy" pages):

* Resource patterns are whole-ARN globs: ``*`` is any run of characters, slashes included, and
  ``?`` is exactly one character. Matching is case-sensitive (topics are).
* MQTT ``+`` and ``#`` in a policy are plain characters. ``topicfilter/a/+`` authorizes a
  SUBSCRIBE to exactly ``a/+``, not to ``a/b``; ``topicfilter/a/*`` authorizes ``a/#`` too.
* Action patterns (``iot:Publish``, ``iot:Pub*``, ``iot:*``, ``*``) match case-insensitively.
* ``${...}`` variables are substituted before matching; ``${*}``, ``${?}``, ``${$}`` stand for the
  literal characters. A substituted value is always literal: a client id ``*`` matches only ``*``.
* A variable with no value (thing variables when no thing is attached, a missing thing attribute or
  certificate field, an index past the end, a certificate value with a wildcard character or over
  1024 characters, an unknown name) leaves its pattern matching nothing. In ``NotResource`` of an
  ``Allow`` statement it makes the whole statement not apply; every choice here fails closed
  except the unconfirmed Deny case, see ``DENY_IGNORES_UNRESOLVED_RESOURCE``.
* Conditions: ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``,
  ``StringNotEqualsIgnoreCase``, ``StringLike``, ``StringNotLike``, ``Bool``, ``IpAddress``,
  ``NotIpAddress``, ``Null``, each with an optional ``ForAnyValue:``/``ForAllValues:`` prefix and
  ``IfExists`` suffix, following IAM (a missing key makes positive operators false and negated
  ones true). Variables in condition values that cannot be resolved stay as text, as AWS leaves
  them. Any other operator is not supported: its statement never grants, and a Deny with it
  always applies (fail closed).
* Thing variables resolve only when ``RequestContext.is_attached`` is true and a thing name is
  set (AWS resolves them only for the thing named by the client id and attached to the principal).
* Variables are substituted whatever the document's ``Version`` (IAM would leave them literal
  under ``2008-10-17``; unconfirmed for IoT).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from localcore.errors import MalformedPolicyException

# [unconfirmed] Whether AWS ignores a Deny resource whose variable cannot be resolved. True follows
# IAM (the element does not match, so that Deny does not apply); False makes such a Deny apply.
DENY_IGNORES_UNRESOLVED_RESOURCE = True

# Certificate variable limits (AWS "X.509 certificate policy variables"): arrays are cut to five
# items; a value longer than 1024 characters or holding one of these characters is not substituted.
CERT_ARRAY_LIMIT = 5
CERT_VALUE_MAX_CHARS = 1024
CERT_VALUE_FORBIDDEN_CHARS = frozenset("*?$+#")  # [unconfirmed] beyond "wildcard characters"

POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
RESOURCE_KINDS = ("client", "topic", "topicfilter", "thing")

CERT_DN_FIELDS = (
    "DistinguishedNameQualifier", "Country", "Organization", "OrganizationalUnit", "State",
    "CommonName", "SerialNumber", "Title", "Surname", "GivenName", "Initials", "Pseudonym",
    "GenerationQualifier",
)
CERT_ALT_NAME_FIELDS = tuple(
    f"AlternativeName.{t}"
    for t in ("RFC822Name", "DNSName", "DirectoryName", "UniformResourceIdentifier", "IPAddress")
)

_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"})
_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_ACTION_SYNTAX = re.compile(r"\*|iot:[A-Za-z0-9*?]+", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Decision(Enum):
    """The outcome of one evaluation."""

    ALLOW = "ALLOW"
    EXPLICIT_DENY = "EXPLICIT_DENY"
    IMPLICIT_DENY = "IMPLICIT_DENY"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@dataclass(frozen=True, kw_only=True)
class RequestContext:
    """What policy variables and conditions may refer to, for one connection.

    ``certificate_subject`` / ``certificate_issuer`` map AWS's attribute names (``CommonName``,
    ``Country``, ``Organization``, ``OrganizationalUnit``, ..., ``AlternativeName.DNSName``) to one
    value or a list of values (``${iot:Certificate.Subject.Country.1}`` is the second one).
    """

    region: str
    account_id: str
    client_id: str | None = None
    thing_name: str | None = None
    thing_type_name: str | None = None
    thing_attributes: Mapping[str, str] = field(default_factory=dict)
    is_attached: bool = False
    certificate_id: str | None = None
    certificate_subject: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    certificate_issuer: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    certificate_serial_number: str | None = None
    source_ip: str | None = None


def arn(region: str, account: str, kind: str, name: str) -> str:
    """The ARN a request is checked against, e.g. ``arn(r, a, "topic", "telemetry/x")``."""
    if kind not in RESOURCE_KINDS:
        raise ValueError(f"resource kind must be one of {RESOURCE_KINDS}, not {kind!r}")
    return f"arn:aws:iot:{region}:{account}:{kind}/{name}"


# --- policy variables -----------------------------------------------------------------------

Value = str | list[str] | None
Getter = Callable[[RequestContext], Value]


def _unresolved(_: RequestContext) -> Value:
    return None


def _thing_known(ctx: RequestContext) -> bool:
    return ctx.is_attached and ctx.thing_name is not None


_SIMPLE_GETTERS: dict[str, Getter] = {
    "iot:clientid": lambda c: c.client_id,
    "iot:certificateid": lambda c: c.certificate_id,
    "iot:certificate.serialnumber": lambda c: c.certificate_serial_number,
    "aws:sourceip": lambda c: c.source_ip,
    "iot:connection.thing.isattached": lambda c: "true" if c.is_attached else "false",
    "iot:connection.thing.thingname": lambda c: c.thing_name if _thing_known(c) else None,
    "iot:connection.thing.thingtypename": lambda c: c.thing_type_name if _thing_known(c) else None,
}
_THING_ATTRIBUTE = re.compile(r"iot:Connection\.Thing\.Attributes\[(.+)\]", re.IGNORECASE)
_CERT_FIELD = re.compile(
    r"iot:Certificate\.(Subject|Issuer)\.((?:AlternativeName\.)?[A-Za-z0-9]+)(?:\.(\d+|List))?",
    re.IGNORECASE,
)
_CERT_FIELD_NAMES = {name.lower(): name for name in CERT_DN_FIELDS + CERT_ALT_NAME_FIELDS}


def _usable_cert_value(value: str) -> bool:
    return len(value) <= CERT_VALUE_MAX_CHARS and not CERT_VALUE_FORBIDDEN_CHARS.intersection(value)


def _cert_getter(part: str, field_name: str, suffix: str | None) -> Getter:
    def get(ctx: RequestContext) -> Value:
        fields = ctx.certificate_subject if part == "subject" else ctx.certificate_issuer
        raw = fields.get(field_name)
        if raw is None:
            return None
        items = [raw] if isinstance(raw, str) else list(raw)[:CERT_ARRAY_LIMIT]
        if suffix == "list":
            return [v for v in items if _usable_cert_value(v)]
        index = int(suffix) if suffix else 0
        if index >= len(items) or not _usable_cert_value(items[index]):
            return None
        return items[index]

    return get


def _getter(name: str) -> Getter:
    """How to read variable or condition key ``name`` (AWS spelling, case-insensitive)."""
    name = name.strip()
    if name in ("*", "?", "$"):
        return lambda _ctx: name
    simple = _SIMPLE_GETTERS.get(name.lower())
    if simple is not None:
        return simple
    if m := _THING_ATTRIBUTE.fullmatch(name):
        attribute = m.group(1)
        return lambda c: c.thing_attributes.get(attribute) if _thing_known(c) else None
    if (m := _CERT_FIELD.fullmatch(name)) and m.group(2).lower() in _CERT_FIELD_NAMES:
        suffix = m.group(3).lower() if m.group(3) else None
        return _cert_getter(m.group(1).lower(), _CERT_FIELD_NAMES[m.group(2).lower()], suffix)
    return _unresolved


# --- patterns ---------------------------------------------------------------------------------


def _glob_regex(literal: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in literal)


@lru_cache(maxsize=4096)
def _compiled(regex: str) -> re.Pattern[str]:
    """One compiled regex per distinct pattern text after substitution (bounded cache)."""
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True)
class _Var:
    text: str  # as written, e.g. "${iot:ClientId}"
    get: Getter


@dataclass(frozen=True)
class _Template:
    """A policy string split into literal text and ``${...}`` variables."""

    text: str
    pieces: tuple[str | _Var, ...]
    static: bool  # no variables at all
    glob_pieces: tuple[str | _Var, ...]  # literal pieces turned into regex source once

    @classmethod
    def parse(cls, text: str) -> _Template:
        pieces: list[str | _Var] = []
        at = 0
        for m in _VARIABLE.finditer(text):
            if m.start() > at:
                pieces.append(text[at:m.start()])
            pieces.append(_Var(m.group(0), _getter(m.group(1))))
            at = m.end()
        if at < len(text):
            pieces.append(text[at:])
        globbed = tuple(_glob_regex(p) if isinstance(p, str) else p for p in pieces)
        return cls(text, tuple(pieces), all(isinstance(p, str) for p in pieces), globbed)

    def text_for(self, ctx: RequestContext, *, keep_unresolved: bool = False) -> str | None:
        """The string with variables substituted; None if one has no value (unless kept as written)."""
        if self.static:
            return self.text
        return self._join(self.pieces, ctx, keep_unresolved, str)

    def regex_for(self, ctx: RequestContext, *, keep_unresolved: bool = False) -> str | None:
        """Regex source: the template's own ``*``/``?`` are wildcards, substituted values literal."""
        return self._join(self.glob_pieces, ctx, keep_unresolved, re.escape)

    @staticmethod
    def _join(pieces: tuple[str | _Var, ...], ctx: RequestContext, keep: bool,
              value: Callable[[str], str]) -> str | None:
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            resolved = piece.get(ctx)
            if isinstance(resolved, str):
                out.append(value(resolved))
            elif keep:
                out.append(value(piece.text))
            else:
                return None
        return "".join(out)


@dataclass(frozen=True)
class _ResourcePattern:
    template: _Template
    wildcard: bool  # the written pattern has * or ? outside variables
    regex: re.Pattern[str] | None  # precompiled when there are wildcards and no variables

    @classmethod
    def parse(cls, text: str) -> _ResourcePattern:
        template = _Template.parse(text)
        wildcard = any(isinstance(p, str) and ("*" in p or "?" in p) for p in template.pieces)
        regex = _compiled(_glob_regex(text)) if wildcard and template.static else None
        return cls(template, wildcard, regex)

    def matches(self, resource: str, ctx: RequestContext) -> bool | None:
        """True/False, or None when a variable has no value."""
        if self.regex is not None:
            return self.regex.fullmatch(resource) is not None
        if self.template.static:
            return resource == self.template.text
        if self.wildcard:
            source = self.template.regex_for(ctx)
            return None if source is None else _compiled(source).fullmatch(resource) is not None
        text = self.template.text_for(ctx)
        return None if text is None else resource == text


# --- conditions -------------------------------------------------------------------------------

_STRING_OPERATORS: dict[str, tuple[bool, Callable[[str, str], bool]]] = {
    # name: (negated, positive comparison of a context value with a policy value)
    "StringEquals": (False, lambda a, b: a == b),
    "StringNotEquals": (True, lambda a, b: a == b),
    "StringEqualsIgnoreCase": (False, lambda a, b: a.casefold() == b.casefold()),
    "StringNotEqualsIgnoreCase": (True, lambda a, b: a.casefold() == b.casefold()),
    "Bool": (False, lambda a, b: a.lower() == b.lower()),
}
_LIKE_OPERATORS = {"StringLike": False, "StringNotLike": True}
_IP_OPERATORS = {"IpAddress": False, "NotIpAddress": True}
_SET_PREFIXES = {"ForAnyValue:": "any", "ForAllValues:": "all"}
_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class _Condition:
    """One (operator, key) pair of a Condition block."""

    base: str  # operator without set prefix and IfExists; "" when not supported
    key: Getter
    values: tuple[_Template, ...]
    negated: bool = False
    set_mode: str | None = None  # "any" / "all" for ForAnyValue: / ForAllValues:
    if_exists: bool = False
    networks: tuple[_IpNetwork, ...] = ()

    def holds(self, ctx: RequestContext) -> bool | None:
        """True/False as IAM decides; None when the operator or the key's shape is not supported."""
        if not self.base:
            return None
        value = self.key(ctx)
        missing = value is None or value == []
        if self.base == "Null":
            return missing == (self.values[0].text.lower() == "true")
        if missing:
            if self.set_mode == "all" or self.if_exists:
                return True
            return self.negated if self.set_mode is None else False
        if self.set_mode is None:
            if not isinstance(value, str):
                return None
            return self._matches_any(value, ctx) != self.negated
        items = [value] if isinstance(value, str) else value
        results = (self._matches_any(v, ctx) != self.negated for v in items)
        return any(results) if self.set_mode == "any" else all(results)

    def _matches_any(self, actual: str, ctx: RequestContext) -> bool:
        """Whether ``actual`` matches one of the policy values (the operator's positive form)."""
        if self.base in _IP_OPERATORS:
            try:
                ip = ipaddress.ip_address(actual)
            except ValueError:
                return False
            return any(ip in net for net in self.networks)
        if self.base in _LIKE_OPERATORS:
            return any(
                _compiled(t.regex_for(ctx, keep_unresolved=True)).fullmatch(actual) for t in self.values
            )
        compare = _STRING_OPERATORS[self.base][1]
        return any(compare(actual, t.text_for(ctx, keep_unresolved=True)) for t in self.values)


def _parse_condition(operator: str, key: str, raw: object, where: str) -> _Condition:
    values = tuple(_Template.parse(v) for v in _condition_values(raw, where))
    base, set_mode = operator, None
    for prefix, mode in _SET_PREFIXES.items():
        if base.startswith(prefix):
            base, set_mode = base[len(prefix):], mode
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        if set_mode or if_exists or len(values) != 1 or values[0].text.lower() not in ("true", "false"):
            raise _malformed(f'{where}: Null takes a single "true" or "false"')
        return _Condition("Null", _getter(key), values)
    if base in _IP_OPERATORS:
        try:
            networks = tuple(ipaddress.ip_network(t.text, strict=False) for t in values)
        except ValueError as e:
            raise _malformed(f"{where}: {operator} needs IP addresses or CIDR blocks ({e})") from None
        return _Condition(base, _getter(key), values, _IP_OPERATORS[base], set_mode, if_exists, networks)
    negated = _LIKE_OPERATORS.get(base, _STRING_OPERATORS.get(base, (None,))[0])
    if negated is None:  # not supported: the statement fails closed (see module docstring)
        return _Condition("", _unresolved, values)
    return _Condition(base, _getter(key), values, negated, set_mode, if_exists)


def _condition_values(raw: object, where: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _malformed(f"{where}: a condition needs at least one value")
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        else:
            raise _malformed(f"{where}: condition values must be strings, numbers or booleans")
    return out


# --- statements and policies ------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One compiled statement."""

    sid: str | None
    deny: bool
    actions: re.Pattern[str]
    not_action: bool
    resources: tuple[_ResourcePattern, ...]
    not_resource: bool
    conditions: tuple[_Condition, ...]

    def applies(self, action: str, resource: str, ctx: RequestContext) -> bool:
        """Whether this statement speaks about the request (its effect is then ``deny``)."""
        if (self.actions.fullmatch(action) is None) != self.not_action:
            return False
        if not self._resource_applies(resource, ctx):
            return False
        for condition in self.conditions:
            holds = condition.holds(ctx)
            if holds is False or (holds is None and not self.deny):
                return False
        return True

    def _resource_applies(self, resource: str, ctx: RequestContext) -> bool:
        hit = False
        for pattern in self.resources:
            matched = pattern.matches(resource, ctx)
            if matched is None:
                if self.not_resource and not self.deny:
                    return False
                if not self.not_resource and self.deny and not DENY_IGNORES_UNRESOLVED_RESOURCE:
                    return True
            elif matched:
                hit = True
                break
        return hit != self.not_resource


@dataclass(frozen=True)
class Policy:
    """A parsed, compiled policy document."""

    version: str | None
    statements: tuple[Statement, ...]


def _malformed(message: str) -> MalformedPolicyException:
    return MalformedPolicyException(f"Policy document is malformed: {message}")


def _strings(statement: dict, key: str, where: str) -> list[str]:
    raw = statement[key]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _malformed(f"{where}: {key} must not be empty")
    if not all(isinstance(i, str) and i for i in items):
        raise _malformed(f"{where}: {key} must be a non-empty string or a list of them")
    return items


def _either(statement: dict, name: str, where: str) -> tuple[str, bool]:
    has, has_not = name in statement, f"Not{name}" in statement
    if has and has_not:
        raise _malformed(f"{where}: use either {name} or Not{name}, not both")
    if not (has or has_not):
        raise _malformed(f"{where}: missing {name}")
    return (name, False) if has else (f"Not{name}", True)


def _parse_statement(raw: object, where: str) -> Statement:
    if not isinstance(raw, dict):
        raise _malformed(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise _malformed(f"{where}: unsupported element(s) {', '.join(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed(f'{where}: Effect must be "Allow" or "Deny", not {effect!r}')
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _malformed(f"{where}: Sid must be a string")

    action_key, not_action = _either(raw, "Action", where)
    actions = _strings(raw, action_key, where)
    for action in actions:
        if not _ACTION_SYNTAX.fullmatch(action):
            raise _malformed(f'{where}: action {action!r} is not of the form "iot:<Name>" (* and ? allowed)')
    action_regex = re.compile("|".join(f"(?:{_glob_regex(a)})" for a in actions), re.IGNORECASE)

    resource_key, not_resource = _either(raw, "Resource", where)
    resources = _strings(raw, resource_key, where)
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise _malformed(f'{where}: resource {resource!r} must be "*" or an ARN')

    block = raw.get("Condition", {})
    if not isinstance(block, dict) or not all(isinstance(v, dict) and v for v in block.values()):
        raise _malformed(f'{where}: Condition must map operators to {{"key": value(s)}} objects')
    conditions = tuple(
        _parse_condition(op, key, value, where) for op, keys in block.items() for key, value in keys.items()
    )
    return Statement(
        sid, effect == "Deny", action_regex, not_action,
        tuple(_ResourcePattern.parse(r) for r in resources), not_resource, conditions,
    )


def parse_policy(document: str | Mapping) -> Policy:
    """Validate and compile a policy document (JSON text or already-decoded object)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise _malformed(f"not valid JSON ({e})") from None
    if not isinstance(document, Mapping):
        raise _malformed("the document must be a JSON object")
    unknown = sorted(set(document) - _DOCUMENT_KEYS)
    if unknown:
        raise _malformed(f"unsupported top-level element(s) {', '.join(unknown)}")
    version = document.get("Version")
    if version is not None and version not in POLICY_VERSIONS:
        raise _malformed(f"Version must be one of {', '.join(POLICY_VERSIONS)}, not {version!r}")
    if "Statement" not in document:
        raise _malformed("missing Statement")
    raw = document["Statement"]
    statements = raw if isinstance(raw, list) else [raw]
    if not statements:
        raise _malformed("Statement must not be empty")
    return Policy(version, tuple(_parse_statement(s, f"Statement[{i}]") for i, s in enumerate(statements)))


def evaluate(policies: Iterable[Policy], action: str, resource_arn: str, context: RequestContext) -> Decision:
    """Decide ``action`` on ``resource_arn``: an explicit Deny wins, then any Allow, else implicit deny."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if statement.applies(action, resource_arn, context):
                if statement.deny:
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
