"""What the workshop notebooks import: plumbing for the lessons, one module per concern.

    from helpers import connect, MqttConsole, SelfCheck
    ws = connect()                      # the local lab, or AWS with WORKSHOP_BACKEND=aws

Modules: `workshop` (backend, clients, stack), `certs` (keys, CSRs, device files), `ca` (your own
CA for JITP/JITR), `device` (MQTT over mutual TLS), `console` (the MQTT test client widget),
`provisioning` (bulk tasks and connectivity tests), `job_agent` (a device that runs jobs), `job_ids`
(job ids that never collide), `fleet` (fleet-indexing plots and waits), `logs` (AWSIotLogsV2 queries
as tables), `catchup` (what earlier chapters leave, created idempotently), `ledger` and `cleanup`
(what the workshop created, and its removal), `ui` (tables, forms), `selfcheck` (the chapters'
self-checks) and `checks` (what they look up), `secrets` (0600 files), `failures` (errors that say
what to do, in a few lines), `waits` (conditions polled with deadlines sized to the backend).
"""

from .certs import DeviceFiles, key_pem, make_csr, new_key, save_device
from .console import MqttConsole
from .device import ConnectionRefused, Device, EndpointUnreachable, Message, PublishRefused, SubscribeRefused
from .failures import BackendUnreachable, CredentialsMissing, RegionMissing
from .selfcheck import SelfCheck
from .ui import form, instructor_note, solution, table
from .waits import WaitTimedOut
from .workshop import Workshop, WorkshopError, connect

__all__ = [
    "connect", "Workshop", "WorkshopError", "BackendUnreachable", "CredentialsMissing", "RegionMissing",
    "WaitTimedOut",
    "new_key", "make_csr", "key_pem", "save_device", "DeviceFiles",
    "Device", "Message", "ConnectionRefused", "PublishRefused", "SubscribeRefused", "EndpointUnreachable",
    "MqttConsole",
    "SelfCheck", "table", "form", "solution", "instructor_note",
]
