"""The rules engine: which enabled rules a message reaches, their WHERE and SELECT, their actions.

Rules are moto's (``lab.iot.rules``, written by CreateTopicRule & co.); the SQL is
`localcore.iot.rules_sql`'s; the actions are `localcore.rules.actions`. `install` makes the engine
the broker's ``lab.on_message`` (every message accepted from a client and every service publish,
reserved ``$aws/...`` topics included, so a rule on ``$aws/events/certificates/registered/#``
sees JITR's message) and ``lab.on_basic_ingest`` (``$aws/rules/<ruleName>/...``). Both are called
on the broker's loop: they pick the rules whose FROM filter matches and evaluate their WHERE and
SELECT there (pure computation); only a rule whose WHERE holds goes to a worker thread, where its
actions run. (Handing every message to a thread cost more in thread switches than the SQL itself:
a fleet's telemetry mostly fails the WHERE of an alert rule.)

A failing action does not stop the others. The failures of one rule and message go, as one message
in AWS's error-action format, to the rule's ``errorAction`` and to the lab log; the lab keeps serving.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from localcore.errors import AwsError
from localcore.iot import iot_logs
from localcore.iot import rules_sql

from .actions import ACTIONS, ActionCall, ActionFailed, ActionType

log = logging.getLogger("localcore.rules")

STATE_KEY = "rules_engine"
WORKERS = 4  # rules run at once
# [unconfirmed] clientId of the error-action message for a message that did not come over MQTT
# (the same value clientid() gives).
NO_CLIENT_ID = "n/a"
# [unconfirmed] failedAction reported when the rule's SELECT cannot process the message.
EVALUATION_FAILED = "RuleEvaluation"

Submit = Callable[..., Any]
Evaluated = tuple[rules_sql.RuleContext, "dict[str, Any] | bytes | None", "list[Failure]"]


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    client_id: str | None
    principal: str | None
    timestamp_ms: int
    trace_id: str


@dataclass(frozen=True)
class Rule:
    """An enabled rule, its SQL parsed."""

    name: str
    arn: str
    query: rules_sql.Query
    actions: tuple[Mapping[str, Any], ...]
    error_action: Mapping[str, Any] | None


@dataclass(frozen=True)
class Failure:
    failed_action: str
    failed_resource: str
    error_message: str


def error_message(rule_name: str, message: Message, failures: list[Failure]) -> dict[str, Any]:
    """What a rule's error action receives: one message per rule and message, every failure listed."""
    return {
        "ruleName": rule_name,
        "topic": message.topic,
        "cloudwatchTraceId": message.trace_id,
        "clientId": message.client_id if message.client_id is not None else NO_CLIENT_ID,
        "base64OriginalPayload": base64.b64encode(message.payload).decode("ascii"),
        "failures": [
            {"failedAction": f.failed_action, "failedResource": f.failed_resource, "errorMessage": f.error_message}
            for f in failures
        ],
    }


def describe(error: BaseException) -> str:
    """An error as the failure's ``errorMessage``: AWS error code (or exception type) and message."""
    if isinstance(error, ActionFailed):
        return str(error)
    code = getattr(error, "code", None) if isinstance(error, AwsError) else getattr(error, "error_type", None)
    message = getattr(error, "message", None) or str(error)
    return f"{code or type(error).__name__}: {message}"


