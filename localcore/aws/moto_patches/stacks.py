"""CloudFormation stacks with AWS's lifecycle, on moto's resource models.

moto created a stack's resources in one call and, when one failed, answered CreateStack with the
resource's error while the stack stayed ``CREATE_IN_PROGRESS`` for good, with no event. DeleteStack
removed the stack from the list even when a resource could not be deleted. Here, as on AWS
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html):

* CreateStack refuses, before anything is stored, a template whose references go nowhere or run in
  a circle (``ValidationError``), and a template with IAM resources without the capability AWS asks
  for (``InsufficientCapabilitiesException``: ``Requires capabilities : [CAPABILITY_NAMED_IAM]``).
* Resources are created in dependency order (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``DependsOn``),
  each with ``CREATE_IN_PROGRESS`` and ``CREATE_COMPLETE`` events. A failing resource gets a
  ``CREATE_FAILED`` event whose reason carries the service's error; the stack goes
  ``ROLLBACK_IN_PROGRESS`` (what was created is deleted, newest first) and ends ``ROLLBACK_COMPLETE``
  (``ROLLBACK_FAILED`` if a rollback deletion fails). ``DisableRollback`` / ``OnFailure=DO_NOTHING``
  leave it ``CREATE_FAILED``; ``OnFailure=DELETE`` deletes it after the rollback. A resource type moto
  cannot create fails the same way, with a reason saying so. ExecuteChangeSet of a CREATE change set
  (what ``aws cloudformation deploy`` does) creates the stack the same way.
* DeleteStack deletes in reverse dependency order (``DeletionPolicy: Retain`` is skipped). If a
  resource cannot be deleted (a bucket with objects, an IoT policy still attached, a VPC in use), it
  gets ``DELETE_FAILED`` with the reason, what it depends on is left alone, and the stack stays
  listed as ``DELETE_FAILED``; DeleteStack may be called again, with ``RetainResources`` naming what
  to leave. Otherwise the stack ends
  ``DELETE_COMPLETE``, still found by its stack id.
* Outputs are shown only for stacks whose resources exist, and the resource list names only the
  resources that exist (moto created missing ones on the fly when asked for them).
"""

from __future__ import annotations

import contextvars
from typing import Any, Iterable

from ..stack_template import TemplateError, creation_order, dependencies, dependencies_closure, missing_capability
from . import require, when_imported, wrap_around, wrap_property
from .stack_deletions import can_delete
from .stack_failures import NestedStackFailed, UnsupportedDeletion, UnsupportedResourceType, failure_reason

MODELS, RESPONSES, PARSING = "moto.cloudformation.models", "moto.cloudformation.responses", "moto.cloudformation.parsing"

# Statuses in which a stack's resources exist, so DescribeStacks shows its Outputs.
OUTPUT_STATUSES = frozenset({
    "CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE",
})
# Statuses in which AWS refuses UpdateStack ("Stack:<id> is in <status> state and can not be updated.").
NOT_UPDATABLE = frozenset({
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "REVIEW_IN_PROGRESS",
})
ON_FAILURE = ("ROLLBACK", "DO_NOTHING", "DELETE")

# CreateStack's OnFailure for the request being answered: moto's backend method has no such parameter.
_on_failure: contextvars.ContextVar[str] = contextvars.ContextVar("cloudformation_on_failure", default="ROLLBACK")
# DeleteStack's RetainResources for the request being answered, likewise.
_retain: contextvars.ContextVar[tuple] = contextvars.ContextVar("cloudformation_retain", default=())


def install(lab: Any) -> None:
    """Patched when moto's CloudFormation is first imported (see ``when_imported``)."""
    when_imported(MODELS, _install_models)
    when_imported(RESPONSES, _install_responses)


def _install_responses() -> None:
    require(RESPONSES, "CloudFormationResponse", "_get_stack_from_s3_url")
    wrap_around(RESPONSES, "CloudFormationResponse", "create_stack", _create_stack_request)
    wrap_around(RESPONSES, "CloudFormationResponse", "update_stack", _capabilities_checked)
    wrap_around(RESPONSES, "CloudFormationResponse", "create_change_set", _capabilities_checked)
    wrap_around(RESPONSES, "CloudFormationResponse", "delete_stack", _delete_stack_request)


