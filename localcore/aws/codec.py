"""Server-side wire codec for AWS APIs, driven by botocore's service models.

The lab answers operations moto lacks with its own handlers, keyed by botocore operation name.
This module turns an HTTP request into the operation's input parameters and the handler's output
back into an HTTP response, for the ``rest-json`` and ``json`` protocols, exactly as botocore's
client-side serializer and parser expect. Nothing here is written per operation: every rule comes
from the service model (member locations, wire names, types, timestamp formats, status codes).

Parsed values use botocore's Python types: ``bytes`` for blobs, timezone-aware ``datetime`` for
timestamps, ``int``/``float``/``bool`` for numbers and booleans.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from localcore.errors import AwsError

SUPPORTED_PROTOCOLS = ("rest-json", "json")

# The botocore services the lab's own handlers serve (moto handles the query/rest-xml ones).
SERVED_SERVICES = ("iot", "iot-data", "iot-jobs-data", "lambda", "logs", "dynamodb")

# Code AWS's JSON services return (400) for a body that is not valid JSON, is not a JSON object, or
# does not fit the operation's shapes (a string where a map belongs). Smithy's protocol tests for
# restJson1 require it: https://github.com/smithy-lang/smithy/blob/main/smithy-aws-protocol-tests/
# model/restJson1/malformedRequests/malformed-request-body.smithy (RestJsonInvalidJsonBody,
# RestJsonTechnicallyValidJsonBody); DynamoDB, Comprehend and Firehose answer it too.
# [unconfirmed] for AWS IoT itself: no AWS IoT response to a malformed body was found.
MALFORMED_REQUEST_CODE = "SerializationException"

# Content type for raw blob/string payloads (e.g. Lambda Invoke, iot-data GetThingShadow).
RAW_PAYLOAD_CONTENT_TYPE = "application/octet-stream"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CREDENTIAL_RE = re.compile(
    r"Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)/aws4_request"
)
_LABEL_RE = re.compile(r"\{([^}]+)\}")
_NO_BODY_STATUSES = (204, 304)


class SerializationException(AwsError):
    """The request could not be read as the operation's input shape."""

    code, status = MALFORMED_REQUEST_CODE, 400


# ---------------------------------------------------------------------------------------------
# Service identification


@dataclass(frozen=True)
class CredentialScope:
    """The SigV4 credential scope of a request: ``AKID/date/region/service/aws4_request``."""

    access_key: str
    date: str
    region: str
    signing_name: str


@lru_cache(maxsize=None)
def load_service_model(service_name: str) -> ServiceModel:
    """botocore's model of one service (loaded once; models are read-only)."""
    return botocore.session.get_session().get_service_model(service_name)


def credential_scope(headers: Mapping[str, str]) -> CredentialScope | None:
    """The credential scope from a SigV4 ``Authorization`` header, or None when unsigned."""
    authorization = _lower_keys(headers).get("authorization", "")
    found = _CREDENTIAL_RE.search(authorization)
    if found is None:
        return None
    return CredentialScope(found["key"], found["date"], found["region"], found["service"])


def identify_service(
    headers: Mapping[str, str], services: tuple[str, ...] = SERVED_SERVICES
) -> str | None:
    """The botocore service name a request is for, among ``services``.

    The SigV4 signing name decides (``iotdata`` → ``iot-data``, per each model's
    ``signingName``); unsigned json-protocol requests fall back to ``X-Amz-Target``'s prefix.
    """
    scope = credential_scope(headers)
    if scope is not None:
        by_signing_name = {load_service_model(name).signing_name: name for name in services}
        if scope.signing_name in by_signing_name:
            return by_signing_name[scope.signing_name]
    target = _lower_keys(headers).get("x-amz-target")
    if target:
        prefix = target.split(".", 1)[0]
        for name in services:
            if load_service_model(name).metadata.get("targetPrefix") == prefix:
                return name
    return None


def identify_any_service(headers: Mapping[str, str]) -> str | None:
    """Like ``identify_service``, for any botocore service: the lab's own first, then the service
    whose name is the SigV4 signing name (``s3``, ``iam``, ``sts``, ``sqs``, ...), else None."""
    service = identify_service(headers)
    if service is not None:
        return service
    scope = credential_scope(headers)
    return _service_named(scope.signing_name) if scope is not None else None


def identify_presigned_service(query_string: str) -> str | None:
    """The service of a presigned URL (``X-Amz-Credential=AKID/date/region/service/aws4_request``)."""
    found = re.search(r"X-Amz-Credential=[^&/]+(?:/|%2F)\d{8}(?:/|%2F)[^&/%]+(?:/|%2F)([^&/%]+)(?:/|%2F)aws4_request",
                      query_string)
    return _service_named(found.group(1)) if found else None