class RulesEngine:
    """``actions`` and ``submit`` are replaceable for tests (fake actions, synchronous runs)."""

    def __init__(self, lab: Any, actions: Mapping[str, ActionType] = ACTIONS,
                 submit: Submit | None = None, workers: int = WORKERS) -> None:
        self.lab = lab
        self.actions = actions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rules") if submit is None else None
        self.submit: Submit = submit if submit is not None else self._pool.submit  # type: ignore[union-attr]
        self._queries: dict[tuple[str, str], rules_sql.Query | None] = {}

    # -- broker hooks (on the broker's loop: quick) ------------------------------------------------
    def on_message(self, topic: str, payload: bytes, client_id: str | None) -> None:
        self.offer(topic, payload, client_id)

    def on_basic_ingest(self, rule_name: str, topic: str, payload: bytes, client_id: str | None) -> None:
        if not self.offer(topic, payload, client_id):
            log.info("basic ingest on %r: no enabled rule named %r takes it", topic, rule_name)

    def offer(self, topic: str, payload: bytes, client_id: str | None) -> int:
        """Queue the message for every enabled rule it reaches; return how many."""
        rules = self.matching(topic)
        if rules:
            message = Message(topic, bytes(payload), client_id, self._principal(client_id),
                              int(time.time() * 1000), str(uuid.uuid4()))
            for rule in rules:
                outcome = self.evaluate(rule, message)
                if outcome is not None:
                    self.submit(self.act, rule, message, *outcome)
        return len(rules)

    # -- rules ----------------------------------------------------------------------------------
    def enabled_rules(self) -> list[Rule]:
        """moto's enabled rules whose SQL parses (SQL from outside CreateTopicRule may not)."""
        rules = []
        for stored in list(self.lab.iot.rules.values()):
            if stored.rule_disabled:
                continue
            query = self._query(stored.rule_name, stored.sql, stored.aws_iot_sql_version)
            if query is not None:
                rules.append(Rule(stored.rule_name, stored.arn, query, tuple(stored.actions or ()),
                                  stored.error_action or None))
        return rules

    def matching(self, topic: str) -> list[Rule]:
        return [rule for rule in self.enabled_rules()
                if rules_sql.matches_topic(rule.query, topic, rule_name=rule.name)]

    def _query(self, name: str, sql: str, version: str) -> rules_sql.Query | None:
        key = (sql, version)
        if key not in self._queries:
            try:
                self._queries[key] = rules_sql.parse(sql, version)
            except AwsError as exc:
                log.warning("rule %s is never run: its SQL does not parse (%s)", name, exc.message)
                self._queries[key] = None
        return self._queries[key]

    # -- execution (on a worker) ----------------------------------------------------------------
    def context(self, message: Message) -> rules_sql.RuleContext:
        return rules_sql.RuleContext(
            topic=message.topic, client_id=message.client_id, principal=message.principal,
            timestamp_ms=message.timestamp_ms, trace_id=message.trace_id, account_id=self.lab.config.account_id,
        )

    def evaluate(self, rule: Rule, message: Message) -> Evaluated | None:
        """WHERE and SELECT of one rule for one message: None when WHERE is not true, else the context,
        the output and the failures (the evaluation's own, when the rule cannot process the message).
        Pure computation (the lab has no SQL function that calls another service), so it runs where
        the message arrives, on the broker's loop: only messages with work to do reach a worker."""
        context = self.context(message)
        try:
            output = rules_sql.evaluate(rule.query, message.payload, context)
        except Exception as exc:  # noqa: BLE001 - RuleEvaluationError or a bug: the rule's failure
            return context, None, [Failure(EVALUATION_FAILED, rule.name, describe(exc))]
        if output is None:
            return None
        return context, output, []

    def act(self, rule: Rule, message: Message, context: rules_sql.RuleContext,
            output: dict[str, Any] | bytes | None, failures: list[Failure]) -> list[Failure]:
        """The actions of a rule whose WHERE held (on a worker); the error action for any failure."""
        if not failures:
            self._iot_log(iot_logs.RULE_MATCH, False, rule, message)
            failures = self.run_actions(rule, rule.actions, message, context, output)
        if failures:
            self._report(rule, message, context, failures)
        return failures

    def execute(self, rule: Rule, message: Message) -> list[Failure]:
        """WHERE, SELECT and every action of one rule for one message, here and now; the failures."""
        outcome = self.evaluate(rule, message)
        return [] if outcome is None else self.act(rule, message, *outcome)

    def run_actions(self, rule: Rule, actions: tuple[Mapping[str, Any], ...], message: Message,
                    context: rules_sql.RuleContext, output: dict[str, Any] | bytes) -> list[Failure]:
        call = ActionCall(self.lab, rule.name, rule.arn, message.payload, context, rule.query.version, output)
        failures = []
        for action in actions:
            for kind, params in action.items():
                failure = self._run_action(call, kind, params or {})
                self._iot_log(iot_logs.RULE_EXECUTION, failure is not None, rule, message,
                              action=f"{kind[:1].upper()}{kind[1:]}Action",
                              error=failure.error_message if failure is not None else None)
                if failure is not None:
                    failures.append(failure)
        return failures

    def _iot_log(self, event_type: str, failed: bool, rule: Rule, message: Message, **extra: Any) -> None:
        """Rules-engine entries in AWSIotLogsV2 (fine-grained logging), when the lab logs."""
        iot_log = getattr(self.lab, "iot_log", None)
        if iot_log is None:
            return
        iot_log(event_type, iot_logs.entry_level(event_type, failed), traceId=message.trace_id,
                **iot_logs.rule_fields(rule.name, message.topic, message.client_id, message.principal, **extra))

    def _run_action(self, call: ActionCall, kind: str, params: Mapping[str, Any]) -> Failure | None:
        action = self.actions.get(kind)
        if action is None:
            return Failure(f"{kind[:1].upper()}{kind[1:]}Action", "",
                           f"The lab does not run {kind} actions (it runs {', '.join(sorted(self.actions))})")
        try:
            if action.writes:
                with self.lab.changing():
                    action.run(call, params)
            else:
                action.run(call, params)
        except Exception as exc:  # noqa: BLE001 - any error of the action's service is a failure
            return Failure(action.failed_action, action.resource(params), describe(exc))
        return None

    def _report(self, rule: Rule, message: Message, context: rules_sql.RuleContext, failures: list[Failure]) -> None:
        for failure in failures:
            log.warning("rule %s, message on %r (trace %s): %s on %r failed: %s", rule.name, message.topic,
                        message.trace_id, failure.failed_action, failure.failed_resource, failure.error_message)
        if not rule.error_action:
            return
        payload = error_message(rule.name, message, failures)
        for failure in self.run_actions(rule, (rule.error_action,), message, context, payload):
            log.error("rule %s: the error action %s on %r failed too: %s", rule.name,
                      failure.failed_action, failure.failed_resource, failure.error_message)

    def _principal(self, client_id: str | None) -> str | None:
        """The certificate id of the MQTT client (what ``principal()`` returns), if connected."""
        if client_id is None or self.lab.broker is None:
            return None
        return self.lab.broker.principal_of(client_id)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def install(lab: Any) -> RulesEngine:
    """Make a rules engine the lab's ``on_message`` and ``on_basic_ingest`` hooks."""
    engine = RulesEngine(lab)
    lab.services[STATE_KEY] = engine
    lab.on_message = engine.on_message
    lab.on_basic_ingest = engine.on_basic_ingest
    return engine


def stop(lab: Any) -> None:
    """Stop running rules (queued messages are dropped)."""
    engine = lab.services.pop(STATE_KEY, None)
    if engine is not None:
        engine.close()
