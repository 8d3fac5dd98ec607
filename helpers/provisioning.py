"""Bulk provisioning plumbing: device keys and CSRs, the NDJSON input file, following a thing
registration task, reading its reports, writing certificates, and testing every device.

The lesson's own calls (``iot.start_thing_registration_task`` and friends) stay in the notebook;
`start_task` and `follow_task` exist for chapters where bulk provisioning is only a set-up step.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import waits
from .certs import DeviceFiles, key_pem, make_csr, new_key, save_device
from .device import Device, try_connect_and_publish
from .ui import THING_NAME_PATTERN, Progress

TASK_DONE = ("Completed", "Failed", "Cancelled")
# Keys of an ERRORS report line: AWS's names are [unconfirmed]; the lab writes the first of each.
ERROR_CODE_KEYS = ("errorCode", "ErrorCode", "code")
ERROR_MESSAGE_KEYS = ("errorMessage", "ErrorMessage", "message")
RESULT_COLUMNS = ["offset", "thing_name", "certificate_id", "certificate_arn", "certificate_pem"]
ERROR_COLUMNS = ["offset", "error_code", "message"]
POOL_MIN_DEVICES = 32  # below this a process pool costs more than it saves
MAX_DEVICES = 10_000


@dataclass
class DevicePlan:
    """One device to provision: its name, serial number, key and CSR (the repr shows no key)."""

    name: str
    serial: str
    csr_pem: str = field(repr=False)
    key_pem: str = field(repr=False)
    extra: dict[str, str] = field(default_factory=dict, repr=False)
    files: DeviceFiles | None = None

    @property
    def parameters(self) -> dict[str, str]:
        """The template parameters of this device: one line of the bulk input file."""
        return {"ThingName": self.name, "SerialNumber": self.serial, "CSR": self.csr_pem, **self.extra}


def _key_and_csr(job: tuple[str, int | None, str, dict]) -> tuple[str, str]:
    kind, bits, common_name, subject = job
    key = new_key(kind, bits)
    return key_pem(key), make_csr(key, common_name, **subject)


def _generate(jobs: list[tuple[str, int | None, str, dict]], workers: int) -> list[tuple[str, str]]:
    if workers <= 1 or len(jobs) < 2:
        return [_key_and_csr(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_key_and_csr, jobs, chunksize=max(1, len(jobs) // (workers * 4))))


def auto_workers(key_kind: str, jobs: int, cpus: int | None = None) -> int:
    """Processes worth using: RSA key generation is CPU-bound and parallelises; EC keys take microseconds."""
    cpus = cpus or os.cpu_count() or 1
    return cpus if key_kind == "rsa" and jobs >= POOL_MIN_DEVICES and cpus > 1 else 1


def make_devices(
    prefix: str,
    count: int,
    key_kind: str = "rsa",
    shared_certificate: bool = False,
    *,
    start: int = 1,
    bits: int | None = None,
    subject: Mapping[str, str] | None = None,
    extra_parameters: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> list[DevicePlan]:
    """``count`` devices named ``<prefix><n>`` with keys and CSRs made in memory.

    ``shared_certificate=True`` makes one key and one CSR that every device uses (each provisioned
    certificate then holds the same public key); otherwise each device gets its own.
    ``workers`` processes generate the keys (default: all CPUs for 32+ RSA keys, else one).
    """
    if not 1 <= count <= MAX_DEVICES:
        raise ValueError(f"count must be between 1 and {MAX_DEVICES}, not {count}.")
    names = [f"{prefix}{n}" for n in range(start, start + count)]
    bad = [n for n in names[:1] + names[-1:] if not re.fullmatch(THING_NAME_PATTERN, n) or len(n) > 128]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a valid thing name (letters, digits, ':', '_', '-'; up to 128).")
    subject = dict(subject or {})
    if shared_certificate:
        jobs = [(key_kind, bits, f"{prefix}shared", subject)]
    else:
        jobs = [(key_kind, bits, name, subject) for name in names]
    pairs = _generate(jobs, workers if workers is not None else auto_workers(key_kind, len(jobs)))
    if shared_certificate:
        pairs = pairs * count
    extra = {k: str(v) for k, v in (extra_parameters or {}).items()}
    return [
        DevicePlan(name, str(n), csr_pem=csr, key_pem=key, extra=dict(extra))
        for n, name, (key, csr) in zip(range(start, start + count), names, pairs)
    ]


# ---------------------------------------------------------------------------- input file


def bulk_input(devices: Iterable[Mapping[str, Any] | DevicePlan]) -> str:
    """The newline-delimited JSON input of a thing registration task: one object per device."""
    lines = []
    for index, device in enumerate(devices):
        parameters = device.parameters if isinstance(device, DevicePlan) else device
        if not isinstance(parameters, Mapping) or not parameters:
            raise ValueError(f"Device {index} must be a non-empty dict of template parameters, not {parameters!r}.")
        for key, value in parameters.items():
            if not isinstance(key, str) or not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"Device {index}: parameter {key!r} must map a name to a string, not {value!r}.")
        lines.append(json.dumps({k: str(v) if not isinstance(v, str) else v for k, v in parameters.items()},
                                separators=(",", ":")))
    if not lines:
        raise ValueError("A bulk input file needs at least one device.")
    return "\n".join(lines) + "\n"


def upload_input(ws: Any, bucket: str, key: str, text: str) -> str:
    """Put the input file into S3; return its ``s3://`` address."""
    ws.s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    return f"s3://{bucket}/{key}"