def _install_models() -> None:
    for name in ("_add_stack_event", "mark_creation_complete", "parse_template", "_parse_template",
                 "_create_resource_map", "_create_output_map"):
        require(MODELS, "Stack", name)
    require(MODELS, "Event", "sendToSns")
    require(PARSING, "ResourceMap", "_delete_resource")
    require(PARSING, "ResourceMap", "create")
    require("moto.core.exceptions", "_RESTError", "relative_error_type")  # error_fields reads moto's REST errors
    wrap_around(MODELS, "CloudFormationBackend", "create_stack", _create_stack)
    wrap_around(MODELS, "CloudFormationBackend", "update_stack", _update_stack)
    wrap_around(MODELS, "CloudFormationBackend", "delete_stack", _delete_stack)
    wrap_around(MODELS, "CloudFormationBackend", "execute_change_set", _execute_change_set)
    wrap_property(MODELS, "Stack", "outputs", _outputs)
    wrap_property(MODELS, "Stack", "stack_resources", _stack_resources)


# -- requests ------------------------------------------------------------------------------------
def _error(code: str, message: str) -> Exception:
    from moto.cloudformation.exceptions import CloudFormationError

    return CloudFormationError(code, message)


def _template_of(response: Any) -> dict | None:
    """The request's template, parsed; None when moto should report what is wrong with it."""
    from moto.cloudformation.models import Stack

    body = response._get_param("TemplateBody")
    url = response._get_param("TemplateURL")
    if not body and url:
        body = response._get_stack_from_s3_url(url)
    if not body and response._get_bool_param("UsePreviousTemplate", False):
        try:
            body = response.cloudformation_backend.get_stack(response._get_param("StackName")).template
        except Exception:  # noqa: BLE001 - moto answers the missing stack itself
            return None
    if not isinstance(body, str) or not body:
        return None
    try:
        template = Stack.parse_template(body)
    except Exception:  # noqa: BLE001 - moto answers the unreadable template itself
        return None
    return template if isinstance(template, dict) else None


def _check_capabilities(response: Any) -> None:
    template = _template_of(response)
    resources = template.get("Resources") if template else None
    if not isinstance(resources, dict):
        return
    missing = missing_capability(resources, response._get_param("Capabilities", []) or [])
    if missing:
        raise _error("InsufficientCapabilitiesException", f"Requires capabilities : [{missing}]")


def _capabilities_checked(original, response, *args, **kwargs):
    _check_capabilities(response)
    return original(response, *args, **kwargs)


def _create_stack_request(original, response, *args, **kwargs):
    _check_capabilities(response)
    on_failure = response._get_param("OnFailure")
    disable_rollback = response._get_param("DisableRollback")
    if on_failure and disable_rollback is not None:
        raise _error("ValidationError", "You can specify either DisableRollback or OnFailure, but not both.")
    if not on_failure:
        on_failure = "DO_NOTHING" if str(disable_rollback).lower() == "true" else "ROLLBACK"
    token = _on_failure.set(on_failure if on_failure in ON_FAILURE else "ROLLBACK")
    try:
        return original(response, *args, **kwargs)
    finally:
        _on_failure.reset(token)


# -- creation ------------------------------------------------------------------------------------
def _create_stack(original, backend, name, template, parameters, notification_arns=None, tags=None,
                  role_arn=None, enable_termination_protection=False, timeout_in_mins=None,
                  stack_policy_body=None):
    """moto's CreateStack, with the resources created by ``create_resources`` below."""
    from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import generate_stack_id

    if any(stack.name == name for stack in list(backend.stacks.values())):
        raise AlreadyExistsException(f"Stack [{name}] already exists")
    stack = Stack(
        stack_id=generate_stack_id(name, backend.region_name, backend.account_id), name=name, template=template,
        parameters=parameters, account_id=backend.account_id, region_name=backend.region_name,
        notification_arns=notification_arns, tags=tags, role_arn=role_arn, cross_stack_resources=backend.exports,
        enable_termination_protection=enable_termination_protection, timeout_in_mins=timeout_in_mins,
        stack_policy_body=stack_policy_body,
    )
    try:
        order = creation_order(_resources(stack), _parameter_names(stack))
    except TemplateError as error:
        raise ValidationError(message=str(error)) from None
    backend.stacks[stack.stack_id] = stack
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    create_resources(backend, stack, order, _on_failure.get())
    return stack


