"""Chapters 01 and 02: a device's certificates, and what its policies let it do."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..certs import certificate_id, read_device
from . import allows, certificates_of, is_active


def button_policy_problem(ws: Any, button: str, own_topic: str, other_topic: str) -> str:
    """Chapter 01's exercise: some ACTIVE certificate of ``button`` may connect as ``button`` and
    publish to ``own_topic``, and may not publish to ``other_topic`` nor connect as another client."""
    certificates = certificates_of(ws, button)
    if not certificates:
        return f"{button} does not exist yet, or has no certificate attached"
    active = [arn for arn in certificates if is_active(ws, arn)]
    if not active:
        return f"no certificate of {button} is ACTIVE"
    for arn in active:
        if (allows(ws, arn, button, "CONNECT", button) and allows(ws, arn, button, "PUBLISH", own_topic)
                and not allows(ws, arn, button, "PUBLISH", other_topic)
                and not allows(ws, arn, f"{button}-impostor", "CONNECT", f"{button}-impostor")):
            return ""
    return (f"no certificate of {button} has policies that allow connecting as {button} and publishing to "
            f"{own_topic} while refusing {other_topic} and other client ids")


def provisioned_device_problem(ws: Any, thing: str, attributes: dict[str, str], topic: str) -> str:
    """Chapter 02's exercise: ``thing`` exists with ``attributes``; the certificate saved for it in the
    work folder (`save_device`) is an ACTIVE certificate of the thing that may connect as ``thing`` and
    publish to ``topic``: everything a device needs to publish as itself."""
    try:
        described = ws.iot.describe_thing(thingName=thing)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return f"{thing} does not exist yet"
        raise
    actual = described.get("attributes", {})
    wrong = {k: actual.get(k) for k, v in attributes.items() if actual.get(k) != v}
    if wrong:
        wanted = ", ".join(f"{k}={v}" for k, v in attributes.items())
        return (f"{thing} has {', '.join(f'{k}={v}' for k, v in wrong.items())}; wanted: {wanted} "
                f"(register_thing leaves an existing thing as it is: remove it and provision it again)")
    files = read_device(ws, thing)
    if files is None:
        return f"no certificate and key of {thing} are saved in the work folder (save_device)"
    saved_id = certificate_id(files.cert.read_text())
    attached = [arn for arn in certificates_of(ws, thing) if arn.rsplit("/", 1)[1] == saved_id]
    if not attached:
        return f"the certificate saved for {thing} is not attached to {thing} (an older one?)"
    saved = attached[0]
    if not is_active(ws, saved):
        return f"the certificate saved for {thing} is not ACTIVE"
    if not (allows(ws, saved, thing, "CONNECT", thing) and allows(ws, saved, thing, "PUBLISH", topic)):
        return f"no policy lets the certificate saved for {thing} connect as {thing} and publish to {topic}"
    return ""
