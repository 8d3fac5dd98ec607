"""The running lab as one object: configuration, PKI, moto's state, lab-only state, and the broker.

HTTP handlers, moto hooks and the broker all receive this object; nothing else is global. The
broker runs on its own asyncio loop thread, HTTP requests on werkzeug's threads, so everything that
reaches the broker from HTTP goes through :meth:`Lab.publish`, which is thread-safe.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from .config import LabConfig

if TYPE_CHECKING:  # pragma: no cover
    from .pki import LabPKI


EVENT_TYPES = (
    "THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY", "CERTIFICATE", "CA_CERTIFICATE",
)


class Lab:
    def __init__(self, config: LabConfig, pki: "LabPKI") -> None:
        self.config = config
        self.pki = pki
        self.started_at = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None  # the broker's loop, set by the server
        self.broker: Any = None
        self.state: dict[str, Any] = {}  # lab-only state (event configuration, logging options, tasks...)
        self.lock = threading.RLock()
        self._listeners: list[Callable[[str, bytes], None]] = []
        # Bumped on every registry change that can alter an authorisation decision (policies,
        # attachments, certificate status, group membership, thing attributes): the broker's
        # decision cache is valid only for one generation.
        self.generation = 0
        # Registry event types (UpdateEventConfigurations): all off on a new account, as on AWS.
        self.event_configurations: dict[str, bool] = {name: False for name in EVENT_TYPES}
        # v2 logging: options (SetV2LoggingOptions) and levels per (targetType, targetName).
        self.logging: dict[str, Any] = {"options": None, "levels": {}}
        self.registration_tasks: dict[str, Any] = {}  # bulk registration tasks by id
        self.event_configurations_dates: dict[str, float] = {"created": self.started_at, "modified": self.started_at}

    def registry_changed(self) -> None:
        """Invalidate cached authorisation decisions (called by the moto hooks)."""
        self.generation += 1

    def events_enabled(self, event_type: str) -> bool:
        return self.event_configurations.get(event_type, False)

    # -- moto's state ---------------------------------------------------------------------------
    @property
    def iot(self) -> Any:
        """moto's IoT backend for the lab's account and region (the registry)."""
        from moto.iot.models import iot_backends

        return iot_backends[self.config.account_id][self.config.region]

    def backend(self, service: str) -> Any:
        """moto's backend for any other service (s3, iam, logs, lambda, ...) in the lab's region."""
        from moto.backends import get_backend

        backends = get_backend(service)  # type: ignore[arg-type]
        account = backends[self.config.account_id]
        return account["global"] if "global" in account and service in ("iam", "s3") else account[self.config.region]

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.config.region}:{self.config.account_id}:{kind}/{name}"

    # -- MQTT ----------------------------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes | str | dict | list, qos: int = 0, retain: bool = False
    ) -> Future | None:
        """Publish into the broker from any thread, as AWS IoT itself does (events, shadow replies).

        Returns a future that completes when the broker has queued the message, or None while no
        broker is running (unit tests of handlers run without one).
        """
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload, separators=(",", ":")).encode()
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = payload
        for listener in list(self._listeners):
            listener(topic, data)
        if self.broker is None or self.loop is None or self.loop.is_closed():
            return None
        coroutine = self.broker.publish_from_service(topic, data, qos, retain=retain)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return asyncio.ensure_future(coroutine)  # type: ignore[return-value]
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def connected_clients(self) -> list[str]:
        """Client ids connected to the broker now (fleet indexing's connectivity)."""
        return self.broker.connected_client_ids() if self.broker is not None else []

    def on_publish(self, listener: Callable[[str, bytes], None]) -> None:
        """Observe every service-side publish (used by tests and the rules engine)."""
        self._listeners.append(listener)
