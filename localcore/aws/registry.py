"""Read-only look-ups in moto's IoT registry that the lab's handlers and broker share.

moto's backend raises its own exceptions for missing resources; these helpers answer ``None``
instead so callers can raise the AWS error that fits their operation.
"""

from __future__ import annotations

from typing import Any


def thing(lab: Any, name: str) -> Any | None:
    return lab.iot.things.get(lab.arn("thing", name))


def thing_group(lab: Any, name: str) -> Any | None:
    for group in list(lab.iot.thing_groups.values()):
        if group.thing_group_name == name:
            return group
    return None


def thing_type(lab: Any, name: str) -> Any | None:
    for thing_type_ in list(lab.iot.thing_types.values()):
        if thing_type_.thing_type_name == name:
            return thing_type_
    return None


def policy(lab: Any, name: str) -> Any | None:
    return lab.iot.policies.get(name)


def certificate(lab: Any, certificate_id: str) -> Any | None:
    return lab.iot.certificates.get(certificate_id)
