"""How a stack resource's failure reads in its CloudFormation event (``ResourceStatusReason``).

A service error (moto's, or the lab's own ``AwsError``) reads the way AWS's resource handlers put it;
what only the lab lacks (a resource type moto cannot create or delete) says so plainly; anything else
is a lab bug, reported as an internal failure and logged.
"""

from __future__ import annotations

import functools
import logging
import uuid

# How a resource's failure reads in its event. AWS's resource handlers answer, for example:
#   Resource handler returned message: "The runtime parameter of python3.7 is no longer supported ...
#   (Service: Lambda, Status Code: 400, Request ID: d368f71c-...)" (RequestToken: 6fbd10cf-...,
#   HandlerErrorCode: InvalidRequest)
# (github.com/vittorio-nardone/disposable_app/issues/3). The handler error code per HTTP status, and
# the service names, are [unconfirmed] for other errors.
REASON = 'Resource handler returned message: "{message} (Service: {service}, Status Code: {status}, ' \
         'Request ID: {request_id})" (RequestToken: {token}, HandlerErrorCode: {handler_code})'
HANDLER_ERROR_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NotFound", 409: "ResourceConflict",
                       429: "Throttling"}
# HTTP statuses of errors botocore's models do not list.
EXTRA_ERROR_STATUSES = {"BucketNotEmpty": 409, "NoSuchEntity": 404, "DeleteConflict": 409,
                        "MalformedPolicyDocument": 400, "EntityAlreadyExists": 409}

log = logging.getLogger(__name__)


class NestedStackFailed(Exception):
    """A nested stack (moto answers its CreateStack/DeleteStack without raising) did not get there."""


class UnsupportedDeletion(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(
            f"The local lab cannot delete resources of type {kind} (moto's model has no deletion); "
            "delete it yourself, then delete the stack again with RetainResources naming it."
        )


class UnsupportedResourceType(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(
            f"The local lab cannot create resources of type {kind} (moto has no CloudFormation model for it); "
            "deploy this template to a real AWS account."
        )


def failure_reason(error: BaseException, kind: str) -> str:
    """A resource's ``ResourceStatusReason`` for the error its creation or deletion raised."""
    if isinstance(error, (UnsupportedResourceType, UnsupportedDeletion, NestedStackFailed)):
        return str(error)
    fields = error_fields(error)
    if fields is None:
        log.warning("CloudFormation: a %s failed in the lab: %r (traceback at DEBUG)", kind, error)
        log.debug("CloudFormation: %s failure", kind, exc_info=error)
        return f"Internal Failure: the lab failed on this resource ({type(error).__name__}: {error}); see lab.log."
    code, message, status = fields
    namespace = kind.split("::")[1] if kind.count("::") >= 2 else "CloudFormation"
    handler_code = HANDLER_ERROR_CODES.get(status, "ServiceInternalError" if status >= 500 else "GeneralServiceException")
    if "AlreadyExist" in code:
        handler_code = "AlreadyExists"
    return REASON.format(message=message, service=namespace.capitalize(), status=status, request_id=uuid.uuid4(),
                         token=uuid.uuid4(), handler_code=handler_code)


def error_fields(error: BaseException) -> tuple[str, str, int] | None:
    """(error code, message, HTTP status) of an AWS error raised by moto or the lab; None otherwise."""
    from moto.core.exceptions import ServiceException, _RESTError

    from ...errors import AwsError

    if isinstance(error, AwsError):
        return error.code, error.message, error.status
    if isinstance(error, _RESTError):
        return error.error_type, error.message, int(error.code)
    if isinstance(error, ServiceException):
        return error.code, error.message, _status_of(error.code)
    return None


@functools.lru_cache(maxsize=None)
def _error_statuses() -> dict[str, int]:
    import botocore.session

    session = botocore.session.get_session()
    statuses: dict[str, int] = {}
    for service in ("iam", "iot", "s3", "lambda", "ec2", "cloudformation", "logs", "sns", "sqs", "dynamodb"):
        try:
            model = session.get_service_model(service)
        except Exception:  # noqa: BLE001 - a service botocore lacks
            continue
        for shape in model.error_shapes:
            status = (shape.metadata.get("error") or {}).get("httpStatusCode")
            if status:
                statuses.setdefault(shape.error_code or shape.name, status)
    return statuses


def _status_of(code: str) -> int:
    return EXTRA_ERROR_STATUSES.get(code) or _error_statuses().get(code, 400)
