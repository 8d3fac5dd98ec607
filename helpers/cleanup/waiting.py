"""Deleting a deprecated thing type: AWS's five minutes on ``aws``, no wait on the lab, never a silent block.

AWS deletes a thing type only five minutes after its deprecation ("Before you can delete a thing
type, wait for five minutes after you deprecate it", AWS IoT developer guide) and never while a
thing uses it. The lab waits 0 s. So `delete_thing_type`:

- refuses at once, naming them, when things still use the type (waiting would not help);
- on ``aws``, counts down to the moment AWS will accept (or says when to come back, if that is
  further away than the caller's patience), then tries;
- tries at once otherwise, and retries for a short grace while AWS (or a lab told to rehearse
  AWS's delay) still refuses, saying what it waits for after a few seconds;
- fails with AWS's whole answer and what to do, never after a silent multi-minute block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import error_code

AWS_DELAY_S = 300.0  # DeprecateThingType → DeleteThingType on AWS
DELAY_S = {"aws": AWS_DELAY_S, "local": 0.0}
GRACE_S = {"aws": 60.0, "local": 10.0}  # how long past that moment a refusal is retried
POLL_S = {"aws": 5.0, "local": 0.25}
SAY_AFTER_S = 3.0  # a wait says what it waits for once it lasts this long
PRINT_EVERY_S = 30.0  # without a progress widget, a countdown prints at most this often


class NotYet(Exception):
    """The thing type will be deletable later than the caller wants to wait: the message says when."""


class StillRefused(Exception):
    """AWS still refuses to delete the thing type: the message has AWS's answer and what to do."""


@dataclass
class Say:
    """Where a wait reports: a progress bar's label, else a printed line now and then."""

    bar: Any = None
    clock: Callable[[], float] = time.monotonic
    _last: float = float("-inf")

    def __call__(self, text: str) -> None:
        if self.bar is not None and getattr(self.bar, "_label", None) is not None:
            self.bar.update(self.bar.value, text)
            return
        if self.clock() - self._last >= PRINT_EVERY_S:
            self._last = self.clock()
            print(text, flush=True)


def ready_at(deprecated_at: datetime, backend: str) -> datetime:
    """When ``backend`` accepts DeleteThingType for a type deprecated at ``deprecated_at``."""
    return deprecated_at + timedelta(seconds=DELAY_S.get(backend, AWS_DELAY_S))


def _clock_time(deprecated_at: Any) -> datetime | None:
    from .ownership import to_datetime

    return to_datetime(deprecated_at)


def delete_thing_type(iot: Any, name: str, backend: str, patience_s: float, say: Callable[[str], None],
                      now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                      sleep: Callable[[float], None] = time.sleep) -> str:
    """Delete the deprecated thing type ``name``, waiting as ``backend`` requires (see the module)."""
    users = [t["thingName"] for page in iot.get_paginator("list_things").paginate(thingTypeName=name)
             for t in page.get("things", [])]
    if users:
        raise StillRefused(f"things still use the type: {', '.join(users[:5])}"
                           + (f" (+{len(users) - 5})" if len(users) > 5 else "")
                           + ". AWS deletes no thing type a thing uses: change their type (update_thing with "
                             "removeThingType=True) or delete them, then run the clean-up again.")
    meta = iot.describe_thing_type(thingTypeName=name).get("thingTypeMetadata", {})
    deprecated = _clock_time(meta.get("deprecationDate")) or now()
    ready = ready_at(deprecated, backend)
    if (ready - now()).total_seconds() > patience_s:
        raise NotYet(f"not yet: AWS deletes a thing type only 5 minutes after its deprecation, here at "
                     f"{ready.astimezone():%H:%M:%S}; run the clean-up again after that")
    started, deadline = now(), max(now(), ready) + timedelta(seconds=GRACE_S.get(backend, 60.0))
    while True:
        left = (ready - now()).total_seconds()
        if left > 0:
            say(f"AWS deletes a thing type 5 minutes after its deprecation: {name} in "
                f"{int(left) // 60}:{int(left) % 60:02d}")
            sleep(min(left, 1.0))
            continue
        try:
            iot.delete_thing_type(thingTypeName=name)
            waited = (now() - started).total_seconds()
            return "deleted" + (f" after waiting {waited:.0f} s" if waited >= 1 else "")
        except Exception as error:
            if error_code(error) != "InvalidRequestException":
                raise
            message = getattr(error, "response", {}).get("Error", {}).get("Message", str(error))
        if now() >= deadline:
            raise StillRefused(f"AWS still refuses to delete the thing type {(now() - started).total_seconds():.0f} s "
                               f"after it should have accepted: {message} Every step of the clean-up can be run again: "
                               f"run it in a few minutes, or delete the type yourself "
                               f"(aws iot delete-thing-type --thing-type-name {name}).")
        if (now() - started).total_seconds() >= SAY_AFTER_S:
            say(f"waiting for AWS to accept DeleteThingType for {name} (until "
                f"{deadline.astimezone():%H:%M:%S}); AWS answered: {message}")
        sleep(POLL_S.get(backend, 5.0))


__all__ = ["AWS_DELAY_S", "NotYet", "Say", "StillRefused", "delete_thing_type", "ready_at"]