def template_text(template_body: str | Path | Mapping) -> str:
    if isinstance(template_body, Mapping):
        return json.dumps(template_body)
    if isinstance(template_body, Path):
        return template_body.read_text()
    return template_body


def start_task(ws: Any, template_body: str | Path | Mapping, bucket: str, key: str, role_arn: str) -> str:
    """StartThingRegistrationTask; returns the task id. While another task of the account runs (AWS
    runs one at a time) or the role is too new to be assumed, it waits for its turn (`waits.retry_while`)."""
    response = waits.retry_while(lambda: ws.iot.start_thing_registration_task(
        templateBody=template_text(template_body), inputFileBucket=bucket, inputFileKey=key, roleArn=role_arn,
    ), transient=bulk_transients(ws), backend=waits.backend_of(ws))
    return response["taskId"]


def bulk_transients(ws: Any) -> tuple[waits.Transient, ...]:
    """What StartThingRegistrationTask may answer that means "not yet": another task of the account
    is running, the role is too new, or the account's API rate is used up. The role's answer comes
    first: its wording is AWS's own, while a running task is also recognised by listing the tasks."""
    return (waits.ROLE_NOT_YET_ASSUMABLE, waits.bulk_task_running(ws), waits.THROTTLED)


def follow_task(
    ws: Any, task_id: str, progress: bool = True, timeout: float | None = None, interval: float | None = None
) -> dict:
    """Poll DescribeThingRegistrationTask until the task ends; show a progress bar; return the last answer.

    Polls at most five times a second (every 2 s against AWS). The wait is sized to the backend
    (`helpers.waits.BULK_TASK`) unless ``timeout`` is given; a task that never ends raises
    `helpers.waits.WaitTimedOut` (a TimeoutError) with its counts and a hint.
    """
    interval = max(interval if interval is not None else (0.25 if ws.backend == "local" else 2.0), 0.2)
    bar = Progress(100, "bulk task") if progress else None
    last: dict = {}

    def look() -> dict:
        last.update(ws.iot.describe_thing_registration_task(taskId=task_id))
        if bar is not None:
            bar.update(int(last.get("percentageProgress") or 0), _counts(last))
        return last

    task = waits.wait_until(
        look, lambda t: t["status"] in TASK_DONE, what=f"the registration task {task_id} to end",
        timeout=timeout, budget=waits.BULK_TASK, backend=waits.backend_of(ws), interval=interval,
        describe=lambda t: f"still {t['status']} ({_counts(t)})", status=_Quiet() if bar is not None else None,
        hint="iot.describe_thing_registration_task(taskId=...) shows where it stands; "
             "iot.stop_thing_registration_task stops it.",
    )
    if bar is not None:
        bar.close(f"{task['status']}: {_counts(task)}")
    return dict(task)


def _counts(task: Mapping) -> str:
    return f"{task.get('successCount', 0)} ok, {task.get('failureCount', 0)} failed"


class _Quiet:
    """No progress line beside the progress bar, which already shows how far the task got."""

    def update(self, text: str) -> None:
        pass

    done = fail = update


# -------------------------------------------------------------------------------- reports


