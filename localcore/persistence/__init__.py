"""The lab keeps what it holds across stops, crashes and reboots.

Everything durable (moto's backends for every service used, and the lab's own parts registered with
`Lab.durable`: settings, shadows, jobs, fleet indexing, retained messages, ...) is written to one
snapshot file, ``<LOCALCORE_HOME>/snapshot.bin`` (0600), by a background saver soon after each change
(`saver`). At start the lab reads it back before it opens its ports (`restore`). A file that cannot be
read is moved aside with a message naming the reason and the lab starts empty; it never refuses to
start because of its own file. ``localcore reset`` empties the registry deliberately: the lab's CA
and keys (``pki/``) stay.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import snapshot
from .saver import Saver, camel_keys

log = logging.getLogger("localcore.persistence")

SNAPSHOT_NAME = "snapshot.bin"
SAVER = "saver"  # lab.services key
RESTORED = "restored"  # lab.services key: what the start found


def snapshot_path(home: Path) -> Path:
    return home / SNAPSHOT_NAME


@dataclass
class RestoreReport:
    """What the lab found in its home at start (shown by ``localcore status``)."""

    path: str
    found: bool = False
    saved_at: float | None = None
    counts: dict[str, int] | None = None
    moved_aside: str | None = None
    problem: str | None = None

    revision: int = 0

    def to_json(self) -> dict[str, Any]:
        return camel_keys(asdict(self))


def restore(lab: Any) -> RestoreReport:
    """Read the snapshot, if any, into moto's backends and the lab's durable parts.

    Call it after the moto patches are applied and before anything looks up a moto backend, so that
    nothing keeps a reference to a backend the snapshot replaces.
    """
    path = snapshot_path(lab.config.home)
    report = RestoreReport(path=str(path))
    lab.services[RESTORED] = report
    try:
        taken = snapshot.read(path)
        if taken is None:
            return report
        snapshot.restore_moto(taken.moto)
    except snapshot.UnreadableSnapshot as error:
        _move_aside(path, str(error), report)
        return report
    except Exception as error:  # noqa: BLE001 - e.g. a moto module the saved state names is gone
        _move_aside(path, f"its content does not fit this lab ({type(error).__name__}: {error})", report)
        return report
    lab.restore_parts(taken.parts)
    lab.revision = report.revision = taken.header.get("revision", 0)
    report.found, report.saved_at = True, taken.header.get("savedAt")
    report.counts = taken.header.get("counts") or {}
    log.info("restored the lab's state saved %s from %s", _ago(report.saved_at), path)
    return report


def _move_aside(path: Path, reason: str, report: RestoreReport) -> None:
    aside = path.with_name(f"snapshot.unreadable-{time.strftime('%Y%m%d-%H%M%S')}.bin")
    try:
        os.replace(path, aside)
    except OSError as error:
        aside_text = f"could not be moved aside ({error.strerror}); delete it by hand"
    else:
        aside_text = f"was moved to {aside}"
        report.moved_aside = str(aside)
    report.problem = (
        f"The saved lab state {path} could not be loaded: {reason}. It {aside_text}; "
        "the lab starts empty (its CA and keys are kept). Re-run the chapters' set-up cells."
    )
    log.warning("%s", report.problem)


def _ago(moment: float | None) -> str:
    if not moment:
        return "at an unknown time"
    return f"{max(0.0, time.time() - moment):.1f} s ago"


def start_saver(lab: Any) -> Saver:
    saver = Saver(lab, snapshot_path(lab.config.home), counts=lab.resource_counts)
    restored = lab.services.get(RESTORED)
    if restored is not None and restored.found:  # the file holds this revision already
        saver.status.saved_at, saver.status.saved_revision = restored.saved_at, restored.revision
    lab.services[SAVER] = saver
    saver.start()
    return saver


def stop_saver(lab: Any) -> None:
    """Stop saving in the background, and write the last changes (a clean stop loses nothing)."""
    saver = lab.services.pop(SAVER, None)
    if saver is not None:
        saver.stop(final_save=True)


def status(lab: Any) -> dict[str, Any]:
    """For ``/_localcore/status``: where the state is kept, when it was last saved, what the start found."""
    saver = lab.services.get(SAVER)
    restored = lab.services.get(RESTORED)
    return {
        "saving": saver.status.to_json() if saver is not None else None,
        "unsavedChanges": bool(saver is not None and lab.revision != saver.status.saved_revision),
        "restored": restored.to_json() if restored is not None else None,
    }


def saved_header(home: Path) -> dict[str, Any] | None:
    """The header of the saved state (when, what), read without loading it; None when there is none.
    A damaged file gives ``{"problem": ...}``."""
    path = snapshot_path(home)
    try:
        with open(path, "rb") as file:
            start = file.read(len(snapshot.MAGIC) + snapshot.MAX_HEADER_BYTES)
    except FileNotFoundError:
        return None
    except OSError as error:
        return {"problem": f"{path} cannot be read ({error.strerror})"}
    end = start.find(b"\n", len(snapshot.MAGIC))
    try:
        if not start.startswith(snapshot.MAGIC) or end < 0:
            raise ValueError
        header = json.loads(start[len(snapshot.MAGIC):end])
    except ValueError:
        return {"problem": f"{path} is damaged; the next start moves it aside"}
    return {**header, "path": str(path), "bytes": path.stat().st_size}


def forget(home: Path) -> Path | None:
    """`localcore reset`: set the saved state aside (the lab must be stopped). Returns where it went."""
    from localcore.aws import iot_log_journal

    iot_log_journal.forget(home)  # AWS IoT's log entries, kept beside the snapshot
    path = snapshot_path(home)
    if not path.exists():
        return None
    aside = path.with_name("snapshot.before-reset.bin")
    os.replace(path, aside)
    return aside
