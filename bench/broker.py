"""MQTT broker benchmark: the lab's broker (IoT authentication and policies on, and off) side by
side with Debian's mosquitto, all over mutual TLS on loopback, measured with the C clients
`mosquitto_pub` / `mosquitto_sub` (Python clients saturate before the broker does), in one run.

Figures: QoS0 and QoS1 throughput (one publisher), 50-publisher fan-in, 200 sequential mTLS
connects, round-trip latency. Targets (issue 12; lab with checks on, measured beside mosquitto in
the same run): QoS0 and QoS1 throughput >= 0.15x mosquitto's; round trip p99 <= 1.5 ms; QoS0 with
checks on within 15 % of checks off; no QoS1 loss; 200 sequential connects <= 1.5x mosquitto's time.
Without Debian's `mosquitto` broker the comparisons are reported as not measured (`make bench`
installs it when it can). Every load is bounded in count and time and targets 127.0.0.1 only.

Run: `make bench` or `.venv/bin/python bench/broker.py [--messages 20000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common import Timer, free_port, private_lab, report

TOPIC = "bench/load"
PROCESS_TIMEOUT_S = 120


@dataclass
class Target:
    """Where the C clients connect and with which files."""

    name: str
    port: int
    ca: Path
    cert: Path
    key: Path

    def tls(self) -> list[str]:
        return ["--cafile", str(self.ca), "--cert", str(self.cert), "--key", str(self.key),
                "-h", "localhost", "-p", str(self.port), "--tls-version", "tlsv1.2"]


class Subscriber:
    """mosquitto_sub on TOPIC; a reader thread counts data lines (probes are not counted)."""

    def __init__(self, target: Target, qos: int, client_id: str) -> None:
        self.process = subprocess.Popen(
            ["mosquitto_sub", *target.tls(), "-t", TOPIC, "-q", str(qos), "-i", client_id],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.target, self.client_id = target, client_id
        self.count = 0
        self.lines: list[tuple[int, str]] = []  # (arrival ns, line) for round trips
        self.probed = threading.Event()
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._wait_subscribed()

    def _read(self) -> None:
        for line in self.process.stdout:
            now = time.perf_counter_ns()
            with self.changed:
                if line.strip() == "probe":
                    self.probed.set()
                else:
                    self.count += 1
                    self.lines.append((now, line.strip()))
                self.changed.notify_all()

    def _wait_subscribed(self) -> None:
        """Publish probes until one arrives: the subscription is then in place."""
        deadline = time.monotonic() + 20
        while not self.probed.is_set():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.target.name}: subscriber did not start")
            subprocess.run(["mosquitto_pub", *self.target.tls(), "-t", TOPIC, "-m", "probe",
                            "-i", self.client_id + "-probe"], capture_output=True, timeout=PROCESS_TIMEOUT_S)
            self.probed.wait(0.2)

    def wait_count(self, expected: int, idle_s: float = 5.0) -> int:
        """Wait until ``expected`` data lines arrived or nothing arrived for ``idle_s``."""
        with self.changed:
            while self.count < expected:
                before = self.count
                self.changed.wait(idle_s)
                if self.count == before:
                    break
            return self.count

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def throughput(target: Target, messages: int, qos: int, publishers: int = 1) -> tuple[float, int]:
    """Messages per second from first publish to last delivery, and how many were lost."""
    sub = Subscriber(target, qos, f"sub-{os.getpid()}-{qos}-{publishers}")
    per = messages // publishers
    expected = per * publishers
    payload = "x" * 64 + "\n"
    try:
        start = time.perf_counter()
        pubs = [subprocess.Popen(["mosquitto_pub", *target.tls(), "-t", TOPIC, "-q", str(qos), "-l",
                                  "-i", f"pub-{os.getpid()}-{i}"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for i in range(publishers)]
        writers = [threading.Thread(target=_feed, args=(p, payload * per)) for p in pubs]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        for p in pubs:
            p.wait(timeout=PROCESS_TIMEOUT_S)
        received = sub.wait_count(expected)
        last = sub.lines[-1][0] / 1e9 if sub.lines else time.perf_counter()
    finally:
        sub.close()
    return received / max(last - start, 1e-9), max(0, expected - received)


def _feed(process: subprocess.Popen, text: str) -> None:
    try:
        process.stdin.write(text.encode())
        process.stdin.close()
    except BrokenPipeError:
        pass


def sequential_connects(target: Target, count: int) -> float:
    with Timer() as timer:
        for i in range(count):
            result = subprocess.run(["mosquitto_pub", *target.tls(), "-t", TOPIC, "-m", "c", "-i", f"conn-{i}"],
                                    capture_output=True, timeout=PROCESS_TIMEOUT_S)
            if result.returncode != 0:
                raise RuntimeError(f"{target.name}: connect {i} failed: {result.stderr!r}")
    return timer.seconds


def round_trips(target: Target, count: int) -> list[float]:
    """Milliseconds from writing a line into mosquitto_pub to mosquitto_sub printing it."""
    sub = Subscriber(target, 0, f"rtt-{os.getpid()}")
    pub = subprocess.Popen(["mosquitto_pub", *target.tls(), "-t", TOPIC, "-q", "0", "-l", "-i", f"rtt-{os.getpid()}-p"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        for i in range(count):
            pub.stdin.write(f"{time.perf_counter_ns()}\n")
            pub.stdin.flush()
            if sub.wait_count(i + 1, idle_s=2.0) <= i:
                break  # lost: stop probing
    finally:
        pub.stdin.close()
        pub.wait(timeout=PROCESS_TIMEOUT_S)
        sub.close()
    return [(arrived - int(line)) / 1e6 for arrived, line in sub.lines]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def lab_target(name: str) -> Target:
    """Provision a bench device on the running private lab (a typical two-statement policy)."""
    from helpers import connect, save_device

    ws = connect()
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"arn:aws:iot:{ws.region}:{ws.account_id}:client/*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
         "Resource": [f"arn:aws:iot:{ws.region}:{ws.account_id}:topic/bench/*",
                      f"arn:aws:iot:{ws.region}:{ws.account_id}:topicfilter/bench/*"]},
    ]}
    ws.iot.create_policy(policyName="bench-policy", policyDocument=json.dumps(policy))
    out = ws.iot.create_keys_and_certificate(setAsActive=True)
    ws.iot.attach_policy(policyName="bench-policy", target=out["certificateArn"])
    files = save_device(ws, "bench-device", out["certificatePem"], out["keyPair"]["PrivateKey"])
    return Target(name, ws.port, ws.root_ca, files.cert, files.key)


class Mosquitto:
    """Debian's mosquitto on a free loopback port, TLS with the lab's server certificate."""

    def __init__(self, lab_home: Path, target: Target) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
        pki = lab_home / "pki"
        cafile = self.folder / "clients-ca.pem"
        cafile.write_text((pki / "issuing-ca.pem").read_text() + (pki / "root-ca.pem").read_text())
        self.port = free_port()
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            f"cafile {cafile}\ncertfile {pki / 'server-chain.pem'}\nkeyfile {pki / 'server.key'}\n"
            "require_certificate true\ntls_version tlsv1.2\npersistence false\n"
            # started as root, mosquitto would switch to its own user, which cannot read the 0600 keys
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.target = Target("mosquitto", self.port, target.ca, target.cert, target.key)
        deadline = time.monotonic() + 10
        while subprocess.run(["mosquitto_pub", *self.target.tls(), "-t", "x", "-m", "up"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def measure(target: Target, messages: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    figures["qos0"], figures["qos0_lost"] = throughput(target, messages, 0)
    figures["qos1"], figures["qos1_lost"] = throughput(target, messages // 4, 1)
    figures["fanin"], figures["fanin_lost"] = throughput(target, messages, 0, publishers=50)
    figures["connects"] = sequential_connects(target, 200)
    rtts = round_trips(target, 300)
    figures["rtt_median"], figures["rtt_p99"] = statistics.median(rtts), p99(rtts)
    return figures


HIGHER_IS_BETTER = {"qos0", "qos1", "fanin"}


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's best value over the rounds (losses: the worst, so a loss is never hidden)."""
    out = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        if key.endswith("_lost"):
            out[key] = max(values)
        else:
            out[key] = max(values) if key in HIGHER_IS_BETTER else min(values)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")):
        print("mosquitto clients are missing (apt-get install mosquitto-clients mosquitto): broker bench skipped")
        return 0
    # Shared 2-core machines are noisy: the configurations are measured in turn, `--rounds` times,
    # and each figure keeps its best round (highest throughput, lowest time), so one busy moment
    # does not decide a comparison made within this run.
    rounds: dict[str, list[dict[str, float]]] = {"lab, checks off": [], "mosquitto": [], "lab, checks on": []}
    for _ in range(args.rounds):
        with private_lab({"LOCALCORE_ENFORCE_POLICIES": "0"}) as home:
            target = lab_target("lab, checks off")
            rounds["lab, checks off"].append(measure(target, args.messages))
            if shutil.which("mosquitto"):
                mosquitto = Mosquitto(home / "lab", target)
                try:
                    rounds["mosquitto"].append(measure(mosquitto.target, args.messages))
                finally:
                    mosquitto.close()
        with private_lab():
            rounds["lab, checks on"].append(measure(lab_target("lab, checks on"), args.messages))
    results = {name: best(runs) for name, runs in rounds.items() if runs}

    columns = list(results)
    mosq = results.get("mosquitto")
    on, off = results["lab, checks on"], results["lab, checks off"]
    print(f"{'figure':<34}" + "".join(f"{c:>18}" for c in columns) + (f"{'on / mosquitto':>18}" if mosq else ""))
    for key, label in [("qos0", "QoS0 msg/s (1 publisher)"), ("qos0_lost", "  lost"), ("qos1", "QoS1 msg/s"),
                       ("qos1_lost", "  lost"), ("fanin", "QoS0 msg/s, 50 publishers"), ("fanin_lost", "  lost"),
                       ("connects", "200 sequential connects, s"), ("rtt_median", "round trip median, ms"),
                       ("rtt_p99", "round trip p99, ms")]:
        ratio = ""
        if mosq and not key.endswith("_lost") and mosq[key]:
            ratio = f"{on[key] / mosq[key]:>17.2f}x"
        print(f"{label:<34}" + "".join(f"{results[c][key]:>18.2f}" for c in columns) + ratio)
    print("Targets (lab, checks on):")
    ok = True
    if mosq:
        for key, label in (("qos0", "QoS0 throughput"), ("qos1", "QoS1 throughput")):
            ratio = on[key] / mosq[key]
            ok &= report(f"{label} / mosquitto's", ratio, "x", ">= 0.15x", ratio >= 0.15)
        connects = on["connects"] / mosq["connects"]
        ok &= report("200 sequential connects / mosquitto's time", connects, "x", "<= 1.5x", connects <= 1.5)
    else:
        print("  QoS0, QoS1 and connects relative to mosquitto: NOT MEASURED (Debian's mosquitto broker is "
              "missing: `make bench` installs it as root, or apt-get install mosquitto)")
    ok &= report("round trip p99", on["rtt_p99"], "ms", "<= 1.5 ms", on["rtt_p99"] <= 1.5)
    slowdown = 1 - on["qos0"] / off["qos0"]
    ok &= report("QoS0 slowdown vs checks off (same run)", slowdown * 100, "%", "<= 15 %", slowdown <= 0.15)
    ok &= report("QoS1 messages lost", on["qos1_lost"], "msgs", "= 0", on["qos1_lost"] == 0)
    print("broker benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
