"""Provisioning templates: validate a template, then resolve it into a plan of what to provision.

``parse_template`` checks a template body the way RegisterThing, StartThingRegistrationTask and
a CA's registration config receive it; ``resolve`` fills in parameters, evaluates intrinsic
functions and returns a ``ProvisioningPlan``: plain data that a handler applies to the registry.
Nothing here does I/O. Every problem raises ``InvalidRequestException`` naming what is wrong.

Grammar (reference section 2; AWS "Provisioning templates"):

* Sections: ``Parameters``, ``Resources`` (required), ``Mappings``, ``Conditions``,
  ``DeviceConfiguration``. Any other top-level key is refused so that a typo is not ignored.
* Parameters are ``{"Type": "String", "Default": "..."}``. A value passed for an undeclared name is
  ignored (only declared parameters can be referred to). A declared parameter with neither a value
  nor a default fails only when it is used: AWS leaves such a ``Ref`` unsubstituted and the
  registration then fails, so the lab fails at once and names the parameter.
* Resources: at most one ``AWS::IoT::Thing`` and one ``AWS::IoT::Certificate``, any number of
  ``AWS::IoT::Policy``. Keys per resource: ``Type``, ``Properties``, ``OverrideSettings``,
  ``Condition``.
* Functions: ``Ref``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``
  (documented for IoT); ``Fn::If`` with a ``Conditions`` section (``Fn::Equals``, ``Fn::And``,
  ``Fn::Or``, ``Fn::Not``, ``Condition``), a resource ``Condition`` key and
  ``{"Ref": "AWS::NoValue"}`` follow CloudFormation's semantics: AWS does not list them for IoT
  [unconfirmed], so ``CONDITIONS_SUPPORTED`` switches them off in one place. Other ``Fn::``
  functions (``Fn::GetAtt``, ``Fn::Base64``, ...) are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from localcore.errors import InvalidRequestException, NotImplementedInLab

# API model: templateBody is at most 10240 characters.
MAX_TEMPLATE_BODY_CHARS = 10240

# [unconfirmed] AWS documents no condition functions for provisioning templates; the lab accepts
# CloudFormation's. Set to False to refuse Conditions, Condition keys, Fn::If and AWS::NoValue.
CONDITIONS_SUPPORTED = True

# [unconfirmed] RegisterThing's resourceArns keys. AWS's examples key the policy by its logical
# name ("PolicyLogicalName") and the thing and certificate by "thing" and "certificate", which are
# also the logical names in every example. True keys all three by logical name.
ARN_KEYS_ARE_LOGICAL_IDS = True

THING_TYPE = "AWS::IoT::Thing"
CERTIFICATE_TYPE = "AWS::IoT::Certificate"
POLICY_TYPE = "AWS::IoT::Policy"
RESOURCE_TYPES = (THING_TYPE, CERTIFICATE_TYPE, POLICY_TYPE)

SECTIONS = ("Parameters", "Resources", "Mappings", "Conditions", "DeviceConfiguration")
RESOURCE_KEYS = ("Type", "Properties", "OverrideSettings", "Condition")
PARAMETER_KEYS = ("Type", "Default")
PARAMETER_TYPES = ("String",)

THING_PROPERTIES = (
    "ThingName", "AttributePayload", "ThingTypeName", "ThingGroups", "BillingGroup",
    "PackageVersions",
)
CERTIFICATE_PROPERTIES = (
    "CertificateSigningRequest", "CertificateId", "CertificatePem", "CACertificatePem", "Status",
)
CERTIFICATE_SOURCES = ("CertificateSigningRequest", "CertificateId", "CertificatePem")
CERTIFICATE_STATUSES = ("ACTIVE", "INACTIVE")
POLICY_PROPERTIES = ("PolicyName", "PolicyDocument")

OVERRIDE_ACTIONS = ("DO_NOTHING", "REPLACE", "FAIL", "MERGE")
# The guide's prose spells thing override keys in upper snake case; AWS's examples use the
# property names. Both are accepted; the plan always holds the property names.
THING_OVERRIDE_KEYS = {
    "AttributePayload": "AttributePayload", "ATTRIBUTE_PAYLOAD": "AttributePayload",
    "ThingTypeName": "ThingTypeName", "THING_TYPE_NAME": "ThingTypeName",
    "ThingGroups": "ThingGroups", "THING_GROUPS": "ThingGroups",
}
MERGEABLE_THING_PROPERTIES = ("AttributePayload", "ThingGroups")
CERTIFICATE_OVERRIDE_KEYS = {"Status": "Status"}

THING_NAME_PATTERN = re.compile(r"[a-zA-Z0-9:_-]{1,128}")  # also thing type and group names
POLICY_NAME_PATTERN = re.compile(r"[\w+=,.@-]{1,128}")
CERTIFICATE_ID_PATTERN = re.compile(r"[0-9a-fA-F]{64}")

NO_VALUE = "AWS::NoValue"
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")


class _NoValue:
    """What ``{"Ref": "AWS::NoValue"}`` resolves to: the enclosing key or item is dropped."""

    def __repr__(self) -> str:
        return NO_VALUE


_DROPPED = _NoValue()


@dataclass(frozen=True)
class ThingSpec:
    """The thing a template asks for, with its parameters filled in."""

    logical_id: str
    thing_name: str
    attributes: dict[str, str] = field(default_factory=dict)
    thing_type_name: str | None = None
    thing_groups: list[str] = field(default_factory=list)
    billing_group: str | None = None
    override_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CertificateSpec:
    """The certificate: exactly one of ``csr``, ``certificate_id``, ``certificate_pem`` is set.

    ``status`` is upper case (``ACTIVE``/``INACTIVE``) or None when the template gives none; the
    caller applies AWS's default (``ACTIVE``).
    """

    logical_id: str
    csr: str | None = None
    certificate_id: str | None = None
    certificate_pem: str | None = None
    ca_certificate_pem: str | None = None
    status: str | None = None
    override_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySpec:
    """A policy to attach: an existing one by name, or one created from ``policy_document``."""

    logical_id: str
    policy_name: str | None = None
    policy_document: str | None = None


@dataclass(frozen=True)
class ProvisioningPlan:
    """Everything one template resolves to, in template order; applying it is the caller's job."""

    thing: ThingSpec | None = None
    certificate: CertificateSpec | None = None
    policies: list[PolicySpec] = field(default_factory=list)
    device_configuration: dict[str, Any] = field(default_factory=dict)


