"""Fine-grained logging at run time: ``lab.iot_log(event_type, level, **fields)`` writes AWS IoT's
log entries to the CloudWatch Logs group ``AWSIotLogsV2`` in moto's logs backend.

`install` adds ``lab.iot_log``. The broker calls it on its loop for connects, disconnects,
publishes, deliveries and subscriptions, the rules engine from its workers. A call costs little
when the entry is not wanted: the level of each client (its client id, principal and source IP, and
the thing groups of the thing named like the client id) is resolved once and cached, until the
registry changes (``lab.generation``) or the logging settings do (``lab.logging["revision"]``,
bumped by the settings handlers). A wanted entry is only queued; one writer thread builds the
entries and puts them into moto in batches, creating the group and the stream when they are missing,
and appends them to the journal (`localcore.aws.iot_log_journal`), which keeps them across restarts
instead of the snapshot.

Entries are written only while the options are set with a role and ``disableAllLogs`` is false,
as on AWS, where IoT writes with the role it was given.
"""

from __future__ import annotations

import copyreg
import json
import logging
import queue
import random
import threading
import time
import uuid
from operator import itemgetter
from typing import Any

from moto.core.utils import unix_time_millis, utcfromtimestamp
from moto.logs.models import LogEvent, LogStream

from localcore.iot import iot_logs
from localcore.persistence import snapshot

from . import iot_log_journal, log_event_rows

log = logging.getLogger("localcore.iot_logs")

STATE_KEY = "iot_logging"
REVISION = "revision"  # key of lab.logging the settings handlers bump on every change
BATCH_LIMIT = 1000  # entries per PutLogEvents into moto
BATCH_WINDOW_S = 0.05  # how long the writer gathers entries before a put (moto's put has a high fixed cost)
CACHE_LIMIT = 10_000  # clients whose target level is kept
# The newest entries the lab keeps of its log stream (a lab limit: AWS keeps a log group's entries for
# its retention period). INFO logging of a busy fleet writes thousands a second; without a bound the
# lab's memory grew by ~180 MB per minute of a 1,000-device fleet (`bench/fleet.py`).
KEEP_ENTRIES = 50_000
# Entries waiting for the writer: beyond this many, new ones are dropped and counted (lab.log says so)
# rather than held in memory without bound while a fleet logs faster than the lab writes. AWS's
# logging is best effort too [unconfirmed: AWS does not say what it drops under load].
QUEUE_LIMIT = 20_000
DROP_REPORT_EVERY = 10_000
_UNRESOLVED = object()


def stream_name() -> str:
    """[unconfirmed] AWS does not document its stream names in AWSIotLogsV2; the lab writes one
    stream per lab process, named by a UUID."""
    return str(uuid.uuid4())


