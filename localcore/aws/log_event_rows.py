"""A log stream's entries as plain rows, out of the garbage collector's sight.

moto keeps a stream's entries as a list of ``LogEvent`` objects: one object with its own attribute
dictionary per entry, each tracked by Python's cyclic garbage collector. The AWS IoT log stream of a
busy fleet holds tens of thousands of them (`iot_logging.KEEP_ENTRIES`), and every collection of the
older generations walked them all while the broker's loop waited (`bench/fleet.py`'s latency p99).

`EventRows` stands in for that list: each entry is a tuple of an int, an int, a str and an int, which
the collector stops tracking the first time it sees it. moto's code keeps working unchanged: reading
an item, a slice or iterating gives `RowEvent` views made on the spot, with a ``LogEvent``'s
attributes and methods; appending or extending with ``LogEvent`` objects (``stream.events += events``
in ``put_log_events``) stores their rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSequence
from operator import itemgetter
from typing import Any, overload

from moto.logs.models import LogEvent

Row = tuple[int, int, str, int]  # ingestion_time, timestamp, message, event_id


def row(event: Any) -> Row:
    """The row of a ``LogEvent`` (or of a `RowEvent`)."""
    return event.ingestion_time, event.timestamp, event.message, event.event_id


class RowEvent(tuple):
    """A row read as moto's ``LogEvent``: its attributes and its methods (made in well under a
    microsecond, where a ``LogEvent`` with its own dictionary took several)."""

    __slots__ = ()
    ingestion_time = property(itemgetter(0))
    timestamp = property(itemgetter(1))
    message = property(itemgetter(2))
    event_id = property(itemgetter(3))
    to_filter_dict = LogEvent.to_filter_dict
    to_response_dict = LogEvent.to_response_dict


class EventRows(MutableSequence):
    """A list of ``LogEvent`` as moto's code uses it, stored as rows."""

    __slots__ = ("rows",)

    def __init__(self, events: Iterable[LogEvent] = ()) -> None:
        self.rows: list[Row] = [row(e) for e in events]

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> RowEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[RowEvent]: ...

    def __getitem__(self, index: int | slice) -> RowEvent | list[RowEvent]:
        if isinstance(index, slice):
            return list(map(RowEvent, self.rows[index]))
        return RowEvent(self.rows[index])

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            self.rows[index] = [row(e) for e in value]
        else:
            self.rows[index] = row(value)

    def __delitem__(self, index: int | slice) -> None:
        del self.rows[index]

    def __iter__(self) -> Iterator[RowEvent]:
        return map(RowEvent, self.rows)

    def insert(self, index: int, value: LogEvent) -> None:
        self.rows.insert(index, row(value))

    def append(self, value: LogEvent) -> None:
        self.rows.append(row(value))

    def extend(self, values: Iterable[LogEvent]) -> None:
        self.rows.extend(row(e) for e in values)

    def __iadd__(self, values: Iterable[LogEvent]) -> EventRows:  # type: ignore[override, misc]
        self.extend(values)
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventRows):
            return self.rows == other.rows
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it replaces

    def __repr__(self) -> str:
        return f"EventRows({len(self.rows)} entries)"


def compact(stream: Any) -> EventRows:
    """The stream's entries as `EventRows` (its ``events`` replaced, once)."""
    events = stream.events
    if not isinstance(events, EventRows):
        events = stream.events = EventRows(events)
    return events