# --- parsing ----------------------------------------------------------------------------------


def _invalid(message: str) -> InvalidRequestException:
    return InvalidRequestException(message)


def _listed(names: Any) -> str:
    return ", ".join(names)


def _require_object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def _refuse_unknown_keys(obj: dict, allowed: tuple[str, ...] | Mapping, where: str) -> None:
    unknown = [key for key in obj if key not in allowed]
    if unknown:
        raise _invalid(
            f"{where} has unsupported key(s) {_listed(unknown)}; allowed: {_listed(allowed)}"
        )


def _check_parameters(parameters: dict) -> None:
    for name, spec in parameters.items():
        where = f"Parameters.{name}"
        _require_object(spec, where)
        _refuse_unknown_keys(spec, PARAMETER_KEYS, where)
        if spec.get("Type") not in PARAMETER_TYPES:
            raise _invalid(f"{where}.Type must be one of {_listed(PARAMETER_TYPES)}")
        if "Default" in spec and not isinstance(spec["Default"], str):
            raise _invalid(f"{where}.Default must be a string")


def _check_mappings(mappings: dict) -> None:
    for map_name, top in mappings.items():
        for top_key, second in _require_object(top, f"Mappings.{map_name}").items():
            where = f"Mappings.{map_name}.{top_key}"
            for key, value in _require_object(second, where).items():
                is_list = isinstance(value, list) and all(isinstance(v, str) for v in value)
                if not (isinstance(value, str) or is_list):
                    raise _invalid(
                        f"{where}.{key} must be a string or a list of strings: Mappings may not "
                        "hold parameters or functions"
                    )


def _check_resources(resources: dict, conditions: dict) -> None:
    if not resources:
        raise _invalid("The template's Resources section declares no resources")
    by_type: dict[str, list[str]] = {t: [] for t in RESOURCE_TYPES}
    for logical_id, resource in resources.items():
        where = f"Resources.{logical_id}"
        _require_object(resource, where)
        _refuse_unknown_keys(resource, RESOURCE_KEYS, where)
        kind = resource.get("Type")
        if kind not in RESOURCE_TYPES:
            raise _invalid(
                f"{where}.Type {kind!r} is not supported; allowed types: {_listed(RESOURCE_TYPES)}"
            )
        by_type[kind].append(logical_id)
        _require_object(resource.get("Properties", {}), f"{where}.Properties")
        _require_object(resource.get("OverrideSettings", {}), f"{where}.OverrideSettings")
        if "Condition" in resource:
            _check_condition_name(resource["Condition"], conditions, f"{where}.Condition")
    for kind in (THING_TYPE, CERTIFICATE_TYPE):
        if len(by_type[kind]) > 1:
            raise _invalid(
                f"A template may declare only one {kind} resource; found {len(by_type[kind])}: "
                f"{_listed(by_type[kind])}"
            )


