"""helpers.checks.own_things: a check counts the trainee's own things only (names with their prefix)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from helpers.checks import own_things

DOCUMENTS = [{"thingName": n} for n in ("anna-bulky1", "anna-bulky2", "ben-bulky1", "bulky1", "annabel-bulky1")]


@pytest.mark.parametrize(("prefix", "expected"), [
    ("anna-", ["anna-bulky1", "anna-bulky2"]),
    ("ben-", ["ben-bulky1"]),
    ("carla-", []),
    ("", ["anna-bulky1", "anna-bulky2", "ben-bulky1", "bulky1", "annabel-bulky1"]),  # no prefix: a trainee alone
])
def test_own_things_keeps_the_names_with_the_trainees_prefix(prefix, expected):
    assert [d["thingName"] for d in own_things(SimpleNamespace(prefix=prefix), DOCUMENTS)] == expected
