"""Job ids that never collide: a job id belongs to one job only, in the whole account.

    JOB_ID = new_job_id(ws.name("uptime"))          # e.g. "anna-uptime-20260312-101502-3f9a0c"
    GROUP_JOB_ID = new_job_id(ws.name("uptime"), "group")

`create_job` refuses an id that a job has already (AWS allows reusing the id of a deleted job, but
advises against it: a device may still refer to the old job). The time alone is not enough: a cell
run twice within a second, or two trainees whose names share a prefix, would make the same id. So
the id ends in the time (for a reader) and a random part (for uniqueness), and the readable start
is shortened when needed to keep AWS's limit of 64 characters.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

MAX_LENGTH = 64  # jobId: 1-64 characters of [a-zA-Z0-9_-] (IoT API model)
NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]+")


def new_job_id(*parts: str, now: datetime | None = None) -> str:
    """``<parts joined by '-'>-<YYYYmmdd>-<HHMMSS>-<6 random hex digits>``, at most 64 characters.

    Characters a job id may not hold become ``-``; empty parts are left out.
    """
    stamp = f"{(now or datetime.now()):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    cleaned = [NOT_ALLOWED.sub("-", part).strip("-") for part in parts]
    start = "-".join(part for part in cleaned if part)[: MAX_LENGTH - len(stamp) - 1].rstrip("-")
    return f"{start}-{stamp}" if start else stamp


__all__ = ["MAX_LENGTH", "new_job_id"]
