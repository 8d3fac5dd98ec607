"""Fleet-index queries: parse AWS IoT's query syntax with luqum and match indexed documents.

Pure: `parse_query` turns a query string into a `Query` (a compiled predicate) or raises
`InvalidQueryException`; `Query.matches` tests one document. A document is any mapping from field
name (``thingName``, ``attributes.room_number``, ``shadow.reported.temperature``, ...) to the
sequence of values indexed under it (a list holds several); ``get`` and ``values`` are all the
matcher uses, so a plain dict does. Values are str, bool, int or float.

Behaviour (reference section 8.4; AWS "Query syntax", "Example thing queries", "Manage thing
indexing"):

* ``field:value`` terms, ``*`` and ``?`` wildcards in values (``field:*`` means the field exists,
  a bare ``*`` matches every thing), phrases in double quotes, ranges ``[a TO b]`` / ``{a TO b}``
  (mixed brackets allowed, ``*`` for an open end), comparisons ``field>v`` ``field>=v``
  ``field<v`` ``field<=v``, ``AND`` / ``OR`` / ``NOT`` / ``-`` / ``+``, grouping and field
  grouping ``thingName:(tv* AND -plasma)``. The default operator is AND.
* A term without a field searches every indexed field.
* Field names are case-sensitive; values match case-insensitively. A string value also matches a
  term equal to one of its whitespace-separated words (AWS splits words on whitespace).
* Numbers compare as numbers when both sides are numeric: JSON numbers, and strings written as a
  JSON number literal (registry attributes are always strings, yet AWS runs numeric ranges on
  them). Otherwise values compare as lower-cased strings. Booleans are the words true/false.
* Rejected with ``InvalidQueryException``: syntax errors; fuzzy, proximity, boost and regex
  terms; more than `MAX_TERMS` terms; more than one term with a leading wildcard, or a leading
  wildcard in a query longer than `LEADING_WILDCARD_MAX_LENGTH`.

luqum reads Lucene syntax, where a comparison is written ``field:>20``; AWS writes
``field>20`` (spaces allowed around the operator). `lucene_syntax` rewrites the AWS forms before
parsing, outside phrases only, and escapes the minus of a negative number after ``:``, a
comparison, a range bracket or ``TO`` (Lucene would read it as "prohibit").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse  # the thread-safe entry point of luqum's parser

from localcore.errors import AwsError

# AWS "Query syntax" allows at most 12 terms per query (the reference's 7 is an older limit).
MAX_TERMS = 12
# AWS: a leading wildcard is allowed in one term per query, in a query of at most 100 characters.
MAX_LEADING_WILDCARD_TERMS = 1
LEADING_WILDCARD_MAX_LENGTH = 100

Value = str | bool | int | float


class InvalidQueryException(AwsError):
    code, status = "InvalidQueryException", 400


class Document(Protocol):
    """What the matcher reads from an indexed thing (a dict of field -> values will do)."""

    def get(self, field: str, /) -> Sequence[Value] | None: ...

    def values(self) -> Iterable[Sequence[Value]]: ...


Predicate = Callable[[Document], bool]
ValueTest = Callable[[Value], bool]


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    text: str
    predicate: Predicate

    def matches(self, document: Document) -> bool:
        return self.predicate(document)


def parse_query(text: str) -> Query:
    """Parse an AWS fleet-index query string; raise `InvalidQueryException` if AWS would."""
    if not text or not text.strip():
        raise InvalidQueryException("The query string is empty.")
    try:
        parsed = luqum_parse(lucene_syntax(text))
    except ParseError as error:
        raise InvalidQueryException(f"Syntax error in query {text!r}: {error}") from None
    compiler = _Compiler(text)
    predicate = compiler.compile(parsed, None)
    compiler.check_limits()
    return Query(text, predicate)


# -- AWS syntax -> Lucene syntax --------------------------------------------------------------------
_PHRASE = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMPARISON = re.compile(r'(?P<field>[^\s:()"\[\]{}<>=\\]+)\s*(?P<op>>=|<=|>|<)\s*')
_NEGATIVE_AFTER_SYMBOL = re.compile(r"(?<=[:<>=\[{])(\s*)-(?=\d)")
_NEGATIVE_AFTER_TO = re.compile(r"(\bTO\s+)-(?=\d)")


def lucene_syntax(text: str) -> str:
    """Rewrite AWS's comparison forms and negative numbers so that luqum reads them."""
    pieces = []
    position = 0
    for phrase in _PHRASE.finditer(text):
        pieces.append(_rewrite(text[position:phrase.start()]))
        pieces.append(phrase.group())
        position = phrase.end()
    pieces.append(_rewrite(text[position:]))
    return "".join(pieces)


