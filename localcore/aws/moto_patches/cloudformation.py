"""CloudFormation fixes for the workshop stack (`cfn/`).

- moto's ``Ref`` of an ``AWS::IoT::Policy`` yields the Python object's repr, because moto's policy
  model has no ``physical_resource_id``. On AWS, ``Ref`` returns the policy name.
- Deleting the stack deleted its ``AWS::IoT::Policy`` by the template's unresolved ``PolicyName``
  (a ``!Sub`` dict), failing the whole DeleteStack; the policy now deletes itself by its name.
- An ``AWS::IAM::Role``'s inline ``Policies`` reach moto's ``Role.put_policy`` as dicts, and
  ``GetRolePolicy`` then returns their Python repr instead of a JSON document.
"""

from __future__ import annotations

import json
from typing import Any

from . import require, wrap_around


def _put_policy(original, self, policy_name, policy_json):
    if not isinstance(policy_json, str):
        policy_json = json.dumps(policy_json)
    return original(self, policy_name, policy_json)


def _delete_policy(self, account_id: str, region_name: str) -> None:
    from moto.iot.models import iot_backends

    iot_backends[account_id][region_name].delete_policy(policy_name=self.name)


def install(lab: Any) -> None:
    policy = require("moto.iot.models", "FakePolicy", "create_from_cloudformation_json")
    if not isinstance(policy.__dict__.get("physical_resource_id"), property):
        policy.physical_resource_id = property(lambda self: self.name)
    if "delete" not in policy.__dict__:
        policy.delete = _delete_policy
    wrap_around("moto.iam.models", "Role", "put_policy", _put_policy)
