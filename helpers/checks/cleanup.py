"""Chapter 10: cleaning up by hand: what the workshop's client made since the clean-up is gone again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError


def _still_there(ws: Any, entry: Any) -> bool:
    """Is the resource of this ledger entry still there (the same one, by its identity)?"""
    from ..ledger import CERTIFICATE, IDENTITY, read_identity

    if entry.kind == CERTIFICATE:
        try:
            ws.iot.describe_certificate(certificateId=entry.name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True
    now = read_identity(entry.kind, ws.iot, entry.name)
    recorded = entry.identity.get(IDENTITY[entry.kind])
    return now is not None and (recorded is None or now.get(IDENTITY[entry.kind]) == recorded)


def by_hand_cleanup_problem(ws: Any, since: str) -> str:
    """Chapter 10's exercise: some thing, certificate and policy that the workshop's client created
    after ``since`` (ISO 8601; the ledger recorded them) are all gone again, and no local file of
    such a certificate (its certificate or its private key) is left in the work folder."""
    from ..cleanup.files import local_files
    from ..cleanup.survey import DERIVED_OPERATION
    from ..ledger import CERTIFICATE, POLICY, THING, ledger_path, read

    made = [e for e in read(ws) if e.time > since and e.operation != DERIVED_OPERATION
            and e.kind in (THING, CERTIFICATE, POLICY)]
    missing = [kind for kind in (THING, CERTIFICATE, POLICY) if not any(e.kind == kind for e in made)]
    if missing:
        return f"the ledger has no {', '.join(missing)} made with ws.iot since the clean-up ran (step 1)"
    left = [f"{e.kind} {e.name[:12] + '…' if e.kind == CERTIFICATE else e.name}" for e in made if _still_there(ws, e)]
    if left:
        return f"still there: {', '.join(dict.fromkeys(left))} (step 3)"
    ids = {e.name for e in made if e.kind == CERTIFICATE}
    files = local_files(Path(ws.work_dir), ids, keep=[ledger_path(ws)])
    if files:
        names = ", ".join(str(path.relative_to(ws.work_dir)) for path, _, _ in files)
        return f"files of a deleted certificate are left: {names} (step 4)"
    return ""