def _rewrite(segment: str) -> str:
    segment = _COMPARISON.sub(lambda m: f"{m['field']}:{m['op']}", segment)
    segment = _NEGATIVE_AFTER_SYMBOL.sub(lambda m: f"{m[1]}\\-", segment)
    return _NEGATIVE_AFTER_TO.sub(lambda m: f"{m[1]}\\-", segment)


# -- compiling the tree into predicates -------------------------------------------------------------
class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.terms = 0
        self.leading_wildcards = 0

    def check_limits(self) -> None:
        if self.terms > MAX_TERMS:
            raise InvalidQueryException(f"The query has {self.terms} terms; at most {MAX_TERMS} are allowed.")
        if self.leading_wildcards > MAX_LEADING_WILDCARD_TERMS:
            raise InvalidQueryException("Only one term per query may start with a wildcard.")
        if self.leading_wildcards and len(self.text) > LEADING_WILDCARD_MAX_LENGTH:
            raise InvalidQueryException(
                f"A query with a leading wildcard may be at most {LEADING_WILDCARD_MAX_LENGTH} characters long."
            )

    def compile(self, node: tree.Item, field: str | None) -> Predicate:
        if isinstance(node, tree.SearchField):
            if field is not None:
                raise InvalidQueryException(f"Field {node.name!r} is nested inside field {field!r}.")
            return self.compile(node.expr, node.name)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.compile(node.expr, field)
        if isinstance(node, (tree.AndOperation, tree.UnknownOperation)):
            parts = [self.compile(child, field) for child in node.children]
            return lambda doc: all(part(doc) for part in parts)
        if isinstance(node, tree.OrOperation):
            parts = [self.compile(child, field) for child in node.children]
            return lambda doc: any(part(doc) for part in parts)
        if isinstance(node, (tree.Not, tree.Prohibit)):
            inner = self.compile(node.a, field)
            return lambda doc: not inner(doc)
        if isinstance(node, tree.Plus):
            return self.compile(node.a, field)
        if isinstance(node, (tree.Word, tree.Phrase, tree.Range, tree.From, tree.To)):
            return self.term(node, field)
        raise InvalidQueryException(f"{_UNSUPPORTED.get(type(node), type(node).__name__)} is not supported: {node}")

    def term(self, node: tree.Item, field: str | None) -> Predicate:
        self.terms += 1
        if isinstance(node, tree.Word) and node.value == "*":
            test: ValueTest = _always
        elif isinstance(node, tree.Word):
            test = self.word(node.value)
        elif isinstance(node, tree.Phrase):
            test = _phrase_test(_phrase_text(node))
        elif isinstance(node, tree.Range):
            test = _range_test(_bound(node.low), _bound(node.high), node.include_low, node.include_high)
        elif isinstance(node, tree.From):
            test = _range_test(_bound(node.a), None, node.include, False)
        else:  # tree.To
            test = _range_test(None, _bound(node.a), False, node.include)
        return _on_field(field, test)

    def word(self, raw: str) -> ValueTest:
        parts = _split_wildcards(raw)
        if len(parts) == 1:
            return _word_test(parts[0])
        if parts[0] == "":
            self.leading_wildcards += 1
        return _wildcard_test(parts)


_UNSUPPORTED = {
    tree.Fuzzy: "Fuzzy search",
    tree.Proximity: "Proximity search",
    tree.Boost: "Boosting",
    tree.Regex: "A regular expression",
}


def _always(_value: Value) -> bool:
    return True


