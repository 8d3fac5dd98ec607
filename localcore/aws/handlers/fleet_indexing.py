"""Fleet indexing: the indexing configuration, DescribeIndex / ListIndices, SearchIndex and the
aggregations (GetStatistics, GetCardinality, GetPercentiles, GetBucketsAggregation).

moto stores an indexing configuration but accepts any mode, keeps fields a new configuration
leaves out, lists no managed fields, and its SearchIndex understands a few ``field:value`` forms
only; so every operation is answered here. The rules live in `localcore.iot.fleet_index` (the
documents, configuration and aggregations) and `localcore.iot.index_query` (the query language);
this module reads the registry, keeps the lab's fleet-indexing state and translates.

The lab indexes synchronously unless asked to lag: with the ``index_latency`` delay of
`localcore.realism` (``LOCALCORE_REALISM=aws``) searches and aggregations see the fleet as a look
that many seconds earlier saw it, and an index just switched on is ``BUILDING`` for as long, as
on AWS (reference 8.2: AWS takes seconds to minutes). Otherwise a query reads the live registry,
the shadows as last announced by the Device Shadow service, and the last lifecycle event of each
client id, so an index is ACTIVE as soon as it is enabled and never lags behind.
Shadows and connectivity are observed through `Lab.on_publish` from the first fleet-indexing call
on; shadows that existed before are read from the store whenever shadow indexing is switched on,
and clients connected before show ``connected`` without a timestamp.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from localcore import realism
from localcore.errors import InvalidRequestException, ResourceNotFoundException
from localcore.iot import fleet_index as fi
from localcore.iot.index_query import parse_query
from localcore.iot.shadow import ShadowError
from localcore.mqtt.shadow_service import shadow_store

from . import handles

STATE_KEY = "fleet_indexing"
MAX_RESULTS = 100  # SearchIndex pages hold at most 100 things (API reference, maxResults)
# [unconfirmed] SearchIndex's page size when maxResults is not given.
DEFAULT_MAX_RESULTS = 100


@dataclass
class FleetIndexing:
    """The lab's fleet indexing (``lab.services[STATE_KEY]``); its configuration and connectivity are durable."""

    config: fi.IndexingConfiguration
    shadows: fi.ShadowIndex
    connectivity: fi.ConnectivityLog
    # Registry entries of the last query by thing ARN: (moto thing, its version, its groups, entry).
    entries: dict[str, tuple[Any, int, tuple[str, ...], fi.ThingEntry]] = field(default_factory=dict)
    # The entries of every thing for one (lab.generation, moto's thing table, number of things).
    snapshot: tuple[tuple[int, int, int], list[fi.ThingEntry]] | None = None
    # What queries see of each index: the documents as they were ``index_latency`` seconds ago.
    seen: dict[str, realism.Lagging[list[Any]]] = field(default_factory=lambda: {
        index: realism.Lagging(lambda: realism.delay("index_latency")) for index in (fi.THINGS_INDEX, fi.GROUPS_INDEX)
    })
    # When each index was last switched on (epoch seconds; not kept across restarts).
    switched_on: dict[str, float] = field(default_factory=dict)


def fleet(lab: Any) -> FleetIndexing:
    """The lab's fleet-indexing state, created (and subscribed to the lab's publishes) on first use."""
    with lab.lock:
        state = lab.services.get(STATE_KEY)
        if state is None:
            store = shadow_store(lab)

            def read(thing: str, name: str | None) -> dict | None:
                try:
                    return store.get(thing, name, now=0)
                except ShadowError:
                    return None

            state = FleetIndexing(fi.IndexingConfiguration(), fi.ShadowIndex(read), fi.ConnectivityLog())
            state.connectivity.seed(lab.connected_clients())
            lab.on_publish(state.shadows.observe)
            lab.on_publish(state.connectivity.observe)
            lab.services[STATE_KEY] = state
            lab.durable(STATE_KEY, functools.partial(_dump, state), functools.partial(_load, state, store))
        return state


# [unconfirmed] The disconnectReason the index shows for clients that were connected when the lab
# stopped: AWS documents SERVER_INITIATED_DISCONNECT for disconnections the service initiates.
RESTART_DISCONNECT_REASON = "SERVER_INITIATED_DISCONNECT"


def _dump(state: FleetIndexing) -> dict[str, Any]:
    return {"config": state.config, "connectivity": state.connectivity.export()}


