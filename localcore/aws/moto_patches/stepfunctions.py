"""Step Functions runs state machines: moto's ASL interpreter, its tasks calling back into the lab.

moto 5 keeps state machines as records unless ``execute_state_machine`` is set; then its parser
(``moto.stepfunctions.parser``) interprets the Amazon States Language, one thread per execution, so
StartExecution returns at once and DescribeExecution shows RUNNING, then SUCCEEDED or FAILED. Its
``aws-sdk:*`` and optimised ``dynamodb:*`` tasks make boto3 calls; moto points them at
``localhost:$MOTO_PORT``. Here they go to the lab's own HTTP endpoint on loopback with the lab's
credentials, so an IoT, S3 or DynamoDB task is one more request through the lab's front (validation,
the state gate, the registry events), never the internet. werkzeug serves each request on its own
thread, and an execution thread holds nothing while its call is answered, so a call cannot deadlock.
Tasks run with the lab's own identity, but each call is first checked against the **actions** the
state machine's role allows (`localcore.aws.task_permissions`; resources and conditions are not
evaluated): a step the role does not allow fails with ``AccessDeniedException`` as on AWS.

Fixes for what the kit's state machines need:
- errors of ``aws-sdk`` tasks are named as AWS names them, ``<ServiceName>.<ErrorCode>`` with an
  ``Exception`` suffix (``Iot.ResourceNotFoundException``, ``S3.NoSuchKeyException``); moto named
  them after the lower-case service (``iot.ResourceNotFoundException``), which no Retry or Catch
  written for AWS would match;
- an interpreter crash ends the execution FAILED (``States.Runtime``) instead of RUNNING for ever;
- an execution that ends tells the saver, so its outcome survives a restart;
- task parameters and results in Step Functions' PascalCase (moto's copy of the interpreter left the
  SDK-name mapping out), and a string ``Body`` stored as its text;
- a definite JSONPath through an array index (``$[0].thingName``, read from a Parallel state's
  result) gives its value, not a one-element list; ``$$.Execution.StartTime`` is ISO 8601 text;
- a Fail state's ``ErrorPath`` may re-raise a caught ``States.*`` error; an execution started
  without a name gets a UUID (moto named it ``None``);
- a definition that cannot run is refused with ``InvalidDefinition`` and AWS's diagnostics
  (`localcore.aws.asl_checks`) on create and update; moto accepted a ``Next`` naming no state;
- GetExecutionHistory pages (``maxResults``, ``nextToken``, ``reverseOrder``);
- ``AWS::StepFunctions::StateMachine`` in CloudFormation creates the machine where the API (and the
  interpreter) finds it, from ``DefinitionString`` or ``Definition`` with ``DefinitionSubstitutions``.

Persistence: state machines are saved with the other moto backends. An execution is saved as its
record (status, input, output, error, cause, history). One still RUNNING when the lab stopped
cannot resume (its thread is gone): it comes back FAILED with ``LAB_RESTART_ERROR`` and a cause
saying so (lab-only; AWS keeps running executions).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import threading
import uuid
from typing import Any

from moto.core.config import default_user_config

from ...errors import AwsError
from . import PATCHED, _originals, as_moto_error, when_imported, wrap_around, wrap_classmethod, wrap_staticmethod

log = logging.getLogger("localcore.stepfunctions")

SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
RESPONSES = "moto.stepfunctions.responses"
JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
FAIL = "moto.stepfunctions.parser.asl.component.state.fail.state_fail"
PARSER_MODELS = "moto.stepfunctions.parser.models"
MODELS = "moto.stepfunctions.models"
TASK = f"{SERVICE}.state_task_service"
AWS_SDK = f"{SERVICE}.state_task_service_aws_sdk"
DYNAMODB = f"{SERVICE}.state_task_service_dynamodb"
EXECUTION = "moto.stepfunctions.parser.backend.execution"
WORKER = "moto.stepfunctions.parser.backend.execution_worker"

# The PascalCase service names of aws-sdk error names, for the services the kit's machines call.
# Others: first letter upper-cased [unconfirmed: AWS's names for services not listed here].
SERVICE_ERROR_NAMES = {
    "iot": "Iot", "s3": "S3", "dynamodb": "DynamoDb", "sfn": "Sfn", "lambda": "Lambda", "sns": "Sns",
    "sqs": "Sqs", "iam": "Iam", "sts": "Sts", "iotdata": "IotData", "iotdataplane": "IotDataPlane",
}
LAB_RESTART_ERROR = "States.Runtime"  # [unconfirmed] lab-only situation; AWS has no restart
LAB_RESTART_CAUSE = (
    "The local lab stopped while this execution was running; the lab does not resume executions "
    "after a restart, and the steps it had completed were not undone. Start it again (or remove what it made)."
)


def aws_sdk_error_name(service: str, code: str) -> str:
    """``Iot.ResourceNotFoundException`` for (``iot``, ``ResourceNotFoundException``)."""
    prefix = SERVICE_ERROR_NAMES.get(service.lower()) or service[:1].upper() + service[1:]
    return f"{prefix}.{code if code.endswith('Exception') else code + 'Exception'}"


def _client_for(lab: Any):
    """moto's ``boto_client_for``, pointed at the lab. Clients are made once per service and region
    (making one reads botocore's models: tens of ms) and shared; botocore clients are thread-safe."""
    made: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        with lock:
            if (service, region) not in made:
                made[(service, region)] = _new_client(lab, region, service)
            client = made[(service, region)]
        role_arn = getattr(state_credentials, "role_arn", None)
        return _AsRole(lab, client, service, role_arn) if role_arn else client

    return boto_client_for


class _AsRole:
    """A client that makes each call only when the state machine's role allows its action
    (`localcore.aws.task_permissions`); otherwise the call fails as AWS's would, AccessDeniedException."""

    def __init__(self, lab: Any, client: Any, service: str, role_arn: str) -> None:
        self._lab, self._client, self._service, self._role_arn = lab, client, service, role_arn

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name not in self._client.meta.method_to_api_mapping:
            return attribute

        def call(**parameters):
            from botocore.exceptions import ClientError

            from ..task_permissions import allows, denied_message, iam_action

            action = iam_action(self._service, name)
            documents = _role_documents(self._lab, self._role_arn)
            if documents is not None and not allows(documents, action):
                raise ClientError({"Error": {"Code": "AccessDeniedException",
                                             "Message": denied_message(self._role_arn, action)},
                                   "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())}},
                                  self._client.meta.method_to_api_mapping[name])
            return attribute(**parameters)

        return call


def _role_documents(lab: Any, role_arn: str) -> list[str] | None:
    """The policy documents of the role (inline and managed), or None when the lab has no such role."""
    try:
        role = lab.backend("iam").get_role(role_arn.rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity: a role the lab does not know is not checked
        return None
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in getattr(policy, "versions", []) if getattr(v, "is_default", False)]
    return documents


def _new_client(lab: Any, region: str, service: str):
    import boto3
    from botocore.config import Config

    from ...config import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=lab.config.http_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 0, "total_max_attempts": 1}, connect_timeout=10,
                      read_timeout=60, parameter_validation=False, max_pool_connections=50),
    )


