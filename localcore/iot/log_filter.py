"""CloudWatch Logs filter patterns (FilterLogEvents' ``filterPattern``): a parser and a matcher.

`compile_pattern(text)` returns a predicate over a log event's message. Two kinds are supported:

* **Terms** (unstructured text): ``ERROR`` (the message contains it), ``ERROR Exception`` (both),
  ``?ERROR ?WARN`` (either), ``ERROR -Exiting`` (the first but not the second), ``"a phrase"``
  (quoted: spaces and any character), ``%regex%``. Matching is case-sensitive and by substring.
  The empty pattern matches everything.
* **JSON** ``{ ... }``: conditions on ``$.selectors`` (``$.a.b``, ``$.list[0]``) joined with ``&&``
  and ``||`` (``&&`` binds tighter) and parentheses. A condition is
  ``SELECTOR =|!= STRING`` (quoted or bare; a ``*`` at the start and/or end is a wildcard; ``*``
  alone means "has a value"; ``%regex%`` too), ``SELECTOR =|!=|<|<=|>|>= NUMBER``,
  ``SELECTOR IS NULL|TRUE|FALSE`` or ``SELECTOR NOT EXISTS``. A comparison holds only for a selector
  that reaches a string or a number (an object, an array, null, a boolean or nothing never
  compares, not even with ``!=``); a message that is not a JSON object never matches.

Space-delimited patterns (``[ip, user, ...]``) are not supported: they raise `NotImplementedInLab`.
A pattern that does not parse raises `InvalidParameterException`, as CloudWatch Logs answers.
Source of the rules: the CloudWatch Logs user guide, "Filter and pattern syntax".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcore.errors import AwsError, NotImplementedInLab

Predicate = Callable[[str], bool]
Condition = Callable[[Any], bool]  # over the parsed JSON message

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9_\-@:]+")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_ORDERING = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
_MISSING = object()


class InvalidParameterException(AwsError):
    code, status = "InvalidParameterException", 400


def _invalid(why: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid filter pattern: {why}")


def compile_pattern(text: str | None) -> Predicate:
    """A predicate telling whether a message matches the filter pattern ``text``."""
    pattern = (text or "").strip()
    if not pattern:
        return lambda message: True
    if pattern.startswith("{"):
        return _json_predicate(_JsonParser(pattern).parse())
    if pattern.startswith("["):
        raise NotImplementedInLab("The lab does not support space-delimited filter patterns ([...]); "
                                  "use terms or a JSON pattern ({ $.field = value }).")
    return _terms_predicate(pattern)


def matches(text: str | None, message: str) -> bool:
    return compile_pattern(text)(message)


# -- terms ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Term:
    prefix: str  # "", "?" or "-"
    test: Predicate


def _terms_predicate(pattern: str) -> Predicate:
    terms = _read_terms(pattern)
    required = [t.test for t in terms if t.prefix == ""]
    optional = [t.test for t in terms if t.prefix == "?"]
    excluded = [t.test for t in terms if t.prefix == "-"]

    def predicate(message: str) -> bool:
        return (all(test(message) for test in required)
                and not any(test(message) for test in excluded)
                and (not optional or any(test(message) for test in optional)))

    return predicate


def _read_terms(pattern: str) -> list[_Term]:
    terms, i, prefix = [], 0, ""
    while i < len(pattern):
        char = pattern[i]
        if char.isspace():
            i += 1
        elif char in "?-" and not prefix:
            prefix, i = char, i + 1
        else:
            if char == '"':
                literal, i = _quoted(pattern, i)
                test = _contains(literal)
            elif char == "%":
                end = pattern.find("%", i + 1)
                if end < 0:
                    raise _invalid("a regular expression is not closed with %")
                test = _regex(pattern[i + 1:end]).search  # type: ignore[assignment]
                i = end + 1
            else:
                end = i
                while end < len(pattern) and not pattern[end].isspace():
                    end += 1
                test, i = _contains(pattern[i:end]), end
            terms.append(_Term(prefix, lambda message, t=test: bool(t(message))))
            prefix = ""
    if prefix:
        raise _invalid(f"{prefix!r} is not followed by a term")
    return terms


def _contains(literal: str) -> Predicate:
    return lambda message: literal in message


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The string in double quotes at ``start`` (backslash escapes a character) and the index after it."""
    out, i = [], start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise _invalid("a quoted string is not closed")


def _regex(body: str) -> re.Pattern[str]:
    if not body:
        raise _invalid("empty regular expression")
    if "(" in body or ")" in body:
        raise _invalid("parentheses are not supported in regular expressions")
    try:
        return re.compile(body)
    except re.error as error:
        raise _invalid(f"bad regular expression: {error}") from None


# -- JSON -------------------------------------------------------------------------------------------