def _load(state: FleetIndexing, store: Any, saved: dict[str, Any]) -> None:
    state.config = saved["config"]
    state.connectivity.load(saved["connectivity"], int(time.time() * 1000), RESTART_DISCONNECT_REASON)
    for thing, name in store.live_keys():  # the shadow index is built from the (restored) shadows
        state.shadows.refresh(thing, name)


# -- configuration --------------------------------------------------------------------------------------
@handles("iot", "UpdateIndexingConfiguration")
def update_indexing_configuration(lab: Any, params: dict) -> dict:
    state = fleet(lab)
    with lab.lock:
        before = set(state.config.index_names())
        config = state.config.updated(params)
        state.config = config
        for index in set(config.index_names()) - before:
            state.switched_on[index] = time.time()
    if config.shadow_indexed:
        for thing in list(lab.iot.things.values()):
            for name in (None, *config.named_shadows):
                state.shadows.refresh(thing.thing_name, name)
    return {}


@handles("iot", "GetIndexingConfiguration")
def get_indexing_configuration(lab: Any, params: dict) -> dict:
    return fleet(lab).config.to_output()


@handles("iot", "DescribeIndex")
def describe_index(lab: Any, params: dict) -> dict:
    name = params["indexName"]
    config = _enabled_index(lab, name)
    schema = config.schema() if name == fi.THINGS_INDEX else fi.GROUPS_SCHEMA
    return {"indexName": name, "indexStatus": index_status(fleet(lab).switched_on.get(name), time.time()),
            "schema": schema}


def index_status(switched_on: float | None, now: float) -> str:
    """``BUILDING`` while an index switched on at ``switched_on`` is younger than ``index_latency``, else ACTIVE."""
    if switched_on is not None and realism.still_pending("index_latency", switched_on, now) > 0:
        return "BUILDING"
    return fi.INDEX_STATUS


@handles("iot", "ListIndices")
def list_indices(lab: Any, params: dict) -> dict:
    return {"indexNames": fleet(lab).config.index_names()}


def _enabled_index(lab: Any, name: str) -> fi.IndexingConfiguration:
    """The configuration, if index ``name`` exists and is enabled; else ResourceNotFoundException."""
    config = fleet(lab).config
    if name not in (fi.THINGS_INDEX, fi.GROUPS_INDEX) or name not in config.index_names():
        raise ResourceNotFoundException(fi.INDEX_MISSING.format(index=name))
    return config


# -- search -------------------------------------------------------------------------------------------
@handles("iot", "SearchIndex")
def search_index(lab: Any, params: dict) -> dict:
    index = params.get("indexName") or fi.THINGS_INDEX
    size = params.get("maxResults", DEFAULT_MAX_RESULTS)
    if not 1 <= size <= MAX_RESULTS:
        raise InvalidRequestException(f"maxResults must be between 1 and {MAX_RESULTS}.")
    after = _token_name(params.get("nextToken"))
    documents = _matching(lab, index, params["queryString"])
    if after is not None:
        documents = [d for d in documents if _name(d) > after]
    page = documents[:size]
    output: dict[str, Any] = {"things": [], "thingGroups": []}
    output["things" if index == fi.THINGS_INDEX else "thingGroups"] = [d.output() for d in page]
    if len(documents) > size:
        output["nextToken"] = _token(_name(page[-1]))
    return output


def _matching(lab: Any, index: str, query_string: str) -> list[Any]:
    """The documents of ``index`` that match the query, ordered by name."""
    config = _enabled_index(lab, index)
    query = parse_query(query_string)
    state = fleet(lab)

    def documents() -> Iterable[Any]:
        if index == fi.GROUPS_INDEX:
            return _groups(lab)
        return fi.thing_views(_things(lab), config, state.shadows, state.connectivity)

    candidates = state.seen[index].look(time.monotonic(), lambda: list(documents()))
    return sorted((d for d in candidates if query.matches(d)), key=_name)