_models: dict[str, Any] = {}


def _operation_model(service: str, snake_action: str):
    """botocore's model of ``service``'s operation named ``snake_action`` (``create_thing``), or None."""
    from botocore import xform_name
    from botocore.session import get_session

    if service not in _models:
        _models[service] = get_session().get_service_model(service)
    model = _models[service]
    for name in model.operation_names:
        if xform_name(name) == snake_action:
            return model.operation_model(name)
    return None


def _normalise_parameters(original, self, parameters, boto_service_name=None, service_action_name=None):
    """Task parameters in Step Functions' PascalCase (``ThingName``) to the SDK's names (``thingName``)."""
    original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(original, self, response, boto_service_name=None, service_action_name=None):
    """The SDK's answer in Step Functions' PascalCase (``certificateArn`` → ``CertificateArn``), as AWS
    hands aws-sdk results to the state."""
    original(self, response, boto_service_name=boto_service_name, service_action_name=service_action_name)
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def _request_value(original, self, request_value, value_shape):
    """A string for a blob member (S3 PutObject's ``Body``) is sent as its UTF-8 text, as AWS does;
    moto JSON-encoded it (quotes and escaped new lines in the stored object)."""
    if getattr(value_shape, "type_name", None) == "blob" and isinstance(request_value, str):
        return request_value.encode()
    return original(self, request_value, value_shape)


