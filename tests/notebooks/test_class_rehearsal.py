"""The class rehearsal (`make class`) as part of `make test`: three trainees, one lab, class mode."""

from __future__ import annotations

import pytest

from class_rehearsal import TARGET_S, rehearse


@pytest.mark.slow
def test_a_class_of_three_in_one_account(tmp_path):
    seconds = rehearse(tmp_path)
    print(f"class rehearsal wall time {seconds:.0f} s (target ≤ {TARGET_S} s on 2 cores)")