def parse_report(text: str) -> list[dict]:
    """The lines of a RESULTS or ERRORS report (newline-delimited JSON)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except ValueError as error:
            raise ValueError(f"Report line {number} is not JSON ({error}): {line[:80]!r}") from None
    return lines


def _arn_tail(arns: Iterable[str], kind: str) -> tuple[str | None, str | None]:
    for arn in arns:
        resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
        if resource.startswith(kind + "/"):
            return resource[len(kind) + 1:], arn
    return None, None


def result_rows(lines: Iterable[Mapping]) -> list[dict]:
    """RESULTS report lines → rows: offset, thing name, certificate id and ARN, certificate PEM."""
    rows = []
    for line in lines:
        response = line.get("response") or {}
        arns = list((response.get("ResourceArns") or {}).values())
        thing_name, _ = _arn_tail(arns, "thing")
        cert_id, cert_arn = _arn_tail(arns, "cert")
        rows.append({
            "offset": line.get("offset"), "thing_name": thing_name, "certificate_id": cert_id,
            "certificate_arn": cert_arn, "certificate_pem": response.get("CertificatePem"),
        })
    return rows


def error_rows(lines: Iterable[Mapping]) -> list[dict]:
    """ERRORS report lines → rows: offset, error code, message."""
    def first(line: Mapping, keys: tuple[str, ...]) -> Any:
        return next((line[k] for k in keys if k in line), None)

    return [
        {"offset": line.get("offset"), "error_code": first(line, ERROR_CODE_KEYS),
         "message": first(line, ERROR_MESSAGE_KEYS)}
        for line in lines
    ]


def fetch_report(url: str, timeout: float = 60) -> list[dict]:
    """Download one report (a ``resourceLinks`` URL: presigned S3 on AWS, the lab's HTTP locally)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - URLs AWS IoT gave us
        return parse_report(response.read().decode("utf-8"))


def report_links(ws: Any, task_id: str, report_type: str) -> list[str]:
    links: list[str] = []
    token = None
    while True:
        page = ws.iot.list_thing_registration_task_reports(
            taskId=task_id, reportType=report_type, **({"nextToken": token} if token else {})
        )
        links += page.get("resourceLinks", [])
        token = page.get("nextToken")
        if not token:
            return links


def task_reports(ws: Any, task_id: str) -> tuple[Any, Any]:
    """``(results_df, errors_df)`` of a thing registration task, downloaded from every report link."""
    import pandas as pd

    results = [line for url in report_links(ws, task_id, "RESULTS") for line in fetch_report(url)]
    errors = [line for url in report_links(ws, task_id, "ERRORS") for line in fetch_report(url)]
    results_df = pd.DataFrame(result_rows(results), columns=RESULT_COLUMNS).sort_values("offset", ignore_index=True)
    errors_df = pd.DataFrame(error_rows(errors), columns=ERROR_COLUMNS).sort_values("offset", ignore_index=True)
    return results_df, errors_df


# ------------------------------------------------------------------------ certificates


def _rows(results: Any) -> list[dict]:
    if hasattr(results, "to_dict") and hasattr(results, "columns"):
        return results.to_dict("records")
    return [dict(r) for r in results]


def write_certificates(target: Any, results: Any, devices: list[DevicePlan]) -> Any:
    """Write each device's certificate next to its key (0600); return a table of the files.

    ``results`` is the RESULTS table (or its rows); a row is matched to a device by thing name, or
    by offset when the template creates no thing. Sets ``device.files`` on every device written.
    """
    import pandas as pd

    rows = _rows(results)
    by_name = {r["thing_name"]: r for r in rows if r.get("thing_name")}
    by_offset = {r["offset"]: r for r in rows if r.get("offset") is not None}
    table = []
    for offset, device in enumerate(devices):
        row = by_name.get(device.name) or by_offset.get(offset)
        if row is None or not row.get("certificate_pem"):
            table.append({"device": device.name, "certificate_id": None, "cert": None, "key": None,
                          "written": False, "problem": "no result for this device (see the ERRORS report)"})
            continue
        device.files = save_device(target, device.name, row["certificate_pem"], device.key_pem)
        table.append({"device": device.name, "certificate_id": row.get("certificate_id"),
                      "cert": device.files.cert, "key": device.files.key, "written": True, "problem": ""})
    return pd.DataFrame(table, columns=["device", "certificate_id", "cert", "key", "written", "problem"])


# ---------------------------------------------------------------------- connectivity test


def device_files(devices: Any) -> list[tuple[str, DeviceFiles]]:
    """``(name, files)`` pairs from DevicePlans, a `write_certificates` table, or a name → files dict."""
    if isinstance(devices, Mapping):
        return [(name, files) for name, files in devices.items()]
    if hasattr(devices, "to_dict") and hasattr(devices, "columns"):
        return [(r["device"], DeviceFiles(Path(r["cert"]), Path(r["key"])))
                for r in devices.to_dict("records") if r.get("cert") and r.get("key")]
    pairs = []
    for device in devices:
        if isinstance(device, DevicePlan):
            if device.files is not None:
                pairs.append((device.name, device.files))
        else:
            name, files = device
            pairs.append((name, files))
    return pairs


def connectivity_test(
    ws: Any, devices: Any, topic: str = "iot/ws", *, console: Any = None,
    timeout: float = 10.0, receive_timeout: float = 5.0, progress: bool = True,
) -> Any:
    """Connect and publish once with every device; one console subscriber checks each message arrived.

    Returns a DataFrame: device, connected, connect_ms, published, received, error.
    """
    import pandas as pd

    from .console import MqttConsole

    pairs = device_files(devices)
    own_console = console is None
    console = console or MqttConsole(ws, filters=[topic])
    if topic not in console.filters:
        console.subscribe(topic)
    bar = Progress(len(pairs), "devices") if progress and pairs else None
    rows, nonces = [], {}
    try:
        for done, (name, files) in enumerate(pairs, start=1):
            device = Device(name, files.cert, files.key, ws.endpoint, ws.port, ws.root_ca,
                            iot=ws.iot, local=ws.backend == "local")
            nonce = uuid.uuid4().hex
            row = try_connect_and_publish(device, topic, {"device": name, "nonce": nonce, "test": "connectivity"},
                                          timeout=timeout)
            if row["published"]:
                nonces[name] = nonce
            rows.append(row)
            if bar is not None:
                bar.update(done, name)

        def seen(messages: list) -> set[str]:
            return {(m.json or {}).get("nonce") for m in messages if m.topic == topic and isinstance(m.json, dict)}

        console.log.wait_until(lambda messages: set(nonces.values()) <= seen(messages), receive_timeout)
        arrived = seen(console.log.messages())
        for row in rows:
            row["received"] = nonces.get(row["device"]) in arrived if row["published"] else False
        if bar is not None:
            bar.close(f"{sum(r['connected'] for r in rows)}/{len(rows)} connected, "
                      f"{sum(r['received'] for r in rows)} messages received")
    finally:
        if own_console:
            console.close()
    return pd.DataFrame(rows, columns=["device", "connected", "connect_ms", "published", "received", "error"])


@functools.cache
def _png_figure_class() -> type:
    """A matplotlib Figure that shows itself as a PNG in Jupyter even when pyplot (and with it the
    inline backend) was never imported; a bare Figure would show only ``<Figure size ...>``."""
    from matplotlib.figure import Figure

    class PngFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    return PngFigure


def connect_time_chart(df: Any, title: str = "Connect time per device") -> Any:
    """A bar chart of ``connect_ms`` per device: green received, orange not received, red not connected."""
    figure = _png_figure_class()(figsize=(10, 3.5))
    axes = figure.subplots()
    records = list(df.itertuples())
    colours = [
        "#2e7d32" if r.received == True else ("#ef6c00" if r.connected == True else "#c62828")  # noqa: E712 (NaN-safe)
        for r in records
    ]
    heights = [_milliseconds(r) for r in records]
    positions = list(range(len(records)))
    axes.bar(positions, heights, color=colours)
    failed = [p for p, r in zip(positions, records) if r.connected != True]  # noqa: E712
    if failed:
        axes.scatter(failed, [0] * len(failed), marker="x", color="#c62828", label="not connected", zorder=3)
        axes.legend(loc="upper right")
    if len(positions) <= 40:
        axes.set_xticks(positions, list(df["device"]), rotation=90, fontsize=8)
    else:
        axes.set_xlabel(f"{len(positions)} devices")
    axes.set_ylabel("connect time (ms)")
    axes.set_title(title)
    figure.tight_layout()
    return figure


def _milliseconds(row: Any) -> float:
    try:
        value = float(row.connect_ms)
    except (TypeError, ValueError):
        return 0.0
    return value if row.connected == True and not math.isnan(value) else 0.0  # noqa: E712