def _check_condition_name(name: Any, conditions: dict, where: str) -> None:
    if not CONDITIONS_SUPPORTED:
        raise _invalid(f"{where}: conditions are not supported in provisioning templates")
    if not isinstance(name, str) or name not in conditions:
        raise _invalid(f"{where} refers to {name!r}, which is not declared in Conditions")


def parse_template(body: str | dict) -> dict:
    """Validate a template (JSON text or an already decoded object) and return it as a dict."""
    if isinstance(body, str):
        if len(body) > MAX_TEMPLATE_BODY_CHARS:
            raise _invalid(
                f"The template body is {len(body)} characters long; the limit is "
                f"{MAX_TEMPLATE_BODY_CHARS}"
            )
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise _invalid(f"The template body is not valid JSON: {exc}") from None
    template = _require_object(body, "The template")
    _refuse_unknown_keys(template, SECTIONS, "The template")
    if "Resources" not in template:
        raise _invalid("The template has no Resources section")
    for section in SECTIONS:
        _require_object(template.get(section, {}), section)
    if template.get("Conditions") and not CONDITIONS_SUPPORTED:
        raise _invalid("Conditions are not supported in provisioning templates")
    _check_parameters(template.get("Parameters", {}))
    _check_mappings(template.get("Mappings", {}))
    _check_resources(template["Resources"], template.get("Conditions", {}))
    return template


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class _Scope:
    """What functions can see while one template is resolved (lives for one ``resolve`` call)."""

    values: dict[str, str | None]
    resources: dict
    mappings: dict
    conditions: dict
    truth: dict[str, bool] = field(default_factory=dict)
    evaluating: set[str] = field(default_factory=set)


def _ref(name: Any, scope: _Scope, where: str) -> Any:
    if not isinstance(name, str):
        raise _invalid(f"{where}: Ref takes a name, not {name!r}")
    if name == NO_VALUE and CONDITIONS_SUPPORTED:
        return _DROPPED
    if name in scope.values:
        value = scope.values[name]
        if value is None:
            raise _invalid(
                f"{where}: parameter {name} has no value and no Default (pass it in the parameters)"
            )
        return value
    if name in scope.resources:
        raise _invalid(f"{where}: Ref to resource {name} is not supported; Ref names a parameter")
    raise _invalid(f"{where}: Ref to {name}, which is not declared in Parameters")


def _args(value: Any, count: int, function: str, where: str) -> list:
    if not isinstance(value, list) or len(value) != count:
        raise _invalid(f"{where}: {function} takes a list of {count} arguments, got {value!r}")
    return value


