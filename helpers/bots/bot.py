"""Simulated bots: a bot that comes alive on this machine, and the `Fleet` of those running.

The workshop's bots run in the trainee's kernel on both backends (the seed ran each on AWS Fargate;
this kit keeps them local: nothing to pay for, nothing left running after the kernel stops). A `Bot`:

1. fetches its certificate and private key from the bots' S3 bucket (``bots/<thing>/certificate.pem.crt``,
   ``bots/<thing>/private.pem.key``, where ``ProvisionBot`` saved them) into the private work folder
   (``<work_dir>/bots/<thing>/``, 0600, `helpers.secrets`); they are never printed;
2. connects over mutual TLS with its thing name as client id (`helpers.device.Device`, the workshop's
   endpoint, port and root CA);
3. publishes a heartbeat (``bots/<thing>/heartbeat``: ``{"thingName", "uptime_s", "ts"}``) every
   `HEARTBEAT_S` seconds and telemetry (``bots/<thing>/telemetry``: ``{"thingName", "battery",
   "temperature", "ts"}``) every `TELEMETRY_EVERY` heartbeats, on a background thread; ``ts`` is the
   time in milliseconds since the epoch, as AWS IoT's own timestamps.

When the server closes its connection, the bot asks the registry why: a certificate no longer ACTIVE
(``RemoveBot`` deactivates it first; AWS IoT then closes its live connections, "within minutes"
[unconfirmed how soon], the lab within a second: ``localcore.mqtt.broker.CERT_RECHECK_INTERVAL_S``) ends the bot in state ``disconnected: certificate disabled``, quietly and for good. Otherwise
it tries to reconnect a few times (`RECONNECT_PAUSES_S`), then gives up saying why: never a reconnect
storm, never a traceback. `stop()` ends it cleanly.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..certs import DeviceFiles, certificate_id
from ..device import ConnectionRefused, Device, MqttError
from ..failures import BackendUnreachable, WorkshopError
from ..secrets import private_folder, write_private
from ..waits import aws_error_code

HEARTBEAT_S = 5.0
TELEMETRY_EVERY = 2  # heartbeats
CONNECT_TIMEOUT_S = 10.0
RECONNECT_PAUSES_S = (1.0, 2.0, 5.0)  # then it gives up
STOP_TIMEOUT_S = 15.0
CERTIFICATE_FILE, KEY_FILE = "certificate.pem.crt", "private.pem.key"

# Bot states (`Bot.state`) and what the screen shows for them (`Bot.status`).
STARTING, ONLINE, RECONNECTING, STOPPED = "starting", "online", "reconnecting", "stopped"
CERTIFICATE_DISABLED = "disconnected: certificate disabled"
CERTIFICATE_DELETED = "disconnected: certificate deleted"


class BotFilesMissing(WorkshopError):
    """The bucket holds no certificate or key for this bot (not provisioned, or removed)."""


# ------------------------------------------------------------------------------ pure pieces


def s3_keys(thing_name: str) -> tuple[str, str]:
    """The S3 keys of a bot's certificate and private key (issue 11's interface)."""
    return f"bots/{thing_name}/{CERTIFICATE_FILE}", f"bots/{thing_name}/{KEY_FILE}"


def topics(thing_name: str) -> tuple[str, str]:
    """``(heartbeat topic, telemetry topic)`` of a bot."""
    return f"bots/{thing_name}/heartbeat", f"bots/{thing_name}/telemetry"


def heartbeat(thing_name: str, uptime_s: float, now: float) -> dict[str, Any]:
    return {"thingName": thing_name, "uptime_s": round(uptime_s, 1), "ts": int(now * 1000)}


def telemetry(thing_name: str, uptime_s: float, now: float, rng: random.Random) -> dict[str, Any]:
    """A battery that runs down 1 % a minute (never below 0) and a room temperature that wanders a little."""
    return {"thingName": thing_name, "battery": max(0, 100 - int(uptime_s // 60)),
            "temperature": round(21.0 + rng.uniform(-1.5, 1.5), 1), "ts": int(now * 1000)}


def screen_status(state: str) -> str:
    """What the things screen shows for a bot's state: ``online``, ``offline`` or ``disconnected``."""
    if state == ONLINE:
        return "online"
    if state.startswith("disconnected") or state == RECONNECTING:
        return "disconnected"
    return "offline"


