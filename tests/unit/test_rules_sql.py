"""AWS IoT rules SQL: parsing, topic matching, WHERE and SELECT evaluation, templates (reference section 10)."""

from __future__ import annotations

import base64
import json

import pytest

from localcore.errors import InvalidRequestException, NotImplementedInLab
from localcore.iot.rules_sql import (
    V2015, V2016, RuleContext, RuleEvaluationError, SqlParseException, evaluate, filter_matches, matches_topic,
    parse, substitute,
)

CA_ID = "c" * 64
CERT_ID = "d" * 64
JITR_TOPIC = f"$aws/events/certificates/registered/{CA_ID}"
JITR_RULE = ("SELECT * FROM '$aws/events/certificates/registered/#' "
             "WHERE certificateStatus = \"PENDING_ACTIVATION\"")
JITR_EVENT = {
    "certificateId": CERT_ID, "caCertificateId": CA_ID, "timestamp": 1700000000,
    "certificateStatus": "PENDING_ACTIVATION", "awsAccountId": "111122223333",
    "certificateRegistrationTimestamp": "1700000000000",
}
CTX = RuleContext("sensors/dev1/telemetry", "dev1", "ab" * 32, 1700000000123, trace_id="trace-1",
                  account_id="111122223333", new_id=lambda: "uuid-1")
PAYLOAD = {
    "color": "red", "temperature": 50, "humidity": 32.5, "ok": True, "none": None, "count": "7",
    "flag": "TRUE", "name": "Sensor", "coords": {"lat": 47.6, "lon": -122.3, "deep": {"x": 1}},
    "list": [10, 20, 30], "e": [{"n": "temperature", "v": 22.5}], "whole": 10.0, "pad": "  hi  ",
}


def where(condition: str, payload: object = None, version: str = V2016) -> bool:
    query = parse(f"SELECT * FROM 'sensors/+/telemetry' WHERE {condition}", version)
    return evaluate(query, PAYLOAD if payload is None else payload, CTX) is not None


def select(items: str, payload: object = None, version: str = V2016, ctx: RuleContext = CTX) -> object:
    return evaluate(parse(f"SELECT {items} FROM 'sensors/#'", version), PAYLOAD if payload is None else payload, ctx)


# --- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, topic_filter, n_items, has_where", [
    pytest.param(JITR_RULE, "$aws/events/certificates/registered/#", 1, True, id="workshop-jitr-rule"),
    pytest.param("SELECT * FROM 'a/b'", "a/b", 1, False, id="no-where"),
    pytest.param("select color as c, *, 15 AS speed from 'a/+' where temperature > 50", "a/+", 3, True,
                 id="keywords-any-case-and-star-mix"),
    pytest.param("SELECT topic(2) AS device FROM '+/#'", "+/#", 1, False, id="wildcards"),
    pytest.param("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 't'", "t", 2, False,
                 id="star-as-function-argument"),
    pytest.param("SELECT * WHERE a = 1", None, 1, True, id="basic-ingest-only-rule-has-no-from"),
    pytest.param("SELECT CASE color WHEN 'red' THEN 'stop' ELSE 'go' END AS action FROM 't'", "t", 1, False,
                 id="case-statement"),
])
def test_parse_accepts(sql: str, topic_filter: str | None, n_items: int, has_where: bool) -> None:
    query = parse(sql)
    assert (query.topic_filter, len(query.select), query.where is not None) == (topic_filter, n_items, has_where)


