"""Fleet indexing plumbing for chapter 07: simulated sensor readings, search results as rows,
bounded waits for the index, the temperature chart and the threshold slider.

The lesson's own calls (``iot.update_indexing_configuration``, ``iot.search_index``,
``iot.get_statistics``, ``iot_data.update_thing_shadow``) stay in the notebook. On AWS an index
needs time: the first enable builds it (``BUILDING``, queries refused with
``IndexNotReadyException``), a configuration change rebuilds it, and every update reaches it a
moment later. `wait_for_index` and `wait_for_results` poll for that (`helpers.waits`), with AWS's
delays and a countdown on aws; against the local lab, which indexes synchronously, their first look
succeeds and they never sleep, and a wait for what never comes gives up within seconds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from . import waits
from .provisioning import _png_figure_class
from .ui import widgets_available

T = TypeVar("T")

THINGS_INDEX = "AWS_Things"
ROOMS_PER_FLOOR = 10  # device 1 → room 101, device 10 → 110, device 11 → 201, ...
TEMPERATURE_RANGE = (16.0, 26.0)  # °C of the simulated sensors: some rooms above 20, some below
# Error codes that mean "the index is not there yet, ask again": the first build on AWS, and throttling.
NOT_READY_CODES = ("IndexNotReadyException", "ThrottlingException")
POLL_S = {"local": 0.2, "aws": 5.0}
WARM, COOL, LINE = "#c62828", "#1565c0", "#424242"
MAX_LABELS = 60  # more rooms than this get no tick labels


# ----------------------------------------------------------------------------- the sensors


def room_number(device_number: int, rooms_per_floor: int = ROOMS_PER_FLOOR) -> str:
    """The room of device ``n`` (counted from 1): ten rooms per floor, ``101`` … ``110``, ``201`` …"""
    if device_number < 1:
        raise ValueError(f"Devices are counted from 1, not {device_number}.")
    floor, room = divmod(device_number - 1, rooms_per_floor)
    return f"{floor + 1}{room + 1:02d}"


def sensor_plan(names: Sequence[str], seed: int, low: float = TEMPERATURE_RANGE[0],
                high: float = TEMPERATURE_RANGE[1]) -> list[dict[str, Any]]:
    """One row per device: ``thing``, ``room`` (a string, as registry attributes are) and a
    ``temperature`` drawn from ``low``…``high`` (one decimal); the same seed gives the same rows."""
    if low >= high:
        raise ValueError(f"The temperature range needs low < high, not {low} … {high}.")
    rng = random.Random(seed)
    return [{"thing": name, "room": room_number(n), "temperature": round(rng.uniform(low, high), 1)}
            for n, name in enumerate(names, start=1)]


# ----------------------------------------------------------------------- search results


def shadow_document(thing: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed shadow of a SearchIndex result: a JSON *string* in the API, parsed ({} if none)."""
    shadow = thing.get("shadow")
    if not shadow:
        return {}
    return json.loads(shadow) if isinstance(shadow, str) else dict(shadow)


