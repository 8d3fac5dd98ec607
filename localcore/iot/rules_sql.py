"""AWS IoT rules SQL: parse a rule's statement once, then match topics and evaluate messages.

``parse`` validates a statement the way ``CreateTopicRule`` does (``SqlParseException``) and
returns a ``Query``; ``matches_topic`` decides whether a message's topic reaches the rule;
``evaluate`` runs WHERE and SELECT over one message and returns the outgoing payload (or ``None``
when WHERE is not true); ``substitute`` fills an action's ``${expression}`` templates.

What AWS documents and this module follows (reference section 10; AWS "AWS IoT SQL reference":
SELECT, FROM, WHERE, data types, operators, functions, literals, case statements, JSON
extensions, binary payloads, substitution templates, SQL versions):

* Quoting. The FROM topic filter must be in single quotes. Everywhere else a string literal may
  use single *or* double quotes, in both SQL versions: AWS's own examples compare with
  ``= "myValue"`` and call ``get(mydata, "item2")`` or ``concat("con", "cat")`` on pages that
  apply to 2015-10-08 and 2016-03-23 alike, and neither version documents a quoted identifier
  (keys with a hyphen must be read with ``get()``). So the workshop's JITR rule
  ``... WHERE certificateStatus = "PENDING_ACTIVATION"`` compares with a string in either
  version. No escape sequence is documented, so none is accepted: a quote ends the string.
* Values: Int, Decimal, Boolean, String, Array, Object, Null and Undefined (a missing key, or a
  function given arguments it cannot use). Undefined makes comparisons Undefined, a WHERE that is
  not true fails, and an Undefined SELECT item is left out of the output.
* Operators follow AWS's tables: ``=``/``<>`` compare like types (Int and Decimal together;
  mismatched types are unequal, never converted), ``<``/``>``... convert both sides to Decimal
  (numeric strings convert, anything else is Undefined), ``AND``/``OR``/``NOT`` take Booleans or
  the strings "true"/"false" and are Undefined for anything else (so ``missing = 1 OR ok`` is not
  true), ``+`` concatenates when either side is a String, Int op Int stays
  an Int (``/`` and ``%`` truncate toward zero like Java), a zero divisor gives Undefined.
* SQL versions. 2016-03-23 (and ``beta``) treat whole-number Decimals such as ``10.0`` as Ints,
  accept object and array literals, the ``Decimal``/``Bool``/``Boolean`` cast types and the
  functions AWS marks "2016-03-23 and later" (``encode``, ``decode``, ``isUndefined``,
  ``length``, ``indexof``, ``numbytes``); 2015-10-08 rejects those with ``SqlParseException``
  (whether AWS rejects them at ``CreateTopicRule`` or yields Undefined is [unconfirmed]).
* Payloads that are not a JSON object: ``SELECT *`` alone returns the raw bytes, field names are
  Undefined (so a WHERE on them is false; AWS only says such rules "cannot be used" with binary
  payloads, and may run the error action instead [unconfirmed]), ``encode(*, 'base64')`` reads
  the raw bytes, and ``*`` mixed with other SELECT items raises ``RuleEvaluationError``.
* ``IS NULL`` is not AWS IoT SQL (AWS has ``isNull()`` and ``isUndefined()``) and is rejected.
* Topics: MQTT filter matching; a topic starting with ``$`` is matched only by a filter that
  names its first level (``#`` and ``+/...`` do not match ``$aws/...``). Basic Ingest topics
  (``$aws/rules/<ruleName>/...``) reach only the named rule, and ``topic()`` drops that prefix.

Valid AWS SQL this lab does not run (``SELECT VALUE``, nested ``(SELECT ...)``, ``SET``, ``IN``,
functions calling other services) raises ``NotImplementedInLab`` at parse time, never a silent
difference. Choices AWS does not document are named constants or marked [unconfirmed].
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localcore.errors import AwsError, InvalidRequestException, NotImplementedInLab

V2015 = "2015-10-08"
V2016 = "2016-03-23"
BETA = "beta"
SQL_VERSIONS = (V2015, V2016, BETA)

# [unconfirmed] AWS documents only ``<>``; ``!=`` is accepted as the same operator.
ACCEPT_BANG_EQUALS = True
# [unconfirmed] Key of an unaliased SELECT item that is neither a field nor a function call.
UNNAMED_ITEM_KEY = "_{position}"
# [unconfirmed] ``SELECT x AS a.b`` (AWS's JSON-extensions example) nests: {"a": {"b": x}}.
NEST_DOTTED_ALIASES = True

_KEYWORDS = frozenset(
    "SELECT FROM WHERE AS AND OR NOT TRUE FALSE NULL CASE WHEN THEN ELSE END".split())
_CAST_TYPES = {
    V2015: {"string": "string", "nvarchar": "string", "text": "string", "ntext": "string",
            "varchar": "string", "int": "int", "integer": "int", "double": "decimal"},
    V2016: {"decimal": "decimal", "bool": "bool", "boolean": "bool"},
}
# Functions AWS documents that need another service or are not written here.
_AWS_ONLY_FUNCTIONS = frozenset({
    "acos", "asin", "atan", "atan2", "aws_lambda", "bitand", "bitnot", "bitor", "bitxor", "chr",
    "cos", "cosh", "exp", "get_dynamodb", "get_mqtt_property", "get_registry_data", "get_secret",
    "get_thing_shadow", "get_user_properties", "ln", "log", "lpad", "machinelearning_predict",
    "md2", "nanvl", "parse_time", "power", "rand", "regexp_replace", "regexp_substr", "rpad", "sin",
    "sinh", "sourceip", "sqrt", "tan", "tanh", "time_to_epoch", "transform", "trunc",
})


class SqlParseException(AwsError):
    """The rule's SQL statement is not valid AWS IoT SQL (``CreateTopicRule`` answers 400)."""

    code, status = "SqlParseException", 400