def _string(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{where}: {what} must be a string, got {value!r}")
    return value


def _fn_join(arg: Any, scope: _Scope, where: str) -> str:
    delimiter, items = _args(arg, 2, "Fn::Join", where)
    delimiter = _string(_resolve(delimiter, scope, where), "the Fn::Join delimiter", where)
    items = _resolve(items, scope, where)
    if not isinstance(items, list):
        raise _invalid(f"{where}: Fn::Join needs a list of values, got {items!r}")
    return delimiter.join(_string(item, "each Fn::Join value", where) for item in items)


def _fn_split(arg: Any, scope: _Scope, where: str) -> list[str]:
    delimiter, source = (_resolve(a, scope, where) for a in _args(arg, 2, "Fn::Split", where))
    delimiter = _string(delimiter, "the Fn::Split delimiter", where)
    if not delimiter:
        raise _invalid(f"{where}: the Fn::Split delimiter must not be empty")
    return _string(source, "the Fn::Split source", where).split(delimiter)


def _fn_select(arg: Any, scope: _Scope, where: str) -> Any:
    index, items = (_resolve(a, scope, where) for a in _args(arg, 2, "Fn::Select", where))
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _invalid(f"{where}: the Fn::Select index must be an integer >= 0, got {index!r}")
    if not isinstance(items, list):
        raise _invalid(f"{where}: Fn::Select needs a list, got {items!r}")
    if index >= len(items) or items[index] is None:
        raise _invalid(f"{where}: Fn::Select index {index} is out of range for {items!r}")
    return items[index]


def _fn_find_in_map(arg: Any, scope: _Scope, where: str) -> Any:
    keys = [_string(_resolve(a, scope, where), "each Fn::FindInMap key", where)
            for a in _args(arg, 3, "Fn::FindInMap", where)]
    node: Any = scope.mappings
    for level, key in zip(("mapping", "top-level key", "second-level key"), keys):
        if key not in node:
            raise _invalid(f"{where}: Fn::FindInMap found no {level} {key!r}")
        node = node[key]
    return node


def _fn_sub(arg: Any, scope: _Scope, where: str) -> str:
    if isinstance(arg, list):
        text, variables = _args(arg, 2, "Fn::Sub", where)
        variables = _resolve(_require_object(variables, f"{where} Fn::Sub variables"), scope, where)
    else:
        text, variables = arg, {}
    text = _string(text, "the Fn::Sub template", where)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return _string(variables[name], f"Fn::Sub variable {name}", where)
        if "." in name and "::" not in name:
            raise _invalid(f"{where}: Fn::Sub ${{{name}}} reads a resource attribute (unsupported)")
        value = _ref(name, scope, where)
        if value is _DROPPED:
            raise _invalid(f"{where}: Fn::Sub cannot substitute {NO_VALUE}")
        return value

    return _SUB_VARIABLE.sub(substitute, text)


def _fn_if(arg: Any, scope: _Scope, where: str) -> Any:
    if not CONDITIONS_SUPPORTED:
        raise _invalid(f"{where}: Fn::If is not supported in provisioning templates")
    name, when_true, when_false = _args(arg, 3, "Fn::If", where)
    _check_condition_name(name, scope.conditions, f"{where} Fn::If")
    return _resolve(when_true if _condition(name, scope) else when_false, scope, where)


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::Join": _fn_join,
    "Fn::Split": _fn_split,
    "Fn::Select": _fn_select,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Sub": _fn_sub,
    "Fn::If": _fn_if,
}


def _is_call(node: dict) -> bool:
    """A ``Ref`` or ``Fn::`` object; a plain ``Condition`` key stays data (e.g. an attribute)."""
    return "Ref" in node or any(key.startswith("Fn::") for key in node)


def _resolve(node: Any, scope: _Scope, where: str) -> Any:
    """Evaluate every function in ``node``; ``where`` names the spot for error messages."""
    if isinstance(node, list):
        items = (_resolve(item, scope, where) for item in node)
        return [item for item in items if item is not _DROPPED]
    if not isinstance(node, dict):
        return node
    if _is_call(node):
        if len(node) != 1:
            raise _invalid(f"{where}: a function object has exactly one key, got {list(node)}")
        name, arg = next(iter(node.items()))
        if name not in _FUNCTIONS:
            in_conditions = name in _CONDITION_FUNCTIONS
            problem = "is only valid in Conditions" if in_conditions else "is not supported"
            raise _invalid(f"{where}: intrinsic function {name} {problem}")
        return _FUNCTIONS[name](arg, scope, where)
    resolved = {key: _resolve(value, scope, f"{where}.{key}") for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not _DROPPED}


def _condition(name: str, scope: _Scope) -> bool:
    """The value of a declared condition, evaluated once per ``resolve``."""
    if name in scope.truth:
        return scope.truth[name]
    if name in scope.evaluating:
        raise _invalid(f"Conditions.{name} refers to itself through a cycle")
    scope.evaluating.add(name)
    scope.truth[name] = _truth(scope.conditions[name], scope, f"Conditions.{name}")
    scope.evaluating.discard(name)
    return scope.truth[name]


def _truth(expression: Any, scope: _Scope, where: str) -> bool:
    if not isinstance(expression, dict) or len(expression) != 1:
        raise _invalid(f"{where}: a condition must be one of {_listed(_CONDITION_FUNCTIONS)}")
    name, arg = next(iter(expression.items()))
    if name == "Condition":
        _check_condition_name(arg, scope.conditions, where)
        return _condition(arg, scope)
    if name == "Fn::Equals":
        left, right = (_resolve(a, scope, where) for a in _args(arg, 2, name, where))
        return left == right
    if name == "Fn::Not":
        (inner,) = _args(arg, 1, name, where)
        return not _truth(inner, scope, where)
    if name in ("Fn::And", "Fn::Or"):
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise _invalid(f"{where}: {name} takes a list of 2 to 10 conditions, got {arg!r}")
        combine = all if name == "Fn::And" else any
        return combine(_truth(inner, scope, where) for inner in arg)
    raise _invalid(f"{where}: {name} is not one of {_listed(_CONDITION_FUNCTIONS)}")