def _on_field(field: str | None, test: ValueTest) -> Predicate:
    if field is None:
        def anywhere(doc: Document) -> bool:
            for values in doc.values():
                for value in values:
                    if test(value):
                        return True
            return False

        return anywhere

    def predicate(doc: Document) -> bool:
        for value in doc.get(field) or ():
            if test(value):
                return True
        return False

    return predicate


# -- values -----------------------------------------------------------------------------------------
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def number(value: Value) -> float | None:
    """The value as a number, if it is one: a JSON number, or a string holding a JSON number literal."""
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is not str:
        return None  # booleans are not numbers
    if value.isascii() and value.isdigit():  # the common case, without the regular expression
        return float(value) if value[0] != "0" or len(value) == 1 else None
    if _JSON_NUMBER.fullmatch(value):
        parsed = float(value)
        return parsed if math.isfinite(parsed) else None
    return None


def text(value: Value) -> str:
    """The value as the indexed text (lower case: search is case-insensitive)."""
    kind = type(value)
    if kind is str:
        return value.lower()
    if kind is bool:
        return "true" if value else "false"
    return str(value)  # str() of an int or a float is its JSON form


def _split_wildcards(raw: str) -> list[str]:
    """Literal parts and ``*`` / ``?`` wildcards of a word (a backslash escapes any character).

    One part means no wildcard; otherwise literal parts and wildcards alternate, starting and
    ending with a literal part (possibly empty).
    """
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?":
            parts.extend(["".join(current), char])
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _word_test(literal: str) -> ValueTest:
    wanted = literal.lower()
    wanted_number = number(literal)
    if wanted_number is None:  # a word that is no number can only equal a string or a boolean
        def test(value: Value) -> bool:
            kind = type(value)
            if kind is str:
                lowered = value.lower()
                return lowered == wanted or (wanted in lowered and wanted in lowered.split())
            return kind is bool and wanted == ("true" if value else "false")

        return test

    def numeric_test(value: Value) -> bool:
        if (have := number(value)) is not None:
            return have == wanted_number
        indexed = text(value)
        return indexed == wanted or (type(value) is str and wanted in indexed.split())

    return numeric_test


def _wildcard_test(parts: list[str]) -> ValueTest:
    pattern = "".join(
        ".*" if i % 2 and part == "*" else "." if i % 2 else re.escape(part.lower())
        for i, part in enumerate(parts)
    )
    regex = re.compile(pattern, re.DOTALL)

    def test(value: Value) -> bool:
        indexed = text(value)
        if regex.fullmatch(indexed):
            return True
        return isinstance(value, str) and any(regex.fullmatch(word) for word in indexed.split())

    return test


def _phrase_text(node: tree.Phrase) -> str:
    return re.sub(r"\\(.)", r"\1", node.value[1:-1])


def _phrase_test(phrase: str) -> ValueTest:
    wanted = phrase.lower().split()

    def test(value: Value) -> bool:
        words = text(value).split()
        size = len(wanted)
        return any(words[i:i + size] == wanted for i in range(len(words) - size + 1))

    return test


def _bound(node: tree.Item) -> str | None:
    """A range bound as text; None for an open end (``*``)."""
    if isinstance(node, tree.Phrase):
        return _phrase_text(node)
    if isinstance(node, tree.Word):
        return None if node.value == "*" else node.unescaped_value
    raise InvalidQueryException(f"A range bound must be a value, not {node}")


def _range_test(low: str | None, high: str | None, include_low: bool, include_high: bool) -> ValueTest:
    """Numeric when every given bound is a number, else a comparison of lower-cased strings."""
    bounds = [b for b in (low, high) if b is not None]
    if all(number(b) is not None for b in bounds):
        convert: Callable[[Value], Any] = number
        lo, hi = (number(low) if low is not None else None), (number(high) if high is not None else None)
    else:
        convert = lambda value: None if isinstance(value, bool) else text(value)
        lo, hi = (low.lower() if low is not None else None), (high.lower() if high is not None else None)

    def test(value: Value) -> bool:
        have = convert(value)
        if have is None:
            return False
        if lo is not None and (have < lo or (have == lo and not include_low)):
            return False
        return hi is None or have < hi or (have == hi and include_high)

    return test

