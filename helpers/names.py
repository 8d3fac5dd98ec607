"""Names of a trainee's resources that AWS restricts more than thing names: pure functions.

Several trainees share one account in class, each with a prefix (``ws.prefix``, e.g. ``"anna-"``);
``ws.name(base)`` puts it in front of every name a chapter makes. Two kinds of name need more:

- `rule_name`: topic rule names allow only ``[A-Za-z0-9_]`` (AWS IoT's ``ruleName`` pattern), so
  the prefix's other characters become ``_`` (``anna-`` → ``anna_JITRRule``). The clean-up's prefix
  rule (`helpers.cleanup.carries_prefix`) accepts that spelling of the prefix for rules.
- `bucket_name`: S3 bucket names are global across all AWS accounts. The workshop stack names its
  bucket ``iotdm-<Prefix>-<account id>-<region>`` (``cfn/iot-dm-workshop.yaml``, ``!Sub``); this
  function computes the same name, so tests and notebooks can say which bucket is whose.
  `bucket_name_problem` checks S3's naming rules.
"""

from __future__ import annotations

import ipaddress
import re

RULE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_]")
BUCKET_LEAD = "iotdm"  # the first label: keeps the name clear of S3's reserved starts (xn--, sthree-)
BUCKET_MAX_LENGTH = 63
_BUCKET_CHARACTERS = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
# S3's general purpose bucket naming rules (docs: "Bucket naming rules"): reserved starts and ends.
BUCKET_RESERVED_STARTS = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_ENDS = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def rule_name(name: str) -> str:
    """A topic rule name for ``name`` (already prefixed): every character outside ``[A-Za-z0-9_]`` → ``_``."""
    return RULE_NAME_CHARACTERS.sub("_", name)


def bucket_name(stack_prefix: str, account_id: str, region: str) -> str:
    """The workshop stack's bucket, as the template's ``!Sub "iotdm-${Prefix}-${AWS::AccountId}-${AWS::Region}"``
    names it. ``stack_prefix`` is the template's ``Prefix`` parameter (``helpers.workshop.stack_prefix``)."""
    return f"{BUCKET_LEAD}-{stack_prefix}-{account_id}-{region}"


def bucket_name_problem(name: str) -> str:
    """What breaks S3's bucket naming rules in ``name`` ("" when it is a valid general purpose bucket name)."""
    if not 3 <= len(name) <= BUCKET_MAX_LENGTH:
        return f"{len(name)} characters (S3 allows 3 to {BUCKET_MAX_LENGTH})"
    if not _BUCKET_CHARACTERS.fullmatch(name):
        return "only lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    if ".." in name:
        return "two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
        return "formatted as an IP address"
    except ValueError:
        pass
    if name.startswith(BUCKET_RESERVED_STARTS):
        return f"starts with a reserved prefix ({', '.join(BUCKET_RESERVED_STARTS)})"
    if name.endswith(BUCKET_RESERVED_ENDS):
        return f"ends with a reserved suffix ({', '.join(BUCKET_RESERVED_ENDS)})"
    return ""


__all__ = ["BUCKET_LEAD", "bucket_name", "bucket_name_problem", "rule_name"]
