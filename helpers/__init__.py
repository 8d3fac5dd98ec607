"""What the workshop notebooks import: plumbing for the lessons, one module per concern.

    from helpers import connect, MqttConsole, SelfCheck
    ws = connect()                      # the local lab, or AWS with WORKSHOP_BACKEND=aws

Modules: `workshop` (backend, clients, stack), `certs` (keys, CSRs, device files), `ca` (your own
CA for JITP/JITR), `device` (MQTT over mutual TLS), `console` (the MQTT test client widget),
`provisioning` (bulk tasks and connectivity tests), `job_agent` (a device that runs jobs), `job_ids`
(job ids that never collide), `fleet` (fleet-indexing plots and waits), `logs` (AWSIotLogsV2 queries
as tables), `catchup` (what earlier chapters leave, created idempotently), `ledger` and `cleanup`
(what the workshop created, and its removal), `ui` (tables, forms, self-checks), `secrets` (0600 files).
"""

from .certs import DeviceFiles, key_pem, make_csr, new_key, save_device
from .console import MqttConsole
from .device import ConnectionRefused, Device, Message, PublishRefused, SubscribeRefused
from .selfcheck import SelfCheck
from .ui import form, instructor_note, solution, table
from .workshop import Workshop, WorkshopError, connect

__all__ = [
    "connect", "Workshop", "WorkshopError",
    "new_key", "make_csr", "key_pem", "save_device", "DeviceFiles",
    "Device", "Message", "ConnectionRefused", "PublishRefused", "SubscribeRefused",
    "MqttConsole",
    "SelfCheck", "table", "form", "solution", "instructor_note",
]
