"""What the lab saves, in which file format, and how it comes back.

A snapshot is one object graph: every moto backend the lab has used (by service, account and region)
and the data of the lab's own durable parts (`Lab.durable`). It is pickled in one piece, so objects
that several backends share stay shared when they come back (a CloudFormation stack and the IAM role
it created are one object, as before the restart).

The file is ``MAGIC``, one line of JSON (the header: format, moto and Python versions, when it was
taken, a SHA-256 of the payload, and resource counts for ``localcore status``), then the pickle. It is
written to a temporary file, flushed to disk and renamed over the old one, with mode 0600: a crash
while saving leaves the previous snapshot whole. A file that cannot be read back (corrupt, cut short,
or written by another moto or format version) raises `UnreadableSnapshot` with the reason.
"""

from __future__ import annotations

import collections
import copy
import copyreg
import functools
import hashlib
import importlib
import io
import json
import pickle
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto
from moto.core.base_backend import BackendDict

from localcore.files import write_atomically  # noqa: F401 - the saver writes snapshots through it

FORMAT = 1
MAGIC = b"LOCALCORE-SNAPSHOT\n"
MAX_HEADER_BYTES = 64 * 1024


class UnreadableSnapshot(Exception):
    """The snapshot file cannot be loaded; the message says why in plain words."""


@dataclass
class Snapshot:
    header: dict[str, Any]
    moto: dict[tuple[str, str], dict[str, dict[str, Any]]]  # (module, attribute) → account → region → backend
    parts: dict[str, Any]  # durable part name → its data


# -- capture --------------------------------------------------------------------------------------
def _backend_dict_name(backends: BackendDict) -> tuple[str, str] | None:
    """Where moto keeps this BackendDict: (module, attribute), so the live one is found on load."""
    module_name = backends.backend.__module__
    for candidate in (module_name, module_name.rsplit(".", 1)[0]):
        module = sys.modules.get(candidate)
        for attribute, value in list(vars(module or object()).items()):
            if value is backends:
                return candidate, attribute
    return None


def moto_backends() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Every backend moto has created, by (module, attribute) → account → region (live objects)."""
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for backends in list(BackendDict._instances):  # type: ignore[attr-defined]
        name = _backend_dict_name(backends)
        if name is None:
            continue
        accounts = {account: dict(dict.items(regions)) for account, regions in list(dict.items(backends))}
        accounts = {account: regions for account, regions in accounts.items() if regions}
        if accounts:
            found[name] = accounts
    return found


def capture(lab: Any, counts: dict[str, int] | None = None) -> Snapshot:
    """The lab's durable state as live references; call it only while the lab is quiet."""
    parts = {name: dump() for name, (dump, _load) in lab.durable_parts().items()}
    header = {
        "format": FORMAT,
        "moto": moto.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "revision": lab.revision,
        "counts": counts or {},
    }
    return Snapshot(header=header, moto=moto_backends(), parts=parts)


# -- pickling -------------------------------------------------------------------------------------
def _new_lock() -> Any:
    return threading.Lock()


def _new_rlock() -> Any:
    return threading.RLock()


def _new_condition() -> threading.Condition:
    return threading.Condition()


def _event(is_set: bool) -> threading.Event:
    event = threading.Event()
    if is_set:
        event.set()
    return event


def _weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


class _DeadReference:
    """What a weak reference to a vanished object becomes: calling it answers None, as before."""

    def __call__(self) -> None:
        return None


def _reference(target: Any) -> Any:
    return _DeadReference() if target is None else weakref.ref(target)


def _reduce_defaultdict(mapping: collections.defaultdict) -> tuple:
    """moto builds some defaultdicts with a lambda (``defaultdict(lambda: {})``), which pickle cannot
    name. Such a factory is saved as "a copy of what it returns now" (an empty container, in moto)."""
    factory = mapping.default_factory
    if factory is not None and "<" in getattr(factory, "__qualname__", "<"):
        factory = functools.partial(copy.deepcopy, factory())
    return collections.defaultdict, (factory,), None, None, iter(mapping.items())


_DISPATCH = dict(copyreg.dispatch_table)
_DISPATCH.update({
    type(threading.Lock()): lambda _lock: (_new_lock, ()),
    type(threading.RLock()): lambda _lock: (_new_rlock, ()),
    threading.Condition: lambda _cond: (_new_condition, ()),
    threading.Event: lambda event: (_event, (event.is_set(),)),
    weakref.WeakValueDictionary: lambda mapping: (_weak_values, (dict(mapping.items()),)),
    collections.defaultdict: _reduce_defaultdict,
    # a weak reference stays weak: it comes back pointing at its object, if that object is saved too
    weakref.ReferenceType: lambda ref: (_reference, (ref(),)),
})


def register_reducer(cls: type, reduce: Any) -> None:
    """Let the module that knows a class say how it is saved (``reduce`` as in `copyreg`): e.g. AWS's
    managed IAM policies, ~1,600 objects the lab can rebuild from moto's data, saved by name."""
    _DISPATCH[cls] = reduce


def encode(snapshot: Snapshot) -> bytes:
    """The snapshot file's bytes: magic, header line (with the payload's SHA-256), pickle."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump({"moto": snapshot.moto, "parts": snapshot.parts})
    payload = buffer.getvalue()
    header = dict(snapshot.header, sha256=hashlib.sha256(payload).hexdigest(), payloadBytes=len(payload))
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload


# -- reading --------------------------------------------------------------------------------------
def read_header(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the payload of a snapshot file's bytes; `UnreadableSnapshot` if damaged."""
    if not data.startswith(MAGIC):
        raise UnreadableSnapshot("it is not a localcore snapshot (unknown file start)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise UnreadableSnapshot("its header is damaged")
    try:
        header = json.loads(data[len(MAGIC):end])
    except ValueError:
        raise UnreadableSnapshot("its header is damaged") from None
    if not isinstance(header, dict):
        raise UnreadableSnapshot("its header is damaged")
    payload = data[end + 1:]
    if header.get("format") != FORMAT:
        raise UnreadableSnapshot(f"it has format {header.get('format')!r}; this lab reads format {FORMAT}")
    if header.get("moto") != moto.__version__:
        raise UnreadableSnapshot(
            f"it was written with moto {header.get('moto')}; this lab runs moto {moto.__version__}"
        )
    if len(payload) != header.get("payloadBytes") or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise UnreadableSnapshot("it is cut short or damaged (checksum mismatch)")
    return header, payload


def decode(data: bytes) -> Snapshot:
    header, payload = read_header(data)
    try:
        graph = pickle.loads(payload)  # noqa: S301 - our own file, 0600 in the lab's own folder
        moto_part, parts = graph["moto"], graph["parts"]
    except Exception as error:  # noqa: BLE001 - any failure means: cannot use this file
        raise UnreadableSnapshot(f"its content cannot be loaded ({type(error).__name__}: {error})") from None
    return Snapshot(header=header, moto=moto_part, parts=parts)


def read(path: Path) -> Snapshot | None:
    """The snapshot in ``path``; None when there is none; `UnreadableSnapshot` when it is damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnreadableSnapshot(f"it cannot be read ({error.strerror})") from None
    return decode(data)


def restore_moto(backends: dict[tuple[str, str], dict[str, dict[str, Any]]]) -> None:
    """Put saved backends into moto's live BackendDicts (replacing what they hold)."""
    for (module_name, attribute), accounts in backends.items():
        live = getattr(importlib.import_module(module_name), attribute)
        for account, regions in accounts.items():
            account_backends = live[account]  # creates the account's dict when missing
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
