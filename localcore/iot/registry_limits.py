"""AWS IoT's documented registry limits that the API model cannot express (they depend on the
thing's type or on what is already stored). Pure functions over plain data.

- "Things with a thing type can have up to 50 attributes. Things without a thing type can have up
  to three attributes." https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html
- Thing groups: at most 50 attributes.
  https://docs.aws.amazon.com/iot/latest/developerguide/limits-iot.html ("Thing Group Attributes")
- UpdateThing: ``merge: true`` merges the attributes into the stored ones, otherwise they replace
  them; an attribute with an empty value is removed.
  https://docs.aws.amazon.com/iot/latest/apireference/API_AttributePayload.html

Attribute names (≤ 128, ``[a-zA-Z0-9_.,@/:#-]+``) and values (≤ 800) are in the API model and are
checked with every other model constraint by ``localcore.aws.validation``.
"""

from __future__ import annotations

from typing import Any, Mapping

MAX_THING_ATTRIBUTES_WITH_TYPE = 50
MAX_THING_ATTRIBUTES_WITHOUT_TYPE = 3
MAX_THING_GROUP_ATTRIBUTES = 50


def updated_attributes(stored: Mapping[str, Any], sent: Mapping[str, Any], merge: bool) -> dict[str, Any]:
    """The attributes a thing or group holds after an update (empty values remove attributes)."""
    result = {**stored, **sent} if merge else dict(sent)
    return {name: value for name, value in result.items() if value != ""}


def thing_attribute_limit_error(thing_name: str, attributes: Mapping[str, Any], thing_type_name: str | None) -> str | None:
    """Why ``attributes`` are too many for a thing with (or without) a type, or None when they fit.

    The wording is the lab's: [unconfirmed] AWS's message for this refusal was not found.
    """
    count = len(attributes)
    if thing_type_name:
        if count > MAX_THING_ATTRIBUTES_WITH_TYPE:
            return (f"Thing {thing_name} would have {count} attributes; a thing with a thing type can have "
                    f"at most {MAX_THING_ATTRIBUTES_WITH_TYPE}.")
        return None
    if count > MAX_THING_ATTRIBUTES_WITHOUT_TYPE:
        return (f"Thing {thing_name} would have {count} attributes; a thing without a thing type can have "
                f"at most {MAX_THING_ATTRIBUTES_WITHOUT_TYPE} (up to {MAX_THING_ATTRIBUTES_WITH_TYPE} with a thing type).")
    return None


def thing_group_attribute_limit_error(group_name: str, attributes: Mapping[str, Any]) -> str | None:
    """Why a thing group's attributes are too many, or None. [unconfirmed] wording, as above."""
    if len(attributes) > MAX_THING_GROUP_ATTRIBUTES:
        return (f"Thing group {group_name} would have {len(attributes)} attributes; a thing group can have "
                f"at most {MAX_THING_GROUP_ATTRIBUTES}.")
    return None
