"""The lab's HTTP front: AWS APIs on one endpoint, moto behind, the lab's handlers in front.

Each request is identified (service from the SigV4 scope, operation from botocore's model). A
request of a json/rest-json service is parsed and validated against botocore's model before anything
else (``validation``); a malformed one gets ``SerializationException``, an invalid one the service's
validation error, and nothing reaches a handler or moto. If the lab has a handler for the operation
it answers, serialised through botocore's model; otherwise moto's server answers, given the body
botocore itself would send for the validated parameters. Every failure, moto's exceptions included,
is answered as an AWS error in the service's protocol and logged in one line (``failures``).
Lab-only routes live under ``/_localcore/`` (health, status, and the download links of
bulk-registration reports).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .. import persistence
from ..errors import AwsError, NotImplementedInLab
from . import codec, failures, request_limits, validation
from .failures import RequestInfo
from .handlers import load_all
from .handlers.registration_tasks import REPORT_ROUTE, serve_report

log = logging.getLogger("localcore.http")

# Services whose operations may be answered by the lab's own handlers.
ROUTED_SERVICES = ("iot", "iot-data", "iot-jobs-data", "lambda", "logs")

InternalRoute = Callable[[Any, dict], tuple[int, dict, bytes]]


class LabApp:
    """WSGI application serving every AWS API of the lab."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.handlers = load_all()
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.routers: dict[str, codec.OperationRouter] = {}
        self.internal: dict[str, InternalRoute] = {
            "/_localcore/health": _health,
            "/_localcore/status": _status,
            REPORT_ROUTE: serve_report,
        }

    def add_internal_route(self, prefix: str, route: InternalRoute) -> None:
        self.internal[prefix] = route

    def router(self, service: str) -> codec.OperationRouter:
        if service not in self.routers:
            self.routers[service] = codec.OperationRouter(service)
        return self.routers[service]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_localcore/"):
            return self._internal(environ, start_response, path)
        headers = _headers(environ)
        query_string = environ.get("QUERY_STRING", "")
        service = codec.identify_any_service(headers) or codec.identify_presigned_service(query_string)
        protocol = failures.protocol_for(service, headers, query_string)
        info = RequestInfo(service, protocol, None, environ.get("REQUEST_METHOD", "GET"), path)
        try:
            if service is not None and protocol in codec.SUPPORTED_PROTOCOLS:
                answered = self._validated(environ, start_response, headers, service, info)
                if answered is not None:
                    return answered
            else:
                _other_protocol(environ, info)
        except AwsError as error:
            return self._fail(start_response, info, error)
        except Exception as exc:  # noqa: BLE001 - a bug in the front must not become an HTML page
            return self._fail(start_response, info, failures.internal_error(service, info.operation, exc), exc)
        return self._moto(environ, start_response, info)

    def _validated(self, environ, start_response, headers, service, info):
        """Parse and validate a json/rest-json request; answer it if the lab handles it.

        Returns the response, or None when moto is to answer, ``environ`` then carrying the body
        botocore would send for the validated parameters.
        """
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        match = self.router(service).match(info.method, _raw_path(environ), query, headers)
        if match is not None:
            info.operation = match[0].name
        body = _read_body(environ, request_limits.max_body_bytes(service, info.operation), info)
        if match is None:  # not an operation of this service's model: moto decides
            _set_body(environ, body)
            return None
        operation, uri_params = match
        params = codec.parse_request(operation, uri_params, query, headers, body)
        problems = validation.validate(operation, params)
        if problems:
            raise failures.validation_error(service, problems)
        handler = self.handlers.get((service, operation.name))
        if handler is not None or (service in ROUTED_SERVICES and not _moto_implements(service, operation.name)):
            return self._answer(start_response, operation, handler, params, info)
        _set_body(environ, _moto_body(operation, params, body))
        return None

    def _answer(self, start_response, operation, handler, params, info):
        try:
            if handler is None:  # neither the lab nor moto answers it
                raise NotImplementedInLab(
                    f"The local lab does not implement {operation.metadata.get('serviceId', '')} "
                    f"{operation.name}; the workshop does not need it. Use a real AWS account for it."
                )
            output = handler(self.lab, params) or {}
            status, out_headers, payload = codec.serialize_response(operation, output)
        except AwsError as error:
            return self._fail(start_response, info, error)
        except Exception as exc:  # noqa: BLE001 - a bug in the lab must not kill the server
            moto_error = _moto_error(exc)
            if moto_error is not None:  # a moto refusal from inside a handler keeps its code
                return self._fail(start_response, info, moto_error)
            return self._fail(start_response, info, failures.internal_error(info.service, operation.name, exc), exc)
        return _respond(start_response, status, out_headers, payload)

    def _moto(self, environ, start_response, info):
        """moto's answer; its exceptions and HTML error pages become AWS errors, one log line each."""
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return _no_write

        try:
            result = self.moto(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception as exc:  # noqa: BLE001 - moto failed: answer like AWS, keep serving
            return self._fail(start_response, info, failures.internal_error(info.service, info.operation, exc), exc)
        status_line, headers = captured
        status = int(status_line.split(None, 1)[0])
        if status >= 400:
            if info.method != "HEAD" and not failures.is_aws_error_body(headers, body):  # HEAD: status only
                return self._fail(start_response, info, _html_error(status, info))
            code, message = failures.summary(headers, body)
            failures.log_failure(info, status, code, message)
        start_response(status_line, headers)
        return [body]

    def _fail(self, start_response, info, error, exc=None):
        status, headers, payload = failures.error_response(error, info)
        failures.log_failure(info, status, error.code, error.message, exc)
        return _respond(start_response, status, headers, payload)

    def _internal(self, environ, start_response, path):
        for prefix, route in self.internal.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                status, headers, payload = route(self.lab, environ)
                return _respond(start_response, status, headers, payload)
        return _respond(start_response, 404, {"Content-Type": "text/plain"}, b"not found\n")


def _moto_response_class(service: str):
    """moto's response class for services whose methods are named after the operations."""
    if service == "iot":
        from moto.iot.responses import IoTResponse

        return IoTResponse
    if service == "iot-data":
        from moto.iotdata.responses import IoTDataPlaneResponse

        return IoTDataPlaneResponse
    return None


def _moto_implements(service: str, operation: str) -> bool:
    """False when neither the lab nor moto answers this operation (moto would answer with a 500
    HTML page); True when moto may (services whose responses are not named per operation)."""
    from botocore import xform_name

    if service == "iot-jobs-data":
        return False
    cls = _moto_response_class(service)
    return cls is None or hasattr(cls, xform_name(operation))


def _other_protocol(environ: dict, info: RequestInfo) -> None:
    """query/ec2/rest-xml requests go to moto as sent; their size is checked (S3's is not), and the
    query protocol's ``Action`` is read for the log."""
    limit = request_limits.max_body_bytes(info.service)
    if info.protocol in ("query", "ec2"):
        body = _read_body(environ, limit, info)
        _set_body(environ, body)
        info.operation = failures.query_action(environ.get("QUERY_STRING", ""), body)
    elif limit is not None:
        request_limits.check_size(info.service, None, _declared_length(environ))


def _moto_body(operation, params: dict, body: bytes) -> bytes:
    """The body botocore would send for ``params`` (the raw body for raw payloads)."""
    try:
        rebuilt = codec.botocore_body(operation, params)
    except Exception:  # noqa: BLE001 - keep the caller's body rather than fail a valid request
        log.debug("could not re-serialise %s; passing the body on as sent", operation.name, exc_info=True)
        return body
    return body if rebuilt is None else rebuilt


def _moto_error(exc: Exception) -> AwsError | None:
    """moto's own refusals (``JsonRESTError`` and its XML sibling) as an AwsError, else None."""
    error_type, status = getattr(exc, "error_type", None), getattr(exc, "code", None)
    if isinstance(error_type, str) and isinstance(status, int):
        return AwsError(str(getattr(exc, "message", "") or error_type), code=error_type, status=status)
    return None


def _html_error(status: int, info: RequestInfo) -> AwsError:
    """An HTML error page from moto's web framework, as an AWS error."""
    if status in (404, 405):
        return AwsError(
            f"The local lab has no operation for {info.method} {info.path} ({info.service or 'unknown service'}).",
            code="UnknownOperationException",  # [unconfirmed] what AWS's front ends answer
            status=status,
        )
    return failures.internal_error(info.service, info.operation, RuntimeError(f"HTTP {status} page"))


def _no_write(data: bytes) -> None:  # moto's Flask apps return their body; they never write()
    raise RuntimeError("moto wrote a response body through write(); the lab cannot relay it")


def _set_body(environ: dict, body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)


def _respond(start_response, status: int, headers: dict, payload: bytes) -> list[bytes]:
    headers = {**headers, "Content-Length": str(len(payload)), "x-amzn-RequestId": str(uuid.uuid4())}
    start_response(f"{status} {_REASONS.get(status, 'Status')}", list(headers.items()))
    return [payload]


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 406: "Not Acceptable",
            409: "Conflict", 410: "Gone", 413: "Payload Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}


def _raw_path(environ: dict) -> str:
    """The percent-encoded path (iot-data topics arrive as ``/topics/a%2Fb``)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw.split("?", 1)[0]
    from urllib.parse import quote

    return quote(environ.get("PATH_INFO", ""), safe="/")


def _headers(environ: dict) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _declared_length(environ: dict) -> int:
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _read_body(environ: dict, limit: int | None, info: RequestInfo) -> bytes:
    """The request body, refused (``RequestTooLarge``) past ``limit`` bytes before it is read."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = _declared_length(environ)
    if length:
        request_limits.check_size(info.service, info.operation, length)
        return stream.read(length)
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        body = stream.read(-1 if limit is None else limit + 1)
        request_limits.check_size(info.service, info.operation, len(body))
        return body
    return b""


def _json(status: int, data: Any) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(data, indent=2, default=str).encode()


def _health(lab: Any, environ: dict) -> tuple[int, dict, bytes]:
    return _json(200, {"pid": os.getpid(), "home": str(lab.config.home)})


def _status(lab: Any, environ: dict) -> tuple[int, dict, bytes]:
    counts = lab.resource_counts()
    broker = lab.broker
    return _json(200, {
        "pid": os.getpid(),
        "home": str(lab.config.home),
        "region": lab.config.region,
        "accountId": lab.config.account_id,
        "httpEndpoint": lab.config.http_url,
        "mqttEndpoint": f"{lab.config.endpoint_host}:{lab.config.mqtt_port}",
        "mqttWebSocketUrl": f"wss://{lab.config.endpoint_host}:{lab.config.ws_port_or_default}/mqtt",
        "rootCa": str(lab.config.root_ca_path),
        "uptimeSeconds": round(time.time() - lab.started_at, 1),
        "connectedClients": broker.connected_count() if broker is not None else 0,
        "resources": counts,
        "persistence": persistence.status(lab),
    })
