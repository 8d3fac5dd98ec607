"""CreateThingType as AWS IoT answers it: with the type's id, and without replacing an existing type.

moto's CreateThingType answers no ``thingTypeId`` and, for a name already taken, silently makes a new
type (a new id) while the things of the old one keep pointing at it. AWS answers the existing type
when nothing differs and ``ResourceAlreadyExistsException`` otherwise [unconfirmed: the idempotent
answer is what CreateThing does; AWS's page for CreateThingType lists the exception only].
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThingType.html
"""

from __future__ import annotations

from typing import Any

from ...errors import ResourceAlreadyExistsException
from .. import registry
from . import handles


@handles("iot", "CreateThingType")
def create_thing_type(lab: Any, params: dict) -> dict:
    name = params["thingTypeName"]
    properties = params.get("thingTypeProperties") or {}
    thing_type = registry.thing_type(lab, name)
    if thing_type is None:
        lab.iot.create_thing_type(name, properties)
        thing_type = registry.thing_type(lab, name)
    elif (thing_type.thing_type_properties or {}) != properties:
        raise ResourceAlreadyExistsException(f"Thing type {name} already exists with different properties.")
    return {"thingTypeName": thing_type.thing_type_name, "thingTypeArn": thing_type.arn,
            "thingTypeId": thing_type.thing_type_id}