def thing_rows(things: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """SearchIndex results → rows of thing, room, temperature (None where missing), ordered by room,
    plus ``connected`` for the things whose connectivity is indexed."""
    rows = []
    for thing in things:
        row = {
            "thing": thing["thingName"],
            "room": (thing.get("attributes") or {}).get("room_number"),
            "temperature": (shadow_document(thing).get("reported") or {}).get("temperature"),
        }
        if thing.get("connectivity"):
            row["connected"] = thing["connectivity"].get("connected")
        rows.append(row)
    return sorted(rows, key=_by_room)


def _by_room(row: Mapping[str, Any]) -> tuple:
    """Rooms in numeric order ("99" < "101" < "1001"), things without a room last, then by name."""
    room = str(row.get("room") or "")
    name = str(row.get("thing") or "")
    return (not room, len(room), room, len(name), name)


def not_as_planned(things: Iterable[Mapping[str, Any]], plan: Iterable[Mapping[str, Any]]) -> list[str]:
    """The planned things whose indexed room or temperature differs from the plan (or that are missing)."""
    indexed = {row["thing"]: row for row in thing_rows(things)}
    return [row["thing"] for row in plan
            if (found := indexed.get(row["thing"])) is None
            or found["room"] != row["room"] or found["temperature"] != row["temperature"]]


# -------------------------------------------------------------------------- bounded waits


def wait_until(
    probe: Callable[[], T], done: Callable[[T], Any] = bool, *, timeout: float, interval: float,
    what: str = "the index", retry_codes: Sequence[str] = NOT_READY_CODES,
    sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
    hint: str = "",
) -> T:
    """Call ``probe`` until ``done(result)`` holds, and return that result (`helpers.waits.wait_until`).

    An error whose AWS code is in ``retry_codes`` counts as "not yet"; any other error is raised.
    After ``timeout`` seconds, `TimeoutError` says what was awaited and what was seen last.
    """
    return waits.wait_until(probe, done, what=what, timeout=timeout, interval=interval, retry_codes=retry_codes,
                            hint=hint, sleep=sleep, clock=clock)


def poll_interval(ws: Any) -> float:
    """How often to ask: five times a second in the lab, every five seconds against AWS."""
    return POLL_S.get(getattr(ws, "backend", "aws"), POLL_S["aws"])


def wait_for_index(ws: Any, index: str = THINGS_INDEX, timeout: float | None = None) -> dict:
    """DescribeIndex once the index is ``ACTIVE`` (AWS: BUILDING or REBUILDING for a while first).

    The wait is sized to the backend (`helpers.waits.INDEX_BUILD`) unless ``timeout`` is given.
    """
    return waits.wait_until(
        lambda: ws.iot.describe_index(indexName=index), lambda d: d.get("indexStatus") == "ACTIVE",
        what=f"the index {index} to be ACTIVE", timeout=timeout, budget=waits.INDEX_BUILD, backend=waits.backend_of(ws),
        interval=poll_interval(ws), retry_codes=NOT_READY_CODES,
        describe=lambda d: str(d.get("indexStatus")),
        hint="Is fleet indexing switched on (iot.update_indexing_configuration, the cell above)?",
    )


def wait_for_results(ws: Any, probe: Callable[[], T], done: Callable[[T], Any], what: str,
                     timeout: float | None = None, hint: str = "") -> T:
    """`wait_until` with the backend's poll interval and deadline (`helpers.waits.INDEX_UPDATE`):
    for updates to reach the index."""
    return waits.wait_until(
        probe, done, what=what, timeout=timeout, budget=waits.INDEX_UPDATE, backend=waits.backend_of(ws),
        interval=poll_interval(ws), retry_codes=NOT_READY_CODES,
        hint=hint or "Did the updates the query needs happen (the cells above)? Re-run them, then this cell.",
    )


# ------------------------------------------------------------------------------- pictures


def temperature_chart(rows: Iterable[Mapping[str, Any]], threshold: float, matching: Iterable[str] | None = None,
                      title: str = "Temperature by room") -> Any:
    """Bars of temperature per room with the threshold as a dashed line.

    Red bars are the things in ``matching`` (the query's answer), blue the others; without
    ``matching``, red means above the threshold. Rows without a temperature are left out.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shown = sorted((r for r in rows if r.get("temperature") is not None), key=_by_room)
    warm = set(matching) if matching is not None else {r["thing"] for r in shown if r["temperature"] > threshold}
    figure = _png_figure_class()(figsize=(10, 3.8))
    axes = figure.subplots()
    positions = list(range(len(shown)))
    axes.bar(positions, [r["temperature"] for r in shown],
             color=[WARM if r["thing"] in warm else COOL for r in shown])
    axes.axhline(threshold, color=LINE, linestyle="--", linewidth=1.2)
    if len(shown) <= MAX_LABELS:
        axes.set_xticks(positions, [str(r.get("room") or r["thing"]) for r in shown],
                        rotation=0 if len(shown) <= 30 else 90, fontsize=8)
    axes.set_xlabel("room" if len(shown) <= MAX_LABELS else f"{len(shown)} rooms")
    axes.set_ylabel("temperature (°C)")
    above = len(warm & {r["thing"] for r in shown})
    axes.set_title(f"{title}: {above} of {len(shown)} above {threshold:g} °C")
    axes.legend(handles=[Patch(color=WARM, label="in the answer" if matching is not None else "above"),
                         Patch(color=COOL, label="not in the answer" if matching is not None else "not above"),
                         Line2D([], [], color=LINE, linestyle="--", label=f"threshold {threshold:g} °C")],
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    return figure


def threshold_slider(show: Callable[[float], Any], value: float, minimum: float, maximum: float,
                     step: float = 0.5, label: str = "threshold (°C)", *, widget: bool | None = None) -> Any:
    """A slider that calls ``show(threshold)`` whenever it moves, showing what it displays below.

    Outside a kernel (or with ``widget=False``) ``show(value)`` runs once and None is returned, so
    a notebook run unattended still shows the result for the default.
    """
    if not (widget if widget is not None else widgets_available()):
        show(value)
        return None
    import ipywidgets as w

    slider = w.FloatSlider(value=value, min=minimum, max=maximum, step=step, description=label,
                           continuous_update=False, style={"description_width": "initial"},
                           layout=w.Layout(width="480px"))
    output = w.Output()

    def redraw(threshold: float) -> None:
        with output:
            output.clear_output(wait=True)
            show(threshold)

    slider.observe(lambda change: redraw(change["new"]), names="value")
    redraw(value)
    return w.VBox([slider, output])


__all__ = [
    "THINGS_INDEX",
    "not_as_planned",
    "poll_interval",
    "room_number",
    "sensor_plan",
    "shadow_document",
    "temperature_chart",
    "thing_rows",
    "threshold_slider",
    "wait_for_index",
    "wait_for_results",
    "wait_until",
]
