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
