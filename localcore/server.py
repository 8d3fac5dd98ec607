"""The lab process: AWS APIs over HTTP and MQTT over mutual TLS, in one process.

`python -m localcore serve` runs this in the foreground; `python -m localcore start` runs it in the
background (see `lifecycle`). The HTTP server runs on werkzeug threads, the broker on the main
asyncio loop. The state file is written only once both listeners answer, and removed on exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time

from werkzeug.serving import make_server

from . import lifecycle
from .config import LabConfig
from .runtime import Lab

log = logging.getLogger("localcore")



def build_lab(config: LabConfig) -> Lab:
    from . import persistence, realism, rules
    from .aws import auto_registration, iot_logging, jobs_service, moto_patches
    from .aws.handlers import fleet_indexing, registration_tasks
    from .pki import LabPKI

    delays = realism.check()  # a bad LOCALCORE_REALISM stops the start, not a request later
    if any(delays.values()):
        log.info("AWS-like delays on: %s", ", ".join(f"{k}={v:g}s" for k, v in delays.items() if v))
    pki = LabPKI.load_or_create(config.home)
    lab = Lab(config, pki)
    moto_patches.apply(lab)
    persistence.restore(lab)  # the saved state, before anything looks up a moto backend
    auto_registration.install(lab)  # JITP/JITR on a device's first connection
    rules.install(lab)  # topic rules run on every message the broker accepts
    jobs_service.install(lab)  # IoT Jobs: lab.jobs and lab.on_jobs_request (after moto_patches.apply)
    fleet_indexing.fleet(lab)  # watch shadows and connectivity from the start, not the first query
    iot_logging.install(lab)  # fine-grained logging: lab.iot_log writes AWSIotLogsV2
    registration_tasks.resume_interrupted(lab)  # bulk tasks a stopped lab left running go on
    return lab


# lab.log rotates at this size, keeping this many old files (lab.log.1 ... lab.log.3).
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(config: LabConfig) -> None:
    configure_logging(config)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_serve(config))
    except Exception:
        log.exception("the lab stopped on an error")
        raise


EVENT_LOOP_ENV = "LOCALCORE_EVENT_LOOP"  # "asyncio" (the default) or "uvloop"


def event_loop_factory():
    """asyncio's event loop, or uvloop's with ``LOCALCORE_EVENT_LOOP=uvloop`` (where it is installed).

    Not uvloop by default: measured with ``bench/broker.py`` it was ~20 % faster, but it lost about one
    QoS 0 message in ten of a client that publishes a burst and hangs up at once (the bytes never reach
    the reader: uvloop's TLS transport drops them), and the lab must not lose what AWS would route."""
    import os

    if os.environ.get(EVENT_LOOP_ENV, "asyncio") == "uvloop":
        try:
            import uvloop
        except ImportError:
            return None
        return uvloop.new_event_loop
    return None


def configure_logging(config: LabConfig) -> None:
    """Log to ``<home>/lab.log``, rotated by size, and to the terminal when there is one.

    One line per request that fails (``localcore.aws.failures``); tracebacks only at DEBUG
    (``LOCALCORE_LOG_LEVEL=DEBUG``). A lab started in the background (``lifecycle.start``) prints
    nothing else; its stdout and stderr go to ``lab.out``, so stray output never grows the log past
    its rotation.
    """
    from logging.handlers import RotatingFileHandler

    config.home.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        RotatingFileHandler(config.log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    ]
    if sys.stderr.isatty():
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=os.environ.get("LOCALCORE_LOG_LEVEL", "INFO"), format=LOG_FORMAT, handlers=handlers, force=True
    )
    for noisy in ("amqtt", "transitions", "werkzeug", "botocore", "moto", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    threading.excepthook = _log_thread_exception


def _log_thread_exception(args) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    log.error("thread %s failed: %s: %s", thread, args.exc_type.__name__, args.exc_value,
              exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _skip_slow_optional_imports() -> None:
    """moto's CloudFormation imports every service, among them API Gateway's OpenAPI validator, whose
    jsonschema loads the optional ``rfc3987_syntax`` if installed (JupyterLab installs it): building
    its grammar takes ~2 s, paid at each start that restores a stack. The lab never validates IRIs;
    without the module jsonschema simply skips that format."""
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _request_handler():
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class LabRequestHandler(MotoRequestHandler):
        """moto's handler, logging requests at DEBUG instead of printing each one to the lab log."""

        def log_request(self, code="-", size="-") -> None:
            log.debug("%s %s %s", self.command, self.path, code)

    return LabRequestHandler


GC_THRESHOLDS = (10_000, 10, 10)  # Python default: (700, 10, 10) [objects allocated, younger collections]


def _tune_garbage_collection() -> None:
    """What the lab loaded to start (moto's models, botocore's, the restored state) is moved out of
    the collector's sight (``gc.freeze``), and young collections run less often: with a fleet
    connected, collections scanning a few hundred MB of start-up objects were pauses every client
    felt (``bench/fleet.py``'s latency p99)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _serve(config: LabConfig) -> None:
    from . import persistence, rules
    from .aws.app import LabApp
    from .lambda_runner import service as lambda_service
    from .mqtt.broker import LabBroker
    from .persistence.wsgi import gated

    _skip_slow_optional_imports()
    lab = build_lab(config)
    app = gated(LabApp(lab), lab)  # every request passes the gate the saver closes for a snapshot
    http = make_server(config.host, config.http_port, app, threaded=True, request_handler=_request_handler())
    http_thread = threading.Thread(target=http.serve_forever, name="http", daemon=True)
    http_thread.start()

    lab.loop = asyncio.get_running_loop()
    # Benchmarks only: LOCALCORE_ENFORCE_POLICIES=0 measures the same broker with checks off.
    enforce = os.environ.get("LOCALCORE_ENFORCE_POLICIES", "1") != "0"
    if not enforce:
        log.warning("policy enforcement is OFF (LOCALCORE_ENFORCE_POLICIES=0): for benchmarks only")
    broker = LabBroker(lab, enforce_policies=enforce)
    await broker.start()
    lab.broker = broker
    persistence.start_saver(lab)
    _tune_garbage_collection()

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        lab.loop.add_signal_handler(sig, stop.set)

    info = lifecycle.LabInfo(
        pid=os.getpid(), http_port=config.http_port, mqtt_port=config.mqtt_port,
        started_at=lab.started_at, home=str(config.home), ws_port=config.ws_port_or_default,
    )
    lifecycle.write_state(config, info)
    log.info("lab ready in %.2f s: http %s, mqtt %s:%d, mqtt over wss %s:%d", time.time() - lab.started_at,
             config.http_url, config.endpoint_host, config.mqtt_port, config.endpoint_host, config.ws_port_or_default)
    try:
        await stop.wait()
    finally:
        log.info("lab stopping")
        lifecycle.remove_state(config, os.getpid())
        await broker.shutdown()
        http.shutdown()
        rules.stop(lab)
        lambda_service.close(lab)  # kills functions still running
        persistence.stop_saver(lab)  # the last changes, once nothing can change any more
        log.info("lab stopped; its state is saved in %s", persistence.snapshot_path(config.home))
