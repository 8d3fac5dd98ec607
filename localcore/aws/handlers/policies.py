"""ListAttachedPolicies with ``recursive`` (moto drops the flag): for a thing group, the policies
of its ancestor groups too, as AWS lists them; paged with ``marker``/``pageSize``."""

from __future__ import annotations

from ..paging import page
from .. import registry
from . import handles


def _ancestors(lab, group_arn: str) -> list[str]:
    """ARNs of the group's parent, grandparent, ... (nearest first)."""
    arns = []
    group = lab.iot.thing_groups.get(group_arn)
    while group is not None and group.parent_group_name:
        group = registry.thing_group(lab, group.parent_group_name)
        if group is None or group.arn in arns:
            break
        arns.append(group.arn)
    return arns


@handles("iot", "ListAttachedPolicies")
def list_attached_policies(lab, params: dict) -> dict:
    target = params.get("target") or ""
    targets = [target]
    if params.get("recursive") and ":thinggroup/" in target:
        targets += _ancestors(lab, target)
    seen: dict[str, object] = {}
    for arn in targets:
        for (principal, _name), (_principal, policy) in list(lab.iot.principal_policies.items()):
            if principal == arn and policy.name not in seen:
                seen[policy.name] = policy
    listed, marker = page(list(seen.values()), params.get("marker"), params.get("pageSize") or 250,
                          token_name="marker")
    output: dict = {"policies": [{"policyName": p.name, "policyArn": p.arn} for p in listed]}
    if marker:
        output["nextMarker"] = marker
    return output
