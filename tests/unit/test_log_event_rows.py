"""A log stream whose entries are rows answers moto's own reads exactly as its list of LogEvents did."""

from __future__ import annotations

import gc
import pickle

import pytest
from moto.logs.models import LogGroup, LogStream

from localcore.aws.log_event_rows import EventRows, compact

START_MS = 1_700_000_000_000
MESSAGES = ['{"logLevel": "INFO", "clientId": "a"}', '{"logLevel": "ERROR", "clientId": "b"}',
            '{"logLevel": "INFO", "clientId": "b"}', "plain text"]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """Both streams a test compares are ingested at the same instant (moto stamps ingestion with now)."""
    import datetime

    from moto.logs import models

    monkeypatch.setattr(models, "utcnow", lambda: datetime.datetime(2026, 12, 4, 12, 0, 0))


def stream_with_entries(*, rows: bool):
    group = LogGroup("123456789012", "us-east-1", "AWSIotLogsV2")
    stream = group.streams["s"] = LogStream(group, "s")
    if rows:
        compact(stream)
    stream.put_log_events([{"timestamp": START_MS + i, "message": m} for i, m in enumerate(MESSAGES[:2])])
    stream.put_log_events([{"timestamp": START_MS + 10 + i, "message": m} for i, m in enumerate(MESSAGES[2:])])
    return stream


def without_ids(events):
    return [{k: v for k, v in e.items() if k != "eventId"} for e in events]


READS = {
    "filter everything": lambda s: without_ids(s.filter_log_events(None, None, "")),
    "filter by pattern": lambda s: without_ids(s.filter_log_events(None, None, "{$.clientId = b}")),
    "filter by time": lambda s: without_ids(s.filter_log_events(START_MS + 1, START_MS + 10, "")),
    "get from head": lambda s: s.get_log_events(None, None, 2, None, True)[0],
    "get from tail": lambda s: s.get_log_events(None, None, 2, None, False)[0],
    "describe": lambda s: {k: v for k, v in s.to_describe_dict().items() if k not in ("creationTime", "arn",
                                                                                        "lastIngestionTime")},
}


@pytest.mark.parametrize("read", READS, ids=list(READS))
def test_moto_reads_the_same_from_rows_as_from_its_list(read):
    assert READS[read](stream_with_entries(rows=True)) == READS[read](stream_with_entries(rows=False))


def test_rows_keep_each_entry_id_and_can_be_trimmed_and_sliced():
    stream = stream_with_entries(rows=True)
    ids = [event.event_id for event in stream.events]
    assert len(set(ids)) == len(MESSAGES) and isinstance(stream.events, EventRows)
    del stream.events[:1]
    assert [event.message for event in stream.events] == MESSAGES[1:]
    assert [event.event_id for event in stream.events[-2:]] == ids[-2:]
    assert stream.events[0].message == MESSAGES[1] and len(stream.events) == 3


def test_rows_are_out_of_the_garbage_collectors_sight():
    events = EventRows()
    events += stream_with_entries(rows=False).events
    gc.collect()
    assert not any(gc.is_tracked(r) for r in events.rows)
    assert all(gc.is_tracked(e) for e in stream_with_entries(rows=False).events)  # what moto's list holds


def test_rows_survive_a_pickle():
    events = stream_with_entries(rows=True).events
    assert pickle.loads(pickle.dumps(events)) == events
