"""RegisterThing: provision a thing, certificate and policies from a template in one call."""

from __future__ import annotations

from ..provisioning import register
from . import handles


@handles("iot", "RegisterThing")
def register_thing(lab, params: dict) -> dict:
    result = register(lab, params.get("templateBody") or "", params.get("parameters") or {})
    output: dict = {"resourceArns": result.resource_arns}
    if result.certificate_pem:
        output["certificatePem"] = result.certificate_pem
    return output
