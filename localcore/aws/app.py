"""The lab's HTTP front: AWS APIs on one endpoint, moto behind, the lab's handlers in front.

Each request is identified (service from the SigV4 scope, operation from botocore's model). If the
lab has a handler for that operation it answers, parsed and serialised through botocore's model;
otherwise moto's server answers. Lab-only routes live under ``/_localcore/`` (health, status, and
the download links of bulk-registration reports).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import traceback
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .. import persistence
from ..errors import AwsError, InternalFailureException, NotImplementedInLab
from . import codec
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
        service = codec.identify_service(headers)
        if service in ROUTED_SERVICES:
            body = _read_body(environ)
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            match = self.router(service).match(environ["REQUEST_METHOD"], _raw_path(environ), query, headers)
            if match is not None:
                operation, uri_params = match
                handler = self.handlers.get((service, operation.name))
                if handler is not None or not _moto_implements(service, operation.name):
                    return self._answer(
                        start_response, operation, handler, uri_params, query, headers, body
                    )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.moto(environ, start_response)

    def _answer(self, start_response, operation, handler, uri_params, query, headers, body):
        protocol = operation.metadata["protocol"]
        try:
            if handler is None:  # neither the lab nor moto answers it
                raise NotImplementedInLab(
                    f"The local lab does not implement {operation.metadata.get('serviceId', '')} "
                    f"{operation.name}; the workshop does not need it. Use a real AWS account for it."
                )
            params = codec.parse_request(operation, uri_params, query, headers, body)
            output = handler(self.lab, params) or {}
            status, out_headers, payload = codec.serialize_response(operation, output)
        except AwsError as error:
            status, out_headers, payload = codec.serialize_error(error, protocol)
        except Exception:  # a bug in the lab must not kill the server: answer 500 and log it
            log.error("handler %s failed:\n%s", operation.name, traceback.format_exc())
            error = InternalFailureException(
                f"The lab failed while handling {operation.name}; see the lab log for details."
            )
            status, out_headers, payload = codec.serialize_error(error, protocol)
        return _respond(start_response, status, out_headers, payload)

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


def _read_body(environ: dict) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return stream.read()
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
        "rootCa": str(lab.config.root_ca_path),
        "uptimeSeconds": round(time.time() - lab.started_at, 1),
        "connectedClients": broker.connected_count() if broker is not None else 0,
        "resources": counts,
        "persistence": persistence.status(lab),
    })
