"""Bulk registration: thing registration tasks over a newline-delimited JSON file in S3.

A task runs on a background thread, one input line at a time, with live counts and
``percentageProgress``. Each line is provisioned all-or-nothing with the task's template; a bad line
becomes a line of the ERRORS report and the task goes on. Reports are served by the lab over plain
HTTP under ``/_localcore/registration-reports/<taskId>/<RESULTS|ERRORS>``, which is what the
``resourceLinks`` of ListThingRegistrationTaskReports point at (AWS gives presigned S3 URLs).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ... import realism
from ...errors import AwsError, InvalidRequestException, ResourceNotFoundException
from ...iot.templates import parse_template, resolve
from ..paging import page
from ..provisioning import apply_plan
from ..roles import require_assumable
from . import handles

REPORT_ROUTE = "/_localcore/registration-reports"
REPORT_TYPES = ("RESULTS", "ERRORS")

# One bulk registration task runs at a time per account (and region): AWS's developer guide says so
# ("Only one bulk registration operation task can run at a time (per account)") but not what a
# second StartThingRegistrationTask answers meanwhile [unconfirmed]. Of the errors the API model
# lists for the operation (InvalidRequestException, ThrottlingException, UnauthorizedException,
# InternalFailureException) InvalidRequestException (400) is the one that means "not now, as asked":
# ThrottlingException is about the call rate, and botocore would retry it on its own, hiding the
# limit. The model's TaskAlreadyExistsException belongs to the audit and detect mitigation tasks
# (StartAuditMitigationActionsTask, StartDetectMitigationActionsTask), about a reused task id, and
# LimitExceededException is not listed for this operation. The message is ours [unconfirmed];
# clients should not depend on it (`helpers.waits.bulk_task_running` lists the running tasks instead).
TASK_RUNNING_ERROR = InvalidRequestException
TASK_RUNNING_MESSAGE = (
    "Thing registration task {task_id} is still in progress: only one bulk registration task can run at a "
    "time per account. Wait for it to end (DescribeThingRegistrationTask) or stop it (StopThingRegistrationTask)."
)


@dataclass
class RegistrationTask:
    task_id: str
    template_body: str
    bucket: str
    key: str
    role_arn: str
    status: str = "InProgress"
    message: str = ""
    success_count: int = 0
    failure_count: int = 0
    total: int = 0
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    results: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    next_line: int = 0  # the first input line not provisioned yet

    @property
    def percentage(self) -> int:
        if self.status == "Completed":
            return 100
        done = self.success_count + self.failure_count
        return int(100 * done / self.total) if self.total else 0

    def describe(self) -> dict:
        return {
            "taskId": self.task_id,
            "creationDate": self.created,
            "lastModifiedDate": self.modified,
            "templateBody": self.template_body,
            "inputFileBucket": self.bucket,
            "inputFileKey": self.key,
            "roleArn": self.role_arn,
            "status": self.status,
            "message": self.message,
            "successCount": self.success_count,
            "failureCount": self.failure_count,
            "percentageProgress": self.percentage,
        }


def _tasks(lab) -> dict[str, RegistrationTask]:
    return lab.registration_tasks


def _task(lab, task_id: str) -> RegistrationTask:
    task = _tasks(lab).get(task_id or "")
    if task is None:
        raise ResourceNotFoundException(f"Thing registration task {task_id} does not exist.")
    return task


def _read_input(lab, bucket: str, key: str) -> bytes:
    s3 = lab.backend("s3")
    try:
        s3.get_bucket(bucket)
    except Exception:  # noqa: BLE001 - moto's MissingBucket
        raise InvalidRequestException(f"The input file bucket {bucket} does not exist.") from None
    try:
        return s3.get_object(bucket, key).value
    except Exception:  # noqa: BLE001 - moto's MissingKey
        raise InvalidRequestException(f"The input file s3://{bucket}/{key} does not exist.") from None


def _check_role(lab, role_arn: str) -> None:
    role_name = role_arn.rsplit("/", 1)[-1]
    if ":role/" not in role_arn:
        raise InvalidRequestException(f"roleArn {role_arn} is not an IAM role ARN.")
    try:
        lab.backend("iam").get_role(role_name)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity
        raise InvalidRequestException(
            f"The role {role_arn} does not exist, so AWS IoT cannot assume it to read the input file."
        ) from None
    require_assumable(lab, [role_arn])  # a role made seconds ago, under LOCALCORE_REALISM=aws


@handles("iot", "StartThingRegistrationTask")
def start_thing_registration_task(lab, params: dict) -> dict:
    body = params.get("templateBody") or ""
    template = parse_template(body)  # a bad template fails the call, before any line is read
    _check_role(lab, params.get("roleArn") or "")
    data = _read_input(lab, params.get("inputFileBucket") or "", params.get("inputFileKey") or "")
    with lab.lock:
        running = [t for t in _tasks(lab).values() if t.status in ("InProgress", "Cancelling")]
        if running:
            raise TASK_RUNNING_ERROR(TASK_RUNNING_MESSAGE.format(task_id=running[0].task_id))
        task = RegistrationTask(
            task_id=str(uuid.uuid4()),
            template_body=body,
            bucket=params["inputFileBucket"],
            key=params["inputFileKey"],
            role_arn=params["roleArn"],
        )
        lines = _lines(data)
        task.total = len(lines)
        _tasks(lab)[task.task_id] = task
    _start_worker(lab, task, template, lines)
    return {"taskId": task.task_id}


def _start_worker(lab, task: RegistrationTask, template: dict, lines: list[str]) -> None:
    worker = threading.Thread(target=_run, args=(lab, task, template, lines), name=f"bulk-{task.task_id[:8]}", daemon=True)
    worker.start()


def _run(lab, task: RegistrationTask, template: dict, lines: list[str]) -> None:
    """Provision each line from ``task.next_line`` on. A line and the task's record of it change
    together (inside ``lab.changing()``), so a lab that stops mid-task resumes at the right line."""
    pace = realism.delay("bulk_line")
    for offset in range(task.next_line, len(lines)):
        if pace:
            task.stop_requested.wait(pace)  # AWS's pace, when asked for; a stop still answers at once
        if task.stop_requested.is_set():
            with lab.changing():
                task.status, task.message = "Cancelled", "Stopped by StopThingRegistrationTask."
                task.modified = time.time()
            return
        with lab.changing():
            _run_line(lab, task, template, offset, lines[offset])
            task.next_line = offset + 1
            task.modified = time.time()
    with lab.changing():
        task.status = "Completed"
        task.modified = time.time()


def _run_line(lab, task: RegistrationTask, template: dict, offset: int, line: str) -> None:
    if not line.strip():
        task.total -= 1
        return
    try:
        parameters = json.loads(line)
        if not isinstance(parameters, dict):
            raise InvalidRequestException("Each input line must be a JSON object of parameter values.")
        registered = apply_plan(lab, resolve(template, {k: str(v) for k, v in parameters.items()}))
    except json.JSONDecodeError as error:
        _fail(task, offset, "InvalidRequestException", f"Line {offset + 1} is not valid JSON: {error.msg}")
    except AwsError as error:
        _fail(task, offset, error.code, error.message)
    except Exception as error:  # noqa: BLE001 - one bad line must not stop the task
        _fail(task, offset, "InternalFailureException", str(error))
    else:
        response = {"ResourceArns": registered.resource_arns}
        if registered.certificate_pem:
            response = {"CertificatePem": registered.certificate_pem, **response}
        task.results.append(json.dumps({"offset": offset, "response": response}))
        task.success_count += 1


def resume_interrupted(lab) -> None:
    """Go on with the tasks a stopped lab left running (called at start, after its state is back):
    each resumes at the first line it had not provisioned; a task being stopped ends Cancelled."""
    for task in list(_tasks(lab).values()):
        if task.status == "Cancelling":
            task.status, task.message = "Cancelled", "Stopped by StopThingRegistrationTask."
        if task.status != "InProgress":
            continue
        try:
            template = parse_template(task.template_body)
            data = _read_input(lab, task.bucket, task.key)
        except AwsError as error:
            task.status, task.message = "Failed", f"The lab restarted and could not resume the task: {error.message}"
            continue
        _start_worker(lab, task, template, _lines(data))


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def _fail(task: RegistrationTask, offset: int, code: str, message: str) -> None:
    task.errors.append(json.dumps({"offset": offset, "errorCode": code, "errorMessage": message}))
    task.failure_count += 1


@handles("iot", "DescribeThingRegistrationTask")
def describe_thing_registration_task(lab, params: dict) -> dict:
    return _task(lab, params.get("taskId")).describe()


@handles("iot", "ListThingRegistrationTasks")
def list_thing_registration_tasks(lab, params: dict) -> dict:
    status = params.get("status")
    tasks = sorted(_tasks(lab).values(), key=lambda t: t.created, reverse=True)
    ids = [t.task_id for t in tasks if status in (None, t.status)]
    return _page(ids, params, "taskIds")


@handles("iot", "StopThingRegistrationTask")
def stop_thing_registration_task(lab, params: dict) -> dict:
    task = _task(lab, params.get("taskId"))
    if task.status == "InProgress":
        task.status = "Cancelling"
        task.stop_requested.set()
    return {}


@handles("iot", "ListThingRegistrationTaskReports")
def list_thing_registration_task_reports(lab, params: dict) -> dict:
    task = _task(lab, params.get("taskId"))
    report_type = params.get("reportType")
    if report_type not in REPORT_TYPES:
        raise InvalidRequestException("reportType must be RESULTS or ERRORS.")
    lines = task.results if report_type == "RESULTS" else task.errors
    links = [f"{lab.config.http_url}{REPORT_ROUTE}/{task.task_id}/{report_type}"] if lines else []
    page = _page(links, params, "resourceLinks")
    page["reportType"] = report_type
    return page


def _page(items: list[str], params: dict, key: str) -> dict:
    listed, next_token = page(items, params.get("nextToken"), params.get("maxResults") or 250, max_size=250)
    out: dict[str, Any] = {key: listed}
    if next_token:
        out["nextToken"] = next_token
    return out


def serve_report(lab, environ: dict) -> tuple[int, dict, bytes]:
    """GET /_localcore/registration-reports/<taskId>/<RESULTS|ERRORS>: the report file itself."""
    parts = environ.get("PATH_INFO", "")[len(REPORT_ROUTE):].strip("/").split("/")
    task = _tasks(lab).get(parts[0]) if parts else None
    if task is None or len(parts) != 2 or parts[1] not in REPORT_TYPES:
        return 404, {"Content-Type": "text/plain"}, b"No such report.\n"
    lines = task.results if parts[1] == "RESULTS" else task.errors
    body = "".join(line + "\n" for line in list(lines)).encode()
    return 200, {"Content-Type": "application/x-ndjson"}, body
