"""Server-side input validation from botocore's service models, as AWS's front ends do it.

``validate(operation, params)`` checks parsed request parameters against the operation's input
shape: required members, types, string/blob/list/map lengths, numeric ranges, enums and patterns.
It returns the problems as data; ``validation_message`` words them as AWS's (Coral) front ends do:

    2 validation errors detected: Value 'a b' at 'thingName' failed to satisfy constraint: Member
    must satisfy regular expression pattern: [a-zA-Z0-9:_-]+; Value null at 'policyName' ...

The wording follows messages AWS returned to users (sources below): paths use the member name
with its first letter lower-cased (``kMSKeyArn``, ``tableName``), list items ``name.<n>.member``
(1-based), scalar list items and map keys/values are reported for the whole list or map with
every constraint of the item shape in brackets. Patterns match the whole value (Java
``matches``), since AWS refuses ``"no spaces"`` for ``[a-zA-Z0-9:_-]+``.

- https://github.com/aws/aws-sdk-java/issues/666 (AWS IoT: map keys/values, ``InvalidRequestException``)
- https://github.com/lazywithclass/winston-cloudwatch/issues/136 and
  https://github.com/amazon-archives/cloudwatch-logs-centralize-logs/issues/5 (CloudWatch Logs:
  ``Value null at 'logEvents.1.member.timestamp' ... Member must not be null``)
- https://github.com/appleboy/lambda-action/issues/83 (Lambda: ``Member must satisfy constraint: [...]``)
- https://github.com/aws/aws-cli/issues/3229 (Lambda: ``Member must satisfy enum value set: [...]``)
- https://github.com/highsource/bitcoin-a-day/issues/1 (Lambda: path ``kMSKeyArn``)

Checks are compiled once per shape and cached, so validating a request costs microseconds.
Departure: values longer than ``ECHO_LIMIT`` characters are shortened in messages (AWS echoes them
whole), and sensitive members are not echoed at all (as Smithy's validation does).
"""

from __future__ import annotations

import base64
import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from botocore.model import OperationModel, Shape

try:  # Java-style \p{...} classes in AWS patterns need the `regex` module (a moto[server] dependency)
    import regex as _re
except ImportError:  # pragma: no cover - then such patterns are skipped
    import re as _re

ECHO_LIMIT = 200  # characters of a value quoted in a message

Check = Callable[[Any, str, list], None]


@dataclass(frozen=True)
class Problem:
    """One constraint a value fails: where, the value, and the constraint in AWS's words."""

    path: str
    value: Any
    constraint: str
    sensitive: bool = False
    kind: str = "constraint"  # "required", "type" or "constraint"

    @property
    def message(self) -> str:
        if self.sensitive:
            return f"Value at '{self.path}' failed to satisfy constraint: {self.constraint}"
        return f"Value {render(self.value)} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def validate(operation: OperationModel, params: Mapping[str, Any]) -> list[Problem]:
    """Every problem of ``params`` (botocore's Python types) against the operation's input shape."""
    if operation.input_shape is None:
        return []
    problems: list[Problem] = []
    _compiled(operation.input_shape)(params, "", problems)
    return problems


def validate_value(shape: Shape, value: Any, path: str) -> list[Problem]:
    """Problems of one value against one shape, reported under ``path`` (e.g. ``attributePayload``)."""
    problems: list[Problem] = []
    _compiled(shape)(value, path, problems)
    return problems


def validation_message(problems: list[Problem]) -> str:
    """AWS's wording: ``N validation error(s) detected: <problem>; <problem>``."""
    count = len(problems)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(problem.message for problem in problems)


def render(value: Any) -> str:
    """A value as AWS's Java front end prints it: 'text', '[a, b]', '{k=v}', null."""
    if value is None:
        return "null"
    text = _java_text(value)
    if len(text) > ECHO_LIMIT:
        text = f"{text[:ECHO_LIMIT]}... ({len(text)} characters)"
    return f"'{text}'"


def _java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_java_text(k)}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if value is None:
        return "null"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Compilation: one check function per shape, cached


_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"),
    "blob": ((bytes, bytearray, str), "a blob"),
    "boolean": ((bool,), "a boolean"),
    "integer": ((int,), "an integer"),
    "long": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "double": ((int, float), "a number"),
    "timestamp": ((_dt.datetime, int, float, str), "a timestamp"),
    "structure": ((Mapping,), "a structure"),
    "list": ((list, tuple), "a list"),
    "map": ((Mapping,), "a map"),
}


