"""Chapter 03: a bulk registration task and its RESULTS and ERRORS reports."""

from __future__ import annotations

from typing import Any

from ..provisioning import fetch_report, report_links, result_rows


def registration_task_reports(ws: Any, task_id: str) -> tuple[list[dict], list[dict]]:
    """The RESULTS and ERRORS lines of a thing registration task, parsed (each from every report link)."""
    return ([line for url in report_links(ws, task_id, "RESULTS") for line in fetch_report(url)],
            [line for url in report_links(ws, task_id, "ERRORS") for line in fetch_report(url)])


def broken_line_task_problem(ws: Any, bucket: str, good_things: list[str]) -> str:
    """Chapter 03's exercise: a completed thing registration task, with its input file in ``bucket``,
    provisioned every thing of ``good_things`` and reported at least one line in its ERRORS report."""
    task_ids: list[str] = []
    token = None
    while True:
        page = ws.iot.list_thing_registration_tasks(status="Completed", **({"nextToken": token} if token else {}))
        task_ids += page.get("taskIds", [])
        token = page.get("nextToken")
        if not token:
            break
    without_errors = False
    for task_id in task_ids:
        task = ws.iot.describe_thing_registration_task(taskId=task_id)
        if task.get("inputFileBucket") != bucket or task.get("successCount", 0) < len(good_things):
            continue
        results, errors = registration_task_reports(ws, task_id)
        if not set(good_things) <= {row["thing_name"] for row in result_rows(results)}:
            continue
        if errors:
            return ""
        without_errors = True
    names = " and ".join(good_things)
    if without_errors:
        return f"a task provisioned {names}, but no line failed: add a broken line and run a task again"
    return f"no completed registration task with its input in s3://{bucket} has provisioned {names} yet"
