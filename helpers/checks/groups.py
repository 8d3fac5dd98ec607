"""Chapter 08: thing groups, their hierarchy, and the policies a member inherits."""

from __future__ import annotations

from typing import Any

from . import allows, certificates_of, is_active, policies_of
from .fleet import groups_of


def ancestors(ws: Any, group: str) -> list[str]:
    """The groups above ``group``, from the root down to its parent."""
    metadata = ws.iot.describe_thing_group(thingGroupName=group)["thingGroupMetadata"]
    return [g["groupName"] for g in metadata.get("rootToParentThingGroups") or []]


def child_group_member_problem(ws: Any, thing: str, parent: str, topic: str) -> str:
    """Chapter 08's exercise: ``thing`` is in a group below ``parent`` (not in ``parent`` itself), and
    some ACTIVE certificate of it, with no policy of its own, may connect as ``thing`` and publish to
    ``topic``: the policy of ``parent`` allows it, inherited."""
    certificates = certificates_of(ws, thing)
    if not certificates:
        return f"{thing} does not exist yet, or has no certificate attached"
    active = [arn for arn in certificates if is_active(ws, arn)]
    if not active:
        return f"no certificate of {thing} is ACTIVE"
    groups = groups_of(ws, thing)
    if parent in groups:
        return f"{thing} is in {parent} itself; the exercise puts it in a group below {parent} only"
    below = [group for group in groups if parent in ancestors(ws, group)]
    if not below:
        return f"{thing} is in no group below {parent}" + (f" (it is in {', '.join(groups)})" if groups else "")
    bare = [arn for arn in active if not policies_of(ws, arn)]
    if not bare:
        return f"every ACTIVE certificate of {thing} has a policy of its own; the exercise gives it none"
    for arn in bare:
        if allows(ws, arn, thing, "CONNECT", thing) and allows(ws, arn, thing, "PUBLISH", topic):
            return ""
    return (f"{thing} is in {', '.join(below)}, but the policies of its groups do not let it connect as "
            f"{thing} and publish to {topic}")
