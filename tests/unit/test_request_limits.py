"""Request body limits per service and operation."""

from __future__ import annotations

import pytest

from localcore.aws import request_limits as limits

KB, MB = 1024, 1024 * 1024


@pytest.mark.parametrize(("service", "operation", "limit"), [
    ("iot-data", "Publish", 128 * KB),
    ("iot-data", "UpdateThingShadow", limits.MAX_BODY_BYTES["iot-data"]),
    ("iot", "CreateThing", limits.MAX_BODY_BYTES["iot"]),
    ("lambda", "CreateFunction", 70 * MB),
    ("s3", None, None),
    (None, None, None),
    ("cloudformation", "CreateStack", limits.DEFAULT_MAX_BODY_BYTES),
])
def test_max_body_bytes(service, operation, limit):
    assert limits.max_body_bytes(service, operation) == limit


def test_a_body_over_the_limit_is_refused_with_413():
    limits.check_size("iot-data", "Publish", 128 * KB)

    with pytest.raises(limits.RequestTooLarge) as refused:
        limits.check_size("iot-data", "Publish", 128 * KB + 1)

    assert (refused.value.code, refused.value.status) == ("RequestEntityTooLargeException", 413)
    assert str(128 * KB + 1) in refused.value.message and "Publish" in refused.value.message


def test_no_limit_means_any_size():
    limits.check_size("s3", None, 10 * 1024 * MB)
