"""Topic-rule operations moto gets wrong; the rules themselves stay in moto's IoT backend.

* CreateTopicRule / ReplaceTopicRule: moto stores any SQL. AWS parses it first and answers
  ``SqlParseException`` (400); the lab does the same with `localcore.iot.rules_sql`, and stores
  AWS's default SQL version (2015-10-08) when the payload names none (moto stores 2016-03-23).
* ListTopicRules: moto ignores the ``topic`` and ``ruleDisabled`` filters and paging.

GetTopicRule, Enable/DisableTopicRule and DeleteTopicRule are moto's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError

from localcore.errors import AwsError
from localcore.iot import rules_sql

from ..paging import page
from ..roles import require_assumable, role_arns_in
from . import handles

# AWS's "Creating an AWS IoT rule" page: a rule created without awsIotSqlVersion (AWS CLI,
# CloudFormation) uses 2015-10-08.
DEFAULT_SQL_VERSION = rules_sql.V2015
LIST_MAX_RESULTS = 10000  # ListTopicRules maxResults range is 1..10000


@handles("iot", "CreateTopicRule")
def create_topic_rule(lab: Any, params: dict) -> dict:
    arguments = rule_arguments(params["topicRulePayload"])
    require_assumable(lab, role_arns_in(params["topicRulePayload"]))
    _moto(lab.iot.create_topic_rule, rule_name=params["ruleName"], **arguments)
    return {}


@handles("iot", "ReplaceTopicRule")
def replace_topic_rule(lab: Any, params: dict) -> dict:
    arguments = rule_arguments(params["topicRulePayload"])  # before moto deletes the old rule
    require_assumable(lab, role_arns_in(params["topicRulePayload"]))
    _moto(lab.iot.replace_topic_rule, rule_name=params["ruleName"], **arguments)
    return {}


@handles("iot", "ListTopicRules")
def list_topic_rules(lab: Any, params: dict) -> dict:
    topic, disabled = params.get("topic"), params.get("ruleDisabled")
    rules = [
        rule for rule in list(lab.iot.rules.values())
        if (topic is None or rule.topic_pattern == topic)  # [unconfirmed] exact match on the FROM filter
        and (disabled is None or rule.rule_disabled == disabled)
    ]
    listed, next_token = page(rules, params.get("nextToken"), params.get("maxResults", LIST_MAX_RESULTS),
                              max_size=LIST_MAX_RESULTS)
    output: dict[str, Any] = {"rules": [_list_item(rule) for rule in listed]}
    if next_token:
        output["nextToken"] = next_token
    return output


def rule_arguments(payload: dict) -> dict[str, Any]:
    """moto's create_topic_rule arguments from a TopicRulePayload, once its SQL parses."""
    version = payload.get("awsIotSqlVersion") or DEFAULT_SQL_VERSION
    sql = payload.get("sql") or ""
    rules_sql.parse(sql, version)  # SqlParseException / InvalidRequestException as AWS
    return {
        "sql": sql,
        "description": payload.get("description"),
        "rule_disabled": bool(payload.get("ruleDisabled", False)),
        "actions": payload.get("actions") or [],
        "error_action": payload.get("errorAction"),
        "aws_iot_sql_version": version,
    }


def _list_item(rule: Any) -> dict[str, Any]:
    return {
        "ruleArn": rule.arn,
        "ruleName": rule.rule_name,
        "topicPattern": rule.topic_pattern,
        "createdAt": rule.created_at,
        "ruleDisabled": rule.rule_disabled,
    }


def _moto(method: Callable[..., Any], **kwargs: Any) -> Any:
    """Call moto's backend; its errors become the lab's (same code, status and message)."""
    try:
        return method(**kwargs)
    except JsonRESTError as exc:
        raise AwsError(exc.message, code=exc.error_type, status=exc.code) from None
