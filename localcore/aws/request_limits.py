"""How large a request body the lab reads, per service and operation; larger ones are refused
(HTTP 413) before their body is read, so one oversized request cannot fill the lab's memory or,
once stored, every later listing of the registry.

- iot-data ``Publish``: 128 KB, AWS IoT's message payload limit, which covers HTTP publishes
  (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, "Message size"); the API model's
  ``RequestEntityTooLargeException`` (413) is the answer.
- lambda: 50 MB zipped deployment packages may be uploaded through the API
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); base64 in a JSON body
  makes that about 67 MB.
- s3, and unsigned requests of unknown services: no cap here (moto takes them).
- everything else (AWS IoT's control plane included): [unconfirmed] no documented cap on a request
  body was found; every input in the AWS IoT API model is far smaller (the largest are 64 KB
  certificate PEMs, 32 KB job documents, and 50 attributes of 128 + 800 characters ≈ 46 KB).
"""

from __future__ import annotations

from ..errors import AwsError

KB, MB = 1024, 1024 * 1024

DEFAULT_MAX_BODY_BYTES = 10 * MB  # [unconfirmed]
MAX_BODY_BYTES: dict[str, int | None] = {
    "iot": 1 * MB,  # [unconfirmed]
    "iot-jobs-data": 1 * MB,  # [unconfirmed]
    "iot-data": 1 * MB,  # [unconfirmed] shadows are limited by the shadow service (8 KB state)
    "lambda": 70 * MB,
    "s3": None,
}
MAX_OPERATION_BODY_BYTES: dict[tuple[str, str], int] = {
    ("iot-data", "Publish"): 128 * KB,
}

# [unconfirmed] except for iot-data, whose model declares RequestEntityTooLargeException (413).
REQUEST_TOO_LARGE_CODE = "RequestEntityTooLargeException"


class RequestTooLarge(AwsError):
    code, status = REQUEST_TOO_LARGE_CODE, 413


def max_body_bytes(service: str | None, operation: str | None = None) -> int | None:
    """The largest body the lab reads for this request; None for no limit."""
    if service is not None and operation is not None and (service, operation) in MAX_OPERATION_BODY_BYTES:
        return MAX_OPERATION_BODY_BYTES[(service, operation)]
    if service is None:  # unsigned: moto decides (it takes most such requests for S3)
        return None
    return MAX_BODY_BYTES.get(service, DEFAULT_MAX_BODY_BYTES)


def check_size(service: str | None, operation: str | None, size: int) -> None:
    """Raise ``RequestTooLarge`` when ``size`` bytes exceed the limit for this request."""
    limit = max_body_bytes(service, operation)
    if limit is not None and size > limit:
        what = f"{operation} request" if operation else "request"
        raise RequestTooLarge(
            f"The {what} body is {size} bytes; at most {limit} bytes are accepted."
        )