class RuleEvaluationError(Exception):
    """A message the rule cannot process (AWS runs the rule's ``errorAction`` instead)."""


@dataclass(frozen=True)
class RuleContext:
    """What a message carries besides its payload; the caller supplies the clock and the ids.

    ``client_id`` None means the message did not come over MQTT (``clientid()`` is then "n/a").
    """

    topic: str
    client_id: str | None
    principal: str | None
    timestamp_ms: int
    trace_id: str | None = None
    account_id: str | None = None
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()), compare=False)


# --- syntax tree ------------------------------------------------------------------------------

class _Undefined:
    """AWS's ``Undefined``: not a value, left out of JSON output."""

    def __repr__(self) -> str:
        return "Undefined"


UNDEF: Any = _Undefined()


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Member:
    base: Node
    name: str


@dataclass(frozen=True)
class Index:
    base: Node
    index: Node


@dataclass(frozen=True)
class Star:
    """``*``: the whole payload (a SELECT item, or a function argument such as ``encode(*, ...)``)."""


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str  # as written; looked up lower-cased
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Cast:
    operand: Node
    to: str  # "string" | "int" | "decimal" | "bool"


@dataclass(frozen=True)
class Case:
    subject: Node
    whens: tuple[tuple[Node, Node], ...]
    otherwise: Node | None


@dataclass(frozen=True)
class ObjectLit:
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class ArrayLit:
    items: tuple[Node, ...]


Node = Literal | Field | Member | Index | Star | Unary | Binary | Call | Cast | Case | ObjectLit | ArrayLit


@dataclass(frozen=True)
class SelectItem:
    expr: Node
    alias: str | None = None


@dataclass(frozen=True)
class Query:
    """A parsed rule statement. ``topic_filter`` is None for a Basic-Ingest-only rule."""

    sql: str
    version: str
    topic_filter: str | None
    select: tuple[SelectItem, ...]
    where: Node | None


# --- tokenizer --------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[-+*/%=<>(),.\[\]{}:])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | str | name | op | end
    text: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops


def _tokenize(sql: str) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            what = "unterminated string literal" if sql[pos] in "'\"" else f"unexpected character {sql[pos]!r}"
            raise SqlParseException(f"{what} at position {pos + 1}")
        if m.lastgroup != "ws":
            tokens.append(_Tok(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(sql)))
    return tokens


# --- parser -----------------------------------------------------------------------------------

