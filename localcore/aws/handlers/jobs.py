"""AWS IoT Jobs over HTTP: the iot control-plane job operations and the iot-jobs-data device API.

Every job operation is answered here from the lab's jobs store (`localcore.aws.jobs_service`, which
says why moto's jobs are not used), so the control plane always shows what devices did. These
handlers only translate botocore's parameters to the service and its records to botocore's output
shapes. Over iot-jobs-data the job document is a string and ``statusDetails`` a flat map; over iot
``statusDetails`` is wrapped as ``{"detailsMap": ...}``.
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequestException
from ...iot import jobs as core
from ...iot.jobs import Execution
from . import handles

LIST_MAX_RESULTS = (1, 250)  # ListJobs, ListJobExecutionsFor*: maxResults 1-250 (API model)
LIST_DEFAULT_RESULTS = 250  # [unconfirmed] AWS's default page size


def _service(lab: Any) -> Any:
    service = getattr(lab, "jobs", None)
    if service is None:  # pragma: no cover - build_lab always installs it
        raise RuntimeError("the lab has no jobs service: call localcore.aws.jobs_service.install(lab)")
    return service


def paginate(items: list[Any], params: dict) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next (the offset, as text)."""
    size = params.get("maxResults", LIST_DEFAULT_RESULTS)
    if not LIST_MAX_RESULTS[0] <= size <= LIST_MAX_RESULTS[1]:
        raise InvalidRequestException(f"maxResults must be between {LIST_MAX_RESULTS[0]} and {LIST_MAX_RESULTS[1]}")
    token = params.get("nextToken")
    if token is not None and not token.isdigit():
        raise InvalidRequestException(f"nextToken {token!r} is not valid")
    start = int(token or 0)
    end = start + size
    return items[start:end], str(end) if end < len(items) else None


def _summary(execution: Execution) -> dict[str, Any]:
    """The control plane's JobExecutionSummary."""
    return {
        "status": execution.status,
        "queuedAt": execution.queued_at,
        "startedAt": execution.started_at,
        "lastUpdatedAt": execution.updated_at,
        "executionNumber": execution.execution_number,
        "retryAttempt": execution.retry_attempt,
    }


# -- iot: jobs ------------------------------------------------------------------------------------
@handles("iot", "CreateJob")
def create_job(lab: Any, params: dict) -> dict:
    job = _service(lab).create_job(params)
    return {"jobArn": job.arn, "jobId": job.job_id, "description": job.description}


@handles("iot", "DescribeJob")
def describe_job(lab: Any, params: dict) -> dict:
    return _service(lab).describe_job(params["jobId"])


@handles("iot", "ListJobs")
def list_jobs(lab: Any, params: dict) -> dict:
    summaries = _service(lab).list_jobs(
        status=params.get("status"), target_selection=params.get("targetSelection"),
        thing_group=params.get("thingGroupName"), thing_group_id=params.get("thingGroupId"),
    )
    page, token = paginate(summaries, params)
    return {"jobs": page, "nextToken": token}


@handles("iot", "GetJobDocument")
def get_job_document(lab: Any, params: dict) -> dict:
    return {"document": _service(lab).job_document(params["jobId"], bool(params.get("beforeSubstitution")))}


@handles("iot", "UpdateJob")
def update_job(lab: Any, params: dict) -> dict:
    _service(lab).update_job(params)
    return {}


@handles("iot", "AssociateTargetsWithJob")
def associate_targets_with_job(lab: Any, params: dict) -> dict:
    job = _service(lab).associate_targets(params["jobId"], params["targets"], params.get("comment"))
    return {"jobArn": job.arn, "jobId": job.job_id, "description": job.description}


@handles("iot", "CancelJob")
def cancel_job(lab: Any, params: dict) -> dict:
    job = _service(lab).cancel_job(
        params["jobId"], reason_code=params.get("reasonCode"), comment=params.get("comment"),
        force=bool(params.get("force")),
    )
    return {"jobArn": job.arn, "jobId": job.job_id, "description": job.description}


@handles("iot", "DeleteJob")
def delete_job(lab: Any, params: dict) -> dict:
    _service(lab).delete_job(params["jobId"], force=bool(params.get("force")))
    return {}


