"""Chapter 06: jobs, and an execution that failed with the device's reason."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def failed_job_problem(ws: Any, thing: str) -> str:
    """Chapter 06's exercise: a job execution on ``thing`` ended FAILED, with the device's reason in
    its statusDetails."""
    try:
        pages = ws.iot.get_paginator("list_job_executions_for_thing").paginate(thingName=thing, status="FAILED")
        failed = [e["jobId"] for page in pages for e in page.get("executionSummaries", [])]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return f"{thing} does not exist"
    if not failed:
        return f"no job execution on {thing} has FAILED yet"
    for job_id in failed:
        execution = ws.iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]
        if (execution.get("statusDetails") or {}).get("detailsMap", {}).get("reason"):
            return ""
    return f"the FAILED execution(s) on {thing} ({', '.join(failed)}) carry no reason in their statusDetails"