def _aws_sdk_from_error(original, self, env, ex):
    from botocore.exceptions import ClientError

    event = original(self, env, ex)
    if isinstance(ex, ClientError):
        code = ex.response.get("Error", {}).get("Code") or type(ex).__name__
        name = aws_sdk_error_name(self.resource.api_name, code)
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName

        event.error_name = CustomErrorName(name)
        details = event.event_details.get("taskFailedEventDetails") if event.event_details else None
        if details is not None:
            details["error"] = name
            service = self.resource.api_name
            cause = details.get("cause") or ""
            details["cause"] = cause.replace(f"(Service: {service},", f"(Service: {name.split('.')[0]},", 1)
    return event


def _guarded_logic(original, self):
    """The execution thread: an interpreter crash fails the execution instead of leaving it RUNNING."""
    from moto.stepfunctions.parser.api import ExecutionStatus

    try:
        original(self)
    except Exception as exc:  # noqa: BLE001 - the thread would die silently
        log.warning("state machine execution crashed in the interpreter", exc_info=True)
        execution = getattr(self._execution_communication, "execution", None)
        if execution is not None and execution.exec_status == ExecutionStatus.RUNNING:
            execution.exec_status = ExecutionStatus.FAILED
            execution.error = "States.Runtime"
            execution.cause = f"The lab's Step Functions interpreter failed: {type(exc).__name__}: {exc}"
            execution.stop_date = datetime.datetime.now(tz=datetime.timezone.utc)
    finally:
        _tell_saver()


def _tell_saver() -> None:
    from . import current_lab

    lab = current_lab()
    if lab is not None:
        lab.changed()


def _start_execution(original, self, state_machine_arn, name=None, execution_input=None, trace_header=None):
    """An execution started without a name gets a UUID, as in AWS (moto named it ``None``)."""
    return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def _extract_json(path, data):
    """moto's ``extract_json`` with AWS's answer for a definite path (no wildcard, slice, filter or
    ``..``): its one value. moto answered a list for a path through an array index (``$[0].name``,
    what a Parallel state's ResultSelector reads), so ``"thingName.$": "$[0].thingName"`` became
    ``["bot1"]``. This function's code replaces moto's (it runs with that module's globals)."""
    input_expr = parse(path)  # noqa: F821 - moto's json_path module globals
    matches = input_expr.find(data)
    if not matches:
        if _contains_slice_or_wildcard_array(path):  # noqa: F821
            return []
        raise NoSuchJsonPathError(json_path=path, data=data)  # noqa: F821
    if len(matches) == 1 and re.search(r"\*|\.\.|\?\(|\[[^\]]*[:,]", path) is None:  # noqa: F821
        return matches[0].value
    if (len(matches) > 1 or isinstance(matches[0].path, Index)  # noqa: F821
            or (matches[0].context and isinstance(matches[0].context.path, Index))):  # noqa: F821
        value = [match.value for match in matches]
        if _is_singleton_array_access(path=path) and len(value) == 1:  # noqa: F821
            value = value[0]
        return value
    return matches[0].value


def _fix_extract_json() -> None:
    module = sys.modules[JSON_PATH]
    function = module.extract_json
    for name in ("parse", "NoSuchJsonPathError", "_contains_slice_or_wildcard_array", "Index",
                 "_is_singleton_array_access", "re"):
        if not hasattr(module, name):
            raise RuntimeError(f"moto changed: {JSON_PATH}.{name} is gone; update localcore/aws/moto_patches.")
    _originals.setdefault((function, "__code__"), function.__code__)
    function.__code__ = _extract_json.__code__


def _start_details(original, self):
    """``$$.Execution.StartTime`` is ISO 8601 text as in AWS (``2026-12-03T07:59:01.123Z``); moto put
    a datetime there, which a DynamoDB task could not even send."""
    details = original(self)
    start = details.start_time
    if isinstance(start, datetime.datetime):
        start = start.astimezone(datetime.timezone.utc)
        details.start_time = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
    return details


