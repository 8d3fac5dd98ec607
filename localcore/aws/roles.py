"""IAM roles AWS IoT assumes, and the seconds after their creation when it cannot yet.

IAM is eventually consistent: a role that was just created is not yet assumable everywhere, and
AWS IoT checks that it can assume the role an operation names when the operation is called. Right
after a stack made its roles, AWS answers (observed, e.g. hashicorp/terraform-provider-aws#33433
and #20467):

    InvalidRequestException: AWS IoT (iot.amazonaws.com) is unable to assume role (sts:AssumeRole)
    on resource: arn:aws:iam::<account>:role/<name>. If the role was just created or updated,
    please try again in a few seconds.

Those reports are about CreateTopicRule/ReplaceTopicRule; the same answer for StartThingRegistrationTask,
SetV2LoggingOptions and a CA's JITP ``registrationConfig.roleArn`` is [unconfirmed] (the code is the
only one these operations' models list for a bad request). The lab gives it while a role is younger
than the ``role_propagation`` delay (`localcore.realism`; 0 unless ``LOCALCORE_REALISM=aws`` or
``LOCALCORE_DELAY_ROLE_PROPAGATION``), so the kit's retries are exercised. A role that does not
exist is each operation's own business (this check lets it through).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from .. import realism
from ..errors import InvalidRequestException

# [unconfirmed beyond topic rules] AWS's wording, kept whole so clients that match on it behave the same.
NOT_YET_ASSUMABLE = (
    "AWS IoT (iot.amazonaws.com) is unable to assume role (sts:AssumeRole) on resource: {arn}. "
    "If the role was just created or updated, please try again in a few seconds."
)


def role_created_at(lab: Any, role_arn: str) -> float | None:
    """Epoch seconds when the role ``role_arn`` names was created; None when there is no such role."""
    if ":role/" not in role_arn:
        return None
    try:
        role = lab.backend("iam").get_role(role_arn.rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity
        return None
    created = role.create_date
    if created.tzinfo is None:  # moto keeps naive UTC
        created = created.replace(tzinfo=timezone.utc)
    return created.timestamp()


def require_assumable(lab: Any, role_arns: Iterable[str], now: float | None = None) -> None:
    """Refuse with AWS's error while one of ``role_arns`` is too young for AWS IoT to assume."""
    if not realism.delay("role_propagation"):
        return
    now = datetime.now(timezone.utc).timestamp() if now is None else now
    for arn in role_arns:
        created = role_created_at(lab, arn) if arn else None
        if created is not None and realism.still_pending("role_propagation", created, now) > 0:
            raise InvalidRequestException(NOT_YET_ASSUMABLE.format(arn=arn))


def role_arns_in(value: Any) -> Iterator[str]:
    """Every ``roleArn`` in a nested payload (a topic rule's actions and error action)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "roleArn" and isinstance(item, str):
                yield item
            else:
                yield from role_arns_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from role_arns_in(item)
