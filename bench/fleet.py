"""Fleet bench: a class-sized fleet of live devices on the lab's broker.

``--devices`` (1,000) mutually-authenticated MQTT connections from ``--processes`` (4) client processes
(`fleet_client.py`, one asyncio loop each), each device publishing QoS 1 telemetry once a second for
``--seconds`` (60), with a topic rule (republish of hot readings) and fine-grained logging (INFO) on.
One subscriber receives everything and measures delivery latency. Repeated ``--runs`` (3) times on the
same lab, to see whether its memory comes back down.

Targets: no message lost; delivery latency p99 <= 50 ms; lab memory (RSS) <= 400 MB, and flat across
the runs (the last run's RSS after the clients left within 10 % of the first's). Then one run of the
same clients against Debian's mosquitto, when installed (``--no-baseline`` to skip), shows what the
host and the client processes cost by themselves.
Devices share one certificate per client process (AWS allows one certificate for several connections
with different client ids; the policy allows ``client/fleet-*``). Loopback only; bounded; stops by
itself. Quick check: ``--devices 50 --seconds 5 --runs 2``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from common import private_lab, report

HERE = Path(__file__).resolve().parent
SETTLE_S = 5  # after the clients left: let the lab release what it held before reading its memory
LATENCY_P99_MS, RSS_MAX_MB, RSS_GROWTH = 50, 400, 0.10


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def lab_pid() -> int:
    return json.loads((Path(os.environ["LOCALCORE_HOME"]) / "lab.json").read_text())["pid"]


def lab_rss_mb() -> float:
    return rss_mb(lab_pid())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Subscriber:
    """Receives ``fleet/+/telemetry``; keeps sequence numbers per device and latencies (ms)."""

    def __init__(self, ws, port: int, cert: Path, key: Path) -> None:
        self.received: dict[str, set[int]] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet-subscriber")
        self.client.max_queued_messages_set(0)
        self.client.tls_set(ca_certs=str(ws.root_ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("fleet/+/telemetry", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        self.client.on_message = self._message
        self.client.connect("localhost", port, keepalive=60)
        self.client.loop_start()
        if not self.ready.wait(20):
            raise RuntimeError("the fleet subscriber could not subscribe")

    def _message(self, client, userdata, message) -> None:
        now = time.time_ns()
        data = json.loads(message.payload)
        with self.lock:
            self.received.setdefault(data["device"], set()).add(data["seq"])
            self.latencies.append((now - data["sent_ns"]) / 1e6)

    def reset(self) -> None:
        with self.lock:
            self.received, self.latencies = {}, []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def provision(ws, processes: int, log_level: str = "INFO") -> list[tuple[Path, Path]]:
    from helpers import save_device

    arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/fleet-*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"{arn}:topic/fleet/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/fleet/*"},
    ]}
    ws.iot.create_policy(policyName="fleet-policy", policyDocument=json.dumps(policy))
    files = []
    for i in range(processes + 1):  # one per client process, and the subscriber's
        out = ws.iot.create_keys_and_certificate(setAsActive=True)
        ws.iot.attach_policy(policyName="fleet-policy", target=out["certificateArn"])
        saved = save_device(ws, f"fleet-certificate-{i}", out["certificatePem"], out["keyPair"]["PrivateKey"])
        files.append((saved.cert, saved.key))
    role = f"arn:aws:iam::{ws.account_id}:role/fleet-bench"
    if log_level != "none":
        ws.iot.set_v2_logging_options(roleArn=role, defaultLogLevel=log_level, disableAllLogs=False)
    ws.iot.create_topic_rule(ruleName="fleet_hot", topicRulePayload={
        "sql": "SELECT device, temperature FROM 'fleet/+/telemetry' WHERE temperature > 33",
        "actions": [{"republish": {"roleArn": role, "topic": "fleet/alerts/hot", "qos": 0}}],
        "ruleDisabled": False, "awsIotSqlVersion": "2016-03-23"})
    return files


def run_once(ws, port: int, files, subscriber: Subscriber, devices: int, processes: int, seconds: float,
             rss=lab_rss_mb, pid=lab_pid) -> dict:
    subscriber.reset()
    cpu_start, wall_start = cpu_seconds(pid()), time.monotonic()
    start_at = time.time() + 2 + devices / 200  # every device connected before the first publish
    per = [devices // processes + (1 if i < devices % processes else 0) for i in range(processes)]
    clients = [subprocess.Popen(
        [sys.executable, str(HERE / "fleet_client.py"), "localhost", str(port), str(ws.root_ca),
         str(files[i][0]), str(files[i][1]), f"fleet-{i}", str(per[i]), str(seconds), str(start_at)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(processes)]
    peak = 0.0
    while any(c.poll() is None for c in clients):
        peak = max(peak, rss())
        time.sleep(0.5)
    tallies = []
    for client in clients:
        out, err = client.communicate(timeout=30)
        tallies.append(json.loads(out.strip().splitlines()[-1]) if out.strip() else {"failed": per[0], "sent": 0,
                                                                                      "acked": 0, "connected": 0})
    deadline = time.monotonic() + 10
    total_sent = sum(t["sent"] for t in tallies)
    while sum(len(v) for v in subscriber.received.values()) < total_sent and time.monotonic() < deadline:
        time.sleep(0.1)
    cpu_share = (cpu_seconds(pid()) - cpu_start) / (time.monotonic() - wall_start)
    time.sleep(SETTLE_S)  # the lab's memory after the fleet left: released or not (a measurement, not a wait)
    with subscriber.lock:
        latencies = list(subscriber.latencies)
        received = {k: set(v) for k, v in subscriber.received.items()}
    return {"connected": sum(t["connected"] for t in tallies), "failed": sum(t["failed"] for t in tallies),
            "sent": total_sent, "acked": sum(t["acked"] for t in tallies),
            "received": sum(len(v) for v in received.values()),
            "lost": total_sent - sum(len(v) for v in received.values()),
            "p50": statistics.median(latencies) if latencies else 0.0, "p99": percentile(latencies, 99),
            "rss_peak": peak, "rss_after": rss(), "cpu": cpu_share}


def show(title: str, figures: dict, devices: int, what: str = "lab") -> None:
    print(f"{title}: {figures['connected']}/{devices} connected ({figures['failed']} failed), "
          f"{figures['sent']} sent, {figures['acked']} acknowledged, {figures['received']} received, "
          f"{figures['lost']} lost; latency p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms; "
          f"{what} RSS peak {figures['rss_peak']:.0f} MB, after {figures['rss_after']:.0f} MB, "
          f"CPU {figures['cpu']:.0%} of a core", flush=True)


def mosquitto_baseline(ws, files, args) -> dict | None:
    """One run of the same fleet against Debian's mosquitto (no rules, no logging, no policies): the
    latency the host and the client processes account for by themselves. None without mosquitto."""
    if not shutil.which("mosquitto"):
        print("mosquitto is missing (bench/tools.sh installs it): no baseline")
        return None
    from broker import Mosquitto, Target

    mosquitto = Mosquitto(Path(os.environ["LOCALCORE_HOME"]), Target("lab", ws.port, ws.root_ca, *files[-1]))
    try:
        subscriber = Subscriber(ws, mosquitto.port, *files[-1])
        try:
            figures = run_once(ws, mosquitto.port, files, subscriber, args.devices, args.processes, args.seconds,
                               rss=lambda: rss_mb(mosquitto.process.pid), pid=lambda: mosquitto.process.pid)
        finally:
            subscriber.close()
    finally:
        mosquitto.close()
    show("mosquitto", figures, args.devices, "mosquitto")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the fleet once against Debian's mosquitto (when installed), for comparison")
    parser.add_argument("--log-level", default="INFO", help="fine-grained logging level, or 'none' (for profiling)")
    args = parser.parse_args()
    os.environ.setdefault("LOCALCORE_MQTT_MIN_KEEP_ALIVE_S", "30")
    results = []
    with private_lab():
        from helpers import connect

        ws = connect()
        files = provision(ws, args.processes, args.log_level)
        rss_start = lab_rss_mb()
        subscriber = Subscriber(ws, ws.port, *files[-1])
        try:
            for run in range(args.runs):
                figures = run_once(ws, ws.port, files, subscriber, args.devices, args.processes, args.seconds)
                results.append(figures)
                show(f"run {run + 1}", figures, args.devices)
        finally:
            subscriber.close()
        baseline = mosquitto_baseline(ws, files, args) if args.baseline else None
    print(f"Targets ({args.devices} devices x {args.seconds:g} s x {args.runs} runs; lab RSS at start {rss_start:.0f} MB):")
    ok = report("devices connected (every run)", min(r["connected"] for r in results), "devices",
                f"= {args.devices}", all(r["connected"] == args.devices for r in results))
    ok &= report("messages lost (all runs)", sum(r["lost"] for r in results), "msgs", "= 0",
                 all(r["lost"] == 0 for r in results))
    worst = max(r["p99"] for r in results)
    ok &= report("delivery latency p99 (worst run)", worst, "ms", f"<= {LATENCY_P99_MS} ms", worst <= LATENCY_P99_MS)
    if baseline is not None:
        print(f"  (mosquitto with the same clients, one run: p50 {baseline['p50']:.1f} ms, p99 {baseline['p99']:.1f} ms, "
              f"{baseline['lost']} lost: what this host and the clients cost without the lab)")
    peak = max(r["rss_peak"] for r in results)
    ok &= report("lab memory, peak", peak, "MB", f"<= {RSS_MAX_MB} MB", peak <= RSS_MAX_MB)
    growth = results[-1]["rss_after"] / results[0]["rss_after"] - 1
    ok &= report("lab memory after the last run vs the first", growth * 100, "%", f"<= {RSS_GROWTH:.0%}",
                 growth <= RSS_GROWTH)
    print("fleet benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