# -- iot: job executions --------------------------------------------------------------------------
@handles("iot", "ListJobExecutionsForJob")
def list_job_executions_for_job(lab: Any, params: dict) -> dict:
    service = _service(lab)
    executions = service.executions_for_job(params["jobId"], params.get("status"))
    page, token = paginate(executions, params)
    return {
        "executionSummaries": [
            {"thingArn": service.thing_arn(e.thing_name), "jobExecutionSummary": _summary(e)} for e in page
        ],
        "nextToken": token,
    }


@handles("iot", "ListJobExecutionsForThing")
def list_job_executions_for_thing(lab: Any, params: dict) -> dict:
    executions = _service(lab).executions_for_thing(params["thingName"], params.get("status"), params.get("jobId"))
    page, token = paginate(executions, params)
    return {
        "executionSummaries": [{"jobId": e.job_id, "jobExecutionSummary": _summary(e)} for e in page],
        "nextToken": token,
    }


@handles("iot", "DescribeJobExecution")
def describe_job_execution(lab: Any, params: dict) -> dict:
    service = _service(lab)
    execution = service.describe_execution(params["jobId"], params["thingName"], params.get("executionNumber"))
    return {"execution": {
        "jobId": execution.job_id,
        "status": execution.status,
        "forceCanceled": execution.force_canceled,
        "statusDetails": {"detailsMap": dict(execution.status_details)},
        "thingArn": service.thing_arn(execution.thing_name),
        "queuedAt": execution.queued_at,
        "startedAt": execution.started_at,
        "lastUpdatedAt": execution.updated_at,
        "executionNumber": execution.execution_number,
        "versionNumber": execution.version,
        "approximateSecondsBeforeTimedOut": execution.seconds_before_timeout(service.clock()),
    }}


@handles("iot", "CancelJobExecution")
def cancel_job_execution(lab: Any, params: dict) -> dict:
    _service(lab).cancel_execution(
        params["jobId"], params["thingName"], force=bool(params.get("force")),
        expected_version=params.get("expectedVersion"), status_details=params.get("statusDetails"),
    )
    return {}


@handles("iot", "DeleteJobExecution")
def delete_job_execution(lab: Any, params: dict) -> dict:
    _service(lab).delete_execution(
        params["jobId"], params["thingName"], params["executionNumber"], force=bool(params.get("force")),
    )
    return {}


# -- iot-jobs-data: the device API over HTTPS -----------------------------------------------------
def _device_execution(service: Any, execution: Execution | None, with_document: bool) -> dict:
    if execution is None:
        return {}
    document = service.device_document(execution.job_id) if with_document else None
    return {"execution": core.execution_payload(execution, document, service.clock())}


@handles("iot-jobs-data", "GetPendingJobExecutions")
def get_pending_job_executions(lab: Any, params: dict) -> dict:
    pending = _service(lab).pending_for(params["thingName"])
    return {
        "inProgressJobs": [core.summary(e) for e in pending if e.status == core.IN_PROGRESS],
        "queuedJobs": [core.summary(e) for e in pending if e.status == core.QUEUED],
    }


@handles("iot-jobs-data", "StartNextPendingJobExecution")
def start_next_pending_job_execution(lab: Any, params: dict) -> dict:
    service = _service(lab)
    request = core.start_next_request(params)
    return _device_execution(service, service.start_next(params["thingName"], request), True)


@handles("iot-jobs-data", "DescribeJobExecution")
def describe_job_execution_for_device(lab: Any, params: dict) -> dict:
    service = _service(lab)
    request = core.describe_request(params)
    execution = service.describe_for_device(params["thingName"], params["jobId"], request)
    return _device_execution(service, execution, request.include_document)


@handles("iot-jobs-data", "UpdateJobExecution")
def update_job_execution(lab: Any, params: dict) -> dict:
    service = _service(lab)
    request = core.update_request(params)
    execution = service.update_execution(params["thingName"], params["jobId"], request)
    output: dict[str, Any] = {}
    if request.include_state:
        output["executionState"] = core.execution_state(execution)
    if request.include_document:
        output["jobDocument"] = service.device_document(execution.job_id)
    return output
