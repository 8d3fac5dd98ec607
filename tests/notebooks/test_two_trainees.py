"""Two trainees, ``anna-`` and ``ben-``, each with a work folder of their own, run chapters 00→05
on one lab at the same time, as a class does, with the exercises solved: both pass every self-check.

The measured failure this guards against: with JITR rules listening to every CA, ben's function
provisioned anna's third device while anna's permission was away, and anna's 05 self-check failed.

Chapter 00 runs for one trainee after the other, then 01→05 run concurrently. In solo mode (the
only mode until ``WORKSHOP_MODE=class`` exists) each trainee's 00 sets the account-wide v2 logging
options to their own stack's logging role and checks that it did: two 00s at the same time race for
that one setting. In class mode the instructor owns it and 00 runs concurrently too.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from nbrun import NOTEBOOKS, check, localcore, notebook_env, prepared, run_nbval, trainee_env

TRAINEES = ("anna-", "ben-")
CHAPTERS = [p for p in NOTEBOOKS if p.name[:2] in {f"{n:02d}" for n in range(0, 6)}]
SETUP, CONCURRENT = CHAPTERS[:1], CHAPTERS[1:]
TIMEOUT_S = 1500  # two kernels sharing two cores take longer than one


@pytest.mark.skipif(len(CHAPTERS) < 6, reason="chapters 00-05 are not all there")
def test_two_trainees_run_chapters_00_to_05_on_one_lab(tmp_path):
    lab_env = notebook_env(tmp_path / "lab", tmp_path / "unused")
    envs, setups, runs = {}, {}, {}
    for prefix in TRAINEES:
        envs[prefix] = trainee_env(lab_env, tmp_path / prefix / "work", prefix)
        setups[prefix] = prepared(SETUP, "solved", tmp_path / prefix, envs[prefix])
        runs[prefix] = prepared(CONCURRENT, "solved", tmp_path / prefix, envs[prefix])
    started = localcore(lab_env, "start")  # once, before the kernels: they reuse it
    assert started.returncode == 0, started.stderr
    try:
        for prefix in TRAINEES:
            check(run_nbval(setups[prefix], envs[prefix]))
        with ThreadPoolExecutor(max_workers=len(TRAINEES)) as pool:
            results = {p: pool.submit(run_nbval, runs[p], envs[p], TIMEOUT_S) for p in TRAINEES}
            outcomes = {p: future.result() for p, future in results.items()}
        failed = {p: r for p, r in outcomes.items() if r.returncode != 0}
        for prefix, result in failed.items():
            print(f"--- {prefix}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
        assert not failed, f"chapters 01-05 failed for {', '.join(failed)} (their nbval output is printed above)"
    finally:
        localcore(lab_env, "stop")