def _things(lab: Any) -> list[fi.ThingEntry]:
    """Registry data of every thing, with the names of the groups it belongs to directly.

    The list is kept while ``lab.generation`` (bumped by every thing update or deletion and every
    group membership change), moto's thing table and the number of things stay the same; creating
    a thing changes the number. Otherwise the entries of unchanged things (same moto object,
    version and groups) are reused, so a query over thousands of things rebuilds only what changed.
    """
    iot, state = lab.iot, fleet(lab)
    key = (lab.generation, id(iot.things), len(iot.things))
    if state.snapshot is not None and state.snapshot[0] == key:
        return state.snapshot[1]
    groups: dict[str, list[str]] = {}
    for group in list(iot.thing_groups.values()):
        for arn in list(group.things):
            groups.setdefault(arn, []).append(group.thing_group_name)
    previous, current = state.entries, {}
    for thing in list(iot.things.values()):
        names = tuple(groups.get(thing.arn, ()))
        cached = previous.get(thing.arn)
        if cached is None or cached[0] is not thing or cached[1] != thing.version or cached[2] != names:
            entry = fi.ThingEntry(
                name=thing.thing_name,
                thing_id=thing.thing_id,
                type_name=thing.thing_type.thing_type_name if thing.thing_type is not None else None,
                attributes=dict(thing.attributes),
                group_names=names,
                version=thing.version,
            )
            cached = (thing, thing.version, names, entry)
        current[thing.arn] = cached
    entries = [cached[3] for cached in current.values()]
    state.entries, state.snapshot = current, (key, entries)
    return entries


def _groups(lab: Any) -> list[fi.GroupEntry]:
    entries = []
    for group in list(lab.iot.thing_groups.values()):
        properties = group.thing_group_properties or {}
        parents = group.metadata.get("rootToParentThingGroups") or []
        entries.append(fi.GroupEntry(
            name=group.thing_group_name,
            group_id=group.thing_group_id,
            description=properties.get("thingGroupDescription"),
            attributes=(properties.get("attributePayload") or {}).get("attributes") or {},
            parent_names=tuple(p["groupName"] for p in parents),
            version=group.version,
        ))
    return entries


def _name(document: Any) -> str:
    return document.entry.name if isinstance(document, fi.ThingView) else document.name


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _token_name(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        name = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequestException("The nextToken is not valid.") from None
    if not isinstance(name, str):
        raise InvalidRequestException("The nextToken is not valid.")
    return name


# -- aggregations -------------------------------------------------------------------------------------
def _aggregate(lab: Any, params: dict, need: Callable[[str], None] | None = None) -> tuple[list[Any], str, str]:
    """Matching documents, the aggregation field and its declared type."""
    index = params.get("indexName") or fi.THINGS_INDEX
    config = _enabled_index(lab, index)
    name = params.get("aggregationField") or fi.DEFAULT_AGGREGATION_FIELD
    kind = config.aggregation_type(index, name)
    if need is not None:
        need(kind)
    return _matching(lab, index, params["queryString"]), name, kind


def _values(documents: Iterable[Any], name: str) -> list[Any]:
    return [v for d in documents for v in d.aggregation_values(name)]


@handles("iot", "GetStatistics")
def get_statistics(lab: Any, params: dict) -> dict:
    documents, name, kind = _aggregate(lab, params)
    return {"statistics": fi.statistics(fi.typed_values(_values(documents, name), kind), kind)}


@handles("iot", "GetCardinality")
def get_cardinality(lab: Any, params: dict) -> dict:
    documents, name, kind = _aggregate(lab, params)
    return {"cardinality": fi.cardinality(fi.typed_values(_values(documents, name), kind))}


def _numeric(kind: str) -> None:
    if kind != "Number":
        raise fi.InvalidAggregationException("Percentiles need a field of type Number.")


@handles("iot", "GetPercentiles")
def get_percentiles(lab: Any, params: dict) -> dict:
    percents = params.get("percents")
    percents = fi.DEFAULT_PERCENTS if percents is None else percents
    documents, name, kind = _aggregate(lab, params, _numeric)
    values = fi.typed_values(_values(documents, name), kind)
    return {"percentiles": fi.percentiles(values, percents)}


@handles("iot", "GetBucketsAggregation")
def get_buckets_aggregation(lab: Any, params: dict) -> dict:
    terms = (params.get("bucketsAggregationType") or {}).get("termsAggregation") or {}
    documents, name, _kind = _aggregate(lab, params)
    per_document = [d.aggregation_values(name) for d in documents]
    return {
        "totalCount": len(documents),
        "buckets": fi.buckets(per_document, terms.get("maxBuckets", fi.DEFAULT_MAX_BUCKETS)),
    }
