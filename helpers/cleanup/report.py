"""Tables a trainee reads: the inventory by kind and source, and any table with long ids shortened."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .planning import Plan

HEX_ID = re.compile(r"[0-9a-f]{64}")


def cut_ids(text: str) -> str:
    """``text`` with every 64-hex certificate id in it shown by its first 12 characters."""
    return HEX_ID.sub(lambda m: m.group()[:12] + "…", text)


def view(frame: Any, columns: Iterable[str] | None = None, rows: int = 40) -> Any:
    """The first ``rows`` rows of a table, for reading: certificate ids cut to 12 characters. Texts
    are never cut: an error or a reason is shown whole (the table wraps it)."""
    shown = frame[list(columns)] if columns is not None else frame
    if not len(shown):
        return shown
    return shown.head(rows).map(lambda value: cut_ids(value) if isinstance(value, str) else value)


def summary(found: Any, the_plan: Plan | None = None) -> Any:
    """Per kind and source: how many the ledger led to, how many are still there, how many of those
    are the workshop's, how many the clean-up removes (with ``the_plan``) or keeps, and a few names."""
    import pandas as pd

    columns = ["kind", "source", "found", "still there", "the workshop's", "not the workshop's", "to clean up",
               "kept", "names"]
    if found.empty:
        return pd.DataFrame(columns=columns)
    kept = set() if the_plan is None else {(r["kind"], r["name"]) for r in the_plan.kept.to_dict("records")}
    rows = []
    for (kind, source), group in found.groupby(["kind", "source"], sort=False):
        there = group[group["exists"]]
        ours = there[there["ours"]]
        stays = sum((kind, name) in kept for name in ours["name"])
        shown = [cut_ids(str(name)) for name in (there if len(there) else group)["name"]]
        rows.append({"kind": kind, "source": source, "found": len(group), "still there": len(there),
                     "the workshop's": len(ours), "not the workshop's": len(there) - len(ours),
                     "to clean up": len(ours) - stays, "kept": stays,
                     "names": ", ".join(shown[:3]) + (f" (+{len(shown) - 3})" if len(shown) > 3 else "")})
    return pd.DataFrame(rows, columns=columns)


__all__ = ["cut_ids", "summary", "view"]