# --- resources --------------------------------------------------------------------------------


def _optional_string(props: dict, key: str, where: str) -> str | None:
    return None if props.get(key) is None else _string(props[key], key, where)


def _name(value: Any, pattern: re.Pattern[str], what: str, where: str) -> str:
    if not pattern.fullmatch(_string(value, what, where)):
        raise _invalid(f"{where}: {what} {value!r} does not match the pattern {pattern.pattern}")
    return value


def _overrides(raw: dict, keys: Mapping[str, str], where: str) -> dict[str, str]:
    _refuse_unknown_keys(raw, keys, where)
    settings: dict[str, str] = {}
    for key, action in raw.items():
        prop = keys[key]
        if action not in OVERRIDE_ACTIONS:
            raise _invalid(f"{where}.{key}: {action!r} is not one of {_listed(OVERRIDE_ACTIONS)}")
        if action == "MERGE" and prop not in MERGEABLE_THING_PROPERTIES:
            mergeable = _listed(MERGEABLE_THING_PROPERTIES)
            raise _invalid(f"{where}.{key}: MERGE is allowed only for {mergeable}")
        settings[prop] = action
    return settings


def _thing(logical_id: str, props: dict, overrides: dict, where: str) -> ThingSpec:
    _refuse_unknown_keys(props, THING_PROPERTIES, where)
    if "PackageVersions" in props:
        raise NotImplementedInLab(f"{where}.PackageVersions: the lab does not emulate packages")
    if props.get("ThingName") is None:
        raise _invalid(f"{where}: a thing resource needs a ThingName")
    attributes = _require_object(props.get("AttributePayload", {}), f"{where}.AttributePayload")
    for key, value in attributes.items():
        _string(value, f"AttributePayload.{key}", where)
    groups = props.get("ThingGroups", [])
    if not isinstance(groups, list):
        raise _invalid(f"{where}: ThingGroups must be a list of group names, got {groups!r}")
    type_name = props.get("ThingTypeName")
    if type_name is not None:
        type_name = _name(type_name, THING_NAME_PATTERN, "ThingTypeName", where)
    return ThingSpec(
        logical_id=logical_id,
        thing_name=_name(props["ThingName"], THING_NAME_PATTERN, "ThingName", where),
        attributes=dict(attributes),
        thing_type_name=type_name,
        thing_groups=[_name(group, THING_NAME_PATTERN, "thing group", where) for group in groups],
        billing_group=_optional_string(props, "BillingGroup", where),
        override_settings=_overrides(overrides, THING_OVERRIDE_KEYS, f"{where}.OverrideSettings"),
    )


def _certificate(logical_id: str, props: dict, overrides: dict, where: str) -> CertificateSpec:
    _refuse_unknown_keys(props, CERTIFICATE_PROPERTIES, where)
    given = [key for key in CERTIFICATE_SOURCES if props.get(key) is not None]
    if len(given) != 1:
        raise _invalid(
            f"{where}: a certificate resource needs exactly one of {_listed(CERTIFICATE_SOURCES)}; "
            f"got {_listed(given) or 'none'}"
        )
    if props.get("CACertificatePem") is not None and given != ["CertificatePem"]:
        raise _invalid(f"{where}: CACertificatePem goes only with CertificatePem")
    certificate_id = _optional_string(props, "CertificateId", where)
    if certificate_id is not None and not CERTIFICATE_ID_PATTERN.fullmatch(certificate_id):
        raise _invalid(f"{where}: CertificateId {certificate_id!r} is not 64 hexadecimal digits")
    status = _optional_string(props, "Status", where)
    if status is not None:
        if status.upper() not in CERTIFICATE_STATUSES:
            allowed = _listed(CERTIFICATE_STATUSES)
            raise _invalid(f"{where}: Status {status!r} is not one of {allowed}")
        status = status.upper()  # AWS's own examples write "Active"
    return CertificateSpec(
        logical_id=logical_id,
        csr=_optional_string(props, "CertificateSigningRequest", where),
        certificate_id=certificate_id,
        certificate_pem=_optional_string(props, "CertificatePem", where),
        ca_certificate_pem=_optional_string(props, "CACertificatePem", where),
        status=status,
        override_settings=_overrides(
            overrides, CERTIFICATE_OVERRIDE_KEYS, f"{where}.OverrideSettings"
        ),
    )