@pytest.mark.parametrize("sql, version, error, fragment", [
    pytest.param("", V2016, SqlParseException, "empty", id="empty"),
    pytest.param("SELECT * FORM 'a'", V2016, SqlParseException, "unexpected 'FORM'", id="misspelt-from"),
    pytest.param("SELECT FROM 'a'", V2016, SqlParseException, "expected an expression", id="no-select-items"),
    pytest.param('SELECT * FROM "a/b"', V2016, SqlParseException, "single quotes", id="double-quoted-from"),
    pytest.param("SELECT * FROM a/b", V2016, SqlParseException, "single quotes", id="unquoted-from"),
    pytest.param("SELECT * FROM 'a/#/b'", V2016, SqlParseException, "invalid topic filter", id="hash-not-last"),
    pytest.param("SELECT * FROM 'a/b+'", V2016, SqlParseException, "invalid topic filter", id="plus-inside-level"),
    pytest.param("SELECT * FROM 'a' WHERE", V2016, SqlParseException, "end of statement", id="empty-where"),
    pytest.param("SELECT * FROM 'a' WHERE (a = 1", V2016, SqlParseException, "expected ')'", id="unbalanced"),
    pytest.param("SELECT * FROM 'a' WHERE a = 'x", V2016, SqlParseException, "unterminated", id="open-string"),
    pytest.param("SELECT * FROM 'a' WHERE a ~ 1", V2016, SqlParseException, "unexpected character", id="bad-char"),
    pytest.param("SELECT nosuch(a) FROM 'a'", V2016, SqlParseException, "unknown function", id="unknown-fn"),
    pytest.param("SELECT upper(a, b) FROM 'a'", V2016, SqlParseException, "takes 1 argument", id="fn-arity"),
    pytest.param("SELECT * FROM 'a' WHERE a IS NULL", V2016, SqlParseException, "isNull", id="is-null-not-aws"),
    pytest.param("SELECT a.0 FROM 'a'", V2016, SqlParseException, "get(", id="numeric-key-after-dot"),
    pytest.param("SELECT cast(a AS Bool) AS b FROM 'a'", V2015, SqlParseException, "cannot cast",
                 id="bool-cast-needs-2016"),
    pytest.param("SELECT cast(a AS Money) AS b FROM 'a'", V2016, SqlParseException, "cannot cast",
                 id="unknown-cast-type"),
    pytest.param("SELECT [a, b] AS ab FROM 'a'", V2015, SqlParseException, "2016-03-23", id="literals-need-2016"),
    pytest.param("SELECT isUndefined(a) AS u FROM 'a'", V2015, SqlParseException, "2016-03-23",
                 id="isundefined-needs-2016"),
    pytest.param("SELECT * FROM 'a'", "2017-01-01", InvalidRequestException, "awsIotSqlVersion",
                 id="unknown-version"),
    pytest.param("SELECT VALUE color FROM 'a'", V2016, NotImplementedInLab, "SELECT VALUE", id="select-value"),
    pytest.param("SELECT (SELECT v FROM e) AS x FROM 'a'", V2016, NotImplementedInLab, "nested",
                 id="nested-select"),
    pytest.param("SELECT aws_lambda('arn', *) AS x FROM 'a'", V2016, NotImplementedInLab, "aws_lambda",
                 id="function-calling-another-service"),
    pytest.param("SELECT * FROM 'a' WHERE a IN [1, 2]", V2016, NotImplementedInLab, "IN", id="in-operator"),
    pytest.param("SET @t = temperature SELECT @t AS t FROM 'a'", V2016, NotImplementedInLab, "SET", id="set-clause"),
    pytest.param("SELECT 'O''Reilly' AS n FROM 'a'", V2016, SqlParseException, "unexpected", id="no-quote-escapes"),
])
def test_parse_rejects(sql: str, version: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        parse(sql, version)
    assert fragment in str(caught.value)


def test_sql_parse_exception_carries_aws_code_and_status() -> None:
    with pytest.raises(SqlParseException) as caught:
        parse("SELECT")
    assert (caught.value.code, caught.value.status) == ("SqlParseException", 400)


# --- topics -------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic_filter, topic, expected", [
    pytest.param("topic/subtopic", "topic/subtopic", True, id="exact"),
    pytest.param("topic/subtopic", "topic/subtopic-2", False, id="exact-other"),
    pytest.param("topic/#", "topic/subtopic-3/details", True, id="hash-many-levels"),
    pytest.param("topic/#", "topic", True, id="hash-matches-parent"),
    pytest.param("topic/#", "topic-2/subtopic-x", False, id="hash-other-root"),
    pytest.param("topic/+", "topic/subtopic", True, id="plus-one-level"),
    pytest.param("topic/+", "topic/subtopic-3/details", False, id="plus-not-two-levels"),
    pytest.param("+/+/get", "jobs/x/get", True, id="two-pluses"),
    pytest.param("#", "$aws/events/thing/t/created", False, id="hash-skips-reserved"),
    pytest.param("+/events/#", "$aws/events/thing/t/created", False, id="plus-skips-reserved"),
    pytest.param("$aws/events/#", "$aws/events/thing/t/created", True, id="named-reserved-root"),
    pytest.param("$aws/events/certificates/registered/#", JITR_TOPIC, True, id="jitr-filter"),
    pytest.param("$aws/events/certificates/registered/+", JITR_TOPIC, True, id="jitr-filter-plus"),
    pytest.param(JITR_TOPIC, JITR_TOPIC, True, id="jitr-own-ca"),
    pytest.param(JITR_TOPIC[:-4] + "beef", JITR_TOPIC, False, id="jitr-other-ca"),
])
def test_filter_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert filter_matches(topic_filter, topic) is expected


