"""Fleet indexing core: the indexing configuration, the indexed document of a thing or thing group,
and aggregations, as AWS IoT's fleet index builds them (reference section 8).

Pure apart from two small observers fed with the lab's service-side publishes (no sockets, no
clock): `ShadowIndex` keeps each shadow's indexed fields, refreshed from the shadow store whenever
the Device Shadow service announces a change (``.../update/documents``, ``.../delete/accepted``);
`ConnectivityLog` keeps the last lifecycle event of each client id. The lab indexes synchronously:
a thing's document is assembled at query time from the live registry, these observers and the
configuration, so an index is ``ACTIVE`` as soon as it is enabled.

Fields of a thing document (what `index_query` matches):

* registry: ``thingName``, ``thingId``, ``thingTypeName``, ``thingGroupNames`` (direct groups),
  ``attributes.<name>``;
* shadow (mode ``REGISTRY_AND_SHADOW``): ``shadow.reported.*``, ``shadow.desired.*``,
  ``shadow.delta.*``, ``shadow.metadata.(desired|reported).*.timestamp``, ``shadow.hasDelta``;
  named shadows in ``namedShadowNames`` (``namedShadowIndexingMode`` ON) under
  ``shadow.name.<shadow>.``. Nested keys are joined with dots; only strings, numbers, booleans
  and arrays of those are indexed (arrays of objects and nulls are skipped);
* connectivity (``thingConnectivityIndexingMode`` STATUS): ``connectivity.connected``,
  ``connectivity.timestamp`` (ms), ``connectivity.disconnectReason``.

Versions (``registry.version``, ``shadow.version``, ``connectivity.version``) are not searchable;
they serve aggregations only, as on AWS.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from localcore.errors import AwsError, InvalidRequestException

from .index_query import Value, number

THINGS_INDEX = "AWS_Things"
GROUPS_INDEX = "AWS_ThingGroups"

THING_MODES = ("OFF", "REGISTRY", "REGISTRY_AND_SHADOW")
CONNECTIVITY_MODES = ("OFF", "STATUS")
DEFENDER_MODES = ("OFF", "VIOLATIONS")
NAMED_SHADOW_MODES = ("OFF", "ON")
GROUP_MODES = ("OFF", "ON")
FIELD_TYPES = ("Number", "String", "Boolean")
MAX_NAMED_SHADOW_NAMES = 10  # AWS default quota of named shadows per indexing configuration

INDEX_STATUS = "ACTIVE"  # the lab indexes synchronously, so an enabled index is never BUILDING
# [unconfirmed] AWS's DescribeIndex schema of the thing-group index.
GROUPS_SCHEMA = "REGISTRY"
# Observed from AWS (reference 8.2) for a disabled index.
INDEX_MISSING = "Index {index} does not exist. Please enable index by calling UpdateIndexingConfiguration"
# [unconfirmed] AWS's example documents omit connectivity for things that never connected.
NEVER_CONNECTED_HAS_CONNECTIVITY = False
# [unconfirmed] whether the shadow JSON of a search result carries ``hasDelta``.
SHADOW_DOCUMENT_HAS_DELTA = True

# Managed fields per data source ("Manage thing indexing"); types as AWS declares them.
REGISTRY_FIELDS = {
    "thingId": "String", "thingName": "String", "registry.version": "Number",
    "registry.thingTypeName": "String", "registry.thingGroupNames": "String",
}
SHADOW_FIELDS = {"shadow.version": "Number", "shadow.hasDelta": "Boolean"}
CONNECTIVITY_FIELDS = {
    "connectivity.timestamp": "Number", "connectivity.version": "Number", "connectivity.connected": "Boolean",
}
GROUP_FIELDS = {
    "description": "String", "parentGroupNames": "String", "thingGroupId": "String",
    "thingGroupName": "String", "version": "Number",
}
# Managed aggregation fields whose values sit under another (searchable) name in a document.
AGGREGATION_ALIASES = {
    "registry.thingTypeName": "thingTypeName",
    "registry.thingGroupNames": "thingGroupNames",
    "description": "thingGroupDescription",
}
DEFAULT_AGGREGATION_FIELD = "registry.version"
DEFAULT_PERCENTS = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
MAX_PERCENTS = 100
DEFAULT_MAX_BUCKETS = 10  # [unconfirmed] AWS's default of termsAggregation.maxBuckets

Fields = dict[str, tuple[Value, ...]]


class InvalidAggregationException(AwsError):
    code, status = "InvalidAggregationException", 400


# -- configuration ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexingConfiguration:
    """The account's indexing configuration (UpdateIndexingConfiguration's input, validated)."""

    thing_mode: str = "OFF"
    connectivity_mode: str = "OFF"
    defender_mode: str = "OFF"
    named_shadow_mode: str = "OFF"
    named_shadow_names: tuple[str, ...] = ()
    custom_fields: tuple[tuple[str, str], ...] = ()
    thing_filter: Mapping[str, Any] = field(default_factory=dict)
    group_mode: str = "OFF"
    group_custom_fields: tuple[tuple[str, str], ...] = ()

    @property
    def shadow_indexed(self) -> bool:
        return self.thing_mode == "REGISTRY_AND_SHADOW"

    @property
    def connectivity_indexed(self) -> bool:
        return self.thing_mode != "OFF" and self.connectivity_mode == "STATUS"

    @property
    def named_shadows(self) -> tuple[str, ...]:
        """Named shadows whose fields are indexed (none unless shadows and named shadows are on)."""
        on = self.shadow_indexed and self.named_shadow_mode == "ON"
        return self.named_shadow_names if on else ()

    def updated(self, request: Mapping[str, Any]) -> IndexingConfiguration:
        """The configuration after UpdateIndexingConfiguration; a section given replaces the old one."""
        result = self
        things = request.get("thingIndexingConfiguration")
        if things is not None:
            result = _thing_configuration(result, things)
        groups = request.get("thingGroupIndexingConfiguration")
        if groups is not None:
            mode = _enum(groups.get("thingGroupIndexingMode"), GROUP_MODES, "thingGroupIndexingMode")
            custom = _custom_fields(groups.get("customFields") or [], GROUP_FIELDS, _is_attribute)
            result = replace(result, group_mode=mode, group_custom_fields=custom)
        return result

    def to_output(self) -> dict[str, Any]:
        """GetIndexingConfiguration's output."""
        things: dict[str, Any] = {
            "thingIndexingMode": self.thing_mode,
            "thingConnectivityIndexingMode": self.connectivity_mode,
            "deviceDefenderIndexingMode": self.defender_mode,
            "namedShadowIndexingMode": self.named_shadow_mode,
        }
        managed = self.managed_fields()
        if managed:
            things["managedFields"] = [{"name": n, "type": t} for n, t in managed.items()]
        if self.custom_fields:
            things["customFields"] = [{"name": n, "type": t} for n, t in self.custom_fields]
        if self.thing_filter:
            things["filter"] = dict(self.thing_filter)
        groups: dict[str, Any] = {"thingGroupIndexingMode": self.group_mode}
        if self.group_mode == "ON":
            groups["managedFields"] = [{"name": n, "type": t} for n, t in GROUP_FIELDS.items()]
        if self.group_custom_fields:
            groups["customFields"] = [{"name": n, "type": t} for n, t in self.group_custom_fields]
        return {"thingIndexingConfiguration": things, "thingGroupIndexingConfiguration": groups}

    def managed_fields(self) -> dict[str, str]:
        """The thing index's managed fields for the current modes (none while indexing is OFF)."""
        if self.thing_mode == "OFF":
            return {}
        managed = dict(REGISTRY_FIELDS)
        if self.shadow_indexed:
            managed.update(SHADOW_FIELDS)
        if self.connectivity_indexed:
            managed.update(CONNECTIVITY_FIELDS)
        return managed

    def schema(self) -> str:
        """DescribeIndex's ``schema`` of ``AWS_Things``."""
        if self.named_shadow_mode == "ON" or self.defender_mode == "VIOLATIONS":
            return "MULTI_INDEXING_MODE"
        schema = "REGISTRY_AND_SHADOW" if self.shadow_indexed else "REGISTRY"
        return f"{schema}_AND_CONNECTIVITY_STATUS" if self.connectivity_indexed else schema

    def index_names(self) -> list[str]:
        """The indexes that exist (ListIndices)."""
        names = [THINGS_INDEX] if self.thing_mode != "OFF" else []
        return names + ([GROUPS_INDEX] if self.group_mode == "ON" else [])

    def aggregation_type(self, index: str, name: str) -> str:
        """The declared type of an aggregation field, or `InvalidAggregationException`."""
        if index == GROUPS_INDEX:
            declared = dict(GROUP_FIELDS) | dict(self.group_custom_fields)
        else:
            declared = self.managed_fields() | dict(self.custom_fields)
        if name not in declared:
            raise InvalidAggregationException(
                f"{name} is not a managed or custom field of {index}; add it to customFields with "
                "UpdateIndexingConfiguration to aggregate on it."
            )
        return declared[name]


