"""DescribeEndpoint: every endpoint type points at the lab's MQTT/HTTP host.

AWS returns a per-account host name such as ``abc123-ats.iot.us-east-1.amazonaws.com``; the lab
returns the host its server certificate names (``localhost``), so TLS host name verification works
unchanged. The MQTT port is the lab's (``IOT_PORT``), not necessarily 8883.
"""

from __future__ import annotations

from ...errors import InvalidRequestException
from . import handles

ENDPOINT_TYPES = ("iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs")


@handles("iot", "DescribeEndpoint")
def describe_endpoint(lab, params: dict) -> dict:
    endpoint_type = params.get("endpointType") or "iot:Data"
    if endpoint_type not in ENDPOINT_TYPES:
        raise InvalidRequestException(
            f"Endpoint type {endpoint_type!r} is not valid; expected one of {', '.join(ENDPOINT_TYPES)}."
        )
    return {"endpointAddress": lab.config.endpoint_host}