def create_resources(backend: Any, stack: Any, order: list[str], on_failure: str = "ROLLBACK") -> None:
    """Create ``order``'s resources one by one with their events; on a failure, fail the stack."""
    stack.status = "CREATE_IN_PROGRESS"
    resources = _resources(stack)
    resource_map = stack.resource_map
    resource_map.tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id})
    for logical_id in order:
        spec = resources[logical_id]
        if not _wanted(resource_map, spec):
            continue
        kind = spec.get("Type", "")
        resource_event(stack, logical_id, kind, "CREATE_IN_PROGRESS")
        try:
            instance = _create_one(resource_map, logical_id, kind)
        except Exception as error:  # noqa: BLE001 - any failure is the resource's, reported in its event
            resource_event(stack, logical_id, kind, "CREATE_FAILED", reason=failure_reason(error, kind))
            _fail_creation(backend, stack, f"The following resource(s) failed to create: [{logical_id}]. ",
                           logical_id, on_failure)
            return
        resource_event(stack, logical_id, kind, "CREATE_COMPLETE", physical_id=_physical_id(instance))
    conflict = _register_exports(backend, stack)
    if conflict:
        _fail_creation(backend, stack, conflict, None, on_failure)
        return
    # moto's own pass finds everything created: it tags EC2 resources with the stack's tags and tells
    # whether custom resources still wait for their response (then moto completes the stack later).
    ready = resource_map.create(stack.template_dict)
    stack.description = stack.template_dict.get("Description")
    if ready:
        stack.mark_creation_complete()


def _create_one(resource_map: Any, logical_id: str, kind: str) -> Any:
    from moto.cloudformation.parsing import NULL_MODELS

    instance = resource_map[logical_id]
    if instance is None and kind not in NULL_MODELS:
        raise UnsupportedResourceType(kind)
    if kind == "AWS::CloudFormation::Stack" and instance.status != "CREATE_COMPLETE":
        raise NestedStackFailed(f"Embedded stack {instance.stack_id} was not successfully created: "
                                f"{getattr(instance, 'status_reason', None) or instance.status}")
    return instance


def _register_exports(backend: Any, stack: Any) -> str | None:
    """Add the stack's exports; the reason the stack fails when a name is exported already."""
    exports = stack.exports
    for export in exports:
        other = backend.exports.get(export.name)
        if other is not None and other.exporting_stack_id != stack.stack_id:
            owner = next((s.name for s in backend.stacks.values() if s.stack_id == other.exporting_stack_id),
                         other.exporting_stack_id)
            return f"Export with name {export.name} is already exported by stack {owner}. "
    for export in exports:
        backend.exports[export.name] = export
    return None


