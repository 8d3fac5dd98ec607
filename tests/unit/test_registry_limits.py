"""AWS IoT's attribute counts (3 without a thing type, 50 with one, 50 per group) and how an
update changes a thing's attributes."""

from __future__ import annotations

import pytest

from localcore.iot import registry_limits as limits

UPDATES = [
    # stored, sent, merge, result
    ({"a": "1"}, {"b": "2"}, True, {"a": "1", "b": "2"}),
    ({"a": "1"}, {"b": "2"}, False, {"b": "2"}),
    ({"a": "1", "b": "2"}, {"a": ""}, True, {"b": "2"}),
    ({"a": "1"}, {"a": "", "c": "3"}, False, {"c": "3"}),
    ({}, {}, False, {}),
]


@pytest.mark.parametrize(("stored", "sent", "merge", "result"), UPDATES)
def test_updated_attributes(stored, sent, merge, result):
    assert limits.updated_attributes(stored, sent, merge) == result


def attributes(count: int) -> dict[str, str]:
    return {f"a{i}": "v" for i in range(count)}


@pytest.mark.parametrize(("count", "thing_type", "refused"), [
    (0, None, False), (3, None, False), (4, None, True), (4, "sensor", False), (50, "sensor", False),
    (51, "sensor", True), (60, None, True),
])
def test_thing_attribute_counts(count, thing_type, refused):
    problem = limits.thing_attribute_limit_error("t1", attributes(count), thing_type)

    assert (problem is not None) is refused
    if refused:
        assert f"t1 would have {count} attributes" in problem


@pytest.mark.parametrize(("count", "refused"), [(50, False), (51, True)])
def test_thing_group_attribute_count(count, refused):
    assert (limits.thing_group_attribute_limit_error("g", attributes(count)) is not None) is refused
