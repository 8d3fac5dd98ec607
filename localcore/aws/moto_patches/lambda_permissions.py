"""Lambda AddPermission with a statement id the function's policy already has: AWS answers
``ResourceConflictException`` (409); moto appended a duplicate, so one RemovePermission left a copy
that still allowed the invocation."""

from __future__ import annotations

import json
from typing import Any

from . import wrap_around


def _add_statement(original, self, raw: str, qualifier: str | None = None):
    from moto.awslambda.exceptions import LambdaClientError

    sid = json.loads(raw).get("StatementId")
    if sid and any(statement.get("Sid") == sid for statement in self.statements):
        error = LambdaClientError("ResourceConflictException", f"The statement id ({sid}) provided already exists. "
                                  "Please provide a new statement id, or remove the existing statement.")
        error.code = 409
        raise error
    return original(self, raw, qualifier)


def install(lab: Any) -> None:
    wrap_around("moto.awslambda.policy", "Policy", "add_statement", _add_statement)
