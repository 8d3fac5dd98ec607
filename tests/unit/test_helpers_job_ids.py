"""new_job_id: ids that a cell run twice within a second, or two trainees, never share."""

from __future__ import annotations

import re
from datetime import datetime

from helpers.job_ids import MAX_LENGTH, new_job_id

JOB_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # the jobId pattern of the IoT API model
NOON = datetime(2026, 3, 12, 12, 0, 0)


def test_ids_made_in_the_same_second_differ():
    ids = {new_job_id("anna-uptime", now=NOON) for _ in range(1000)}
    assert len(ids) == 1000


def test_an_id_reads_as_its_parts_then_the_time():
    job_id = new_job_id("anna-uptime", "group", now=NOON)
    assert re.fullmatch(r"anna-uptime-group-20260312-120000-[0-9a-f]{6}", job_id), job_id


def test_long_parts_are_shortened_to_the_limit_and_the_time_stays():
    job_id = new_job_id("p" * 20 + "uptime" * 5, "disk-space-exercise", now=NOON)
    assert len(job_id) <= MAX_LENGTH and JOB_ID.fullmatch(job_id)
    assert re.search(r"-20260312-120000-[0-9a-f]{6}$", job_id) and job_id.startswith("p" * 20)


def test_characters_a_job_id_may_not_hold_become_dashes():
    job_id = new_job_id("my job/ä", "", "x", now=NOON)
    assert JOB_ID.fullmatch(job_id) and job_id.startswith("my-job-x-"), job_id
    assert JOB_ID.fullmatch(new_job_id(now=NOON)) and JOB_ID.fullmatch(new_job_id("///", now=NOON))
