"""GetPolicy answers the policy's ``creationDate`` and ``lastModifiedDate``, as AWS IoT does.

moto answered name, ARN, document and default version only. The creation date is what tells a
policy from a same-named one created after it was deleted (the workshop's clean-up relies on it);
the last modification is when the current default version was made.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import utcnow

from . import wrap_after, wrap_around

MODELS = "moto.iot.models"


def _remember_creation(self, result, *args, **kwargs) -> None:
    versions = getattr(self, "versions", None)
    self.creation_datetime = versions[0].create_datetime if versions else utcnow()


def _get_dict_with_dates(original, self) -> dict[str, Any]:
    answer = original(self)
    versions = list(getattr(self, "versions", []) or [])
    created = getattr(self, "creation_datetime", None)
    if created is None and versions:  # a policy made before this patch (a lab's saved state)
        created = min(v.create_datetime for v in versions)
    default = next((v for v in versions if v.is_default), None)
    if created is not None:
        answer["creationDate"] = created
        answer["lastModifiedDate"] = default.create_datetime if default is not None else created
    return answer


def install(lab: Any) -> None:
    wrap_after(MODELS, "FakePolicy", "__init__", _remember_creation)
    wrap_around(MODELS, "FakePolicy", "to_get_dict", _get_dict_with_dates)