@pytest.mark.parametrize("sql, topic, rule_name, expected", [
    pytest.param("SELECT * FROM 'a/#'", "a/b", None, True, id="from-filter"),
    pytest.param("SELECT * FROM 'a/#'", "$aws/rules/myRule/a/b", "myRule", True, id="basic-ingest-named-rule"),
    pytest.param("SELECT * FROM 'a/#'", "$aws/rules/other/a/b", "myRule", False, id="basic-ingest-other-rule"),
    pytest.param("SELECT * FROM '$aws/rules/#'", "$aws/rules/myRule/a", "x", False,
                 id="basic-ingest-bypasses-from"),
    pytest.param("SELECT *", "a/b", "myRule", False, id="no-from-only-basic-ingest"),
])
def test_matches_topic(sql: str, topic: str, rule_name: str | None, expected: bool) -> None:
    assert matches_topic(parse(sql), topic, rule_name=rule_name) is expected


# --- the workshop's JITR rule -------------------------------------------------------------------

@pytest.mark.parametrize("version", [V2015, V2016])
def test_jitr_rule_passes_the_registered_event_through_unchanged(version: str) -> None:
    query = parse(JITR_RULE, version)
    ctx = RuleContext(JITR_TOPIC, None, None, 1700000000123)
    assert matches_topic(query, JITR_TOPIC)
    assert evaluate(query, json.dumps(JITR_EVENT).encode(), ctx) == JITR_EVENT


@pytest.mark.parametrize("status", ["ACTIVE", "pending_activation", None])
def test_jitr_rule_ignores_other_statuses(status: str | None) -> None:
    event = dict(JITR_EVENT, certificateStatus=status)
    assert evaluate(parse(JITR_RULE), event, RuleContext(JITR_TOPIC, None, None, 0)) is None


# --- WHERE: operators and undefined -------------------------------------------------------------