def _json_predicate(condition: Condition) -> Predicate:
    def predicate(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and condition(document)

    return predicate


@dataclass(frozen=True)
class _Value:
    """The right-hand side of a comparison as written."""

    text: str
    quoted: bool = False
    regex: re.Pattern[str] | None = None

    @property
    def number(self) -> float | None:
        if self.quoted or self.regex is not None or not _NUMBER_RE.match(self.text):
            return None
        return float(self.text)


class _JsonParser:
    """Recursive descent over ``{ or_expr }``; each method returns a `Condition`."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.i = 1  # after "{"

    def parse(self) -> Condition:
        condition = self.or_expr()
        self.space()
        if not self.take("}"):
            raise _invalid("expected '}' or '&&' or '||'" + self.where())
        self.space()
        if self.i != len(self.text):
            raise _invalid("text after the closing '}'")
        return condition

    # grammar ------------------------------------------------------------------------------------
    def or_expr(self) -> Condition:
        parts = [self.and_expr()]
        while True:
            self.space()
            if not self.take("||"):
                break
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda doc: any(part(doc) for part in parts))

    def and_expr(self) -> Condition:
        parts = [self.primary()]
        while True:
            self.space()
            if not self.take("&&"):
                break
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else (lambda doc: all(part(doc) for part in parts))

    def primary(self) -> Condition:
        self.space()
        if self.take("("):
            inner = self.or_expr()
            self.space()
            if not self.take(")"):
                raise _invalid("expected ')'" + self.where())
            return inner
        return self.condition()

    def condition(self) -> Condition:
        path = self.selector()
        self.space()
        for words, test in (("IS NULL", _is(None)), ("IS TRUE", _is(True)), ("IS FALSE", _is(False)),
                            ("NOT EXISTS", lambda value: value is _MISSING)):
            if self.take_words(words):
                return lambda doc, test=test: test(_select(doc, path))
        operator = next((op for op in _OPERATORS if self.take(op)), None)
        if operator is None:
            raise _invalid("expected a comparison operator, IS or NOT EXISTS" + self.where())
        value = self.value()
        compare = _comparison(operator, value)
        return lambda doc: compare(_select(doc, path))

    def selector(self) -> tuple[str | int, ...]:
        self.space()
        if not self.take("$"):
            raise _invalid("a selector must start with '$'" + self.where())
        path: list[str | int] = []
        while True:
            if self.take("."):
                match = _NAME_RE.match(self.text, self.i)
                if match is None:
                    raise _invalid("expected a property name after '.'" + self.where())
                path.append(match.group())
                self.i = match.end()
            elif self.take("["):
                end = self.text.find("]", self.i)
                index = self.text[self.i:end] if end >= 0 else ""
                if not index.isdigit():
                    raise _invalid("an array index must be a number in [ ]" + self.where())
                path.append(int(index))
                self.i = end + 1
            else:
                break
        if not path:
            raise _invalid("a selector must name a property, like $.field" + self.where())
        return tuple(path)

    def value(self) -> _Value:
        self.space()
        if self.i < len(self.text) and self.text[self.i] == '"':
            literal, self.i = _quoted(self.text, self.i)
            return _Value(literal, quoted=True)
        if self.i < len(self.text) and self.text[self.i] == "%":
            end = self.text.find("%", self.i + 1)
            if end < 0:
                raise _invalid("a regular expression is not closed with %")
            body = self.text[self.i + 1:end]
            self.i = end + 1
            return _Value(body, regex=_regex(body))
        start = self.i
        while self.i < len(self.text) and not self.text[self.i].isspace() and self.text[self.i] not in "(){}\"" \
                and not self.text.startswith(("&&", "||"), self.i):
            self.i += 1
        if self.i == start:
            raise _invalid("expected a value" + self.where())
        return _Value(self.text[start:self.i])

    # scanning -----------------------------------------------------------------------------------
    def space(self) -> bool:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1
        return False

    def take(self, token: str) -> bool:
        if self.text.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def take_words(self, words: str) -> bool:
        """Match keywords separated by any whitespace, ending at a word boundary."""
        pattern = r"\s+".join(words.split()) + r"(?![A-Za-z0-9_])"
        match = re.compile(pattern).match(self.text, self.i)
        if match is None:
            return False
        self.i = match.end()
        return True

    def where(self) -> str:
        return f" at position {self.i + 1}"


def _select(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in ``document``, or `_MISSING`."""
    value = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def _is(expected: Any) -> Condition:
    return lambda value: value is expected


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparison(operator: str, value: _Value) -> Condition:
    number = value.number
    if operator in _ORDERING:
        if number is None:
            raise _invalid(f"{operator} needs a number, not {value.text!r}")
        order = _ORDERING[operator]
        return lambda field: _is_number(field) and order(float(field), number)
    text_matches = _text_matcher(value)

    def equal(field: Any) -> bool | None:
        """True/False for a string or number, None when the field does not compare."""
        if isinstance(field, str):
            return text_matches(field)
        if _is_number(field):
            return float(field) == number if number is not None else text_matches(json.dumps(field))
        return None

    if operator == "=":
        return lambda field: equal(field) is True
    return lambda field: equal(field) is False


def _text_matcher(value: _Value) -> Callable[[str], bool]:
    """Equality with a written value: a regex searches, ``*`` at either end is a wildcard."""
    if value.regex is not None:
        return lambda text: value.regex.search(text) is not None  # type: ignore[union-attr]
    literal = value.text
    if literal == "*":
        return lambda text: True
    head, tail = literal.startswith("*"), literal.endswith("*")
    core = literal[1 if head else 0:len(literal) - 1 if tail else len(literal)]
    if head and tail:
        return lambda text: core in text
    if head:
        return lambda text: text.endswith(core)
    if tail:
        return lambda text: text.startswith(core)
    return lambda text: text == literal
