"""CloudFormation fixes for the workshop stack (`cfn/`).

moto's ``Ref`` of an ``AWS::IoT::Policy`` yields the Python object's repr, because moto's policy
model has no ``physical_resource_id``. On AWS, ``Ref`` returns the policy name.
"""

from __future__ import annotations

from typing import Any

from . import require


def install(lab: Any) -> None:
    policy = require("moto.iot.models", "FakePolicy", "create_from_cloudformation_json")
    if not isinstance(policy.__dict__.get("physical_resource_id"), property):
        policy.physical_resource_id = property(lambda self: self.name)
