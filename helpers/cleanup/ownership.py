"""Is it ours? The rule that tells the workshop's resources from same-named ones (pure functions).

A resource found by name is the workshop's when its identity now (thing id, creation date, ETag,
stack id, ...) is one the ledger recorded when the workshop created it (`judge`). A Lambda
function's ``LastModified`` changes with each update (and a replaced rule's ``createdAt`` in the
lab): it is the workshop's when a chain of the workshop's own recorded updates leads from a recorded
creation to what is there now (`chained_identities`). Log groups nobody created by API (AWS makes
them when a function or AWS IoT's logging first writes) are the workshop's in the windows
`lambda_log_group` and `iot_log_group` describe. Everything the clean-up derives from the workshop's own actions (a bulk
task's things, a CA's device certificates) is judged in `helpers.cleanup.survey`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import ledger as L

IOT_LOG_GROUP = "AWSIotLogsV2"
UPDATE_OPERATIONS = {operation for _service, operation in L.UPDATES}
LAMBDA_LOG_GROUP = "/aws/lambda/{}"
CLOCK_SKEW = timedelta(seconds=60)  # the ledger's times are the client's clock, AWS's are its own


@dataclass(frozen=True)
class Verdict:
    ours: bool
    why: str


def workshop_stacks(stack_name: str) -> tuple[str, str]:
    """The stacks the workshop deploys: its own, and chapter 11's bots stack (`helpers.bots.service`)."""
    from ..bots.service import BOTS_STACK_SUFFIX

    return stack_name, f"{stack_name}{BOTS_STACK_SUFFIX}"


def short(value: Any, length: int = 12) -> str:
    text = str(value)
    return text if len(text) <= length + 1 else text[:length] + "…"