class _Parser:
    """Recursive descent, lowest precedence first: OR, AND, NOT, comparison, + -, * / %, unary."""

    def __init__(self, sql: str, version: str) -> None:
        self.sql, self.version = sql, version
        self.tokens = _tokenize(sql)
        self.i = 0
        self.v2016 = version != V2015

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def peek(self) -> _Tok:
        return self.tokens[min(self.i + 1, len(self.tokens) - 1)]

    def _next(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, expected: str) -> SqlParseException:
        tok = self.tok
        found = "end of statement" if tok.kind == "end" else repr(tok.text)
        return SqlParseException(f"expected {expected} at position {tok.pos + 1}, found {found}")

    def expect_op(self, op: str) -> None:
        if not self.tok.is_op(op):
            raise self.error(repr(op))
        self.i += 1

    def expect_kw(self, word: str) -> None:
        if not self.tok.is_kw(word):
            raise self.error(word)
        self.i += 1

    def name(self) -> str:
        if self.tok.kind != "name" or self.tok.text.upper() in _KEYWORDS:
            raise self.error("a name")
        return self._next().text

    # statement
    def query(self) -> Query:
        self.expect_kw("SELECT")
        after = self.peek()
        if self.tok.is_kw("VALUE") and (after.kind in ("num", "str") or after.is_op("(", "{")
                                        or (after.kind == "name" and not after.is_kw("FROM", "AS"))):
            raise NotImplementedInLab("The lab's rules engine does not run SELECT VALUE.")
        items = [self.select_item()]
        while self.tok.is_op(","):
            self.i += 1
            items.append(self.select_item())
        topic_filter = None
        if self.tok.is_kw("FROM"):
            self.i += 1
            topic_filter = self.topic_filter()
        where = None
        if self.tok.is_kw("WHERE"):
            self.i += 1
            where = self.expr()
        if self.tok.kind != "end":
            raise SqlParseException(f"unexpected {self.tok.text!r} at position {self.tok.pos + 1}")
        return Query(self.sql, self.version, topic_filter, tuple(items), where)

    def select_item(self) -> SelectItem:
        if self.tok.is_op("*"):
            self.i += 1
            return SelectItem(Star())
        expr = self.expr()
        if not self.tok.is_kw("AS"):
            return SelectItem(expr)
        self.i += 1
        parts = [self.name()]
        while self.tok.is_op("."):
            self.i += 1
            parts.append(self.name())
        return SelectItem(expr, ".".join(parts))

    def topic_filter(self) -> str:
        tok = self._next()
        if tok.kind != "str" or tok.text[0] != "'":
            raise SqlParseException(
                f"the FROM topic filter must be enclosed in single quotes (position {tok.pos + 1})")
        text = tok.text[1:-1]
        levels = text.split("/")
        bad = not text or any(
            ("#" in level and (level != "#" or n != len(levels) - 1)) or ("+" in level and level != "+")
            for n, level in enumerate(levels))
        if bad:
            raise SqlParseException(f"invalid topic filter {text!r}: '+' and '#' must fill a whole level,"
                                    " and '#' must be the last one")
        return text

    # expressions
    def expr(self) -> Node:
        node = self.conjunction()
        while self.tok.is_kw("OR"):
            self.i += 1
            node = Binary("OR", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.tok.is_kw("AND"):
            self.i += 1
            node = Binary("AND", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.tok.is_kw("NOT"):
            self.i += 1
            return Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        tok = self.tok
        if tok.is_op("=", "<>", "<", "<=", ">", ">=") or (ACCEPT_BANG_EQUALS and tok.is_op("!=")):
            self.i += 1
            return Binary("<>" if tok.text == "!=" else tok.text, node, self.additive())
        if tok.is_kw("IS"):
            raise SqlParseException(f"'IS' at position {tok.pos + 1} is not AWS IoT SQL;"
                                    " use isNull(x) or isUndefined(x)")
        if tok.is_kw("IN", "CONTAINS"):
            raise NotImplementedInLab(f"The lab's rules engine does not run the {tok.text.upper()} operator.")
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.tok.is_op("+", "-"):
            node = Binary(self._next().text, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.tok.is_op("*", "/", "%"):
            node = Binary(self._next().text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.tok.is_op("-"):
            self.i += 1
            operand = self.unary()
            if isinstance(operand, Literal) and _kind(operand.value) in ("Int", "Decimal"):
                return Literal(-operand.value)
            return Unary("-", operand)
        if self.tok.is_op("+"):
            self.i += 1
            return self.unary()
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.tok.is_op(".", "["):
            if self._next().text == ".":
                if self.tok.kind == "num":
                    raise SqlParseException(f"a key that is a number cannot follow '.' (position"
                                            f" {self.tok.pos + 1}); use get(value, \"key\")")
                node = Member(node, self.name())
            else:
                node = Index(node, self.expr())
                self.expect_op("]")
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            return Literal(_version_number(_number(tok.text), self.v2016))
        if tok.kind == "str":
            self.i += 1
            return Literal(tok.text[1:-1])
        if tok.is_kw("TRUE", "FALSE"):
            self.i += 1
            return Literal(tok.text.upper() == "TRUE")
        if tok.is_kw("NULL"):
            self.i += 1
            return Literal(None)
        if tok.is_kw("CASE"):
            return self.case()
        if tok.is_op("("):
            self.i += 1
            if self.tok.is_kw("SELECT"):
                raise NotImplementedInLab("The lab's rules engine does not run nested (SELECT ...) queries.")
            node = self.expr()
            self.expect_op(")")
            return node
        if tok.is_op("{", "["):
            if not self.v2016:
                raise SqlParseException(f"object and array literals (position {tok.pos + 1})"
                                        f" need SQL version {V2016} or later")
            return self.object_literal() if tok.text == "{" else self.array_literal()
        if tok.kind != "name" or tok.text.upper() in _KEYWORDS:
            raise self.error("an expression")
        name = self._next().text
        if not self.tok.is_op("("):
            return Field(name)
        self.i += 1
        return self.cast() if name.lower() == "cast" else self.call(name, tok)

    def call(self, name: str, tok: _Tok) -> Call:
        key = name.lower()
        if key in _AWS_ONLY_FUNCTIONS:
            raise NotImplementedInLab(f"The lab's rules engine does not run the SQL function {name}().")
        spec = _FUNCTIONS.get(key)
        if spec is None:
            raise SqlParseException(f"unknown function {name}() at position {tok.pos + 1}")
        args: list[Node] = []
        if not self.tok.is_op(")"):
            args.append(self.argument())
            while self.tok.is_op(","):
                self.i += 1
                args.append(self.argument())
        self.expect_op(")")
        if not spec.min_args <= len(args) <= spec.max_args:
            raise SqlParseException(f"{name}() at position {tok.pos + 1} takes {spec.arity_text()},"
                                    f" not {len(args)}")
        if spec.needs_2016 and not self.v2016:
            raise SqlParseException(f"{name}() needs SQL version {V2016} or later")
        return Call(name, tuple(args))

    def argument(self) -> Node:
        if self.tok.is_op("*") and self.peek().is_op(",", ")"):
            self.i += 1
            return Star()
        return self.expr()

    def cast(self) -> Cast:
        operand = self.expr()
        self.expect_kw("AS")
        tok = self._next()
        types = _CAST_TYPES[V2015] | (_CAST_TYPES[V2016] if self.v2016 else {})
        to = types.get(tok.text.lower()) if tok.kind == "name" else None
        if to is None:
            raise SqlParseException(f"cannot cast to {tok.text!r} (position {tok.pos + 1}) in SQL version"
                                    f" {V2016 if self.v2016 else V2015}; types: {', '.join(sorted(types))}")
        self.expect_op(")")
        return Cast(operand, to)

    def case(self) -> Case:
        self.i += 1
        if self.tok.is_kw("WHEN"):
            raise SqlParseException(f"CASE needs a value before WHEN (position {self.tok.pos + 1})")
        subject, whens = self.expr(), []
        while self.tok.is_kw("WHEN"):
            self.i += 1
            test = self.expr()
            self.expect_kw("THEN")
            whens.append((test, self.expr()))
        if not whens:
            raise self.error("WHEN")
        otherwise = None
        if self.tok.is_kw("ELSE"):
            self.i += 1
            otherwise = self.expr()
        self.expect_kw("END")
        return Case(subject, tuple(whens), otherwise)

    def object_literal(self) -> ObjectLit:
        self.i += 1
        items: list[tuple[str, Node]] = []
        while not self.tok.is_op("}"):
            if items:
                self.expect_op(",")
            if self.tok.kind != "str":
                raise self.error("a quoted key")
            key = self._next().text[1:-1]
            self.expect_op(":")
            items.append((key, self.expr()))
        self.i += 1
        return ObjectLit(tuple(items))

    def array_literal(self) -> ArrayLit:
        self.i += 1
        items: list[Node] = []
        while not self.tok.is_op("]"):
            if items:
                self.expect_op(",")
            items.append(self.expr())
        self.i += 1
        return ArrayLit(tuple(items))


def _check_version(version: str) -> None:
    if version not in SQL_VERSIONS:
        raise InvalidRequestException(f"awsIotSqlVersion must be one of {', '.join(SQL_VERSIONS)}, not {version!r}")


def parse(sql: str, version: str = V2016) -> Query:
    """Parse a rule statement; ``SqlParseException`` says what is wrong and where."""
    _check_version(version)
    if not sql or not sql.strip():
        raise SqlParseException("the SQL statement is empty")
    if re.match(r"\s*SET\b", sql, re.IGNORECASE):
        raise NotImplementedInLab("The lab's rules engine does not run SQL SET clauses.")
    return _Parser(sql, version).query()


# --- topics -----------------------------------------------------------------------------------

BASIC_INGEST_PREFIX = "$aws/rules/"


def filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: ``+`` is one level, ``#`` the rest (parent included); ``$`` topics need a named first level."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels, names = topic_filter.split("/"), topic.split("/")
    for n, level in enumerate(levels):
        if level == "#":
            return True
        if n >= len(names) or (level != "+" and level != names[n]):
            return False
    return len(levels) == len(names)


def _basic_ingest_rule(topic: str) -> str | None:
    if not topic.startswith(BASIC_INGEST_PREFIX):
        return None
    return topic[len(BASIC_INGEST_PREFIX):].split("/", 1)[0]


def matches_topic(query: Query, topic: str, *, rule_name: str | None = None) -> bool:
    """Whether a message on ``topic`` reaches the rule (named ``rule_name`` for Basic Ingest)."""
    ingest_rule = _basic_ingest_rule(topic)
    if ingest_rule is not None:
        return ingest_rule == rule_name
    return query.topic_filter is not None and filter_matches(query.topic_filter, topic)


def _rule_topic(topic: str) -> str:
    """The topic ``topic()`` reports: Basic Ingest's ``$aws/rules/<ruleName>/`` prefix removed."""
    if _basic_ingest_rule(topic) is None:
        return topic
    parts = topic.split("/", 3)
    return parts[3] if len(parts) > 3 else ""


# --- values and conversions (AWS "Data types" tables) ------------------------------------------

_DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")


def _kind(v: Any) -> str:
    if v is UNDEF:
        return "Undefined"
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Int"
    if isinstance(v, float):
        return "Decimal"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    if isinstance(v, dict):
        return "Object"
    return "Binary"


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _version_number(v: Any, v2016: bool) -> Any:
    """2016-03-23 processes whole-number Decimals (``10.0``) as Ints."""
    if v2016 and isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return v


def _normalized(doc: Any, v2016: bool) -> Any:
    if isinstance(doc, dict):
        return {k: _normalized(v, v2016) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_normalized(v, v2016) for v in doc]
    return _version_number(doc, v2016)


def _to_number(v: Any) -> Any:
    """Int stays Int, Decimal stays Decimal, a numeric String becomes a Decimal; else Undefined."""
    kind = _kind(v)
    if kind in ("Int", "Decimal"):
        return v
    if kind == "String" and _DECIMAL_TEXT.fullmatch(v):
        return float(v)
    return UNDEF


def _to_string(v: Any) -> Any:
    kind = _kind(v)
    if kind == "String":
        return v
    if kind == "Boolean":
        return "true" if v else "false"
    if kind in ("Int", "Decimal"):
        return str(v)
    if kind in ("Array", "Object"):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return UNDEF


def _to_bool(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return UNDEF


def _same(a: Any, b: Any) -> bool:
    """AWS's ``=`` for two defined values: like types only, Int and Decimal compared as numbers."""
    ka, kb = _kind(a), _kind(b)
    if ka in ("Int", "Decimal") and kb in ("Int", "Decimal"):
        return a == b
    if ka != kb:
        return False
    if ka == "Array":
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if ka == "Object":
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _floor_int(v: Any) -> Any:
    n = _to_number(v)
    return UNDEF if n is UNDEF else math.floor(n)


# --- evaluation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Env:
    doc: Any  # the parsed JSON payload, or UNDEF when the payload is not JSON
    raw: bytes
    ctx: RuleContext
    version: str

    @property
    def v2016(self) -> bool:
        return self.version != V2015

    def num(self, v: Any) -> Any:
        return _version_number(v, self.v2016)


def _arith(op: str, a: Any, b: Any, env: _Env) -> Any:
    if op == "+" and (isinstance(a, str) or isinstance(b, str)):
        left, right = _to_string(a), _to_string(b)
        return UNDEF if left is UNDEF or right is UNDEF else left + right
    if op == "+" and not (_kind(a) in ("Int", "Decimal") and _kind(b) in ("Int", "Decimal")):
        return UNDEF
    x, y = _to_number(a), _to_number(b)
    if x is UNDEF or y is UNDEF:
        return UNDEF
    ints = isinstance(x, int) and isinstance(y, int)
    if op in ("/", "%") and y == 0:
        return UNDEF
    if op == "+":
        result = x + y
    elif op == "-":
        result = x - y
    elif op == "*":
        result = x * y
    elif op == "/":
        result = (abs(x) // abs(y)) * (1 if (x < 0) == (y < 0) else -1) if ints else x / y
    else:  # % keeps the dividend's sign, as Java's remainder does
        result = (abs(x) % abs(y)) * (-1 if x < 0 else 1) if ints else math.fmod(x, y)
    return result if ints else env.num(float(result))


def _compare(op: str, a: Any, b: Any) -> Any:
    if op in ("=", "<>"):
        if a is UNDEF or b is UNDEF:
            return UNDEF
        return _same(a, b) == (op == "=")
    x, y = _to_number(a), _to_number(b)
    if x is UNDEF or y is UNDEF:
        return UNDEF
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _logic(op: str, a: Any, b: Any) -> Any:
    x, y = _to_bool(a), _to_bool(b)
    if x is UNDEF or y is UNDEF:
        return UNDEF
    return (x and y) if op == "AND" else (x or y)


def _cast(v: Any, to: str, env: _Env) -> Any:
    kind = _kind(v)
    if to == "string":
        return _to_string(v)
    if to == "bool":
        if kind in ("Int", "Decimal"):
            return v != 0
        return _to_bool(v)
    if kind == "Boolean":
        number: Any = 1 if v else 0
    else:
        number = _to_number(v)
        if number is UNDEF:
            return UNDEF
    return math.floor(number) if to == "int" else env.num(float(number))


def _eval(node: Node, env: _Env) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return env.doc.get(node.name, UNDEF) if isinstance(env.doc, dict) else UNDEF
    if isinstance(node, Member):
        base = _eval(node.base, env)
        return base.get(node.name, UNDEF) if isinstance(base, dict) else UNDEF
    if isinstance(node, Index):
        base, index = _eval(node.base, env), _floor_int(_eval(node.index, env))
        if isinstance(base, list) and index is not UNDEF and 0 <= index < len(base):
            return base[index]
        return UNDEF
    if isinstance(node, Star):
        return env.doc if env.doc is not UNDEF else env.raw
    if isinstance(node, Binary):
        a, b = _eval(node.left, env), _eval(node.right, env)
        if node.op in ("AND", "OR"):
            return _logic(node.op, a, b)
        if node.op in ("+", "-", "*", "/", "%"):
            return _arith(node.op, a, b, env)
        return _compare(node.op, a, b)
    if isinstance(node, Unary):
        v = _eval(node.operand, env)
        if node.op == "NOT":
            b = _to_bool(v)
            return UNDEF if b is UNDEF else not b
        n = _to_number(v)
        return UNDEF if n is UNDEF else env.num(-n)
    if isinstance(node, Call):
        if node.name.lower() == "encode" and node.args and isinstance(node.args[0], Star):
            return _encode(env.raw, _eval(node.args[1], env))
        spec = _FUNCTIONS[node.name.lower()]
        return spec.run([_eval(arg, env) for arg in node.args], env)
    if isinstance(node, Cast):
        return _cast(_eval(node.operand, env), node.to, env)
    if isinstance(node, Case):
        subject = _eval(node.subject, env)
        if subject is UNDEF:
            return UNDEF
        for test, result in node.whens:
            value = _eval(test, env)
            if value is not UNDEF and _same(subject, value):
                return _eval(result, env)
        return UNDEF if node.otherwise is None else _eval(node.otherwise, env)
    if isinstance(node, ObjectLit):
        values = ((key, _eval(expr, env)) for key, expr in node.items)
        return {key: value for key, value in values if value is not UNDEF}
    if isinstance(node, ArrayLit):
        return [v for v in (_eval(item, env) for item in node.items) if v is not UNDEF]
    raise TypeError(f"not a rules SQL node: {node!r}")


# --- functions (AWS "Functions" page) ----------------------------------------------------------

@dataclass(frozen=True)
class _Function:
    run: Callable[[list[Any], _Env], Any]
    min_args: int = 1
    max_args: int = 1
    needs_2016: bool = False

    def arity_text(self) -> str:
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


def _strings(fn: Callable[..., Any]) -> Callable[[list[Any], _Env], Any]:
    """Convert every argument to a String first; any that cannot be makes the result Undefined."""
    def run(args: list[Any], _env: _Env) -> Any:
        texts = [_to_string(a) for a in args]
        return UNDEF if any(t is UNDEF for t in texts) else fn(*texts)
    return run


def _numeric(fn: Callable[[Any], Any]) -> Callable[[list[Any], _Env], Any]:
    """Convert the argument to a number (numeric strings become Decimals) first."""
    def run(args: list[Any], env: _Env) -> Any:
        n = _to_number(args[0])
        return UNDEF if n is UNDEF else env.num(fn(n))
    return run


def _concat(args: list[Any], _env: _Env) -> Any:
    if not args or any(a is UNDEF for a in args):
        return UNDEF
    if any(isinstance(a, list) for a in args):
        return [x for a in args for x in (a if isinstance(a, list) else [a])]
    texts = [_to_string(a) for a in args]
    return UNDEF if any(t is UNDEF for t in texts) else "".join(texts)


def _get(args: list[Any], _env: _Env) -> Any:
    container, key = args
    if isinstance(container, dict):
        return container.get(key, UNDEF) if isinstance(key, str) else UNDEF
    if isinstance(container, (list, str)):
        index = _floor_int(key)
        return container[index] if index is not UNDEF and 0 <= index < len(container) else UNDEF
    return UNDEF


def _substring(args: list[Any], _env: _Env) -> Any:
    text = _to_string(args[0])
    bounds = [_floor_int(a) for a in args[1:]]
    if text is UNDEF or any(b is UNDEF for b in bounds):
        return UNDEF
    start, end = (min(max(b, 0), len(text)) for b in (bounds + [len(text)])[:2])
    return text[start:end] if start < end else ""


def _affix(test: Callable[[str, str], bool]) -> Callable[[list[Any], _Env], Any]:
    def run(args: list[Any], env: _Env) -> Any:
        if any(a is None or a is UNDEF for a in args):
            return UNDEF
        return _strings(test)(args, env)
    return run


def _topic(args: list[Any], env: _Env) -> Any:
    topic = _rule_topic(env.ctx.topic)
    if not args:
        return topic
    n = _floor_int(args[0])
    levels = topic.split("/")
    return levels[n - 1] if n is not UNDEF and 1 <= n <= len(levels) else UNDEF


def _round_half_up(n: Any) -> int:
    """AWS rounds halves away from zero: round(1.5) = 2, round(-1.5) = -2."""
    return int(math.copysign(math.floor(abs(n) + 0.5), n))


def _encode(value: Any, scheme: Any) -> Any:
    if scheme != "base64":
        return UNDEF
    data = value if isinstance(value, bytes) else _to_string(value)
    if data is UNDEF:
        return UNDEF
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def _decode(args: list[Any], env: _Env) -> Any:
    value, scheme = args
    if scheme != "base64" or not isinstance(value, str):
        return UNDEF
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    try:
        return _normalized(json.loads(text, parse_constant=_reject_constant), env.v2016)
    except ValueError:
        return text


def _regex_search(pattern: str, text: str) -> Any:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return UNDEF


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _context(pick: Callable[[RuleContext], Any]) -> _Function:
    return _Function(lambda _args, env: UNDEF if pick(env.ctx) is None else pick(env.ctx), 0, 0)


def _hash(name: str) -> _Function:
    return _Function(_strings(lambda text: hashlib.new(name, text.encode()).hexdigest()))


_FUNCTIONS: Mapping[str, _Function] = {
    "abs": _Function(_numeric(abs)),
    "ceil": _Function(_numeric(math.ceil)),
    "floor": _Function(_numeric(math.floor)),
    "round": _Function(_numeric(_round_half_up)),
    "sign": _Function(_numeric(lambda n: (n > 0) - (n < 0))),
    "mod": _Function(lambda args, env: _arith("%", args[0], args[1], env), 2, 2),
    "remainder": _Function(lambda args, env: _arith("%", args[0], args[1], env), 2, 2),
    "concat": _Function(_concat, 0, 255),
    "lower": _Function(_strings(str.lower)),
    "upper": _Function(_strings(str.upper)),
    "trim": _Function(_strings(lambda s: s.strip(" \t"))),
    "ltrim": _Function(_strings(lambda s: s.lstrip(" \t"))),
    "rtrim": _Function(_strings(lambda s: s.rstrip(" \t"))),
    "replace": _Function(_strings(lambda s, old, new: s.replace(old, new)), 3, 3),
    "regexp_matches": _Function(_strings(lambda s, pattern: _regex_search(pattern, s)), 2, 2),
    "substring": _Function(_substring, 2, 3),
    "startswith": _Function(_affix(str.startswith), 2, 2),
    "endswith": _Function(_affix(str.endswith), 2, 2),
    "length": _Function(_strings(len), needs_2016=True),
    "numbytes": _Function(_strings(lambda s: len(s.encode())), needs_2016=True),
    "indexof": _Function(_strings(str.find), 2, 2, needs_2016=True),
    "get": _Function(_get, 2, 2),
    "isnull": _Function(lambda args, _env: args[0] is None),
    "isundefined": _Function(lambda args, _env: args[0] is UNDEF, needs_2016=True),
    "encode": _Function(lambda args, _env: _encode(*args), 2, 2, needs_2016=True),
    "decode": _Function(_decode, 2, 2, needs_2016=True),
    "md5": _hash("md5"), "sha1": _hash("sha1"), "sha224": _hash("sha224"),
    "sha256": _hash("sha256"), "sha384": _hash("sha384"), "sha512": _hash("sha512"),
    "topic": _Function(_topic, 0, 1),
    "clientid": _Function(lambda _args, env: "n/a" if env.ctx.client_id is None else env.ctx.client_id, 0, 0),
    "principal": _context(lambda ctx: ctx.principal),
    "traceid": _context(lambda ctx: ctx.trace_id),
    "accountid": _context(lambda ctx: ctx.account_id),
    "timestamp": _context(lambda ctx: ctx.timestamp_ms),
    "newuuid": _Function(lambda _args, env: env.ctx.new_id(), 0, 0),
    "sql_version": _Function(lambda _args, env: env.version, 0, 0),
}


# --- SELECT and messages ------------------------------------------------------------------------

def _environment(payload: bytes | str | Mapping[str, Any], context: RuleContext, version: str) -> _Env:
    if isinstance(payload, Mapping):
        doc: Any = dict(payload)
        raw = json.dumps(doc).encode()
    else:
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        try:
            doc = json.loads(raw, parse_constant=_reject_constant)
        except ValueError:  # includes UnicodeDecodeError
            doc = UNDEF
    return _Env(_normalized(doc, version != V2015), raw, context, version)


def _item_key(item: SelectItem, position: int) -> str:
    if item.alias is not None:
        return item.alias
    if isinstance(item.expr, (Field, Member)):
        return item.expr.name
    if isinstance(item.expr, Call):
        return item.expr.name
    if isinstance(item.expr, Cast):
        return "cast"
    return UNNAMED_ITEM_KEY.format(position=position)


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if not NEST_DOTTED_ALIASES or "." not in key:
        out[key] = value
        return
    *parents, last = key.split(".")
    for parent in parents:
        child = out.get(parent)
        if not isinstance(child, dict):
            child = out[parent] = {}
        out = child
    out[last] = value


def evaluate(query: Query, payload: bytes | str | Mapping[str, Any],
             context: RuleContext) -> dict[str, Any] | bytes | None:
    """The outgoing payload for one message, or ``None`` when WHERE is not true.

    A ``dict`` for JSON output; the raw payload ``bytes`` for ``SELECT *`` over a payload that is
    not a JSON object. ``RuleEvaluationError`` when ``*`` must merge such a payload with other items.
    """
    env = _environment(payload, context, query.version)
    if query.where is not None and _to_bool(_eval(query.where, env)) is not True:
        return None
    if len(query.select) == 1 and isinstance(query.select[0].expr, Star) and not isinstance(env.doc, dict):
        return env.raw
    out: dict[str, Any] = {}
    for position, item in enumerate(query.select, start=1):
        if isinstance(item.expr, Star):
            if not isinstance(env.doc, dict):
                raise RuleEvaluationError("SELECT * with other items needs a JSON object payload;"
                                          " use encode(*, 'base64') for binary payloads")
            out.update(copy.deepcopy(env.doc))
            continue
        value = _eval(item.expr, env)
        if value is not UNDEF:
            _put(out, _item_key(item, position), copy.deepcopy(value))
    return out


# --- substitution templates ---------------------------------------------------------------------

def _template_end(template: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` that opens at ``start``, skipping quotes and braces."""
    depth, quote, i = 0, None, start + 2
    while i < len(template):
        c = template[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise SqlParseException(f"substitution template opened at position {start + 1} is not closed")


def substitute(template: str, payload: bytes | str | Mapping[str, Any], context: RuleContext,
               version: str = V2016) -> str:
    """Fill each ``${expression}`` from the original payload; Undefined and Null become ''."""
    _check_version(version)
    env = _environment(payload, context, version)
    pieces, pos = [], 0
    while (start := template.find("${", pos)) >= 0:
        end = _template_end(template, start)
        parser = _Parser(template[start + 2:end], version)
        expr = parser.expr()
        if parser.tok.kind != "end":
            raise parser.error("'}'")
        value = _to_string(_eval(expr, env))
        pieces += [template[pos:start], "" if value is UNDEF else value]
        pos = end + 1
    return "".join(pieces) + template[pos:]