HISTORY_PAGE = 100  # GetExecutionHistory's default maxResults (AWS: 100, at most 1000)
HISTORY_PAGE_MAX = 1000


def _get_execution_history(original, self):
    """GetExecutionHistory with ``reverseOrder``, ``maxResults`` and ``nextToken`` (moto ignored them
    and answered every event at once): a failed run with retries has more than a page of events."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidToken

    events = list(self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))["events"])
    if self._get_param("reverseOrder"):
        events.reverse()
    size = int(self._get_param("maxResults") or 0) or HISTORY_PAGE
    size = min(size, HISTORY_PAGE_MAX)
    token = self._get_param("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidToken() from None
    answer: dict[str, Any] = {"events": events[start:start + size]}
    if start + size < len(events):
        answer["nextToken"] = str(start + size)
    return ActionResult(answer)


# -- CloudFormation ---------------------------------------------------------------------------------
def definition_of(properties: dict) -> str:
    """An ``AWS::StepFunctions::StateMachine``'s definition as text: ``DefinitionString``, or
    ``Definition`` (a JSON object in the template), with each ``${key}`` of ``DefinitionSubstitutions``
    replaced by its value, as CloudFormation does."""
    definition = properties.get("DefinitionString")
    if definition is None:
        definition = json.dumps(properties.get("Definition") or {}, indent=2)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value).lower() if isinstance(value, bool) else str(value))
    return definition


def _executing_backend(account_id: str, region_name: str):
    """The backend the API uses (the executing one): moto's CloudFormation model wrote to the other."""
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _cfn_create(original, cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json.get("Properties") or {}
    return _executing_backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=definition_of(properties),
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags") or []),
        sm_type=properties.get("StateMachineType") or "STANDARD",
    )


def _cfn_delete(original, cls, resource_name, cloudformation_json, account_id, region_name):
    _executing_backend(account_id, region_name).delete_state_machine(resource_name)


