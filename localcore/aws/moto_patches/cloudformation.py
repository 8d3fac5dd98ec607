"""CloudFormation resource fixes: what moto's resource models do differently from AWS.

- moto's ``Ref`` of an ``AWS::IoT::Policy`` yields the Python object's repr, because moto's policy
  model has no ``physical_resource_id``. On AWS, ``Ref`` returns the policy name.
- Deleting the stack deleted its ``AWS::IoT::Policy`` by the template's unresolved ``PolicyName``
  (a ``!Sub`` dict), failing the whole DeleteStack; the policy now deletes itself by its name.
- An ``AWS::IoT::Policy``'s ``PolicyDocument`` written as a JSON object reached moto as a dict and
  ``GetPolicy`` answered its Python repr; it is stored as JSON text, as AWS stores it.
- An ``AWS::IAM::Role``'s inline ``Policies`` reach moto's ``Role.put_policy`` as dicts, and
  ``GetRolePolicy`` then returns their Python repr instead of a JSON document. They are also checked
  as IAM checks inline policies (moto stored any document).
- ``ManagedPolicyArns`` of an ``AWS::IAM::Role`` were ignored. They are attached (an unknown ARN
  fails the resource with IAM's ``NoSuchEntity``), and detached again when the stack deletes the role
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html).
- Deleting an ``AWS::S3::Bucket`` that still holds objects left the bucket in place while the stack
  reported it deleted. AWS refuses (``BucketNotEmpty``), and the stack's deletion fails; the original
  workshop says so: "empty your S3 bucket. If the bucket is not empty deleting the CloudFormation
  stack will fail".
- A stack update that renames an ``AWS::S3::Bucket`` (a new ``BucketName``: a replacement) made moto
  create the new bucket, fail to delete the old one when it held objects, and then try the whole
  replacement again, answering ``BucketAlreadyExists``. CloudFormation creates the new bucket once,
  and deletes the old one in the update's clean-up phase, where a failure no longer fails the update:
  the old bucket stays, with its objects (`KEEPS_UNDELETABLE_REPLACED_BUCKET`).
"""

from __future__ import annotations

import json
from typing import Any

from . import require, wrap_around, wrap_classmethod

# The ARNs a role got from its template's ManagedPolicyArns (an attribute on moto's Role, so that it
# is saved with the role): the stack detaches exactly these when it deletes the role.
STACK_MANAGED_POLICIES = "lab_stack_managed_policy_arns"


def _put_policy(original, self, policy_name, policy_json):
    if not isinstance(policy_json, str):
        policy_json = json.dumps(policy_json)
    return original(self, policy_name, policy_json)


def _delete_policy(self, account_id: str, region_name: str) -> None:
    from moto.iot.models import iot_backends

    iot_backends[account_id][region_name].delete_policy(policy_name=self.name)


def _as_json_text(document: Any) -> Any:
    """A policy document given as a JSON object (a template's ``PolicyDocument``) as compact JSON text."""
    if isinstance(document, (dict, list)):
        return json.dumps(document, separators=(",", ":"))
    return document


def _iot_create_policy(original, backend, policy_name, policy_document, *args, **kwargs):
    return original(backend, policy_name, _as_json_text(policy_document), *args, **kwargs)


def _iot_create_policy_version(original, backend, policy_name, policy_document, *args, **kwargs):
    return original(backend, policy_name, _as_json_text(policy_document), *args, **kwargs)


def _iam(account_id: str, region_name: str) -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region_name)]


def _create_role(original, cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """AWS::IAM::Role: inline ``Policies`` checked and ``ManagedPolicyArns`` known before the role exists."""
    from moto.iam.exceptions import NotFoundException

    from .iam import check_inline_policy

    properties = cloudformation_json.get("Properties") or {}
    backend = _iam(account_id, region_name)
    arns = list(properties.get("ManagedPolicyArns") or [])
    for arn in arns:
        if arn not in backend.managed_policies:
            raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")
    for policy in properties.get("Policies") or []:
        check_inline_policy(policy.get("PolicyDocument"))
    role = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    for arn in arns:
        backend.attach_role_policy(arn, role.name)
    setattr(role, STACK_MANAGED_POLICIES, arns)
    return role


def _delete_role(original, cls, resource_name, cloudformation_json, account_id, region_name):
    """Detach what the template attached, then moto deletes the role (and its inline policies)."""
    backend = _iam(account_id, region_name)
    role = next((r for r in list(backend.roles.values()) if r.name == resource_name), None)
    for arn in getattr(role, STACK_MANAGED_POLICIES, None) or []:
        if arn in role.managed_policies:
            backend.detach_role_policy(arn, role.name)
    return original(resource_name, cloudformation_json, account_id, region_name)


def _delete_bucket(original, cls, resource_name, cloudformation_json, account_id, region_name):
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    bucket = s3_backends[account_id][get_partition(region_name)].buckets.get(resource_name)
    if bucket is not None and bucket.keys:
        raise BucketNotEmpty(resource_name)
    return original(resource_name, cloudformation_json, account_id, region_name)


# [unconfirmed] A resource CloudFormation cannot delete in the UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
# phase is left in place and the stack still ends UPDATE_COMPLETE. False would fail the update instead.
KEEPS_UNDELETABLE_REPLACED_BUCKET = True


def _update_bucket(original, cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    """A renamed bucket: the new one is created once; the old one goes if it can (see the docstring)."""
    from moto.s3.exceptions import BucketNotEmpty

    properties = cloudformation_json.get("Properties") or {}
    wanted = properties.get("BucketName")
    if not wanted or wanted == original_resource.name:
        return original(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    new_bucket = cls.create_from_cloudformation_json(wanted, cloudformation_json, account_id, region_name)
    try:
        cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
    except BucketNotEmpty:
        if not KEEPS_UNDELETABLE_REPLACED_BUCKET:
            raise
    return new_bucket


def install(lab: Any) -> None:
    policy = require("moto.iot.models", "FakePolicy", "create_from_cloudformation_json")
    if not isinstance(policy.__dict__.get("physical_resource_id"), property):
        policy.physical_resource_id = property(lambda self: self.name)
    if "delete" not in policy.__dict__:
        policy.delete = _delete_policy
    wrap_around("moto.iot.models", "IoTBackend", "create_policy", _iot_create_policy)
    wrap_around("moto.iot.models", "IoTBackend", "create_policy_version", _iot_create_policy_version)
    wrap_around("moto.iam.models", "Role", "put_policy", _put_policy)
    require("moto.iam.models", "IAMBackend", "attach_role_policy")
    require("moto.iam.models", "IAMBackend", "detach_role_policy")
    wrap_classmethod("moto.iam.models", "Role", "create_from_cloudformation_json", _create_role)
    wrap_classmethod("moto.iam.models", "Role", "delete_from_cloudformation_json", _delete_role)
    wrap_classmethod("moto.s3.models", "FakeBucket", "delete_from_cloudformation_json", _delete_bucket)
    wrap_classmethod("moto.s3.models", "FakeBucket", "update_from_cloudformation_json", _update_bucket)
