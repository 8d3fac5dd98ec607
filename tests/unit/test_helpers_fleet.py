"""helpers.fleet (sensor plan, search rows, bounded waits, chart, slider) and the pure parts of
chapter 07's catch-up step in helpers.catchup (which devices to provision, the bulk template)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from fakes import Clock
from helpers import catchup, fleet


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, "SearchIndex")


def document(name: str, room: str | None = None, temperature: float | None = None,
             connectivity: dict | None = None) -> dict:
    """A SearchIndex thing document as AWS returns it: the shadow is a JSON string."""
    thing: dict = {"thingName": name, "thingId": f"id-{name}"}
    if room is not None:
        thing["attributes"] = {"room_number": room, "serialNumber": "1"}
    if temperature is not None:
        thing["shadow"] = json.dumps({"reported": {"temperature": temperature}, "version": 1})
    if connectivity is not None:
        thing["connectivity"] = connectivity
    return thing


# -- the sensors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("device", "room"), [(1, "101"), (10, "110"), (11, "201"), (20, "210"), (95, "1005")],
                         ids=["first", "tenth", "second-floor", "twentieth", "tenth-floor"])
def test_room_numbers_put_ten_devices_on_a_floor(device, room):
    assert fleet.room_number(device) == room


def test_room_numbers_start_at_device_one():
    with pytest.raises(ValueError, match="counted from 1"):
        fleet.room_number(0)


def test_the_same_seed_gives_the_same_building_and_another_seed_another():
    names = [f"bulky{n}" for n in range(1, 21)]

    first, again, other = fleet.sensor_plan(names, 7), fleet.sensor_plan(names, 7), fleet.sensor_plan(names, 8)

    assert first == again and first != other
    assert [row["thing"] for row in first] == names and [row["room"] for row in first][:2] == ["101", "102"]
    assert all(16.0 <= row["temperature"] <= 26.0 and round(row["temperature"], 1) == row["temperature"]
               for row in first)


def test_a_sensor_plan_needs_a_range():
    with pytest.raises(ValueError, match="low < high"):
        fleet.sensor_plan(["a"], 1, low=20, high=20)


# -- search results ------------------------------------------------------------------------------


@pytest.mark.parametrize(("thing", "expected"), [
    (document("a", temperature=21.5), {"reported": {"temperature": 21.5}, "version": 1}),
    ({"thingName": "a", "shadow": {"reported": {"x": 1}}}, {"reported": {"x": 1}}),
    (document("a"), {}),
], ids=["json-string", "already-parsed", "no-shadow"])
def test_shadow_document_parses_the_json_string(thing, expected):
    assert fleet.shadow_document(thing) == expected


def test_thing_rows_order_by_room_and_add_connectivity_only_where_indexed():
    things = [document("bulky11", "201", 18.0), document("bulky2", "102", 22.5, {"connected": True}),
              document("other"), document("bulky1", "101", 19.0, {"connected": False, "timestamp": 1})]

    rows = fleet.thing_rows(things)

    assert rows == [
        {"thing": "bulky1", "room": "101", "temperature": 19.0, "connected": False},
        {"thing": "bulky2", "room": "102", "temperature": 22.5, "connected": True},
        {"thing": "bulky11", "room": "201", "temperature": 18.0},
        {"thing": "other", "room": None, "temperature": None},
    ]


@pytest.mark.parametrize(("things", "late"), [
    ([document("a", "101", 20.5), document("b", "102", 17.0)], []),
    ([document("a", "101", 20.5)], ["b"]),
    ([document("a", "101", 19.0), document("b", "102", 17.0)], ["a"]),
    ([document("a"), document("b", "102", 17.0)], ["a"]),
], ids=["all-indexed", "one-missing", "old-temperature", "no-room-yet"])
def test_not_as_planned_names_the_things_the_index_does_not_show_yet(things, late):
    plan = [{"thing": "a", "room": "101", "temperature": 20.5}, {"thing": "b", "room": "102", "temperature": 17.0}]

    assert fleet.not_as_planned(things, plan) == late


# -- bounded waits -------------------------------------------------------------------------------


def answers(*results):
    """A probe that returns (or raises) the given results in turn."""
    queue = list(results)

    def probe():
        result = queue.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    return probe


def test_a_ready_answer_returns_at_once_without_sleeping():
    clock = Clock()

    result = fleet.wait_until(answers({"indexStatus": "ACTIVE"}), lambda d: d["indexStatus"] == "ACTIVE",
                              timeout=60, interval=5, sleep=clock.sleep, clock=clock)

    assert result == {"indexStatus": "ACTIVE"} and clock.sleeps == []


def test_building_index_and_not_ready_errors_are_waited_out():
    clock = Clock()
    probe = answers(client_error("IndexNotReadyException"), {"indexStatus": "BUILDING"}, {"indexStatus": "ACTIVE"})

    result = fleet.wait_until(probe, lambda d: d["indexStatus"] == "ACTIVE", timeout=60, interval=5,
                              sleep=clock.sleep, clock=clock)

    assert result["indexStatus"] == "ACTIVE" and clock.sleeps == [5, 5]


def test_other_errors_are_raised_at_once():
    clock = Clock()

    with pytest.raises(ClientError, match="InvalidQueryException"):
        fleet.wait_until(answers(client_error("InvalidQueryException")), timeout=60, interval=5,
                         sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_a_wait_that_never_ends_times_out_saying_what_it_saw_last():
    clock = Clock()
    probe = answers(*[client_error("IndexNotReadyException")] * 10)

    with pytest.raises(TimeoutError, match=r"Waited 10 s for the index AWS_Things.*IndexNotReadyException"):
        fleet.wait_until(probe, timeout=10, interval=4, what="the index AWS_Things", sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [4, 4, 2]  # the last pause ends at the deadline, where the last look is made


@pytest.mark.parametrize(("backend", "interval"), [("local", 0.2), ("aws", 5.0)], ids=["local", "aws"])
def test_the_lab_is_polled_fast_and_aws_gently(backend, interval):
    assert fleet.poll_interval(SimpleNamespace(backend=backend)) == interval


def test_wait_for_index_asks_describe_index_until_active():
    statuses = iter(["ACTIVE"])
    iot = SimpleNamespace(describe_index=lambda indexName: {"indexName": indexName, "indexStatus": next(statuses)})

    assert fleet.wait_for_index(SimpleNamespace(backend="local", iot=iot))["indexName"] == "AWS_Things"


# -- chart and slider ----------------------------------------------------------------------------


def test_the_chart_draws_rooms_in_order_red_for_the_answer_and_the_threshold_line():
    rows = [{"thing": "b", "room": "102", "temperature": 22.0}, {"thing": "a", "room": "101", "temperature": 19.0},
            {"thing": "c", "room": "103", "temperature": 25.0}, {"thing": "x", "room": None, "temperature": None}]

    figure = fleet.temperature_chart(rows, 20, matching=["b"])
    axes = figure.axes[0]

    assert [b.get_height() for b in axes.patches] == [19.0, 22.0, 25.0]
    assert [b.get_facecolor()[:3] for b in axes.patches] == [
        pytest.approx((0x15 / 255, 0x65 / 255, 0xc0 / 255)), pytest.approx((0xc6 / 255, 0x28 / 255, 0x28 / 255)),
        pytest.approx((0x15 / 255, 0x65 / 255, 0xc0 / 255))]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["101", "102", "103"]
    assert [tuple(line.get_ydata()) for line in axes.lines] == [(20, 20)]
    assert "1 of 3 above 20 °C" in axes.get_title()
    assert figure._repr_png_().startswith(b"\x89PNG")


def test_without_an_answer_the_chart_marks_what_is_above_the_threshold():
    rows = [{"thing": "a", "room": "101", "temperature": 19.0}, {"thing": "b", "room": "102", "temperature": 22.0}]

    assert "1 of 2 above 21 °C" in fleet.temperature_chart(rows, 21).axes[0].get_title()


def test_outside_a_kernel_the_slider_shows_the_default_once():
    shown = []

    assert fleet.threshold_slider(shown.append, 20, 15, 27, widget=False) is None
    assert shown == [20]


def test_the_slider_shows_the_default_and_again_on_every_move():
    shown = []

    box = fleet.threshold_slider(shown.append, 20, 15, 27, step=0.5, widget=True)
    slider = box.children[0]
    slider.value = 22.5

    assert shown == [20, 22.5] and (slider.min, slider.max, slider.step) == (15, 27, 0.5)


# -- catch-up: chapter 03's devices --------------------------------------------------------------


@pytest.mark.parametrize(("existing", "with_files", "provision", "remove"), [
    ({"b1", "b2", "b3"}, {"b1", "b2", "b3"}, [], []),
    (set(), set(), ["b1", "b2", "b3"], []),
    ({"b1", "b3"}, {"b1", "b3"}, ["b2"], []),
    ({"b1", "b2", "b3"}, {"b1", "b3"}, ["b2"], ["b2"]),
    ({"b1"}, {"b1", "b2"}, ["b2", "b3"], []),
], ids=["all-there", "none-there", "one-missing", "thing-without-keys", "keys-without-thing"])
def test_devices_to_provision_are_the_missing_ones_and_those_without_keys(existing, with_files, provision, remove):
    assert catchup.devices_to_provision(["b1", "b2", "b3"], existing, with_files) == (provision, remove)


def test_the_bulk_template_gets_group_type_and_policy_as_defaults():
    template = json.loads(catchup.bulk_template("anna-bulk-group", "anna-bulk-type", "anna-policy"))

    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    assert (defaults["ThingGroupName"], defaults["ThingTypeName"], defaults["PolicyName"]) == (
        "anna-bulk-group", "anna-bulk-type", "anna-policy")
    assert "ThingName" in template["Parameters"] and "Default" not in template["Parameters"]["ThingName"]