def _cfn_update(original, cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    properties = cloudformation_json.get("Properties") or {}
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:  # a replacement
        new = cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
        cls.delete_from_cloudformation_json(original_resource.arn, cloudformation_json, account_id, region_name)
        return new
    return _executing_backend(account_id, region_name).update_state_machine(
        original_resource.arn, definition=definition_of(properties), role_arn=properties.get("RoleArn"))


# -- persistence ----------------------------------------------------------------------------------
_DROPPED = ("exec_worker", "_cloud_watch_logging_session")


def _reduce_execution(execution) -> tuple:
    state = {k: v for k, v in vars(execution).items() if k not in _DROPPED}
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    if env is not None:
        state["_saved_history"] = [dict(event) for event in env.event_manager.get_event_history()]
    state["_activity_store"] = {}
    return _load_execution, (type(execution), state)


def _load_execution(cls, state: dict):
    from moto.stepfunctions.parser.api import ExecutionStatus

    execution = cls.__new__(cls)
    vars(execution).update(state)
    execution.exec_worker = None
    execution._cloud_watch_logging_session = None
    execution.__dict__.setdefault("_saved_history", [])
    if execution.exec_status == ExecutionStatus.RUNNING:
        _fail_interrupted(execution)
    return execution


def _fail_interrupted(execution) -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus

    now = datetime.datetime.now(tz=datetime.timezone.utc)
    execution.exec_status, execution.stop_date = ExecutionStatus.FAILED, now
    execution.error, execution.cause = LAB_RESTART_ERROR, LAB_RESTART_CAUSE
    history = execution._saved_history
    last = history[-1]["id"] if history else 0
    history.append({
        "id": last + 1, "previousEventId": last, "type": "ExecutionFailed", "timestamp": now,
        "executionFailedEventDetails": {"error": LAB_RESTART_ERROR, "cause": LAB_RESTART_CAUSE},
    })


def _history(original, self):
    if getattr(self, "exec_worker", None) is None and hasattr(self, "_saved_history"):
        return {"events": list(self._saved_history)}
    return original(self)


def _stop(original, self, stop_date, error, cause):
    if getattr(self, "exec_worker", None) is None:  # a saved record: nothing runs
        return None
    return original(self, stop_date, error, cause)


def _register_reducers() -> None:
    from ...persistence import snapshot
    from moto.stepfunctions.parser.backend import execution as module

    for cls in (module.Execution, module.SyncExecution):
        snapshot.register_reducer(cls, _reduce_execution)


def _replace_global(module: str, attribute: str, make) -> None:
    """Replace a name a moto module imported (called while ``module`` executes: its package does not
    hold it as an attribute yet, so it is looked up in ``sys.modules``)."""
    owner = sys.modules[module]
    if not hasattr(owner, attribute):
        raise RuntimeError(f"moto changed: {module}.{attribute} is gone; update localcore/aws/moto_patches.")
    parent, _, name = module.rpartition(".")
    if (parent, name, attribute) not in PATCHED:
        PATCHED.append((parent, name, attribute))
    current = getattr(owner, attribute)
    _originals.setdefault((owner, attribute), current)  # `reset` puts it back
    setattr(owner, attribute, make(current))


def _fail_error_name(original):
    """A Fail state's ``ErrorPath`` may name any error, a ``States.`` one included (re-raising a caught
    ``States.TaskFailed``); moto's Fail state crashed on it. Static ``Error`` fields are still checked
    when the definition is parsed."""

    class FailErrorName(original):
        def __init__(self, error_name):
            ErrorName.__init__(self, error_name=error_name)

    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

    return FailErrorName


def _validate_definition(original, definition):
    """AWS's static checks (`localcore.aws.asl_checks`) before moto's parser, and moto's parser errors
    as ``InvalidDefinition`` (moto raised an exception its HTTP layer answers with no error code)."""
    from ..asl_checks import diagnostics, message

    found = diagnostics(definition)
    if not found:
        try:
            return original(definition=definition)
        except Exception as error:  # noqa: BLE001 - moto's ASLParserException and friends
            found = [f"SCHEMA_VALIDATION_FAILED: {getattr(error, 'message', None) or error}"]
    raise as_moto_error(AwsError(message(found), code="InvalidDefinition", status=400))


def install(lab: Any) -> None:
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    client = _client_for(lab)

    def point_at_lab(module: str) -> None:
        _replace_global(module, "boto_client_for", lambda _original: client)

    for name, around in (("_normalise_parameters", _normalise_parameters),
                         ("_normalise_response", _normalise_response), ("_to_boto_request_value", _request_value)):
        when_imported(TASK, lambda name=name, around=around: wrap_around(TASK, "StateTaskService", name, around))
    when_imported(AWS_SDK, lambda: point_at_lab(AWS_SDK))
    when_imported(AWS_SDK, lambda: wrap_around(AWS_SDK, "StateTaskServiceAwsSdk", "_from_error", _aws_sdk_from_error))
    when_imported(DYNAMODB, lambda: point_at_lab(DYNAMODB))
    when_imported(FAIL, lambda: _replace_global(FAIL, "CustomErrorName", _fail_error_name))
    when_imported(WORKER, lambda: wrap_around(WORKER, "ExecutionWorker", "_execution_logic", _guarded_logic))
    when_imported(EXECUTION, lambda: wrap_around(EXECUTION, "Execution", "to_history_output", _history))
    when_imported(EXECUTION, lambda: wrap_around(EXECUTION, "Execution", "stop", _stop))
    when_imported(EXECUTION, _register_reducers)
    when_imported(EXECUTION, lambda: wrap_around(EXECUTION, "Execution", "get_start_execution_details", _start_details))
    when_imported(JSON_PATH, _fix_extract_json)
    when_imported(PARSER_MODELS, lambda: wrap_staticmethod(PARSER_MODELS, "StepFunctionsParserBackend",
                                                           "_validate_definition", _validate_definition))
    when_imported(RESPONSES, lambda: wrap_around(RESPONSES, "StepFunctionResponse", "get_execution_history",
                                                 _get_execution_history))
    when_imported(PARSER_MODELS, lambda: wrap_around(PARSER_MODELS, "StepFunctionsParserBackend", "start_execution", _start_execution))
    for name, around in (("create_from_cloudformation_json", _cfn_create),
                         ("delete_from_cloudformation_json", _cfn_delete),
                         ("update_from_cloudformation_json", _cfn_update)):
        when_imported(MODELS, lambda name=name, around=around: wrap_classmethod(MODELS, "StateMachine", name, around))
