"""The one place where the lab touches moto's internals (DESIGN.md principle 4).

moto is the state engine; these patches make it behave like AWS where the lab needs it to:
certificates issued by the lab's CA (``certificates``), registry events and authorisation-cache
invalidation after registry changes (``hooks``), CloudFormation resource fixes (``cloudformation``),
stacks with AWS's lifecycle (``stacks``, with ``stack_deletions`` and ``stack_failures``), IAM as AWS
has it (``iam``), Lambda's runtime rules (``lambda_runtimes``), GetPolicy's dates (``policy_dates``),
Step Functions executing state machines against the lab (``stepfunctions``), models freed
once the lab drops them (``model_tracking``).
Patches of moto modules the lab does not import at start wait for their import (``when_imported``).
Every patched moto attribute is listed in ``PATCHED``; ``tests/unit/test_moto_patches.py`` fails
loudly when a moto upgrade renames or removes one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import inspect
import sys
from typing import Any, Callable

from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError

from ...errors import AwsError

# (module, class, attribute) of every moto internal the lab relies on.
PATCHED: list[tuple[str, str, str]] = []

_SUBMODULES = (
    "model_tracking", "validation", "certificates", "hooks", "iam", "cloudformation", "stack_deletions", "stacks",
    "lambda_permissions", "lambda_runtimes", "policy_dates", "stepfunctions",
)
_applied: dict[str, Any] = {}


def require(module: str, cls: str, attribute: str) -> Any:
    """Look up a moto internal, recording it; raise a clear error if moto no longer has it."""
    if (module, cls, attribute) not in PATCHED:
        PATCHED.append((module, cls, attribute))
    owner = getattr(importlib.import_module(module), cls)
    if not hasattr(owner, attribute):
        raise RuntimeError(
            f"moto changed: {module}.{cls}.{attribute} is gone. localcore is pinned to moto 5.2.x; "
            f"update localcore/aws/moto_patches for this moto version."
        )
    return owner


def as_moto_error(error: AwsError) -> JsonRESTError:
    """moto's response layer only serialises its own exception type; translate ours."""
    moto_error = JsonRESTError(error.code, error.message)
    moto_error.code = error.status
    return moto_error


_originals: dict[tuple[type, str], Any] = {}


def _replace(owner: type, method: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Stack a wrapper on ``owner.method``; the first original is kept so `reset` can restore it."""
    current = getattr(owner, method)
    _originals.setdefault((owner, method), current)
    wrapper = make(current)
    functools.update_wrapper(wrapper, current)
    setattr(owner, method, wrapper)


def wrap_after(module: str, cls: str, method: str, after: Callable[..., None]) -> None:
    """Call ``after(self, result, *args, **kwargs)`` once moto's method returned successfully."""
    owner = require(module, cls, method)

    def make(original):
        def wrapper(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            after(self, result, *args, **kwargs)
            return result
        return wrapper

    _replace(owner, method, make)


def wrap_around(module: str, cls: str, method: str, around: Callable[..., Any]) -> None:
    """Replace moto's method by ``around(original, self, *args, **kwargs)``."""
    owner = require(module, cls, method)

    def make(original):
        def wrapper(self, *args, **kwargs):
            return around(original, self, *args, **kwargs)
        return wrapper

    _replace(owner, method, make)


def wrap_classmethod(module: str, cls: str, method: str, around: Callable[..., Any]) -> None:
    """Replace moto's classmethod by ``around(original, klass, *args, **kwargs)`` (``original`` bound)."""
    _wrap_descriptor(module, cls, method, classmethod, around)


def wrap_staticmethod(module: str, cls: str, method: str, around: Callable[..., Any]) -> None:
    """Replace moto's staticmethod by ``around(original, *args, **kwargs)``."""
    _wrap_descriptor(module, cls, method, staticmethod, around)


def _wrap_descriptor(module: str, cls: str, method: str, kind: type, around: Callable[..., Any]) -> None:
    owner = require(module, cls, method)
    current = inspect.getattr_static(owner, method)
    if not isinstance(current, kind):
        raise RuntimeError(f"moto changed: {module}.{cls}.{method} is no longer a {kind.__name__}; "
                           "update localcore/aws/moto_patches.")
    _originals.setdefault((owner, method), current)
    function = current.__func__

    if kind is classmethod:
        def wrapper(klass, *args, **kwargs):
            return around(function.__get__(klass), klass, *args, **kwargs)
    else:
        def wrapper(*args, **kwargs):
            return around(function, *args, **kwargs)

    functools.update_wrapper(wrapper, function)
    setattr(owner, method, kind(wrapper))


def wrap_property(module: str, cls: str, name: str, around: Callable[..., Any]) -> None:
    """Replace moto's read-only property by one answering ``around(original_getter, self)``."""
    owner = require(module, cls, name)
    current = inspect.getattr_static(owner, name)
    if not isinstance(current, property) or current.fget is None:
        raise RuntimeError(f"moto changed: {module}.{cls}.{name} is no longer a property; update localcore/aws/moto_patches.")
    _originals.setdefault((owner, name), current)
    getter = current.fget
    setattr(owner, name, property(lambda self: around(getter, self), doc=current.__doc__))


# Patches waiting for their moto module to be imported: module name -> installers.
_pending: dict[str, list[Callable[[], None]]] = {}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs the installers registered for a module right after that module has executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module

        def exec_module(module):
            execute(module)
            for install in _pending.pop(fullname, []):
                install()

        loader.exec_module = exec_module
        return spec


_after_import = _AfterImport()


def when_imported(module: str, install: Callable[[], None]) -> None:
    """Run ``install`` once moto's ``module`` is imported: now if it is, else right after its import.

    For patches of heavy moto modules the lab does not import at start: importing
    ``moto.cloudformation`` imports the models of some 30 services (seconds, on a busy laptop), which
    the lab then pays on its first CloudFormation request instead of at every start.
    """
    if module in sys.modules:
        install()
        return
    _pending.setdefault(module, []).append(install)
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)


def reset() -> None:
    """Restore every patched moto method (tests; and before re-applying for another lab)."""
    _pending.clear()
    for (owner, method), original in _originals.items():
        setattr(owner, method, original)
    _originals.clear()


def apply(lab: Any) -> None:
    """Apply every patch for this lab (idempotent: re-applying replaces the lab they talk to)."""
    reset()
    iot = default_user_config.setdefault("iot", {})
    iot["use_valid_cert"] = True  # certificate ids are SHA-256 of the DER, as in AWS
    for name in _SUBMODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.install(lab)
    _applied["lab"] = lab


def current_lab() -> Any:
    return _applied.get("lab")
