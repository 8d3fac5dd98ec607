"""A failed request, as AWS answers it: which error code each service uses, in which wire format,
and the one log line the lab writes for it.

Every failure the HTTP front sees ends here: a validation problem, a malformed body, an error a
handler or moto raised, an exception inside moto. The answer is always an AWS error in the
service's protocol (JSON for json/rest-json, XML for query/ec2/rest-xml), never an HTML page.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Mapping

from ..errors import AwsError, NotImplementedInLab
from . import codec
from .validation import Problem, validation_message

log = logging.getLogger("localcore.http")

# Code of a request that breaks the service model's constraints, per service (HTTP 400).
# AWS IoT: https://github.com/aws/aws-sdk-java/issues/666 ("InvalidRequestException: 2 validation
# errors detected: ..."); Lambda: https://github.com/aws/aws-cli/issues/3229 (ValidationException);
# CloudWatch Logs: https://github.com/lazywithclass/winston-cloudwatch/issues/136
# (InvalidParameterException); the other JSON services: ValidationException (DynamoDB, and Lambda
# above). [unconfirmed] for iot-data and iot-jobs-data (both model InvalidRequestException).
VALIDATION_ERROR_CODES = {
    "iot": "InvalidRequestException",
    "iot-data": "InvalidRequestException",
    "iot-jobs-data": "InvalidRequestException",
    "logs": "InvalidParameterException",
}
DEFAULT_VALIDATION_ERROR_CODE = "ValidationException"

# Code of an internal failure (HTTP 500), per service: the 500 error each API model declares
# (iot: InternalFailureException, iot-jobs-data: InternalServerException, lambda: ServiceException,
# logs: ServiceUnavailableException, dynamodb: InternalServerError, iam: ServiceFailure, sns:
# InternalError); S3 and EC2 document InternalError
# (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); the rest use AWS's
# common InternalFailure (https://docs.aws.amazon.com/iotanalytics/latest/APIReference/CommonErrors.html,
# "InternalFailure ... HTTP Status Code: 500", the same page in every service's API reference).
INTERNAL_ERROR_CODES = {
    "iot": "InternalFailureException",
    "iot-data": "InternalFailureException",
    "iot-jobs-data": "InternalServerException",
    "lambda": "ServiceException",
    "logs": "ServiceUnavailableException",
    "dynamodb": "InternalServerError",
    "iam": "ServiceFailure",
    "sns": "InternalError",
    "s3": "InternalError",
    "ec2": "InternalError",
}
DEFAULT_INTERNAL_ERROR_CODE = "InternalFailure"

LOGGED_MESSAGE_CHARS = 300  # a log line quotes at most this much of an error message


class ValidationError(AwsError):
    """The request breaks constraints of the service model or of AWS IoT's documented limits."""

    status = 400

    def __init__(self, service: str | None, problems: list[Problem]) -> None:
        code = VALIDATION_ERROR_CODES.get(service or "", DEFAULT_VALIDATION_ERROR_CODE)
        super().__init__(validation_message(problems), code=code)
        self.problems = problems


def validation_error(service: str | None, problems: list[Problem]) -> ValidationError:
    return ValidationError(service, problems)


def internal_error(service: str | None, operation: str | None, exc: BaseException) -> AwsError:
    """The AWS error for an exception nobody turned into one (a bug in moto or in the lab)."""
    what = f"{operation}" if operation else "this request"
    if isinstance(exc, NotImplementedError):
        return NotImplementedInLab(
            f"The local lab does not implement {what} this way ({_short(str(exc)) or 'not implemented'}); "
            f"the workshop does not need it. Use a real AWS account for it."
        )
    code = INTERNAL_ERROR_CODES.get(service or "", DEFAULT_INTERNAL_ERROR_CODE)
    return AwsError(
        f"The lab failed while handling {what} ({type(exc).__name__}: {_short(str(exc))[:100]}); "
        f"see lab.log (LOCALCORE_LOG_LEVEL=DEBUG logs the traceback).",
        code=code,
        status=500,
    )


@dataclass
class RequestInfo:
    """What the front knows of a request, for its error format and its log line (the operation
    is filled in once it is known)."""

    service: str | None
    protocol: str
    operation: str | None
    method: str
    path: str

    @property
    def label(self) -> str:
        """``iot CreateThing /things/t1``, ``logs GetQueryResults``, ``s3 PUT /bucket/key``."""
        service = self.service or "unknown service"
        if self.operation is None:
            return f"{service} {self.method} {self.path}"
        return f"{service} {self.operation}" + (f" {self.path}" if self.path not in ("", "/") else "")


def protocol_for(service: str | None, headers: Mapping[str, str], query_string: str) -> str:
    """The wire protocol of a request: from the service's model, else guessed from the request."""
    if service is not None:
        try:
            return codec.load_service_model(service).protocol
        except Exception:  # noqa: BLE001 - an unknown service: guess below
            pass
    lowered = {key.lower(): value for key, value in headers.items()}
    if "x-amz-target" in lowered:
        return "json"
    if "Action=" in query_string or "x-www-form-urlencoded" in lowered.get("content-type", ""):
        return "query"
    return "rest-json"


def query_action(query_string: str, body: bytes) -> str | None:
    """The ``Action`` of a query-protocol request (IAM, STS, CloudFormation, SNS, EC2)."""
    for text in (query_string, body[:4096].decode("latin-1") if body else ""):
        found = re.search(r"(?:^|&)Action=([A-Za-z0-9]+)", text)
        if found:
            return found.group(1)
    return None


def error_response(error: AwsError, info: RequestInfo) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of ``error`` in the request's protocol."""
    protocol = info.protocol if info.protocol in codec.SUPPORTED_PROTOCOLS + codec.XML_ERROR_PROTOCOLS else "rest-json"
    return codec.serialize_error(error, protocol)


def summary(headers: Mapping[str, str] | list[tuple[str, str]], body: bytes) -> tuple[str, str]:
    """The error code and message of an AWS error response in any protocol (for the log line)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered = {key.lower(): value for key, value in pairs}
    code = lowered.get("x-amzn-errortype", "").split(":", 1)[0]
    message = ""
    text = body[:65536].decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = {}
        if isinstance(document, dict):
            code = code or str(document.get("__type", document.get("code", ""))).rsplit("#", 1)[-1]
            message = str(document.get("message", document.get("Message", "")) or "")
    elif text.startswith("<"):
        found_code = re.search(r"<Code>(.*?)</Code>", text, re.S)
        found_message = re.search(r"<Message>(.*?)</Message>", text, re.S)
        code = code or (found_code.group(1) if found_code else "")
        message = found_message.group(1) if found_message else ""
    return code or "-", message


def is_aws_error_body(headers: Mapping[str, str] | list[tuple[str, str]], body: bytes) -> bool:
    """False for an HTML page (werkzeug's or Flask's error pages); True for AWS's JSON or XML."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    content_type = {key.lower(): value for key, value in pairs}.get("content-type", "")
    return "text/html" not in content_type and not body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def log_failure(info: RequestInfo, status: int, code: str, message: str, exc: BaseException | None = None) -> None:
    """One line per failed request: INFO for a refusal (4xx), WARNING for a failure (5xx); the
    traceback of an exception only at DEBUG."""
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(level, "%s -> %d %s: %s", info.label, status, code, _short(message))
    if exc is not None and log.isEnabledFor(logging.DEBUG):
        log.debug("%s traceback:", info.label, exc_info=(type(exc), exc, exc.__traceback__))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LOGGED_MESSAGE_CHARS else text[:LOGGED_MESSAGE_CHARS] + "..."