@pytest.mark.parametrize("condition, expected", [
    pytest.param("color = 'red'", True, id="eq-single-quoted"),
    pytest.param('color = "red"', True, id="eq-double-quoted"),
    pytest.param("color = 'RED'", False, id="eq-case-sensitive"),
    pytest.param("temperature = 50.0", True, id="eq-int-decimal"),
    pytest.param("count = 7", False, id="eq-string-vs-number-no-conversion"),
    pytest.param("count <> 7", True, id="ne-mismatched-types"),
    pytest.param("none = NULL", True, id="eq-null-null"),
    pytest.param("none <> NULL", False, id="ne-null-null"),
    pytest.param("missing = 1", False, id="eq-undefined"),
    pytest.param("missing <> 1", False, id="ne-undefined"),
    pytest.param("NOT (missing = 1)", False, id="not-undefined"),
    pytest.param("color != 'blue'", True, id="bang-equals"),
    pytest.param("list = [10, 20, 30]", True, id="eq-array-ordered"),
    pytest.param("list = [20, 10, 30]", False, id="eq-array-other-order"),
    pytest.param("coords.deep = {'x': 1}", True, id="eq-object"),
    pytest.param("temperature > 49", True, id="gt"),
    pytest.param("temperature >= 50", True, id="ge"),
    pytest.param("temperature < 50", False, id="lt"),
    pytest.param("temperature <= 50", True, id="le"),
    pytest.param("count > 6", True, id="gt-numeric-string-converts"),
    pytest.param("color > 1", False, id="gt-non-numeric-string-undefined"),
    pytest.param("ok > 0", False, id="gt-boolean-undefined"),
    pytest.param("ok AND temperature > 1", True, id="and"),
    pytest.param("ok AND missing > 1", False, id="and-undefined"),
    pytest.param("flag AND ok", True, id="and-true-string"),
    pytest.param("color = 'blue' OR humidity < 40", True, id="or"),
    pytest.param("NOT color = 'blue'", True, id="not-binds-looser-than-eq"),
    pytest.param("NOT ok OR ok AND NOT ok", False, id="and-binds-tighter-than-or"),
    pytest.param("(temperature - 32) * 5 / 9 = 10", True, id="arithmetic-precedence"),
    pytest.param("temperature + 1 = 51", True, id="plus"),
    pytest.param("temperature % 7 = 1", True, id="modulo"),
    pytest.param("-temperature = -50", True, id="unary-minus"),
    pytest.param("7 / 2 = 3", True, id="int-division-truncates"),
    pytest.param("isUndefined(temperature / 0)", True, id="divide-by-zero-undefined"),
    pytest.param("count * 2 = 14", True, id="string-times-int"),
    pytest.param("coords.lat > 47 AND coords.lon < -122", True, id="nested-fields"),
    pytest.param("list[1] = 20", True, id="array-index"),
    pytest.param("isUndefined(list[3])", True, id="index-out-of-range-undefined"),
    pytest.param("missing = 1 OR ok", False, id="or-with-undefined-is-undefined"),
    pytest.param("e[0].n = 'temperature'", True, id="index-then-member"),
    pytest.param("isNull(none) AND NOT isNull(missing)", True, id="isnull"),
    pytest.param("isUndefined(missing) AND NOT isUndefined(none)", True, id="isundefined"),
    pytest.param("'true'", True, id="where-true-string"),
    pytest.param("1", False, id="where-int-is-not-true"),
])
def test_where(condition: str, expected: bool) -> None:
    assert where(condition) is expected


# --- SELECT -------------------------------------------------------------------------------------