def to_datetime(value: Any) -> datetime | None:
    """A time AWS answered in any of its shapes (datetime, epoch milliseconds, Lambda's
    ``2024-01-01T12:00:00.000+0000``, ISO 8601 with ``Z`` and nanoseconds) as an aware datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    text = str(value).strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # +0000 → +00:00
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def chained_identities(kind: str, entries: Iterable[L.Entry]) -> set[Any]:
    """The identities a resource of the workshop can have when its own updates change it (a function's
    ``LastModified``, a replaced rule's ``createdAt``): its recorded creations, and every value a
    recorded update of the workshop's led to from one of those."""
    key = L.IDENTITY[kind]
    entries = list(entries)
    updates = [((e.detail.get("previous") or {}).get(key), e.identity.get(key)) for e in entries
               if e.operation in UPDATE_OPERATIONS]
    known = {e.identity.get(key) for e in entries if e.operation not in UPDATE_OPERATIONS}
    known.discard(None)
    grew = True
    while grew:
        grew = False
        for before, after in updates:
            if before in known and after and after not in known:
                known.add(after)
                grew = True
    return known


def judge(kind: str, entries: list[L.Entry], current: Mapping[str, Any] | None) -> Verdict:
    """Is the resource of ``kind`` now there (identity ``current``) the one the ledger recorded?"""
    where = entries[0].chapter if entries and entries[0].chapter else "an earlier chapter"
    if kind in L.NAMED_BY_AWS or kind in L.SETTINGS:
        return Verdict(True, f"created by the workshop ({where})")
    key = L.IDENTITY.get(kind)
    if key is None:
        return Verdict(True, f"created by the workshop ({where})")
    now = (current or {}).get(key)
    if kind in L.CHAINED:
        versions = chained_identities(kind, entries)
        if not versions:
            return Verdict(True, f"recorded by name only (the ledger holds no {key} for it)")
        if now in versions:
            return Verdict(True, f"created by the workshop ({where}), changed only by the workshop since")
        return Verdict(False, f"not the workshop's: changed or made again outside the workshop ({key} {now})")
    if kind == L.S3_OBJECT:
        versions = [e.identity.get("VersionId") for e in entries if e.identity.get("VersionId")]
        if versions and (current or {}).get("VersionId"):
            key, now = "VersionId", current["VersionId"]
    values = [e.identity.get(key) for e in entries if e.identity.get(key) not in (None, "")]
    if not values:
        return Verdict(True, f"recorded by name only (the ledger holds no {key} for it)")
    if now in values:
        return Verdict(True, f"created by the workshop ({where}): same {key}")
    return Verdict(False, f"not the workshop's: its {key} {short(now)} is not the one the workshop created "
                          f"({short(values[-1])}); it was made again outside the workshop")


def lambda_log_group(created: Any, function_entries: list[L.Entry], current_function: Verdict | None,
                     function_modified: Any = None) -> Verdict:
    """``/aws/lambda/<name>``: Lambda creates it when the function first runs. It is the workshop's
    when it was created after the workshop created a function of that name, and not after a function
    of that name made outside the workshop (``current_function`` not ours, changed at
    ``function_modified``) took its place."""
    created_at = to_datetime(created)
    made = [t for t in (to_datetime(e.identity.get("LastModified")) for e in function_entries
                        if e.operation == "CreateFunction") if t is not None]
    if created_at is None or not made:
        return Verdict(False, "not the workshop's: the ledger cannot tell when the workshop's function was made")
    if created_at < min(made) - CLOCK_SKEW:
        return Verdict(False, "not the workshop's: it is older than the workshop's function")
    other = to_datetime(function_modified)
    if current_function is not None and not current_function.ours and other is not None and created_at >= other:
        return Verdict(False, "not the workshop's: made for the function of that name that is not the workshop's")
    return Verdict(True, "Lambda made it for the workshop's function (its log)")


def logging_switched_on(first_change: L.Entry | None) -> bool:
    """Did the workshop's first change of v2 logging switch it on from off (or never configured)?"""
    if first_change is None:
        return False
    before = first_change.detail.get("before", L.UNKNOWN_BEFORE)
    if before is None:
        return True
    return isinstance(before, Mapping) and (bool(before.get("disableAllLogs"))
                                            or before.get("defaultLogLevel") == "DISABLED")


def iot_log_group(created: Any, first_change: L.Entry | None) -> Verdict:
    """``AWSIotLogsV2``: AWS IoT creates it when v2 logging first writes. It is the workshop's when the
    workshop switched logging on from off and the group is no older than that switch."""
    if not logging_switched_on(first_change):
        return Verdict(False, "not the workshop's: v2 logging was on before the workshop (or unknown)")
    created_at, switched = to_datetime(created), to_datetime(first_change.time)
    if created_at is None or switched is None or created_at < switched - CLOCK_SKEW:
        return Verdict(False, "not the workshop's: it is older than the workshop's switching on of v2 logging")
    return Verdict(True, "AWS IoT made it after the workshop switched v2 logging on "
                         f"({first_change.chapter or 'setup'})")


def ca_policy(created: Any, ca_created: Any, targets: Iterable[str], ca_certificates: set[str]) -> Verdict:
    """A policy attached to device certificates of the workshop's CA (JITP's template, JITR's
    function made it): the workshop's when it is attached to nothing else and is no older than the CA."""
    targets = list(targets)
    others = [t for t in targets if t not in ca_certificates]
    if others:
        return Verdict(False, f"not the workshop's: attached to {len(others)} target(s) besides the CA's certificates")
    made, ca_made = to_datetime(created), to_datetime(ca_created)
    if made is not None and ca_made is not None and made < ca_made - CLOCK_SKEW:
        return Verdict(False, "not the workshop's: it is older than the workshop's CA")
    return Verdict(True, "made for a device of the workshop's CA (JITP or JITR)")


__all__ = ["IOT_LOG_GROUP", "LAMBDA_LOG_GROUP", "Verdict", "ca_policy", "chained_identities", "iot_log_group", "judge",
           "workshop_stacks",
           "lambda_log_group", "logging_switched_on", "short", "to_datetime"]
