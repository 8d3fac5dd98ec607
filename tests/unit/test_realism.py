"""LOCALCORE_REALISM and LOCALCORE_DELAY_<NAME>: which delay the lab adds, and refusals of bad settings."""

import pytest

from localcore import realism


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 0.0),
        ({"LOCALCORE_REALISM": "off"}, 0.0),
        ({"LOCALCORE_REALISM": "aws"}, realism.AWS_DELAYS["bulk_line"]),
        ({"LOCALCORE_REALISM": " AWS "}, realism.AWS_DELAYS["bulk_line"]),
        ({"LOCALCORE_DELAY_BULK_LINE": "0.25"}, 0.25),
        ({"LOCALCORE_REALISM": "aws", "LOCALCORE_DELAY_BULK_LINE": "0"}, 0.0),
    ],
)
def test_the_delay_follows_the_profile_and_its_own_override(monkeypatch, env, expected):
    monkeypatch.delenv("LOCALCORE_REALISM", raising=False)
    monkeypatch.delenv("LOCALCORE_DELAY_BULK_LINE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert realism.delay("bulk_line") == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOCALCORE_REALISM", "slow", "use one of off, aws"),
        ("LOCALCORE_DELAY_BULK_LINE", "soon", "is not a number of seconds"),
        ("LOCALCORE_DELAY_BULK_LINE", "-1", "is negative"),
    ],
)
def test_a_bad_setting_stops_the_start_with_what_to_write(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=message):
        realism.check()


def test_an_unknown_delay_is_a_programming_error():
    with pytest.raises(KeyError, match="no such delay"):
        realism.delay("teleport")


@pytest.mark.parametrize(
    ("since", "now", "left"),
    [
        (100.0, 100.0, 8.0),  # just happened: the whole delay is left
        (100.0, 105.0, 3.0),
        (100.0, 108.0, 0.0),  # exactly the delay later: in effect
        (100.0, 500.0, 0.0),
    ],
)
def test_still_pending_counts_down_the_delay_from_when_it_happened(monkeypatch, since, now, left):
    monkeypatch.setenv("LOCALCORE_DELAY_ROLE_PROPAGATION", "8")
    assert realism.still_pending("role_propagation", since, now) == pytest.approx(left)


def test_still_pending_is_nothing_without_the_delay(monkeypatch):
    monkeypatch.delenv("LOCALCORE_REALISM", raising=False)
    monkeypatch.delenv("LOCALCORE_DELAY_ROLE_PROPAGATION", raising=False)
    assert realism.still_pending("role_propagation", 100.0, 100.0) == 0.0


@pytest.mark.parametrize(
    ("looks", "expected"),
    [
        # (time of the look, the value current then) ... -> what each look answers, with a lag of 2 s
        ([(0, "a")], ["a"]),
        ([(0, "a"), (1, "b")], ["a", "a"]),  # b is 1 s old: not shown yet
        ([(0, "a"), (1, "b"), (2, "c")], ["a", "a", "a"]),  # a was seen 2 s ago: still the newest old enough
        ([(0, "a"), (1, "b"), (3, "c")], ["a", "a", "b"]),  # b was seen 2 s before the third look
        ([(0, "a"), (5, "b"), (6, "c"), (7, "d")], ["a", "a", "a", "b"]),
    ],
)
def test_lagging_shows_what_a_look_lag_seconds_earlier_saw(looks, expected):
    lagging = realism.Lagging(lambda: 2.0)
    assert [lagging.look(now, lambda value=value: value) for now, value in looks] == expected


def test_lagging_without_lag_shows_the_current_value_and_keeps_nothing():
    lag = [2.0]
    lagging = realism.Lagging(lambda: lag[0])
    lagging.look(0, lambda: "old")
    lag[0] = 0.0
    assert lagging.look(0.5, lambda: "new") == "new"
    assert lagging._records == []


def test_lagging_forgets_what_no_reader_can_need():
    lagging = realism.Lagging(lambda: 1.0)
    for now in range(100):
        lagging.look(float(now), lambda now=now: now)
    assert len(lagging._records) <= 2


@pytest.mark.parametrize("name", sorted(realism.AWS_DELAYS))
def test_every_delay_is_off_by_default_on_under_aws_and_settable_alone(monkeypatch, name):
    variable = f"LOCALCORE_DELAY_{name.upper()}"
    monkeypatch.delenv("LOCALCORE_REALISM", raising=False)
    monkeypatch.delenv(variable, raising=False)
    assert realism.delay(name) == 0.0
    monkeypatch.setenv("LOCALCORE_REALISM", "aws")
    assert realism.delay(name) == realism.AWS_DELAYS[name] > 0
    monkeypatch.setenv(variable, "0.5")
    assert realism.delay(name) == 0.5


@pytest.mark.parametrize(
    ("switched_on", "now", "status"),
    [(None, 100.0, "ACTIVE"), (100.0, 100.0, "BUILDING"), (100.0, 101.9, "BUILDING"), (100.0, 102.0, "ACTIVE")],
)
def test_an_index_switched_on_is_building_for_the_index_latency(monkeypatch, switched_on, now, status):
    from localcore.aws.handlers.fleet_indexing import index_status

    monkeypatch.setenv("LOCALCORE_DELAY_INDEX_LATENCY", "2")
    assert index_status(switched_on, now) == status