def _fail_creation(backend: Any, stack: Any, reason: str, failed: str | None, on_failure: str) -> None:
    if on_failure == "DO_NOTHING":
        _stack_status(stack, "CREATE_FAILED", reason)
        return
    _stack_status(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
    if failed is not None:  # nothing of it exists: its creation raised
        kind = _resources(stack)[failed].get("Type", "")
        resource_event(stack, failed, kind, "DELETE_COMPLETE")
    if delete_resources(stack):
        _stack_status(stack, "ROLLBACK_FAILED", "The following resource(s) failed to delete during rollback. ")
        return
    _stack_status(stack, "ROLLBACK_COMPLETE")
    if on_failure == "DELETE":
        _stack_status(stack, "DELETE_IN_PROGRESS", "Stack creation failed and OnFailure is DELETE.")
        _finish_deletion(backend, stack)


def _execute_change_set(original, backend, change_set_name, stack_name=None):
    """ExecuteChangeSet of a CREATE change set (``aws cloudformation deploy``): the same creation."""
    from moto.cloudformation.exceptions import ValidationError

    change_set = backend.describe_change_set(change_set_name)
    if change_set.change_set_type != "CREATE":
        return original(backend, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                                      f"execution status of [{change_set.execution_status}]")
    stack = backend.stacks[change_set.stack_id]
    stack.template = change_set.template
    stack._parse_template()
    stack.resource_map = stack._create_resource_map()
    stack.output_map = stack._create_output_map()
    try:
        order = creation_order(_resources(stack), _parameter_names(stack))
    except TemplateError as error:
        raise ValidationError(message=str(error)) from None
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    create_resources(backend, stack, order)
    return None


# -- deletion ------------------------------------------------------------------------------------
def _delete_stack_request(original, response, *args, **kwargs):
    token = _retain.set(tuple(response._get_param("RetainResources", []) or ()))
    try:
        return original(response, *args, **kwargs)
    finally:
        _retain.reset(token)


def _delete_stack(original, backend, name_or_stack_id):
    from moto.cloudformation.exceptions import ValidationError

    stack = backend.stacks.get(name_or_stack_id) or next(
        (s for s in list(backend.stacks.values()) if s.name == name_or_stack_id), None)
    if stack is None or stack.status == "DELETE_IN_PROGRESS":
        return None  # AWS: deleting a stack that does not exist (or is being deleted) succeeds
    retain = _retain.get()
    if retain and stack.status != "DELETE_FAILED":
        raise ValidationError(message=f"Invalid operation on stack [{stack.stack_id}]: RetainResources can only be "
                                      "specified when the stack is in the DELETE_FAILED state")
    _stack_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
    failed = delete_resources(stack, retain)
    if failed:
        _stack_status(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
        return None
    _finish_deletion(backend, stack)
    return None


def delete_resources(stack: Any, retain: Iterable[str] = ()) -> list[str]:
    """Delete the stack's existing resources, dependents first; the logical ids that failed.

    ``retain`` (DeleteStack's ``RetainResources``) and ``DeletionPolicy: Retain`` are kept.
    """
    retain = set(retain)
    resources = _resources(stack)
    resource_map = stack.resource_map
    parsed = resource_map._parsed_resources
    try:
        graph = dependencies(resources, _parameter_names(stack))
        order = creation_order(resources, _parameter_names(stack))
    except TemplateError:  # a stack stored before the template checks existed
        graph, order = {name: [] for name in resources}, list(resources)
    failed: list[str] = []
    blocked: set[str] = set()
    for logical_id in reversed(order):
        instance = parsed.get(logical_id)
        if instance is None or logical_id in blocked or isinstance(instance, (str, dict, list)):
            continue
        spec = resources[logical_id]
        kind = spec.get("Type", "")
        if spec.get("DeletionPolicy") == "Retain" or logical_id in retain:
            resource_event(stack, logical_id, kind, "DELETE_SKIPPED", physical_id=_physical_id(instance))
            parsed.pop(logical_id, None)
            continue
        resource_event(stack, logical_id, kind, "DELETE_IN_PROGRESS", physical_id=_physical_id(instance))
        try:
            if not can_delete(instance):
                raise UnsupportedDeletion(kind)
            resource_map._delete_resource(instance, spec)
            if kind == "AWS::CloudFormation::Stack" and instance.status != "DELETE_COMPLETE":
                raise NestedStackFailed(f"Embedded stack {instance.stack_id} was not successfully deleted: "
                                        f"{getattr(instance, 'status_reason', None) or instance.status}")
        except Exception as error:  # noqa: BLE001 - reported in the resource's event
            resource_event(stack, logical_id, kind, "DELETE_FAILED", physical_id=_physical_id(instance),
                           reason=failure_reason(error, kind))
            failed.append(logical_id)
            blocked |= dependencies_closure(graph, logical_id)
            continue
        parsed.pop(logical_id, None)
        resource_event(stack, logical_id, kind, "DELETE_COMPLETE", physical_id=_physical_id(instance))
    return failed


def _finish_deletion(backend: Any, stack: Any) -> None:
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            del backend.exports[name]
    _stack_status(stack, "DELETE_COMPLETE")
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack


# -- updates and reads ---------------------------------------------------------------------------
def _update_stack(original, backend, name, *args, **kwargs):
    from moto.cloudformation.exceptions import ValidationError

    stack = backend.get_stack(name)
    if stack.status in NOT_UPDATABLE:
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    return original(backend, name, *args, **kwargs)


def _outputs(getter, stack):
    return getter(stack) if stack.status in OUTPUT_STATUSES else None


def _stack_resources(getter, stack):
    """The resources that exist (moto's list created the missing ones on the fly)."""
    parsed = stack.resource_map._parsed_resources
    return [parsed[name] for name in _resources(stack)
            if parsed.get(name) is not None and not isinstance(parsed[name], (str, dict, list))]


# -- events and reasons --------------------------------------------------------------------------
def resource_event(stack: Any, logical_id: str, kind: str, status: str, *, physical_id: str = "",
                   reason: str | None = None) -> None:
    """One DescribeStackEvents entry for a resource (also sent to the stack's notification topics)."""
    from moto.cloudformation.models import Event

    event = Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id or "", resource_type=kind, resource_status=status,
        resource_status_reason=reason, resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _stack_status(stack: Any, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.status_reason = reason  # DescribeStacks' StackStatusReason
    stack._add_stack_event(status, resource_status_reason=reason)


# -- helpers -------------------------------------------------------------------------------------
def _resources(stack: Any) -> dict:
    resources = (stack.template_dict or {}).get("Resources") or {}
    return resources if isinstance(resources, dict) else {}


def _parameter_names(stack: Any) -> Iterable[str]:
    return list(((stack.template_dict or {}).get("Parameters") or {}).keys())


def _wanted(resource_map: Any, spec: dict) -> bool:
    condition = spec.get("Condition")
    return not condition or bool(resource_map.lazy_condition_map[condition])


def _physical_id(instance: Any) -> str:
    try:
        value = getattr(instance, "physical_resource_id", "")
    except Exception:  # noqa: BLE001 - some models compute it from state that may be gone
        return ""
    return value if isinstance(value, str) else ""
