"""The running lab as one object: configuration, PKI, moto's state, lab-only state, and the broker.

HTTP handlers, moto hooks and the broker all receive this object; nothing else is global. The
broker runs on its own asyncio loop thread, HTTP requests on werkzeug's threads, so everything that
reaches the broker from HTTP goes through :meth:`Lab.publish`, which is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .config import LabConfig
from .persistence.gate import StateGate

if TYPE_CHECKING:  # pragma: no cover
    from .pki import LabPKI


EVENT_TYPES = (
    "THING", "THING_GROUP", "THING_TYPE", "THING_GROUP_MEMBERSHIP", "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION", "JOB", "JOB_EXECUTION", "POLICY", "CERTIFICATE", "CA_CERTIFICATE",
)


class Lab:
    """The lab's state and the rules for changing it.

    Durable state (what survives a restart, see `localcore.persistence`) is moto's backends, the
    plain data in ``state`` and the parts registered with `durable`. It changes only inside an HTTP
    request that changes (which passes ``gate`` alone) or inside ``with lab.changing():`` (the same,
    holding ``lock`` too and telling the saver). Running machinery (pools, threads, caches) lives in
    ``services``, never in ``state``.
    """

    def __init__(self, config: LabConfig, pki: "LabPKI") -> None:
        self.config = config
        self.pki = pki
        self.started_at = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None  # the broker's loop, set by the server
        self.broker: Any = None
        self.state: dict[str, Any] = {}  # lab-only durable data (plain, picklable): CA settings, ...
        self.services: dict[str, Any] = {}  # lab-only machinery (rules engine, Lambda runner, ...)
        self.lock = threading.RLock()
        self.gate = StateGate()  # HTTP requests hold it shared; a snapshot holds it exclusively
        self.revision = 0  # bumped by every change of durable state (the saver compares it)
        self.state_changed = threading.Event()  # set with every bump: wakes the saver
        self._durable: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._restoring: dict[str, Any] = {}  # saved data of parts not registered yet
        self.durable("lab", self._dump_own, self._load_own)
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
        self.changed()

    # -- durable state --------------------------------------------------------------------------
    def changed(self) -> None:
        """Durable state changed: the saver writes it within a second."""
        self.revision += 1
        self.state_changed.set()

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Change durable state outside an HTTP request: pass the gate as a change (so no request
        reads it half done and no snapshot saves it half done), hold the lab's lock, tell the saver."""
        with self.gate.writing(), self.lock:
            try:
                yield
            finally:
                self.changed()

    def durable(self, name: str, dump: Callable[[], Any], load: Callable[[Any], None]) -> None:
        """Register a durable part: ``dump()`` returns its data (picklable; called while the lab is
        quiet, so it may return live objects), ``load(data)`` puts saved data back. A part registered
        after the lab restored its snapshot gets its saved data at once."""
        self._durable[name] = (dump, load)
        if name in self._restoring:
            self._load_part(name, load, self._restoring.pop(name))

    def durable_parts(self) -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
        return dict(self._durable)

    def restore_parts(self, parts: dict[str, Any]) -> None:
        """Give each durable part its saved data, now or when it registers."""
        for name, data in parts.items():
            registered = self._durable.get(name)
            if registered is None:
                self._restoring[name] = data
            else:
                self._load_part(name, registered[1], data)

    def _load_part(self, name: str, load: Callable[[Any], None], data: Any) -> None:
        import logging

        try:
            load(data)
        except Exception:  # one part that cannot come back must not keep the lab from starting
            logging.getLogger("localcore.persistence").exception(
                "the saved %s state could not be restored; it starts empty", name
            )

    def _dump_own(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "event_configurations": self.event_configurations,
            "event_configurations_dates": self.event_configurations_dates,
            "logging": self.logging,
            "registration_tasks": self.registration_tasks,
        }

    def _load_own(self, data: dict[str, Any]) -> None:
        self.state.update(data.get("state") or {})
        self.event_configurations.update(data.get("event_configurations") or {})
        self.event_configurations_dates.update(data.get("event_configurations_dates") or {})
        if data.get("logging"):
            self.logging = data["logging"]
        self.registration_tasks.update(data.get("registration_tasks") or {})

    def resource_counts(self) -> dict[str, int]:
        """How much the registry holds (for `localcore status` and the snapshot's header)."""
        iot = self.iot
        jobs = self.jobs.jobs if getattr(self, "jobs", None) is not None else iot.jobs
        return {
            "things": len(iot.things),
            "thingTypes": len(iot.thing_types),
            "thingGroups": len(iot.thing_groups),
            "certificates": len(iot.certificates),
            "caCertificates": len(iot.ca_certificates),
            "policies": len(iot.policies),
            "topicRules": len(iot.rules),
            "jobs": len(jobs),
        }

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
