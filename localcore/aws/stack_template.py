"""What a CloudFormation template says about its resources, as plain functions over the parsed template.

* ``dependencies``: which resources each resource needs first. CloudFormation derives them from
  ``Ref``, ``Fn::GetAtt``, the ``${...}`` of ``Fn::Sub`` and ``DependsOn``
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html).
* ``creation_order``: dependencies first, otherwise template order. Deleting goes the other way
  round. A reference to nothing and a cycle are template errors, refused before anything is created
  (AWS: ``Template format error: Unresolved resource dependencies [X] in the Resources block of the
  template``; ``Circular dependency between resources: [A, B]``).
* ``missing_capability``: the capability CreateStack/UpdateStack/CreateChangeSet must be given, by
  AWS's rule (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html,
  ``Capabilities``): any IAM resource needs ``CAPABILITY_IAM`` or ``CAPABILITY_NAMED_IAM``, an IAM
  resource with a custom name needs ``CAPABILITY_NAMED_IAM``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

PSEUDO_PARAMETERS = frozenset({
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
    "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
})

CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
# The IAM resources the API reference lists under Capabilities, with the property that names each one.
IAM_RESOURCE_NAME_PROPERTIES: dict[str, str | None] = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template cannot be deployed as written (CloudFormation's ``ValidationError``)."""


def references(node: Any) -> set[str]:
    """Names a template fragment refers to with ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``."""
    found: set[str] = set()
    _collect(node, found)
    return found


def _collect(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, found)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" and isinstance(value, str):
            found.add(value)
            return
        if key == "Fn::GetAtt":
            name = value[0] if isinstance(value, list) and value else value.split(".", 1)[0] if isinstance(value, str) else None
            if isinstance(name, str):
                found.add(name)
            return
        if key == "Fn::Sub":
            text, variables = (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (value, {})
            local = set(variables) if isinstance(variables, dict) else set()
            if isinstance(text, str):
                found.update(m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text) if m.split(".", 1)[0] not in local)
            _collect(variables, found)
            return
    for value in node.values():
        _collect(value, found)


def _depends_on(spec: Mapping[str, Any]) -> list[str]:
    value = spec.get("DependsOn") or []
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def dependencies(resources: Mapping[str, Any], parameters: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each resource's direct dependencies (other resources), in template order.

    Raises ``TemplateError`` for a reference that is neither a resource, a parameter nor a pseudo
    parameter, and for a ``DependsOn`` that names no resource.
    """
    known = set(parameters) | PSEUDO_PARAMETERS
    graph: dict[str, list[str]] = {}
    unresolved: list[str] = []
    for name, spec in resources.items():
        spec = spec if isinstance(spec, dict) else {}
        body = {k: v for k, v in spec.items() if k not in ("Type", "DependsOn", "Condition")}
        needed: list[str] = []
        for ref in sorted(references(body)) + _depends_on(spec):
            if ref in resources:
                if ref not in needed and ref != name:
                    needed.append(ref)
            elif ref not in known or ref in _depends_on(spec):
                unresolved.append(ref)
        graph[name] = sorted(needed, key=list(resources).index)
    if unresolved:
        names = ", ".join(dict.fromkeys(unresolved))
        raise TemplateError(
            f"Template format error: Unresolved resource dependencies [{names}] in the Resources block of the template"
        )
    return graph


def creation_order(resources: Mapping[str, Any], parameters: Iterable[str] = ()) -> list[str]:
    """Every resource after the resources it depends on; ties keep template order."""
    graph = dependencies(resources, parameters)
    order: list[str] = []
    placed: set[str] = set()
    pending = list(graph)
    while pending:
        ready = next((name for name in pending if all(dep in placed for dep in graph[name])), None)
        if ready is None:
            raise TemplateError(f"Circular dependency between resources: [{', '.join(_cycle(graph, pending))}]")
        order.append(ready)
        placed.add(ready)
        pending.remove(ready)
    return order


def _cycle(graph: Mapping[str, list[str]], pending: list[str]) -> list[str]:
    """The resources of one cycle among ``pending`` (every one waits on another pending one)."""
    start = pending[0]
    path = [start]
    while True:
        following = next(dep for dep in graph[path[-1]] if dep in pending)
        if following in path:
            return sorted(path[path.index(following):], key=pending.index)
        path.append(following)


def dependencies_closure(graph: Mapping[str, list[str]], name: str) -> set[str]:
    """``name`` and everything it depends on, directly or not."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(graph.get(current, ()))
    return seen


def required_capability(resources: Mapping[str, Any]) -> str | None:
    """``CAPABILITY_NAMED_IAM``, ``CAPABILITY_IAM`` or None for these resources."""
    needed = None
    for spec in resources.values():
        kind = spec.get("Type") if isinstance(spec, dict) else None
        if kind not in IAM_RESOURCE_NAME_PROPERTIES:
            continue
        needed = CAPABILITY_IAM
        name_property = IAM_RESOURCE_NAME_PROPERTIES[kind]
        if name_property and name_property in (spec.get("Properties") or {}):
            return CAPABILITY_NAMED_IAM
    return needed


def missing_capability(resources: Mapping[str, Any], granted: Iterable[str]) -> str | None:
    """The capability the caller must add, or None when what they granted is enough."""
    granted = set(granted or ())
    needed = required_capability(resources)
    if needed == CAPABILITY_NAMED_IAM and CAPABILITY_NAMED_IAM not in granted:
        return CAPABILITY_NAMED_IAM
    if needed == CAPABILITY_IAM and not granted & {CAPABILITY_IAM, CAPABILITY_NAMED_IAM}:
        return CAPABILITY_IAM
    return None