@lru_cache(maxsize=4096)
def _compiled(shape: Shape) -> Check:
    """The check of one shape (cached by identity: botocore's cached models keep shapes alive)."""
    return _compile(shape, {})


def _compile(shape: Shape, building: dict[str, Check]) -> Check:
    """Shapes are named uniquely within a model; ``building`` ties recursive shapes together."""
    key = shape.name
    if key in building:
        return lambda value, path, out: building[key](value, path, out)
    building[key] = _unfinished
    check = _build(shape, building)
    building[key] = check
    return check


def _unfinished(value: Any, path: str, out: list) -> None:  # pragma: no cover - never called
    raise RuntimeError("recursive shape check called before it was built")


def _build(shape: Shape, building: dict[str, Check]) -> Check:
    kind = shape.type_name
    sensitive = bool(shape.metadata.get("sensitive"))
    types, type_name = _TYPES.get(kind, ((object,), kind))
    scalar = _scalar_checks(shape)

    if kind == "structure":
        if shape.is_document_type:
            return _noop
        members = [
            (name, _segment(name), _compile(member, building), bool(member.metadata.get("sensitive")))
            for name, member in shape.members.items()
        ]
        required = tuple(shape.required_members)
        is_union = bool(shape.metadata.get("union"))

        def check_structure(value: Any, path: str, out: list) -> None:
            if not isinstance(value, Mapping):
                out.append(Problem(path or "input", value, f"Member must be {type_name}", sensitive, "type"))
                return
            for name in required:
                if value.get(name) is None:
                    out.append(Problem(_join(path, _segment(name)), None, "Member must not be null", kind="required"))
            for name, segment, check, _ in members:
                item = value.get(name)
                if item is not None:
                    check(item, _join(path, segment), out)
            if is_union and sum(value.get(name) is not None for name, *_ in members) > 1:
                out.append(Problem(path or "input", value, "Member must have exactly one member set", sensitive))

        return check_structure

    if kind == "list":
        item_shape = shape.member
        if item_shape.type_name in ("structure", "list", "map"):
            check_item = _compile(item_shape, building)
        else:
            check_item = None
        item_constraints = _constraint_texts(item_shape)
        item_scalar = _scalar_checks(item_shape)
        item_types = _TYPES.get(item_shape.type_name, ((object,), item_shape.type_name))[0]

        def check_list(value: Any, path: str, out: list) -> None:
            if not isinstance(value, (list, tuple)):
                out.append(Problem(path, value, f"Member must be {type_name}", sensitive, "type"))
                return
            for check in scalar:
                check(value, path, out)
            if check_item is not None:
                for index, item in enumerate(value, start=1):
                    item_path = f"{path}.{index}.member"
                    if item is None:
                        out.append(Problem(item_path, None, "Member must not be null", kind="required"))
                    else:
                        check_item(item, item_path, out)
                return
            if any(item is None or not _fits(item, item_types, item_scalar) for item in value):
                constraints = ", ".join(item_constraints + ["Member must not be null"])
                out.append(Problem(path, value, f"Member must satisfy constraint: [{constraints}]",
                                   bool(item_shape.metadata.get("sensitive"))))

        return check_list

    if kind == "map":
        key_shape, value_shape = shape.key, shape.value
        key_scalar = _scalar_checks(key_shape)
        key_types = _TYPES.get(key_shape.type_name, ((object,), key_shape.type_name))[0]
        key_constraints = _constraint_texts(key_shape)
        if value_shape.type_name in ("structure", "list", "map"):
            check_value = _compile(value_shape, building)
        else:
            check_value = None
        value_scalar = _scalar_checks(value_shape)
        value_types = _TYPES.get(value_shape.type_name, ((object,), value_shape.type_name))[0]
        value_constraints = _constraint_texts(value_shape)

        def check_map(value: Any, path: str, out: list) -> None:
            if not isinstance(value, Mapping):
                out.append(Problem(path, value, f"Member must be {type_name}", sensitive, "type"))
                return
            for check in scalar:
                check(value, path, out)
            if any(not _fits(key, key_types, key_scalar) for key in value):
                out.append(Problem(path, value, f"Map keys must satisfy constraint: [{', '.join(key_constraints)}]",
                                   sensitive))
            if check_value is not None:
                for key, item in value.items():
                    if item is not None:
                        check_value(item, f"{path}.{key}.member", out)
            elif any(item is not None and not _fits(item, value_types, value_scalar) for item in value.values()):
                out.append(Problem(path, value, f"Map value must satisfy constraint: [{', '.join(value_constraints)}]",
                                   sensitive))

        return check_map

    def check_scalar(value: Any, path: str, out: list) -> None:
        if not isinstance(value, types) or (isinstance(value, bool) and kind not in ("boolean",)):
            out.append(Problem(path, value, f"Member must be {type_name}", sensitive, "type"))
            return
        for check in scalar:
            check(value, path, out)

    return check_scalar