def _policy(logical_id: str, props: dict, overrides: dict, where: str) -> PolicySpec:
    _refuse_unknown_keys(props, POLICY_PROPERTIES, where)
    if overrides:
        raise _invalid(f"{where}: policy resources take no OverrideSettings")
    given = [key for key in POLICY_PROPERTIES if props.get(key) is not None]
    if len(given) != 1:
        raise _invalid(
            f"{where}: a policy resource needs exactly one of PolicyName or PolicyDocument; "
            f"got {_listed(given) or 'none'}"
        )
    name, document = props.get("PolicyName"), props.get("PolicyDocument")
    if isinstance(document, dict):  # fleet-provisioning examples write the document inline
        document = json.dumps(document)
    return PolicySpec(
        logical_id=logical_id,
        policy_name=None if name is None else _name(name, POLICY_NAME_PATTERN, "PolicyName", where),
        policy_document=None if document is None else _string(document, "PolicyDocument", where),
    )


def _parameter_values(declared: dict, given: Mapping[str, str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is not None and not isinstance(value, str):
            raise _invalid(f"The value of parameter {name} must be a string, got {value!r}")
        values[name] = value
    return values


def resolve(
    template: str | dict, parameters: Mapping[str, str], *, require_all: bool = False
) -> ProvisioningPlan:
    """Fill ``parameters`` into ``template`` and return the resources it asks for.

    ``require_all`` makes every declared parameter mandatory (a value or a Default), as JITP
    does: "the certificate must contain values for all of the parameters in the template".
    """
    template = parse_template(template)
    scope = _Scope(
        values=_parameter_values(template.get("Parameters", {}), parameters),
        resources=template["Resources"],
        mappings=template.get("Mappings", {}),
        conditions=template.get("Conditions", {}),
    )
    if require_all and (missing := [n for n, v in scope.values.items() if v is None]):
        raise _invalid(f"No value for parameter(s) {_listed(missing)}")
    thing = certificate = None
    policies: list[PolicySpec] = []
    for logical_id, resource in template["Resources"].items():
        if "Condition" in resource and not _condition(resource["Condition"], scope):
            continue
        where = f"Resources.{logical_id}"
        props = _resolve(resource.get("Properties", {}), scope, f"{where}.Properties")
        overrides = _resolve(
            resource.get("OverrideSettings", {}), scope, f"{where}.OverrideSettings"
        )
        if resource["Type"] == THING_TYPE:
            thing = _thing(logical_id, props, overrides, where)
        elif resource["Type"] == CERTIFICATE_TYPE:
            certificate = _certificate(logical_id, props, overrides, where)
        else:
            policies.append(_policy(logical_id, props, overrides, where))
    configuration = _resolve(template.get("DeviceConfiguration", {}), scope, "DeviceConfiguration")
    return ProvisioningPlan(thing, certificate, policies, configuration)


def resource_arns(
    plan: ProvisioningPlan,
    *,
    thing_arn: str | None = None,
    certificate_arn: str | None = None,
    policy_arns: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """RegisterThing's ``resourceArns`` (the bulk report's ``ResourceArns``) for an applied plan.

    ``policy_arns`` maps policy logical ids to ARNs. Only policies created from a
    ``PolicyDocument`` are reported: AWS's CLI example with an existing ``PolicyName`` returns
    just ``certificate`` and ``thing``. Keys follow ``ARN_KEYS_ARE_LOGICAL_IDS``.
    """
    def key(logical_id: str, kind: str) -> str:
        return logical_id if ARN_KEYS_ARE_LOGICAL_IDS else kind

    arns: dict[str, str] = {}
    policy_arns = policy_arns or {}
    for policy in plan.policies:
        if policy.policy_document is not None and policy.logical_id in policy_arns:
            arns[key(policy.logical_id, "policy")] = policy_arns[policy.logical_id]
    if plan.certificate is not None and certificate_arn is not None:
        arns[key(plan.certificate.logical_id, "certificate")] = certificate_arn
    if plan.thing is not None and thing_arn is not None:
        arns[key(plan.thing.logical_id, "thing")] = thing_arn
    return arns
