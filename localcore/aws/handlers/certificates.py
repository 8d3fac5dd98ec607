"""Certificate operations moto lacks: ListCACertificates."""

from __future__ import annotations

from . import handles


@handles("iot", "ListCACertificates")
def list_ca_certificates(lab, params: dict) -> dict:
    cas = sorted(lab.iot.ca_certificates.values(), key=lambda ca: ca.creation_date,
                 reverse=not params.get("ascendingOrder", False))
    start = int(params.get("marker") or 0)
    size = int(params.get("pageSize") or 250)
    page = cas[start:start + size]
    output: dict = {
        "certificates": [
            {
                "certificateArn": ca.arn,
                "certificateId": ca.certificate_id,
                "status": ca.status,
                "creationDate": ca.creation_date.timestamp() if hasattr(ca.creation_date, "timestamp") else ca.creation_date,
            }
            for ca in page
        ]
    }
    if start + size < len(cas):
        output["nextMarker"] = str(start + size)
    return output
