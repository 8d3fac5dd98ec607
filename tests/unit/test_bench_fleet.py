"""The fleet bench's own arithmetic (bench/fleet.py): percentiles by nearest rank."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from fleet import percentile  # noqa: E402


@pytest.mark.parametrize("values, q, expected", [
    ([], 99, 0.0),
    ([5.0], 99, 5.0),
    (list(range(1, 101)), 50, 50),
    (list(range(1, 101)), 99, 99),
    (list(range(1, 101)), 100, 100),
    ([3, 1, 2], 50, 2),                       # order does not matter
    ([1.0] * 98 + [40.0, 900.0], 99, 40.0),   # one outlier in a hundred is above p99
])
def test_percentile(values, q, expected):
    assert percentile(values, q) == expected