def _noop(value: Any, path: str, out: list) -> None:
    return None


def _fits(value: Any, types: tuple[type, ...], checks: list[Check]) -> bool:
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        return False
    found: list[Problem] = []
    for check in checks:
        check(value, "", found)
    return not found


def _segment(name: str) -> str:
    """AWS's path segment for a member: the name with its first letter lower-cased."""
    return name[:1].lower() + name[1:]


def _join(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


# ---------------------------------------------------------------------------------------------
# Scalar constraints: length, range, enum, pattern


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return len(value)


def _scalar_checks(shape: Shape) -> list[Check]:
    kind, metadata = shape.type_name, shape.metadata
    sensitive = bool(metadata.get("sensitive"))
    checks: list[Check] = []
    low, high = metadata.get("min"), metadata.get("max")
    if kind in ("string", "blob", "list", "map"):
        if high is not None:
            def too_long(value: Any, path: str, out: list, high: int = high) -> None:
                if _size(value) > high:
                    out.append(Problem(path, value, f"Member must have length less than or equal to {high}", sensitive))
            checks.append(too_long)
        if low is not None and low > 0:
            def too_short(value: Any, path: str, out: list, low: int = low) -> None:
                if _size(value) < low:
                    out.append(Problem(path, value, f"Member must have length greater than or equal to {low}", sensitive))
            checks.append(too_short)
    elif kind in ("integer", "long", "float", "double"):
        if high is not None:
            def too_big(value: Any, path: str, out: list, high: float = high) -> None:
                if value > high:
                    out.append(Problem(path, value, f"Member must have value less than or equal to {high}", sensitive))
            checks.append(too_big)
        if low is not None:
            def too_small(value: Any, path: str, out: list, low: float = low) -> None:
                if value < low:
                    out.append(Problem(path, value, f"Member must have value greater than or equal to {low}", sensitive))
            checks.append(too_small)
    if kind == "string" and shape.enum:
        allowed = frozenset(shape.enum)
        listed = ", ".join(shape.enum)

        def not_in_enum(value: Any, path: str, out: list) -> None:
            if value not in allowed:
                out.append(Problem(path, value, f"Member must satisfy enum value set: [{listed}]", sensitive))
        checks.append(not_in_enum)
    pattern = metadata.get("pattern")
    compiled = _pattern(pattern) if kind == "string" and pattern else None
    if compiled is not None:
        def mismatched(value: Any, path: str, out: list, compiled: Any = compiled, pattern: str = pattern) -> None:
            if compiled.fullmatch(value) is None:
                out.append(Problem(path, value, f"Member must satisfy regular expression pattern: {pattern}", sensitive))
        checks.append(mismatched)
    return checks


def _constraint_texts(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape in AWS's words (for list items and map keys/values)."""
    metadata, texts = shape.metadata, []
    if shape.type_name in ("string", "blob"):
        if metadata.get("max") is not None:
            texts.append(f"Member must have length less than or equal to {metadata['max']}")
        if metadata.get("min") is not None:
            texts.append(f"Member must have length greater than or equal to {metadata['min']}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if metadata.get("max") is not None:
            texts.append(f"Member must have value less than or equal to {metadata['max']}")
        if metadata.get("min") is not None:
            texts.append(f"Member must have value greater than or equal to {metadata['min']}")
    if shape.type_name == "string" and shape.enum:
        texts.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    if shape.type_name == "string" and metadata.get("pattern") and _pattern(metadata["pattern"]) is not None:
        texts.append(f"Member must satisfy regular expression pattern: {metadata['pattern']}")
    return texts or [f"Member must be {_TYPES.get(shape.type_name, ((), shape.type_name))[1]}"]


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> Any:
    """The compiled pattern, or None when Python cannot read this Java regex (then it is not checked)."""
    try:
        return _re.compile(pattern)
    except Exception:  # noqa: BLE001 - regex and re raise different error types
        return None