@lru_cache(maxsize=256)
def _service_named(name: str) -> str | None:
    try:
        load_service_model(name)
    except Exception:  # noqa: BLE001 - botocore's UnknownServiceError, or a malformed name
        return None
    return name


def identify_region(headers: Mapping[str, str]) -> str | None:
    """The region a request was signed for, or None when unsigned."""
    scope = credential_scope(headers)
    return scope.region if scope else None


# ---------------------------------------------------------------------------------------------
# Routing


@dataclass(frozen=True)
class Route:
    """One rest-json operation's ``http.requestUri`` compiled to a regular expression."""

    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    greedy_labels: int
    required_query: tuple[tuple[str, str], ...]
    literal_length: int

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        """Sort key: more literal query parts, fewer greedy labels, fewer labels, longer literals."""
        return (len(self.required_query), -self.greedy_labels, -len(self.labels), self.literal_length)

    def match(self, method: str, path: str, query: Mapping[str, list[str]]) -> dict[str, str] | None:
        """The decoded URI labels when this route matches, else None."""
        if method.upper() != self.method:
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        for key, value in self.required_query:
            if key not in query or (value and value not in query[key]):
                return None
        return {label: unquote(value) for label, value in zip(self.labels, found.groups())}


def compile_route(operation: OperationModel) -> Route:
    """Compile an operation's request URI (labels, greedy labels, literal query) to a Route."""
    template, _, literal_query = operation.http["requestUri"].partition("?")
    if len(template) > 1:
        template = template.rstrip("/")
    regex, labels, greedy, literal_length, position = ["^"], [], 0, 0, 0
    for label in _LABEL_RE.finditer(template):
        literal = template[position : label.start()]
        regex.append(re.escape(literal))
        literal_length += len(literal)
        name = label.group(1)
        if name.endswith("+"):
            labels.append(name[:-1])
            greedy += 1
            regex.append("(.+)")
        else:
            labels.append(name)
            regex.append("([^/]+)")
        position = label.end()
    tail = template[position:]
    literal_length += len(tail)
    regex.append(re.escape(tail) + ("/?$" if tail != "/" else "$"))
    return Route(
        operation=operation,
        method=operation.http.get("method", "POST").upper(),
        pattern=re.compile("".join(regex)),
        labels=tuple(labels),
        greedy_labels=greedy,
        required_query=tuple(parse_qsl(literal_query, keep_blank_values=True)),
        literal_length=literal_length,
    )


