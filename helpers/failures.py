"""Failures that explain themselves: what went wrong and what to run, in a few lines, no traceback.

A notebook shows an exception that has ``_render_traceback_`` as the lines that method returns
instead of a traceback (IPython's protocol; `helpers.selfcheck.ChapterCheckFailed` uses it too).
Every `Explained` error does: its class name in red, then its message, which says what to do.

The workshop's boto3 clients (`helpers.workshop.Workshop.client`) turn botocore's own failures,
which otherwise end a cell with a 250-line traceback, into one `WorkshopError` subclass each:

* `BackendUnreachable`: nothing answers (the lab is stopped, or AWS cannot be reached).
* `CredentialsMissing`: no usable AWS credentials (aws backend).
* `RegionMissing`: no AWS region (aws backend).

AWS's own answers (botocore's ``ClientError``: ``ws.iot.exceptions.ResourceNotFoundException``
and friends) are left exactly as they are: lessons catch them.
"""

from __future__ import annotations

from typing import Any

from botocore import exceptions as boto

RED, RESET = "\x1b[1;31m", "\x1b[0m"
LAB_START = "`make lab` in a terminal in the kit's folder; in JupyterLab: File > New > Terminal"


class Explained(Exception):
    """An error whose message says what happened and what to do; notebooks show it without a traceback."""

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"{RED}{type(self).__name__}{RESET}: {lines[0]}", *lines[1:]]


class WorkshopError(Explained, RuntimeError):
    """The workshop cannot go on as asked; the message says what to do."""


class BackendUnreachable(WorkshopError):
    """Nothing answers: the local lab is not running, or AWS cannot be reached from here."""


class CredentialsMissing(WorkshopError):
    """The aws backend has no usable credentials."""


class RegionMissing(WorkshopError):
    """The aws backend has no region."""


# ---------------------------------------------------------------------------- the messages


def unreachable_message(backend: str, what: str, where: str, *, detail: str = "") -> str:
    """Why nothing answered ``what`` at ``where``, and what to run."""
    if backend == "local":
        lines = [f"{what}: the lab does not answer at {where}: it is not running.",
                 f"Start it ({LAB_START}), then run this cell again. What you made is kept."]
        if detail:
            lines.insert(1, detail)
        return "\n".join(lines)
    lines = [f"{what}: AWS cannot be reached at {where}.",
             "Check the network (a proxy or firewall?) and the region (AWS_DEFAULT_REGION), then run this cell again."]
    if detail:
        lines.insert(1, detail)
    return "\n".join(lines)


def credentials_message(what: str, error: BaseException) -> str:
    sso = isinstance(error, (boto.SSOError, boto.TokenRetrievalError, boto.NoAuthTokenError))
    how = ("Your AWS SSO session has expired: run `aws sso login` (with your profile), " if sso else
           "Configure them: `aws configure`, or `export AWS_PROFILE=<profile>` before starting JupyterLab, ")
    return (f"{what}: no usable AWS credentials ({error}).\n"
            f"{how}then re-run this chapter's set-up cell.")


REGION_MESSAGE = ("No AWS region is configured. Set one: `export AWS_DEFAULT_REGION=<region>` (e.g. eu-west-1) "
                  "before starting JupyterLab, or a region in your AWS profile; then re-run the set-up cell.")

CONNECTION_ERRORS = (boto.ConnectionError, boto.HTTPClientError)
CREDENTIAL_ERRORS = (boto.NoCredentialsError, boto.PartialCredentialsError, boto.CredentialRetrievalError,
                     boto.TokenRetrievalError, boto.NoAuthTokenError, boto.SSOError)


def translate(error: BaseException, *, backend: str, operation: str, endpoint: str) -> WorkshopError | None:
    """The `WorkshopError` a botocore failure of ``operation`` stands for, or None to leave it as it is."""
    if isinstance(error, WorkshopError):
        return None
    if isinstance(error, CONNECTION_ERRORS):
        detail = ""
        if isinstance(error, boto.ReadTimeoutError):
            detail = ("It accepted the request but gave no answer in time"
                      + (" (see work/lab/lab.log; `make stop` then `make lab` restarts it)." if backend == "local" else "."))
        elif isinstance(error, boto.ConnectionClosedError):
            detail = "It closed the connection during the call (it stopped or restarted meanwhile)."
        return BackendUnreachable(unreachable_message(backend, operation, endpoint, detail=detail))
    if isinstance(error, CREDENTIAL_ERRORS):
        return CredentialsMissing(credentials_message(operation, error))
    if isinstance(error, boto.NoRegionError):
        return RegionMissing(REGION_MESSAGE)
    return None


def explain_errors(client: Any, backend: str) -> Any:
    """Make ``client`` raise `translate`'s errors instead of botocore's; return the client.

    A botocore event handler (``after-call-error``, emitted once retries are exhausted) raises the
    translated error in place of the original, which stays attached as ``__cause__``. Anything that
    is not a botocore client is returned unchanged.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return client
    service_id = client.meta.service_model.service_id.hyphenize()
    endpoint = client.meta.endpoint_url
    name = client.meta.service_model.service_name
    attribute = {"iot-data": "iot_data", "lambda": "lambda_"}.get(name, name.replace("-", "_"))

    def handler(exception: BaseException | None = None, event_name: str = "", **_: Any) -> None:
        if exception is None:
            return
        operation = f"ws.{attribute}.{_snake(event_name.rsplit('.', 1)[-1])}"
        translated = translate(exception, backend=backend, operation=operation, endpoint=endpoint)
        if translated is not None:
            raise translated from exception

    events.register(f"after-call-error.{service_id}", handler, unique_id="workshop-explain-errors")
    return client


def _snake(operation: str) -> str:
    """``ListThings`` → ``list_things`` (the method name a notebook called)."""
    out = []
    for i, char in enumerate(operation):
        if char.isupper() and i and (not operation[i - 1].isupper() or
                                     (i + 1 < len(operation) and operation[i + 1].islower())):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


__all__ = ["Explained", "WorkshopError", "BackendUnreachable", "CredentialsMissing", "RegionMissing",
           "translate", "explain_errors", "unreachable_message"]