@pytest.mark.parametrize("items, expected", [
    pytest.param("color", {"color": "red"}, id="field"),
    pytest.param("color AS my_color", {"my_color": "red"}, id="alias"),
    pytest.param("coords.lat", {"lat": 47.6}, id="nested-field-keeps-last-name"),
    pytest.param("coords.deep.x AS a.b", {"a": {"b": 1}}, id="dotted-alias-nests"),
    pytest.param("list[0] AS first", {"first": 10}, id="array-index"),
    pytest.param("missing, color", {"color": "red"}, id="undefined-left-out"),
    pytest.param("none", {"none": None}, id="null-kept"),
    pytest.param("'lit' AS y, 1.5 AS z, true AS t, NULL AS n", {"y": "lit", "z": 1.5, "t": True, "n": None},
                 id="literals"),
    pytest.param("color, *", {**PAYLOAD, "whole": 10}, id="star-after-item"),
    pytest.param("*, 15 AS speed", {**PAYLOAD, "whole": 10, "speed": 15}, id="star-plus-item"),
    pytest.param("(temperature - 32) * 5 / 9 AS celsius, upper(color) AS c", {"celsius": 10, "c": "RED"},
                 id="aws-celsius-example"),
    pytest.param("lower(name) AS a, upper(name) AS b", {"a": "sensor", "b": "SENSOR"}, id="lower-upper"),
    pytest.param("concat('con', 'cat') AS a, concat(1, 'x') AS b, concat(list, 4) AS c",
                 {"a": "concat", "b": "1x", "c": [10, 20, 30, 4]}, id="concat"),
    pytest.param("color + 1 AS a, temperature + humidity AS b", {"a": "red1", "b": 82.5}, id="plus-string-concat"),
    pytest.param("abs(-5) AS a, abs('-5.5') AS b, abs(color) AS c", {"a": 5, "b": 5.5}, id="abs"),
    pytest.param("cast(temperature AS String) AS s, cast('7.9' AS Int) AS i, cast(1 AS Bool) AS b,"
                 " cast('2.5' AS Decimal) AS d, cast(true AS Int) AS t", {"s": "50", "i": 7, "b": True, "d": 2.5,
                                                                         "t": 1}, id="cast"),
    pytest.param("cast(none AS String) AS s", {}, id="cast-null-to-string-undefined"),
    pytest.param("round(1.5) AS a, round(-1.5) AS b, floor(-1.2) AS c, ceil(1.2) AS d",
                 {"a": 2, "b": -2, "c": -2, "d": 2}, id="rounding"),
    pytest.param("substring('012345', 2) AS a, substring('012345', 1, 3) AS b, substring('012345', 3, 1) AS c",
                 {"a": "2345", "b": "12", "c": ""}, id="substring"),
    pytest.param("trim(pad) AS a, length(name) AS b, indexof(name, 'ns') AS c",
                 {"a": "hi", "b": 6, "c": 2}, id="string-functions"),
    pytest.param("startswith(name, 'Sen') AS a, endswith(name, 'x') AS b, startswith(none, 'a') AS c",
                 {"a": True, "b": False}, id="affix"),
    pytest.param("get(list, 1) AS a, get(coords, 'lat') AS b, get('abc', 1) AS c", {"a": 20, "b": 47.6, "c": "b"},
                 id="get"),
    pytest.param("replace(name, 'S', 'Z') AS a, regexp_matches(name, 'ns.r') AS b", {"a": "Zensor", "b": True},
                 id="replace-regexp"),
    pytest.param("md5('hello') AS h", {"h": "5d41402abc4b2a76b9719d911017c592"}, id="md5-aws-example"),
    pytest.param("{'latitude': coords.lat, 'gone': missing} AS ll, [temperature, color] AS arr",
                 {"ll": {"latitude": 47.6}, "arr": [50, "red"]}, id="object-and-array-literals"),
    pytest.param("CASE color WHEN 'green' THEN 'go' WHEN 'red' THEN 'stop' END AS a,"
                 " CASE color WHEN 'blue' THEN 1 END AS b, CASE missing WHEN 1 THEN 1 ELSE 2 END AS c",
                 {"a": "stop"}, id="case"),
    pytest.param("whole, temperature / 4 AS q, 2.5 * 2 AS p", {"whole": 10, "q": 12, "p": 5},
                 id="2016-whole-decimals-become-ints"),
    pytest.param("decode(encode(color, 'base64'), 'base64') AS back, sql_version() AS v",
                 {"back": "red", "v": V2016}, id="encode-decode"),
])
def test_select(items: str, expected: dict) -> None:
    assert select(items) == expected


def test_select_keeps_whole_decimals_in_2015() -> None:
    assert select("whole, 2.5 * 2 AS p", version=V2015) == {"whole": 10.0, "p": 5.0}


def test_select_star_copies_the_payload() -> None:
    out = select("*")
    out["coords"]["lat"] = 0
    assert PAYLOAD["coords"]["lat"] == 47.6


# --- message context functions ------------------------------------------------------------------