class OperationRouter:
    """Finds the operation an HTTP request calls, from one service's botocore model."""

    def __init__(self, service: str | ServiceModel) -> None:
        self.service_model = service if isinstance(service, ServiceModel) else load_service_model(service)
        self.protocol = self.service_model.protocol
        if self.protocol not in SUPPORTED_PROTOCOLS:
            name = self.service_model.service_name
            raise ValueError(f"{name} uses protocol {self.protocol!r}, not one of {SUPPORTED_PROTOCOLS}")
        self.routes: tuple[Route, ...] = ()
        if self.protocol == "rest-json":
            operations = (self.service_model.operation_model(n) for n in self.service_model.operation_names)
            self.routes = tuple(compile_route(op) for op in operations)
        # Routes by (method, first path segment); a template starting with a label is under None.
        self._by_segment: dict[tuple[str, str | None], list[Route]] = {}
        for route in self.routes:
            first = route.operation.http["requestUri"].partition("?")[0].split("/")[1:2]
            segment = first[0] if first and "{" not in first[0] else None
            self._by_segment.setdefault((route.method, segment), []).append(route)

    def match(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation and its decoded URI labels, or None when no operation matches.

        ``path`` is the request path as sent (percent-encoded, without the query string);
        ``query`` maps each query parameter to its values. When several routes match, the most
        specific wins (literal query parts, then fewest greedy labels, fewest labels, longest
        literal text).
        """
        if self.protocol == "json":
            return self._match_target(method, headers or {})
        candidates = []
        method = method.upper()
        segment = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        routes = self._by_segment.get((method, segment), []) + self._by_segment.get((method, None), [])
        for route in routes:
            labels = route.match(method, path, query or {})
            if labels is not None:
                candidates.append((route.specificity, route, labels))
        if not candidates:
            return None
        _, route, labels = max(candidates, key=lambda candidate: candidate[0])
        return route.operation, labels

    def _match_target(
        self, method: str, headers: Mapping[str, str]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        prefix, _, name = _lower_keys(headers).get("x-amz-target", "").partition(".")
        if method.upper() != "POST" or prefix != self.service_model.metadata.get("targetPrefix"):
            return None
        if name not in self.service_model.operation_names:
            return None
        return self.service_model.operation_model(name), {}


# ---------------------------------------------------------------------------------------------
# Requests


def parse_request(
    operation: OperationModel,
    uri_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input parameters, as the caller passed them to botocore.

    Raises ``SerializationException`` when a value cannot be read as its member's type.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    if operation.metadata["protocol"] == "json":
        return _from_json(shape, _load_json_object(body), "")
    params: dict[str, Any] = {}
    lowered = _lower_keys(headers)
    claimed = _claimed_query_keys(operation)
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in uri_params:
            params[name] = _from_text(member, uri_params[wire], "iso8601", name)
        elif location == "querystring":
            value = _from_query(member, wire, query, claimed, name)
            if value is not None:
                params[name] = value
        elif location == "header" and wire.lower() in lowered:
            params[name] = _from_header(member, lowered[wire.lower()], name)
        elif location == "headers":
            prefixed = {k[len(wire):]: v for k, v in headers.items() if k.lower().startswith(wire.lower())}
            if prefixed:
                params[name] = prefixed
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob" and body:
            params[payload] = bytes(body)
        elif member.type_name == "string" and body:
            params[payload] = body.decode("utf-8")
        elif member.type_name not in ("blob", "string") and body.strip():
            params[payload] = _from_json(member, _load_json_object(body), payload)
    elif any("location" not in member.serialization for member in shape.members.values()):
        document = _load_json_object(body)
        params.update(_from_json(shape, document, ""))
    return params


def botocore_body(operation: OperationModel, params: Mapping[str, Any]) -> bytes | None:
    """The request body botocore's own serializer writes for ``params``, or None for a raw payload.

    Requests the lab passes on to moto carry this body instead of the caller's: moto then reads
    exactly what a botocore client sends (explicit nulls and unknown members dropped, values in
    botocore's formats), whatever the raw request looked like.
    """
    import botocore.serialize

    serializer = _serializers.get(operation.metadata["protocol"])
    if serializer is None:
        serializer = botocore.serialize.create_serializer(operation.metadata["protocol"], include_validation=False)
        _serializers[operation.metadata["protocol"]] = serializer
    body = serializer.serialize_to_request(dict(params), operation)["body"]
    if isinstance(body, str):
        return body.encode("utf-8")
    return body if isinstance(body, bytes) else None


_serializers: dict[str, Any] = {}


def _claimed_query_keys(operation: OperationModel) -> set[str]:
    """Query keys taken by named querystring members or by literal query parts of the URI."""
    literal_query = operation.http["requestUri"].partition("?")[2]
    claimed = {key for key, _ in parse_qsl(literal_query, keep_blank_values=True)}
    for name, member in operation.input_shape.members.items():
        if member.serialization.get("location") == "querystring" and member.type_name != "map":
            claimed.add(member.serialization.get("name", name))
    return claimed


def _from_query(
    member: Shape, wire: str, query: Mapping[str, list[str]], claimed: set[str], path: str
) -> Any:
    if member.type_name == "map":
        rest = {key: values for key, values in query.items() if key not in claimed}
        if not rest:
            return None
        if member.value.type_name == "list":
            item = member.value.member
            return {key: [_from_text(item, v, "iso8601", path) for v in values] for key, values in rest.items()}
        return {key: _from_text(member.value, values[0], "iso8601", path) for key, values in rest.items()}
    if wire not in query or not query[wire]:
        return None
    if member.type_name == "list":
        return [_from_text(member.member, value, "iso8601", path) for value in query[wire]]
    return _from_text(member, query[wire][0], "iso8601", path)


def _from_header(member: Shape, value: str, path: str) -> Any:
    if member.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise SerializationException(f"Header for {path} is not base64-encoded JSON") from exc
    if member.type_name == "list":
        return [_from_text(member.member, item, "rfc822", path) for item in _split_header_list(value)]
    if member.type_name == "blob":
        return _decode_base64(value, path)
    return _from_text(member, value.strip(), "rfc822", path)


def _split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value; items may be double-quoted with ``\\"`` escapes."""
    items, current, quoted, escaped = [], [], False, False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


def _from_text(shape: Shape, text: str, default_timestamp_format: str, path: str) -> Any:
    """A scalar read from a URI label, query parameter or header."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as exc:
        raise SerializationException(f"Value {text!r} for {path} is not a valid {kind}") from exc
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise SerializationException(f"Value {text!r} for {path} is not a valid boolean")
        return text.lower() == "true"
    if kind == "timestamp":
        timestamp_format = shape.serialization.get("timestampFormat", default_timestamp_format)
        return _parse_timestamp(text, timestamp_format, path)
    return text


def _load_json_object(body: bytes) -> dict[str, Any]:
    if not body or not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SerializationException(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SerializationException("Request body must be a JSON object")
    return document


def _from_json(shape: Shape, value: Any, path: str) -> Any:
    """A JSON value read as ``shape`` (names mapped, blobs and timestamps decoded)."""
    kind = shape.type_name
    where = path or "the request body"
    if kind == "structure":
        if shape.is_document_type:
            return value
        _expect(isinstance(value, dict), where, "an object")
        result = {}
        for name, member in shape.members.items():
            raw = value.get(member.serialization.get("name", name))
            if raw is not None:
                result[name] = _from_json(member, raw, f"{path}.{name}" if path else name)
        return result
    if kind == "list":
        _expect(isinstance(value, list), where, "a list")
        items = enumerate(value)
        return [_from_json(shape.member, item, f"{path}[{i}]") for i, item in items if item is not None]
    if kind == "map":
        _expect(isinstance(value, dict), where, "an object")
        items = value.items()
        return {key: _from_json(shape.value, item, f"{path}.{key}") for key, item in items if item is not None}
    if kind in ("integer", "long"):
        _expect(isinstance(value, int) and not isinstance(value, bool), where, "an integer")
        return value
    if kind in ("float", "double"):
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), where, "a number")
        return float(value)
    if kind == "boolean":
        _expect(isinstance(value, bool), where, "a boolean")
        return value
    if kind == "timestamp":
        return _parse_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"), where)
    if kind == "blob":
        _expect(isinstance(value, str), where, "a base64 string")
        return _decode_base64(value, where)
    _expect(isinstance(value, str), where, "a string")
    return value


def _expect(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise SerializationException(f"Expected {what} for {where}")


def _decode_base64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise SerializationException(f"Value for {where} is not valid base64") from exc


def _parse_timestamp(value: Any, timestamp_format: str, where: str) -> datetime:
    """A UTC datetime from an epoch-seconds number, an ISO 8601 string or an HTTP date."""
    fmt = timestamp_format.lower()
    try:
        if fmt == "unixtimestamp":
            if isinstance(value, bool):
                raise ValueError(value)
            return _EPOCH + timedelta(seconds=float(value))
        if fmt == "iso8601":
            parsed = datetime.fromisoformat(str(value))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        if fmt == "rfc822":
            return parsedate_to_datetime(str(value)).astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError) as exc:
        message = f"Value {value!r} for {where} is not a valid {timestamp_format} timestamp"
        raise SerializationException(message) from exc
    raise ValueError(f"Unknown timestampFormat {timestamp_format!r}")


# ---------------------------------------------------------------------------------------------
# Responses


def serialize_response(
    operation: OperationModel, output: Mapping[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """The HTTP status, headers and body that carry ``output`` as botocore expects it.

    ``output`` uses member names; timestamps may be datetimes, epoch seconds or ISO 8601 strings.
    A key that is not a member of the output shape is a handler bug and raises ``ValueError``.
    """
    shape = operation.output_shape
    protocol = operation.metadata["protocol"]
    if protocol == "json":
        document = _to_json(shape, output, operation.name) if shape is not None else {}
        content_type = f"application/x-amz-json-{operation.metadata.get('jsonVersion', '1.0')}"
        return 200, {"Content-Type": content_type}, json.dumps(document).encode("utf-8")
    if protocol != "rest-json":
        raise ValueError(f"Protocol {protocol!r} is not one of {SUPPORTED_PROTOCOLS}")
    status = int(operation.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    if shape is None:
        return status, headers, b""
    _reject_unknown_keys(shape, output, operation.name)
    payload = shape.serialization.get("payload")
    body_values: dict[str, Any] = {}
    for name, value in output.items():
        if value is None or name == "ResponseMetadata":
            continue
        member = shape.members[name]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers[wire] = _to_header(member, value)
        elif location == "headers":
            headers.update({wire + key: str(item) for key, item in value.items()})
        elif name != payload:
            body_values[name] = value
    if status in _NO_BODY_STATUSES:
        return status, headers, b""
    if payload is None:
        body = _to_json(shape, body_values, operation.name)
    elif shape.members[payload].type_name in ("blob", "string"):
        headers["Content-Type"] = RAW_PAYLOAD_CONTENT_TYPE
        raw = output.get(payload)
        return status, headers, raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")
    else:
        value = output.get(payload)
        body = _to_json(shape.members[payload], value, payload) if value is not None else {}
    headers["Content-Type"] = "application/json"
    return status, headers, json.dumps(body).encode("utf-8")


def serialize_error(
    error: AwsError, protocol: str, *, fields: Mapping[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """The HTTP status, headers and body of an AWS error response.

    ``rest-json`` (AWS IoT): ``x-amzn-ErrorType: <code>`` and ``{"message": ...}``; ``json``:
    ``{"__type": <code>, "message": ...}``; ``query``, ``ec2`` and ``rest-xml``: their XML error
    documents (``_xml_error``). ``fields`` adds modeled error members (JSON protocols), e.g.
    ``resourceId`` and ``resourceArn`` of IoT's ``ResourceAlreadyExistsException``.
    """
    if protocol in XML_ERROR_PROTOCOLS:
        return error.status, {"Content-Type": "text/xml"}, _xml_error(error, protocol)
    document = {"message": error.message, **(fields or {})}
    if protocol == "rest-json":
        headers = {"x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
    elif protocol == "json":
        document = {"__type": error.code, **document}
        headers = {"Content-Type": "application/x-amz-json-1.1"}
    else:
        raise ValueError(f"Protocol {protocol!r} is not one of {SUPPORTED_PROTOCOLS + XML_ERROR_PROTOCOLS}")
    return error.status, headers, json.dumps(document).encode("utf-8")


# Protocols whose errors are XML documents (IAM, STS, CloudFormation, SNS; EC2; S3).
XML_ERROR_PROTOCOLS = ("query", "ec2", "rest-xml")


def _xml_error(error: AwsError, protocol: str) -> bytes:
    """An XML error body botocore's parsers read for ``protocol``.

    query: ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>``
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-responses.html);
    ec2: ``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html);
    rest-xml: ``<Error><Code/><Message/><RequestId/></Error>``
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
    """
    code, message, request_id = escape(error.code), escape(error.message), uuid.uuid4()
    if protocol == "query":
        kind = "Receiver" if error.status >= 500 else "Sender"
        text = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    elif protocol == "ec2":
        text = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
    else:
        text = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


def _reject_unknown_keys(shape: Shape, value: Mapping[str, Any], where: str) -> None:
    unknown = set(value) - set(shape.members) - {"ResponseMetadata"}
    if unknown:
        raise ValueError(f"{where} output has no member(s) {sorted(unknown)}")


def _to_json(shape: Shape, value: Any, where: str) -> Any:
    """A Python value written as ``shape``'s JSON (wire names, base64 blobs, epoch timestamps)."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        _reject_unknown_keys(shape, value, where)
        members = shape.members
        return {
            members[name].serialization.get("name", name): _to_json(members[name], item, f"{where}.{name}")
            for name, item in value.items()
            if item is not None and name != "ResponseMetadata"
        }
    if kind == "list":
        return [_to_json(shape.member, item, where) for item in value]
    if kind == "map":
        return {key: _to_json(shape.value, item, where) for key, item in value.items()}
    if kind == "timestamp":
        return _format_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        return base64.b64encode(value.encode("utf-8") if isinstance(value, str) else value).decode("ascii")
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        return ("Infinity" if number > 0 else "-Infinity") if math.isinf(number) else number
    return value


