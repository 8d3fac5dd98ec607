"""The CloudFormation patches: applied when moto's CloudFormation is imported, and how failures read."""

from __future__ import annotations

import importlib
import sys

import pytest

from localcore.aws import moto_patches
from localcore.config import LabConfig
from localcore.errors import InvalidRequestException
from localcore.server import build_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = build_lab(LabConfig(home=tmp_path_factory.mktemp("lab")))
    yield lab
    moto_patches.reset()


def test_when_imported_runs_after_the_module_executed_and_reset_forgets(tmp_path, monkeypatch):
    (tmp_path / "lab_after_import_probe.py").write_text("VALUE = 42\n")
    (tmp_path / "lab_after_import_forgotten.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    moto_patches.when_imported("lab_after_import_forgotten", lambda: seen.append("forgotten"))
    moto_patches.reset()  # before any lab of this module is built: nothing else to undo
    moto_patches.when_imported("lab_after_import_probe", lambda: seen.append(sys.modules["lab_after_import_probe"].VALUE))
    assert seen == []
    try:
        importlib.import_module("lab_after_import_probe")
        importlib.import_module("lab_after_import_forgotten")
        assert seen == [42]
        moto_patches.when_imported("lab_after_import_probe", lambda: seen.append("now"))
        assert seen == [42, "now"]  # already imported: at once
    finally:
        sys.modules.pop("lab_after_import_probe", None)
        sys.modules.pop("lab_after_import_forgotten", None)


def test_cloudformation_patches_are_in_place_once_moto_cloudformation_is_imported(lab):
    from moto.cloudformation import models, responses  # noqa: F401 - the import applies the patches
    from moto.ec2.models.route_tables import RouteTable

    from localcore.aws.moto_patches import stacks

    assert models.CloudFormationBackend.create_stack.__wrapped__ is not None
    assert ("moto.cloudformation.responses", "CloudFormationResponse", "create_stack") in moto_patches.PATCHED
    assert ("moto.cloudformation.models", "Stack", "outputs") in moto_patches.PATCHED
    assert "delete" in RouteTable.__dict__
    for module, cls, attribute in moto_patches.PATCHED:
        assert hasattr(getattr(importlib.import_module(module), cls), attribute), (module, cls, attribute)
    assert stacks.OUTPUT_STATUSES.isdisjoint(stacks.NOT_UPDATABLE)


def reason(error, kind="AWS::S3::Bucket"):
    from localcore.aws.moto_patches.stack_failures import failure_reason

    return failure_reason(error, kind)


def test_a_service_error_reads_like_a_resource_handler_message():
    from moto.iam.exceptions import NotFoundException
    from moto.s3.exceptions import BucketNotEmpty

    text = reason(BucketNotEmpty("b"))
    assert text.startswith('Resource handler returned message: "The bucket you tried to delete is not empty '
                           "(Service: S3, Status Code: 409, Request ID: ")
    assert text.endswith("HandlerErrorCode: ResourceConflict)")
    text = reason(NotFoundException("Policy arn:aws:iam::aws:policy/X does not exist or is not attachable."),
                  "AWS::IAM::Role")
    assert "(Service: Iam, Status Code: 404," in text and "HandlerErrorCode: NotFound" in text


def test_the_labs_own_errors_and_moto_rest_errors_keep_their_code_and_status():
    from moto.awslambda.exceptions import InvalidParameterValueException

    from localcore.aws.moto_patches.stack_failures import error_fields

    assert error_fields(InvalidRequestException("bad name")) == ("InvalidRequestException", "bad name", 400)
    assert error_fields(InvalidParameterValueException("old runtime")) == (
        "InvalidParameterValueException", "old runtime", 400)
    assert error_fields(KeyError("x")) is None


def test_a_lab_bug_is_an_internal_failure_that_points_at_the_log():
    assert reason(KeyError("Properties")).startswith("Internal Failure: the lab failed on this resource (KeyError")


def test_what_moto_can_delete(lab):
    from moto.cloudformation import models  # noqa: F401 - applies the deletion patches
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import Route
    from moto.iam.models import Role
    from moto.kms.models import Key

    from localcore.aws.moto_patches.stack_deletions import can_delete

    class Unknown:
        @classmethod
        def delete_from_cloudformation_json(cls, *args):  # abstract in moto's base class
            raise NotImplementedError

    Unknown.delete_from_cloudformation_json.__func__.__isabstractmethod__ = True
    deletable = {cls: can_delete(cls.__new__(cls)) for cls in (InternetGateway, Route, Role, Key, Unknown)}
    assert deletable == {InternetGateway: True, Route: True, Role: True, Key: True, Unknown: False}