@pytest.mark.parametrize("ctx, expected", [
    pytest.param(CTX, {"t": "sensors/dev1/telemetry", "t2": "dev1", "c": "dev1", "p": "ab" * 32,
                       "ts": 1700000000123, "id": "uuid-1", "tr": "trace-1", "acct": "111122223333"},
                 id="mqtt-message"),
    pytest.param(RuleContext("a/b", None, None, 5, new_id=lambda: "u"),
                 {"t": "a/b", "t2": "b", "c": "n/a", "ts": 5, "id": "u"}, id="not-mqtt"),
    pytest.param(RuleContext("$aws/rules/myRule/Buildings/Building5/Floor2", "c", "p", 1, new_id=lambda: "u"),
                 {"t": "Buildings/Building5/Floor2", "t2": "Building5", "c": "c", "p": "p", "ts": 1, "id": "u"},
                 id="basic-ingest-prefix-dropped"),
])
def test_context_functions(ctx: RuleContext, expected: dict) -> None:
    items = ("topic() AS t, topic(2) AS t2, topic(9) AS t9, clientid() AS c, principal() AS p, timestamp() AS ts,"
             " newuuid() AS id, traceid() AS tr, accountid() AS acct")
    assert select(items, ctx=ctx) == expected


def test_unaliased_function_is_named_after_it() -> None:
    assert select("topic(2), timestamp()") == {"topic": "dev1", "timestamp": 1700000000123}


# --- payloads that are not JSON objects --------------------------------------------------------

BINARY = b"\x00\x01\xffraw"


@pytest.mark.parametrize("sql, payload, expected", [
    pytest.param("SELECT * FROM 't'", BINARY, BINARY, id="star-returns-raw-bytes"),
    pytest.param("SELECT * FROM 't'", b"80", b"80", id="json-number-is-not-an-object"),
    pytest.param("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 't'", BINARY,
                 {"data": base64.b64encode(BINARY).decode(), "ts": 1700000000123}, id="encode-star"),
    pytest.param("SELECT * FROM 't' WHERE device_type = 'thermostat'", BINARY, None, id="where-on-field-false"),
    pytest.param("SELECT * FROM 't' WHERE timestamp() % 2 = 1", BINARY, BINARY, id="where-on-functions-runs"),
    pytest.param("SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 't'"
                 " WHERE decode(encode(*, 'base64'), 'base64') > 50", b"80", {"value": 80}, id="aws-decode-example"),
    pytest.param("SELECT * FROM 't'", "  {\"a\": 1}", {"a": 1}, id="str-payload-is-parsed"),
])
def test_non_object_payloads(sql: str, payload: bytes | str, expected: object) -> None:
    assert evaluate(parse(sql), payload, CTX) == expected


def test_star_with_other_items_over_binary_payload_fails_the_rule() -> None:
    with pytest.raises(RuleEvaluationError, match="encode"):
        evaluate(parse("SELECT *, timestamp() AS ts FROM 't'"), BINARY, CTX)


# --- substitution templates ---------------------------------------------------------------------

@pytest.mark.parametrize("template, expected", [
    pytest.param("${topic()}/republish", "sensors/dev1/telemetry/republish", id="aws-republish-example"),
    pytest.param("device/${topic(2)}/${upper(color)}", "device/dev1/RED", id="several"),
    pytest.param("x-${missing}-${none}", "x--", id="undefined-and-null-empty"),
    pytest.param("${coords.deep}", '{"x":1}', id="object-as-json"),
    pytest.param("${concat('}', \"{\")}", "}{", id="braces-inside-strings"),
    pytest.param("no template", "no template", id="plain"),
])
def test_substitute(template: str, expected: str) -> None:
    assert substitute(template, PAYLOAD, CTX) == expected


@pytest.mark.parametrize("template, fragment", [
    pytest.param("${topic()", "not closed", id="unclosed"),
    pytest.param("${a b}", "expected '}'", id="two-expressions"),
])
def test_substitute_rejects(template: str, fragment: str) -> None:
    with pytest.raises(SqlParseException, match=fragment):
        substitute(template, PAYLOAD, CTX)