class IotLogging:
    """The lab's AWS IoT logger; ``log`` is ``lab.iot_log``."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.stream = stream_name()
        self._seen: tuple[int, int] | None = None
        self._on = False
        self._options: dict[str, Any] | None = None
        self._levels: dict[tuple[str, str | None], str] = {}
        self._targets: dict[tuple[str | None, str | None, str | None], str | None] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.dropped = 0  # entries not written because too many were waiting (QUEUE_LIMIT)
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._logs: Any = None  # moto's logs backend, looked up once (the look-up is slow)
        self._journal: iot_log_journal.Journal | None = None
        self.journal_errors = 0

    # -- the caller's side ----------------------------------------------------------------------
    def log(self, event_type: str, level: str, **fields: Any) -> None:
        """Write one entry (AWS's field names) if the level of the client it is about wants it.

        ``traceId`` may be given (the rules engine's trace id); ``status`` defaults to Failure when
        a ``reason`` is given."""
        self._sync()
        if not self._on:
            return
        client_level = self._level(fields.get("clientId"), fields.get("principalId"), fields.get("sourceIp"), event_type)
        if not iot_logs.wanted(client_level, level):
            return
        if self._queue.qsize() >= QUEUE_LIMIT:  # the writer is behind: drop, count, say so now and then
            self.dropped += 1
            if self.dropped % DROP_REPORT_EVERY == 1:
                log.warning("AWS IoT log entries dropped: %d so far (more than %d waiting to be written)",
                            self.dropped, QUEUE_LIMIT)
            return
        self._queue.put((time.time(), event_type, level, fields))
        if self._writer is None:
            self._start_writer()

    def level_for(self, client_id: str | None, principal_id: str | None, source_ip: str | None,
                  event_type: str | None = None) -> str:
        """The level this client's ``event_type`` entries are written at (cached per client)."""
        self._sync()
        return self._level(client_id, principal_id, source_ip, event_type)

    def _level(self, client_id: str | None, principal_id: str | None, source_ip: str | None,
               event_type: str | None) -> str:
        if not self._on:
            return iot_logs.DISABLED
        key = (client_id, principal_id, source_ip)
        target = self._targets.get(key, _UNRESOLVED)
        if target is _UNRESOLVED:
            subject = iot_logs.LogSubject(client_id, principal_id, source_ip, self._group_chains(client_id))
            target = iot_logs.target_level(self._levels, subject)
            if len(self._targets) >= CACHE_LIMIT:
                self._targets.clear()
            self._targets[key] = target
        if target is not None:
            return target  # type: ignore[return-value]
        return iot_logs.default_level(self._options, event_type)

    def _sync(self) -> None:
        """Re-read the settings and forget cached levels when they or the registry changed."""
        stamp = (self.lab.generation, self.lab.logging.get(REVISION, 0))
        if stamp == self._seen:
            return
        settings = self.lab.logging  # the handlers replace these dicts, never change them in place
        self._options, self._levels = settings["options"], settings["levels"]
        self._on = iot_logs.logging_on(self._options)
        self._targets = {}
        self._seen = stamp

    def _group_chains(self, client_id: str | None) -> tuple[tuple[str, ...], ...]:
        """For each thing group of the thing named ``client_id``: the group, then its ancestors."""
        if not client_id or not any(t == iot_logs.THING_GROUP for t, _name in self._levels):
            return ()
        iot = self.lab.iot
        thing = iot.things.get(self.lab.arn("thing", client_id))
        if thing is None:
            return ()
        groups = list(iot.thing_groups.values())
        parents = {group.thing_group_name: group.parent_group_name for group in groups}
        chains = []
        for group in groups:
            if thing.arn in group.things:
                chain, name = [], group.thing_group_name
                while name and name not in chain:
                    chain.append(name)
                    name = parents.get(name)
                chains.append(tuple(chain))
        return tuple(chains)

    # -- the writer's side ----------------------------------------------------------------------
    def _start_writer(self) -> None:
        with self._start_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="iot-logs", daemon=True)
                self._writer.start()

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Gather for a moment without waiting on the queue: a writer blocked in get() is woken by
            # every put, a thread switch per entry that the broker's loop paid for (bench/fleet.py).
            if self._queue.qsize() < BATCH_LIMIT:
                time.sleep(BATCH_WINDOW_S)
            while len(batch) < BATCH_LIMIT:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.write([self._format(*item) for item in batch])
            except Exception:  # moto refused the batch: say so, keep the writer alive
                log.exception("writing %d AWS IoT log entries failed", len(batch))

    def _format(self, epoch_s: float, event_type: str, level: str, fields: dict[str, Any]) -> tuple[int, str]:
        """``(timestamp_ms, message)`` of one queued entry; ``traceId`` may come with the fields."""
        trace_id = fields.pop("traceId", None) or str(uuid.UUID(int=random.getrandbits(128), version=4))
        entry = iot_logs.log_entry(
            event_type, level, account_id=self.lab.config.account_id, epoch_s=epoch_s, trace_id=trace_id, **fields
        )
        return int(epoch_s * 1000), json.dumps(entry)

    def write(self, batch: list[tuple[int, str]]) -> None:
        """Put ``(timestamp_ms, message)`` pairs into the log group, creating what is missing, and
        append them to the journal (`iot_log_journal`; the entries are not part of the snapshot)."""
        events = [{"timestamp": ms, "message": message} for ms, message in sorted(batch, key=itemgetter(0))]
        with self.lab.gate.writing(), self.lab.lock:  # FilterLogEvents reads moto's streams under the same lock
            if self._logs is None:
                self._logs = self.lab.backend("logs")  # moto resets a backend in place: keep it
            logs = self._logs
            created = iot_logs.LOG_GROUP not in logs.groups
            if created:
                logs.create_log_group(iot_logs.LOG_GROUP, {})
            group = logs.groups[iot_logs.LOG_GROUP]
            if self.stream not in group.streams:
                logs.ensure_log_stream(iot_logs.LOG_GROUP, self.stream)
                created = True
            _JOURNALED.add(self.stream)
            rows = log_event_rows.compact(group.streams[self.stream]).rows
            logs.put_log_events(iot_logs.LOG_GROUP, self.stream, events)
            written = [iot_log_journal.Entry(self.stream, timestamp, ingestion_ms, message)
                       for ingestion_ms, timestamp, message, _id in rows[-len(events):]]
            if len(rows) > KEEP_ENTRIES:
                del rows[:len(rows) - KEEP_ENTRIES]
            if created:  # the group and the stream are state like any other: saved in the snapshot
                self.lab.changed()
        try:
            self.journal.append(written)
        except OSError as error:
            self._journal_failed(error)

    @property
    def journal(self) -> iot_log_journal.Journal:
        if self._journal is None:
            self._journal = iot_log_journal.Journal(self.lab.config.home, KEEP_ENTRIES)
        return self._journal

    def _journal_failed(self, error: OSError) -> None:
        self.journal_errors += 1
        if self.journal_errors % DROP_REPORT_EVERY == 1:
            log.warning("AWS IoT log entries could not be written to %s (%s): they are kept until the "
                        "lab stops, not across a restart", self.journal.current, error.strerror or error)

    def restore(self) -> int:
        """Put the journal's entries back into their streams (after the snapshot was restored); the
        entries of a stream deleted since, or of an older stream of the same name, are left out."""
        entries = iot_log_journal.read(self.lab.config.home, KEEP_ENTRIES)
        group = self.lab.backend("logs").groups.get(iot_logs.LOG_GROUP)
        restored = 0
        touched = {}
        for entry in entries:
            _JOURNALED.add(entry.stream)
            stream = group.streams.get(entry.stream) if group is not None else None
            if stream is None or entry.ingestion_ms < int(unix_time_millis(stream.creation_time)):
                continue
            log_event_rows.compact(stream).append(LogEvent(entry.ingestion_ms, {"timestamp": entry.timestamp_ms,
                                                                                  "message": entry.message}))
            touched[entry.stream] = stream
            restored += 1
        for stream in touched.values():
            newest = max(ingestion_ms for ingestion_ms, *_rest in stream.events.rows)
            if stream.last_ingestion_time is None or unix_time_millis(stream.last_ingestion_time) < newest:
                stream.last_ingestion_time = utcfromtimestamp(newest / 1000)
        return restored


# Streams whose entries live in the journal (stream names are UUIDs: one set serves every lab of a process).
_JOURNALED: set[str] = set()


def _reduce_stream(stream: Any) -> tuple[Any, ...]:
    """moto's LogStream as saved in the snapshot: a journaled stream without its entries."""
    state = dict(stream.__dict__)
    if stream.log_stream_name in _JOURNALED and getattr(stream.log_group, "name", None) == iot_logs.LOG_GROUP:
        state["events"] = []
    return copyreg.__newobj__, (type(stream),), state


def install(lab: Any) -> IotLogging:
    """Give the lab ``lab.iot_log`` (see `IotLogging.log`); put the journal's entries back."""
    snapshot.register_reducer(LogStream, _reduce_stream)
    logger = IotLogging(lab)
    restored = logger.restore()
    if restored:
        log.info("restored %d AWS IoT log entries from %s", restored, iot_log_journal.paths(lab.config.home)[0])
    lab.services[STATE_KEY] = logger
    lab.iot_log = logger.log
    return logger
