"""AWS errors the lab returns: one class per AWS error code, carrying its HTTP status.

Handlers raise these; the HTTP layer serialises them the way the AWS service does
(``x-amzn-ErrorType`` header and a JSON body with ``message``), so boto3 and the AWS CLI show
the same ``ClientError`` codes as against AWS.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error with an AWS error code, an HTTP status and a message."""

    code = "InternalFailureException"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


class InvalidRequestException(AwsError):
    code, status = "InvalidRequestException", 400


class ResourceNotFoundException(AwsError):
    code, status = "ResourceNotFoundException", 404


class ResourceAlreadyExistsException(AwsError):
    code, status = "ResourceAlreadyExistsException", 409


class ConflictingResourceUpdateException(AwsError):
    code, status = "ConflictingResourceUpdateException", 409


class DeleteConflictException(AwsError):
    code, status = "DeleteConflictException", 409


class CertificateValidationException(AwsError):
    code, status = "CertificateValidationException", 400


class CertificateStateException(AwsError):
    code, status = "CertificateStateException", 406


class MalformedPolicyException(AwsError):
    code, status = "MalformedPolicyException", 400


class LimitExceededException(AwsError):
    code, status = "LimitExceededException", 410


class ThrottlingException(AwsError):
    code, status = "ThrottlingException", 400


class UnauthorizedException(AwsError):
    code, status = "UnauthorizedException", 401


class InternalFailureException(AwsError):
    code, status = "InternalFailureException", 500


class NotImplementedInLab(AwsError):
    """The lab cannot do what AWS would do here; the message says so plainly."""

    code, status = "NotImplementedException", 501