def _enum(value: Any, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise InvalidRequestException(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def _thing_configuration(current: IndexingConfiguration, request: Mapping[str, Any]) -> IndexingConfiguration:
    mode = _enum(request.get("thingIndexingMode"), THING_MODES, "thingIndexingMode")
    connectivity = _enum(request.get("thingConnectivityIndexingMode", "OFF"), CONNECTIVITY_MODES,
                         "thingConnectivityIndexingMode")
    defender = _enum(request.get("deviceDefenderIndexingMode", "OFF"), DEFENDER_MODES, "deviceDefenderIndexingMode")
    named = _enum(request.get("namedShadowIndexingMode", "OFF"), NAMED_SHADOW_MODES, "namedShadowIndexingMode")
    if mode == "OFF" and (connectivity == "STATUS" or defender == "VIOLATIONS" or named == "ON"):
        raise InvalidRequestException("thingIndexingMode must not be OFF to index connectivity, "
                                      "Device Defender violations or named shadows.")
    thing_filter = dict(request.get("filter") or {})
    names = tuple(thing_filter.get("namedShadowNames") or ())
    if len(names) > MAX_NAMED_SHADOW_NAMES:
        raise InvalidRequestException(f"At most {MAX_NAMED_SHADOW_NAMES} named shadows can be indexed.")
    managed = dict(REGISTRY_FIELDS) | SHADOW_FIELDS | CONNECTIVITY_FIELDS
    custom = _custom_fields(request.get("customFields") or [], managed, _thing_field_allowed(mode, named))
    return replace(
        current, thing_mode=mode, connectivity_mode=connectivity, defender_mode=defender,
        named_shadow_mode=named, named_shadow_names=names, custom_fields=custom, thing_filter=thing_filter,
    )


def _thing_field_allowed(mode: str, named: str) -> Callable[[str], bool]:
    def allowed(name: str) -> bool:
        if name.startswith("attributes."):
            return True
        if name.startswith("shadow.name."):
            return mode == "REGISTRY_AND_SHADOW" and named == "ON"
        if name.startswith("shadow."):
            return mode == "REGISTRY_AND_SHADOW"
        return name.startswith("deviceDefender.")

    return allowed


def _is_attribute(name: str) -> bool:
    return name.startswith("attributes.")


def _custom_fields(
    fields: Iterable[Mapping[str, Any]], managed: Mapping[str, str], allowed: Callable[[str], bool]
) -> tuple[tuple[str, str], ...]:
    result: dict[str, str] = {}
    for item in fields:
        name, kind = item.get("name"), item.get("type")
        if not name or kind not in FIELD_TYPES:
            raise InvalidRequestException(f"Custom field {item!r} needs a name and a type of {', '.join(FIELD_TYPES)}.")
        if name in managed:
            raise InvalidRequestException(f"{name} is a managed field and cannot be a custom field.")
        if not allowed(name):
            raise InvalidRequestException(f"Custom field {name} is not indexed by the indexing mode requested.")
        result[name] = kind
    return tuple(result.items())


# -- thing documents ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThingEntry:
    """A thing's registry data, as fleet indexing sees it."""

    name: str
    thing_id: str
    type_name: str | None
    attributes: Mapping[str, str]
    group_names: tuple[str, ...]
    version: int

    @cached_property
    def fields(self) -> Fields:
        """The registry fields (computed once: an entry stands for one version of the thing)."""
        fields: Fields = {"thingName": (self.name,), "thingId": (self.thing_id,)}
        if self.type_name:
            fields["thingTypeName"] = (self.type_name,)
        if self.group_names:
            fields["thingGroupNames"] = self.group_names
        for key, value in self.attributes.items():
            fields[f"attributes.{key}"] = (value,)
        return fields


@dataclass(frozen=True)
class IndexedShadow:
    """One shadow as the index holds it: its sections, version and flattened fields."""

    desired: Mapping[str, Any]
    reported: Mapping[str, Any]
    metadata: Mapping[str, Any]
    version: int
    timestamp: int
    has_delta: bool
    fields: Fields  # full names: ``shadow.reported.temperature``, ``shadow.name.<n>.hasDelta``, ...

    @classmethod
    def from_document(cls, document: Mapping[str, Any], name: str | None = None) -> IndexedShadow:
        """From a GetThingShadow document (``state``, ``metadata``, ``version``) of shadow ``name``."""
        prefix = "shadow" if name is None else f"shadow.name.{name}"
        state = document.get("state") or {}
        desired, reported = state.get("desired") or {}, state.get("reported") or {}
        metadata = document.get("metadata") or {}
        delta = shadow_delta(desired, reported)
        fields: Fields = {}
        for section, values in (("desired", desired), ("reported", reported), ("delta", delta)):
            _flatten(values, f"{prefix}.{section}", fields)
        for section in ("desired", "reported"):
            if section in metadata:
                fields.update(_leaves(metadata[section], f"{prefix}.metadata.{section}"))
        fields[f"{prefix}.hasDelta"] = (bool(delta),)
        return cls(desired, reported, metadata, int(document.get("version", 0)),
                   _latest_timestamp(metadata), bool(delta), fields)

    def document(self) -> dict[str, Any]:
        """The shadow as a search result shows it (before JSON encoding)."""
        document: dict[str, Any] = {}
        if self.desired:
            document["desired"] = self.desired
        if self.reported:
            document["reported"] = self.reported
        document["metadata"] = self.metadata
        if SHADOW_DOCUMENT_HAS_DELTA:
            document["hasDelta"] = self.has_delta
        document["version"] = self.version
        document["timestamp"] = self.timestamp
        return document


def shadow_delta(desired: Mapping[str, Any], reported: Mapping[str, Any]) -> dict[str, Any]:
    """Desired leaves that reported lacks or holds differently (what ``shadow.delta`` indexes)."""
    delta: dict[str, Any] = {}
    for key, want in desired.items():
        have = reported.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            if inner := shadow_delta(want, have):
                delta[key] = inner
        elif key not in reported or not _same_json(want, have):
            delta[key] = want
    return delta


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _simple(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float))


def _flatten(value: Any, path: str, into: Fields) -> None:
    """Index the simple leaves of ``value`` under dotted paths (arrays of simple values whole)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}", into)
    elif isinstance(value, list):
        if value and all(_simple(v) for v in value):
            into[path] = tuple(value)
    elif _simple(value):
        into[path] = (value,)


def _leaves(metadata: Any, path: str) -> Iterator[tuple[str, tuple[Value, ...]]]:
    """Metadata timestamps of indexed fields: ``metadata.reported.temperature.timestamp``."""
    if isinstance(metadata, dict):
        if set(metadata) == {"timestamp"} and isinstance(metadata["timestamp"], int):
            yield f"{path}.timestamp", (metadata["timestamp"],)
            return
        for key, inner in metadata.items():
            yield from _leaves(inner, f"{path}.{key}")


def _latest_timestamp(metadata: Any) -> int:
    if isinstance(metadata, dict):
        if set(metadata) == {"timestamp"} and isinstance(metadata["timestamp"], int):
            return metadata["timestamp"]
        return max((_latest_timestamp(v) for v in metadata.values()), default=0)
    if isinstance(metadata, list):
        return max((_latest_timestamp(v) for v in metadata), default=0)
    return 0


@dataclass(frozen=True)
class Connectivity:
    """A client id's connection status from its last lifecycle event (timestamp in ms)."""

    connected: bool
    timestamp: int | None = None
    disconnect_reason: str | None = None
    version: int | None = None

    @cached_property
    def fields(self) -> Fields:
        fields: Fields = {"connectivity.connected": (self.connected,)}
        if self.timestamp is not None:
            fields["connectivity.timestamp"] = (self.timestamp,)
        if self.disconnect_reason is not None:
            fields["connectivity.disconnectReason"] = (self.disconnect_reason,)
        return fields

    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = {"connected": self.connected}
        if self.timestamp is not None:
            output["timestamp"] = self.timestamp
        if self.disconnect_reason is not None:
            output["disconnectReason"] = self.disconnect_reason
        return output


class ThingView:
    """One thing's indexed document (a `index_query.Document`), assembled from its sources."""

    __slots__ = ("connectivity", "entry", "registry", "shadows")

    def __init__(
        self,
        entry: ThingEntry,
        shadows: Mapping[str | None, IndexedShadow],
        connectivity: Connectivity | None,
    ) -> None:
        self.entry = entry
        self.registry = entry.fields
        self.shadows = shadows  # key None: the classic shadow; empty unless shadows are indexed
        self.connectivity = connectivity

    def get(self, name: str) -> tuple[Value, ...] | None:
        if name.startswith("shadow."):
            for shadow in self.shadows.values():
                if (values := shadow.fields.get(name)) is not None:
                    return values
            return None
        if name.startswith("connectivity."):
            return self.connectivity.fields.get(name) if self.connectivity is not None else None
        return self.registry.get(name)

    def values(self) -> Iterator[tuple[Value, ...]]:
        yield from self.registry.values()
        for shadow in self.shadows.values():
            yield from shadow.fields.values()
        if self.connectivity is not None:
            yield from self.connectivity.fields.values()

    def aggregation_values(self, name: str) -> tuple[Value, ...]:
        """The values of an aggregation field (managed versions included)."""
        if name == "registry.version":
            return (self.entry.version,)
        if name == "shadow.version":
            classic = self.shadows.get(None)
            return (classic.version,) if classic is not None else ()
        if name == "connectivity.version":
            version = self.connectivity.version if self.connectivity is not None else None
            return (version,) if version is not None else ()
        return self.get(AGGREGATION_ALIASES.get(name, name)) or ()

    def output(self) -> dict[str, Any]:
        """SearchIndex's ``ThingDocument``: empty parts are left out."""
        entry = self.entry
        document: dict[str, Any] = {"thingName": entry.name, "thingId": entry.thing_id}
        if entry.type_name:
            document["thingTypeName"] = entry.type_name
        if entry.group_names:
            document["thingGroupNames"] = list(entry.group_names)
        if entry.attributes:
            document["attributes"] = dict(entry.attributes)
        classic = self.shadows.get(None)
        named = {n: s for n, s in self.shadows.items() if n is not None}
        if classic is not None or named:
            shadow = classic.document() if classic is not None else {}
            if named:
                shadow["name"] = {n: s.document() for n, s in sorted(named.items())}
            document["shadow"] = json.dumps(shadow, separators=(",", ":"))
        if self.connectivity is not None:
            document["connectivity"] = self.connectivity.output()
        return document


def thing_views(
    entries: Iterable[ThingEntry],
    config: IndexingConfiguration,
    shadows: ShadowIndex,
    connectivity: ConnectivityLog,
) -> Iterator[ThingView]:
    """The things' documents with exactly what the configuration indexes."""
    names = frozenset((None, *config.named_shadows)) if config.shadow_indexed else frozenset()
    with_connectivity = config.connectivity_indexed
    for entry in entries:
        indexed = shadows.of(entry.name) if names else {}
        if indexed and not names.issuperset(indexed):
            indexed = {name: shadow for name, shadow in indexed.items() if name in names}
        status = connectivity.get(entry.name) if with_connectivity else None
        yield ThingView(entry, indexed, status)


# -- thing-group documents ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupEntry:
    """A static thing group as the thing-group index sees it."""

    name: str
    group_id: str
    description: str | None
    attributes: Mapping[str, str]
    parent_names: tuple[str, ...]
    version: int

    def get(self, name: str) -> tuple[Value, ...] | None:
        return self.fields.get(name)

    def values(self) -> Iterator[tuple[Value, ...]]:
        yield from self.fields.values()

    @cached_property
    def fields(self) -> Fields:
        fields: Fields = {"thingGroupName": (self.name,), "thingGroupId": (self.group_id,)}
        if self.description:
            fields["thingGroupDescription"] = (self.description,)
        if self.parent_names:
            fields["parentGroupNames"] = self.parent_names
        for key, value in self.attributes.items():
            fields[f"attributes.{key}"] = (value,)
        return fields

    def aggregation_values(self, name: str) -> tuple[Value, ...]:
        if name == "version":
            return (self.version,)
        return self.get(AGGREGATION_ALIASES.get(name, name)) or ()

    def output(self) -> dict[str, Any]:
        """SearchIndex's ``ThingGroupDocument``."""
        document: dict[str, Any] = {"thingGroupName": self.name, "thingGroupId": self.group_id}
        if self.description:
            document["thingGroupDescription"] = self.description
        if self.attributes:
            document["attributes"] = dict(self.attributes)
        if self.parent_names:
            document["parentGroupNames"] = list(self.parent_names)
        return document


# -- observers of the lab's publishes ----------------------------------------------------------------------
ShadowReader = Callable[[str, "str | None"], "Mapping[str, Any] | None"]
_NO_SHADOWS: Mapping[str | None, IndexedShadow] = {}


class ShadowIndex:
    """Indexed shadows by (thing, shadow name), refreshed when the shadow service reports a change.

    ``read(thing, name)`` returns the shadow's current document (GetThingShadow's) or None when it
    does not exist; the index calls it only when a shadow changed, so queries never copy shadows.
    """

    def __init__(self, read: ShadowReader) -> None:
        self._read = read
        self._things: dict[str, dict[str | None, IndexedShadow]] = {}
        self._lock = threading.Lock()

    def of(self, thing: str) -> Mapping[str | None, IndexedShadow]:
        """The thing's indexed shadows by name (None: the classic shadow); do not modify."""
        return self._things.get(thing, _NO_SHADOWS)

    def get(self, thing: str, name: str | None = None) -> IndexedShadow | None:
        return self.of(thing).get(name)

    def refresh(self, thing: str, name: str | None = None) -> None:
        """Re-read one shadow from the store (after an update or a delete).

        A thing's mapping is replaced, never changed in place, so readers need no lock.
        """
        with self._lock:
            document = self._read(thing, name)
            shadows = dict(self._things.get(thing, _NO_SHADOWS))
            if document is None:
                shadows.pop(name, None)
            else:
                shadows[name] = IndexedShadow.from_document(document, name)
            if shadows:
                self._things[thing] = shadows
            else:
                self._things.pop(thing, None)

    def observe(self, topic: str, _payload: bytes) -> None:
        """A service publish: refresh the shadow an ``update/documents`` or ``delete/accepted`` names."""
        changed = changed_shadow(topic)
        if changed is not None:
            self.refresh(*changed)


def changed_shadow(topic: str) -> tuple[str, str | None] | None:
    """``(thing, shadow name)`` when ``topic`` announces a shadow update or delete, else None."""
    if not topic.startswith("$aws/things/"):
        return None
    parts = topic.split("/")
    if len(parts) == 6 and parts[3] == "shadow":
        thing, name, event = parts[2], None, parts[4:]
    elif len(parts) == 8 and parts[3] == "shadow" and parts[4] == "name":
        thing, name, event = parts[2], parts[5], parts[6:]
    else:
        return None
    return (thing, name) if event in (["update", "documents"], ["delete", "accepted"]) else None


class ConnectivityLog:
    """The last lifecycle event (connected / disconnected) of every client id."""

    PREFIX = "$aws/events/presence/"

    def __init__(self) -> None:
        self._status: dict[str, Connectivity] = {}

    def get(self, client_id: str) -> Connectivity | None:
        status = self._status.get(client_id)
        if status is None and NEVER_CONNECTED_HAS_CONNECTIVITY:
            return Connectivity(connected=False)
        return status

    def observe(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(self.PREFIX):
            return
        try:
            event = json.loads(payload)
        except ValueError:
            return
        kind, client_id = event.get("eventType"), event.get("clientId")
        if kind not in ("connected", "disconnected") or not client_id:
            return
        self._status[client_id] = Connectivity(
            connected=kind == "connected",
            timestamp=event.get("timestamp"),
            disconnect_reason=event.get("disconnectReason") if kind == "disconnected" else None,
            version=event.get("versionNumber"),
        )

    def export(self) -> dict[str, Connectivity]:
        return dict(self._status)

    def load(self, saved: dict[str, Connectivity], now_ms: int, reason: str) -> None:
        """Saved statuses back after the lab restarted: whoever was connected is disconnected now."""
        self._status = {
            client_id: status if not status.connected else Connectivity(
                connected=False, timestamp=now_ms, disconnect_reason=reason, version=status.version
            )
            for client_id, status in saved.items()
        }

    def seed(self, client_ids: Iterable[str]) -> None:
        """Clients connected before the log started listening: connected, time unknown."""
        for client_id in client_ids:
            self._status.setdefault(client_id, Connectivity(connected=True))


# -- aggregations ---------------------------------------------------------------------------------------
def typed_values(values: Iterable[Value], kind: str) -> list[Any]:
    """Values usable for an aggregation of a field of ``kind``; inconsistent values are skipped."""
    if kind == "Number":
        return [n for n in map(number, values) if n is not None]
    if kind == "Boolean":
        flags = (v if isinstance(v, bool) else {"true": True, "false": False}.get(str(v).lower()) for v in values)
        return [f for f in flags if f is not None]
    return [v for v in values if isinstance(v, str)]


def statistics(values: Sequence[Any], kind: str) -> dict[str, Any]:
    """GetStatistics: all statistics for numbers and booleans (true = 1), only count for strings."""
    if kind == "String" or not values:
        return {"count": len(values)}
    numbers = [float(v) for v in values]
    count, total = len(numbers), math.fsum(numbers)
    average = total / count
    squares = math.fsum(n * n for n in numbers)
    variance = max(squares / count - average * average, 0.0)
    return {
        "count": count, "average": average, "sum": total, "minimum": min(numbers), "maximum": max(numbers),
        "sumOfSquares": squares, "variance": variance, "stdDeviation": math.sqrt(variance),
    }


def percentiles(values: Sequence[float], percents: Sequence[float]) -> list[dict[str, float]]:
    """GetPercentiles by linear interpolation between the closest ranks (AWS estimates them)."""
    if len(percents) > MAX_PERCENTS:
        raise InvalidRequestException(f"At most {MAX_PERCENTS} percents can be requested.")
    if any(not 0 <= p <= 100 for p in percents):
        raise InvalidRequestException("Every percent must be between 0 and 100.")
    ordered = sorted(values)
    if not ordered:
        return []
    result = []
    for percent in percents:
        rank = percent / 100 * (len(ordered) - 1)
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
        result.append({"percent": float(percent), "value": value})
    return result


def cardinality(values: Iterable[Value]) -> int:
    """GetCardinality: the number of distinct values (exact; AWS's is approximate)."""
    return len({(type(v) is bool, v) for v in values})


def buckets(values_per_doc: Iterable[Sequence[Value]], max_buckets: int) -> list[dict[str, Any]]:
    """GetBucketsAggregation's terms buckets: documents per value, most frequent first."""
    counts: dict[str, int] = {}
    for values in values_per_doc:
        for key in {_bucket_key(v) for v in values}:
            counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_buckets]
    return [{"keyValue": key, "count": count} for key, count in ranked]


def _bucket_key(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
