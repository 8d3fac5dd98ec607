"""IAM as AWS has it, where the workshop (and templates written for AWS) rely on it.

* AWS managed policies exist (``arn:aws:iam::aws:policy/service-role/AWSIoTLogging``,
  ``AWSIoTThingsRegistration``, ``AWSIoTRuleActions``, ``AWSLambdaBasicExecutionRole``, ...), so
  GetPolicy, AttachRolePolicy and a template's ``ManagedPolicyArns`` find them. moto ships AWS's list
  (about 1,600 policies) and loads it into every IAM backend when
  ``default_user_config["iam"]["load_aws_managed_policies"]`` is set; but moto's request handling
  creates an IAM backend for each of the seven partitions of every account it sees (to look access
  keys up), which made the first request cost seven loads. The lab loads them into the ``aws``
  partition only, from data parsed once: about 0.1-0.4 s, 5 MB and a 4 MB larger pickled IAM
  backend per account, when the account is first used (``bench/iam_managed_policies.py``).
* Inline policies (PutRolePolicy, PutUserPolicy, PutGroupPolicy, ``AWS::IAM::Policy`` and a role's
  ``Policies``) may omit ``Version``; IAM then reads them as version 2008-10-17
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
  moto required ``"Version": "2012-10-17"`` everywhere, the rule AWS applies to managed policies
  (CreatePolicy, CreatePolicyVersion), which keep moto's check.
* ``AWS::IAM::Policy`` is checked (document and the roles, users and groups it names) before moto
  stores anything, so a refused one leaves no half-applied policy behind.
"""

from __future__ import annotations

import functools
import json
import pickle
from typing import Any

from . import require, wrap_around

MODELS, BACKEND = "moto.iam.models", "IAMBackend"
VALIDATION = "moto.iam.policy_validation"


@functools.lru_cache(maxsize=None)
def inline_policy_validator() -> type:
    """moto's policy validator with ``Version`` optional (2008-10-17 or 2012-10-17 when present)."""
    validator = require(VALIDATION, "IAMPolicyDocumentValidator", "_validate_version")

    class InlinePolicyValidator(validator):
        def _validate_version(self) -> None:
            # Presence and value are checked by moto's syntax pass (2008-10-17 or 2012-10-17).
            return None

    return InlinePolicyValidator


def check_inline_policy(document: Any) -> str:
    """The document as JSON text, or moto's ``MalformedPolicyDocument`` error as IAM answers it."""
    text = document if isinstance(document, str) else json.dumps(document)
    inline_policy_validator()(text).validate()
    return text


def _put_policy(getter: str):
    """Put{Role,User,Group}Policy: moto's method, with the inline-policy rules."""

    def around(original, backend, owner_name, policy_name, policy_json):
        owner = getattr(backend, getter)(owner_name)  # NoSuchEntity first, as moto and AWS do
        owner.put_policy(policy_name, check_inline_policy(policy_json))

    return around


def _create_inline_policy(original, backend, resource_name, policy_name, policy_document, group_names,
                          role_names, user_names):
    """AWS::IAM::Policy: refuse a bad document or an unknown role/user/group before anything is stored."""
    check_inline_policy(policy_document)
    for name in role_names or ():
        backend.get_role(name)
    for name in user_names or ():
        backend.get_user(name)
    for name in group_names or ():
        backend.get_group(name)
    return original(backend, resource_name, policy_name, policy_document, group_names, role_names, user_names)


# The partition whose IAM backends get AWS's managed policies (the lab's ARNs are arn:aws:...).
PARTITION = "aws"


@functools.lru_cache(maxsize=1)
def _aws_managed_policies_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _init_aws_policies(original, backend):
    """moto's loader, for the ``aws`` partition only and from data parsed once per process."""
    if backend.region_name != PARTITION:  # an IAM backend's "region" is its partition
        return original(backend)
    from moto.iam.models import AWSManagedPolicy

    return [AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
            for name, data in _aws_managed_policies_data().items()]


def load_aws_managed_policies(backend: Any) -> None:
    """Give an IAM backend created before the patch (or restored from an older state) AWS's policies."""
    if backend.aws_managed_policies or backend.region_name != PARTITION:
        return
    backend.aws_managed_policies = backend._init_aws_policies()
    for policy in backend.aws_managed_policies:
        backend.managed_policies.setdefault(policy.arn, policy)


def aws_managed_policy(name: str, account_id: str, policy_id: str, attachment_count: int) -> Any:
    """An AWS-managed policy rebuilt from moto's data (what the lab's snapshot keeps of one)."""
    from moto.iam.models import AWSManagedPolicy

    policy = AWSManagedPolicy.from_data(name, account_id, PARTITION, _aws_managed_policies_data()[name])
    policy.id, policy.attachment_count = policy_id, attachment_count
    return policy


def _reduce_aws_managed_policy(policy: Any) -> tuple:
    """AWS's policies cannot change but for their attachments: save the name, not ~2.5 kB of document
    (they made each snapshot 4 MB; the lab saves after every change)."""
    if policy.name not in _aws_managed_policies_data():  # not one moto knows: save it whole
        return object.__reduce_ex__(policy, pickle.HIGHEST_PROTOCOL)
    return aws_managed_policy, (policy.name, policy.account_id, policy.id, policy.attachment_count)


def install(lab: Any) -> None:
    from moto.iam.models import AWSManagedPolicy, iam_backends

    from ...persistence import snapshot

    require("moto.iam.models", "AWSManagedPolicy", "from_data")
    for name in ("put_role_policy", "put_user_policy", "put_group_policy", "create_inline_policy"):
        require(MODELS, BACKEND, name)
    inline_policy_validator()
    snapshot.register_reducer(AWSManagedPolicy, _reduce_aws_managed_policy)
    wrap_around(MODELS, BACKEND, "_init_aws_policies", _init_aws_policies)
    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            load_aws_managed_policies(backend)
    wrap_around(MODELS, BACKEND, "put_role_policy", _put_policy("get_role"))
    wrap_around(MODELS, BACKEND, "put_user_policy", _put_policy("get_user"))
    wrap_around(MODELS, BACKEND, "put_group_policy", _put_policy("get_group"))
    wrap_around(MODELS, BACKEND, "create_inline_policy", _create_inline_policy)
