"""Lambda CreateFunction refuses the runtimes AWS no longer accepts for new functions.

AWS blocks function creation for a deprecated runtime from a date listed in the "Deprecated
runtimes" table of https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html (column
"Block function create"); moto accepted any runtime. The dates below are those of the table as
AWS's own linter ships it (cfn-lint 1.58.0, ``cfnlint/data/AdditionalSpecs/LmbdRuntimeLifecycle.json``,
``create-block``), keeping the runtimes whose date has passed on 2026-12-02. AWS has moved several
of these dates more than once (python3.8, python3.9, nodejs16.x/18.x, dotnet6 are now blocked only
from 2027-02-01): when it moves them again, edit ``CREATE_BLOCKED_RUNTIMES``, nothing else.

The error, as AWS answers it (github.com/vittorio-nardone/disposable_app/issues/3, January 2025):
``InvalidParameterValueException``: "The runtime parameter of python3.7 is no longer supported for
creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or
updating functions." Older answers named a runtime instead of "a supported runtime" [unconfirmed
which wording AWS uses today]. Updating an existing function keeps working until the later "Block
function update" date, which the lab does not enforce.
"""

from __future__ import annotations

from typing import Any

from . import wrap_around

# Runtime identifier -> the day AWS stopped accepting it in CreateFunction.
CREATE_BLOCKED_RUNTIMES: dict[str, str] = {
    "dotnetcore1.0": "2019-06-30",
    "dotnetcore2.0": "2019-04-30",
    "dotnetcore2.1": "2022-01-05",
    "dotnetcore3.1": "2023-04-03",
    "go1.x": "2024-02-08",
    "java8": "2024-02-08",
    "nodejs": "2016-09-30",
    "nodejs4.3": "2020-02-03",
    "nodejs4.3-edge": "2019-03-31",
    "nodejs6.10": "2019-07-12",
    "nodejs8.10": "2020-02-04",
    "nodejs10.x": "2021-07-30",
    "nodejs12.x": "2023-03-31",
    "nodejs14.x": "2024-01-09",
    "provided": "2024-02-08",
    "python2.7": "2021-07-15",
    "python3.6": "2022-07-18",
    "python3.7": "2024-01-09",
    "ruby2.5": "2021-07-30",
    "ruby2.7": "2024-01-09",
}

MESSAGE = ("The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
           "functions. We recommend you use a supported runtime while creating or updating functions.")


def refusal(runtime: Any) -> str | None:
    """AWS's message when CreateFunction gets this runtime; None when AWS accepts it."""
    if isinstance(runtime, str) and runtime in CREATE_BLOCKED_RUNTIMES:
        return MESSAGE.format(runtime=runtime)
    return None


def _create_function(original, backend, spec, *args, **kwargs):
    from moto.awslambda.exceptions import InvalidParameterValueException

    message = refusal((spec or {}).get("Runtime"))
    if message:
        raise InvalidParameterValueException(message)
    return original(backend, spec, *args, **kwargs)


def install(lab: Any) -> None:
    wrap_around("moto.awslambda.models", "LambdaBackend", "create_function", _create_function)
