"""AWS IoT's log entries survive a restart through their journal, not through the snapshot."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labfixture import in_process_lab  # noqa: E402

from localcore.aws import iot_log_journal, iot_logging  # noqa: E402
from localcore.aws.iot_log_journal import Entry, Journal  # noqa: E402
from localcore.iot import iot_logs  # noqa: E402
from localcore.persistence import Saver, snapshot, snapshot_path  # noqa: E402


def entries(n: int, start: int = 0, stream: str = "s") -> list[Entry]:
    return [Entry(stream, 1000 + i, 2000 + i, f'{{"n": {i}}}') for i in range(start, start + n)]


@pytest.mark.parametrize("line, expected", [
    ("s\t1\t2\t{\"a\": 1}\n", Entry("s", 1, 2, '{"a": 1}')),
    ("s\t1\t2\t{\"a\":\t1}\n", Entry("s", 1, 2, '{"a":\t1}')),  # split three times only
    ("s\t1\t2\t{\"a\": \n", None),  # cut mid-message, then the next lab's newline
    ("s\t1\t2\t{\"a\": 1}", None),   # cut short by a kill: no newline
    ("s\t1\t{\"a\": 1}\n", None),    # a field missing
    ("s\tx\t2\tm\n", None),          # not a timestamp
    ("\n", None),
])
def test_decode(line, expected):
    assert iot_log_journal.decode(line) == expected


def test_appended_entries_read_back_in_order_and_the_file_is_private(tmp_path):
    journal = Journal(tmp_path, keep=100)
    journal.append(entries(3))
    journal.append(entries(2, start=3))
    assert iot_log_journal.read(tmp_path, keep=100) == entries(5)
    assert stat.S_IMODE((tmp_path / iot_log_journal.NAME).stat().st_mode) == 0o600


def test_rotation_keeps_the_newest_entries_and_never_rewrites(tmp_path):
    journal = Journal(tmp_path, keep=4)
    for start in range(0, 12, 2):
        journal.append(entries(2, start=start))
    current, older = iot_log_journal.paths(tmp_path)
    assert len(older.read_text().splitlines()) == 4 and len(current.read_text().splitlines()) == 4
    assert iot_log_journal.read(tmp_path, keep=4) == entries(4, start=8)
    assert iot_log_journal.read(tmp_path, keep=100) == entries(8, start=4)


def test_a_line_cut_short_by_a_kill_costs_only_that_line(tmp_path):
    Journal(tmp_path, keep=100).append(entries(2))
    current = iot_log_journal.paths(tmp_path)[0]
    with open(current, "a") as file:
        file.write("s\t1002\t2002\t{\"n\"")  # the kill came mid-write
    Journal(tmp_path, keep=100).append(entries(1, start=3))  # the next lab appends
    assert iot_log_journal.read(tmp_path, keep=100) == entries(2) + entries(1, start=3)


def test_log_entries_come_back_after_a_restart_and_stay_out_of_the_snapshot(tmp_path):
    home = tmp_path / "home"
    now_ms = int(time.time() * 1000)
    with in_process_lab(home) as lab:
        logger = lab.services[iot_logging.STATE_KEY]
        logger.write([(now_ms + i, f'{{"entry": {i}, "marker": "journal-only"}}') for i in range(3)])
        stream = logger.stream
        Saver(lab, snapshot_path(home), mode="inline").save()
    assert b"journal-only" not in snapshot_path(home).read_bytes()
    with in_process_lab(home) as lab:
        restored = lab.backend("logs").groups[iot_logs.LOG_GROUP].streams[stream]
        assert [event.message for event in restored.events] == [
            f'{{"entry": {i}, "marker": "journal-only"}}' for i in range(3)]
        assert restored.to_describe_dict()["lastIngestionTime"] >= now_ms - 1000


def test_entries_of_a_deleted_log_group_do_not_come_back(tmp_path):
    home = tmp_path / "home"
    now_ms = int(time.time() * 1000)
    with in_process_lab(home) as lab:
        logger = lab.services[iot_logging.STATE_KEY]
        logger.write([(now_ms, '{"entry": "before"}')])
        lab.backend("logs").delete_log_group(iot_logs.LOG_GROUP)
        Saver(lab, snapshot_path(home), mode="inline").save()
    with in_process_lab(home) as lab:
        assert iot_logs.LOG_GROUP not in lab.backend("logs").groups


def test_reset_sets_the_journal_aside_with_the_snapshot(tmp_path):
    from localcore import persistence

    home = tmp_path / "home"
    with in_process_lab(home) as lab:
        lab.services[iot_logging.STATE_KEY].write([(int(time.time() * 1000), '{"entry": 1}')])
        Saver(lab, snapshot_path(home), mode="inline").save()
    persistence.forget(home)
    assert not any(path.exists() for path in iot_log_journal.paths(home))
    assert (home / "aws-iot-logs.before-reset.tsv").exists()
