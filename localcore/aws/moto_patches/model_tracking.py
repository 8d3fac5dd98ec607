"""moto's models are not kept alive after the lab dropped them.

moto's ``BaseModel.__new__`` appends every model instance it ever makes to a list on its class
(``instances_tracked``), for its own dashboard and its test resets. A lab runs for days: every deleted
thing, certificate, S3 object and every AWS IoT log entry (a CloudWatch ``LogEvent``) stayed in memory
for good. With a fleet logging at INFO that was the lab's memory growing by ~150 MB a minute and never
coming back down (``bench/fleet.py``). The lab shows neither moto's dashboard nor uses its resets, so
models are simply not tracked: a model lives as long as the backend holds it.
"""

from __future__ import annotations

from typing import Any

from . import require, wrap_staticmethod

COMMON = "moto.core.common_models"


def install(lab: Any) -> None:
    base = require(COMMON, "BaseModel", "__new__")

    def untracked_new(original, cls, *args: Any, **kwargs: Any) -> Any:
        return super(base, cls).__new__(cls)  # what moto's does, without the append

    wrap_staticmethod(COMMON, "BaseModel", "__new__", untracked_new)