def _to_header(member: Shape, value: Any) -> str:
    if member.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")
    if member.type_name == "timestamp":
        return str(_format_timestamp(value, member.serialization.get("timestampFormat", "rfc822")))
    if member.type_name == "list":
        return ",".join(_quote_header_item(_to_header(member.member, item)) for item in value)
    if member.type_name == "boolean":
        return "true" if value else "false"
    if member.type_name == "blob":
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _quote_header_item(item: str) -> str:
    if '"' in item or "," in item:
        return '"' + item.replace('"', '\\"') + '"'
    return item


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return _EPOCH + timedelta(seconds=value)
    return _parse_timestamp(value, "iso8601", "timestamp")


def _format_timestamp(value: Any, timestamp_format: str) -> int | float | str:
    moment = _as_datetime(value).astimezone(timezone.utc)
    fmt = timestamp_format.lower()
    if fmt == "unixtimestamp":
        seconds = calendar.timegm(moment.timetuple())
        return (seconds * 10**6 + moment.microsecond) / 10**6 if moment.microsecond else seconds
    if fmt == "iso8601":
        fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    if fmt == "rfc822":
        return formatdate(calendar.timegm(moment.timetuple()), usegmt=True)
    raise ValueError(f"Unknown timestampFormat {timestamp_format!r}")


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}