# -------------------------------------------------------------------------------- the files


def fetch_files(ws: Any, thing_name: str, bucket: str) -> DeviceFiles:
    """Copy the bot's certificate and key from S3 into ``<work_dir>/bots/<thing>/`` (0600); return their paths."""
    folder = private_folder(Path(ws.work_dir) / "bots" / thing_name)
    paths = []
    for key, file_name in zip(s3_keys(thing_name), (CERTIFICATE_FILE, KEY_FILE)):
        try:
            body = ws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # noqa: BLE001 - botocore ClientError
            if aws_error_code(error) in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied"):
                raise BotFilesMissing(
                    f"The bucket {bucket} holds no {file_name} for {thing_name} ({aws_error_code(error)}): "
                    f"provision the bot first (ProvisionBot saves it there)."
                ) from None
            raise
        paths.append(write_private(folder / file_name, body))
    return DeviceFiles(cert=paths[0], key=paths[1])


# ---------------------------------------------------------------------------------- the bot


class Bot:
    """One simulated bot; `start` brings it online, `stop` ends it. ``state`` says where it is."""

    def __init__(self, ws: Any, thing_name: str, bucket: str, *, interval_s: float = HEARTBEAT_S,
                 telemetry_every: int = TELEMETRY_EVERY, clock: Callable[[], float] = time.time) -> None:
        self.ws, self.thing_name, self.bucket = ws, thing_name, bucket
        self.interval_s, self.telemetry_every, self.clock = interval_s, telemetry_every, clock
        self.state = STARTING
        self.published = 0
        self.connections = 0  # successful connects: a reconnect storm would show here
        self.device: Device | None = None
        self._certificate_id = ""
        self._started = time.monotonic()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(thing_name)

    def __repr__(self) -> str:
        return f"Bot({self.thing_name!r}, {self.state})"

    @property
    def status(self) -> str:
        return screen_status(self.state)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Bot":
        """Fetch the files, connect, start publishing. Raises a plain-words error when it cannot connect."""
        files = fetch_files(self.ws, self.thing_name, self.bucket)
        self._certificate_id = certificate_id(files.cert.read_bytes())
        ws = self.ws
        self.device = Device(self.thing_name, files.cert, files.key, ws.endpoint, ws.port, ws.root_ca,
                             client_id=self.thing_name, iot=ws.iot, local=ws.backend == "local")
        self.device.on_connection_lost.append(lambda _device: self._wake.set())
        try:
            self.device.connect(CONNECT_TIMEOUT_S)
        except MqttError as error:
            self.state = f"disconnected: {error.kind}"
            raise
        self.connections += 1
        self._started = time.monotonic()
        self.state = ONLINE
        self._thread = threading.Thread(target=self._run, name=f"bot-{self.thing_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Disconnect cleanly and end the thread; a bot already disconnected keeps saying why."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self.device is not None:
            self.device.disconnect()
        if self.state in (STARTING, ONLINE, RECONNECTING):
            self.state = STOPPED

    # -- the bot's thread

    def _run(self) -> None:
        beats = 0
        while not self._stopping.is_set():
            if not self.device.connected and not self._recover():
                return
            try:
                uptime, now = time.monotonic() - self._started, self.clock()
                beat_topic, telemetry_topic = topics(self.thing_name)
                self.device.publish(beat_topic, heartbeat(self.thing_name, uptime, now), timeout=CONNECT_TIMEOUT_S)
                self.published += 1
                beats += 1
                if (beats - 1) % self.telemetry_every == 0:  # the first heartbeat, then every n-th
                    self.device.publish(telemetry_topic, telemetry(self.thing_name, uptime, now, self._rng),
                                        timeout=CONNECT_TIMEOUT_S)
                    self.published += 1
            except (MqttError, TimeoutError, OSError):
                pass  # the connection went: the next round finds out why
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def _recover(self) -> bool:
        """The connection closed: end for good when the certificate is disabled, else reconnect a few times."""
        if self._stopping.is_set():
            return False
        why = self._certificate_problem()
        if why:
            self.state = why
            return False
        self.state, last = RECONNECTING, "connection closed"
        for pause in RECONNECT_PAUSES_S:
            if self._stopping.wait(pause):
                return False
            try:
                self.device.connect(CONNECT_TIMEOUT_S)
            except ConnectionRefused as error:
                if error.reason == "certificate_inactive":
                    self.state = CERTIFICATE_DISABLED
                    return False
                if error.reason == "certificate_unknown":
                    self.state = CERTIFICATE_DELETED
                    return False
                last = error.kind
                continue
            except (MqttError, OSError, TimeoutError) as error:
                last = getattr(error, "kind", None) or type(error).__name__
                continue
            self.connections += 1
            self.state = ONLINE
            return True
        self.state = f"disconnected: {last}"
        return False

    def _certificate_problem(self) -> str:
        """``CERTIFICATE_DISABLED`` / ``CERTIFICATE_DELETED`` when the registry says so, else ``""``."""
        try:
            status = self.ws.iot.describe_certificate(certificateId=self._certificate_id)["certificateDescription"]["status"]
        except BackendUnreachable:
            return ""
        except Exception as error:  # noqa: BLE001 - botocore ClientError
            return CERTIFICATE_DELETED if aws_error_code(error) == "ResourceNotFoundException" else ""
        return "" if status == "ACTIVE" else CERTIFICATE_DISABLED


# --------------------------------------------------------------------------------- the fleet


class Fleet:
    """The simulated bots running in this kernel, by thing name. The bucket defaults to the bots stack's."""

    def __init__(self, ws: Any, *, bucket: str | None = None, interval_s: float = HEARTBEAT_S,
                 bot_factory: Callable[..., Bot] = Bot) -> None:
        self.ws, self._bucket, self.interval_s, self.bot_factory = ws, bucket, interval_s, bot_factory
        self.bots: dict[str, Bot] = {}
        self._lock = threading.Lock()

    @property
    def bucket(self) -> str:
        if self._bucket is None:
            from .service import bots_stack

            self._bucket = bots_stack(self.ws)["BotsBucketName"]
        return self._bucket

    def start(self, name: str) -> Bot:
        """Start the bot ``name`` (a running one is left as it is; a stopped or disconnected one starts anew)."""
        with self._lock:
            bot = self.bots.get(name)
            if bot is not None and bot.running:
                return bot
            bot = self.bot_factory(self.ws, name, self.bucket, interval_s=self.interval_s)
            self.bots[name] = bot
        bot.start()
        return bot

    def stop(self, name: str) -> None:
        bot = self.bots.get(name)
        if bot is not None:
            bot.stop()

    def forget(self, name: str) -> None:
        """Stop the bot and drop it (its thing is gone)."""
        self.stop(name)
        self.bots.pop(name, None)

    def stop_all(self) -> None:
        for bot in list(self.bots.values()):
            bot.stop()

    def status(self, name: str) -> str:
        """``online``, ``offline`` (not running here) or ``disconnected``."""
        bot = self.bots.get(name)
        return bot.status if bot is not None else "offline"

    def state(self, name: str) -> str:
        """The bot's state in words (``disconnected: certificate disabled``); ``not running`` for an unknown bot."""
        bot = self.bots.get(name)
        return bot.state if bot is not None else "not running"

    def __repr__(self) -> str:
        return f"Fleet({', '.join(f'{n}: {b.state}' for n, b in sorted(self.bots.items())) or 'no bots'})"


__all__ = ["Bot", "BotFilesMissing", "CERTIFICATE_DISABLED", "Fleet", "HEARTBEAT_S", "fetch_files", "heartbeat",
           "s3_keys", "screen_status", "telemetry", "topics"]
