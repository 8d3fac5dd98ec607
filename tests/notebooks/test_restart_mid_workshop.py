"""A lab stopped and killed in the middle of the workshop: the next chapters go on with what was made.

Chapters 00-03 run; the lab is stopped cleanly and started again; everything they made is still there
with the same identities (so the next chapters' set-up cells find it instead of making it again), and
a device connects with the key files chapter 01 wrote. Chapters 04-06 run; the lab is killed with
SIGKILL a second after the last change and started again; the same holds, and 07-10 finish the workshop.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import time
from pathlib import Path

import boto3
import paho.mqtt.client as mqtt

from nbrun import NOTEBOOKS, check, localcore, notebook_env, run_nbval

SAVED_WITHIN_S = 1.0  # the lab's promise: what was acknowledged this long before a kill is back


def chapters(first: str, last: str) -> list[Path]:
    return [p for p in NOTEBOOKS if first <= p.name[:2] <= last]


def client(env: dict, service: str):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{env['LOCALCORE_HTTP_PORT']}",
                        region_name="us-east-1", aws_access_key_id="localcore", aws_secret_access_key="localcore")


def inventory(env: dict) -> dict:
    """What the workshop made, by identity: thing ids, certificate ids and states, policies, groups, stacks."""
    iot, cfn = client(env, "iot"), client(env, "cloudformation")
    things = {}
    for page in iot.get_paginator("list_things").paginate():
        for thing in page["things"]:
            things[thing["thingName"]] = iot.describe_thing(thingName=thing["thingName"])["thingId"]
    certificates = {}
    for page in iot.get_paginator("list_certificates").paginate():
        certificates.update({c["certificateId"]: c["status"] for c in page["certificates"]})
    return {
        "things": things,
        "certificates": certificates,
        "policies": sorted(p["policyName"] for p in iot.list_policies()["policies"]),
        "groups": sorted(g["groupName"] for g in iot.list_thing_groups()["thingGroups"]),
        "stacks": sorted((s["StackName"], s["StackStatus"]) for s in cfn.describe_stacks()["Stacks"]),
        "events": iot.describe_event_configurations()["eventConfigurations"],
    }


def connack_with_old_files(env: dict, work: Path, name: str) -> int:
    """CONNACK code for a connection with the files chapter 01 wrote for ``name``."""
    got: queue.Queue = queue.Queue()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, reconnect_on_failure=False)
    device.tls_set(ca_certs=str(Path(env["LOCALCORE_HOME"]) / "pki" / "root-ca.pem"),
                   certfile=str(work / "devices" / f"{name}.crt"), keyfile=str(work / "devices" / f"{name}.key"))
    device.on_connect = lambda c, u, flags, rc, props: got.put(rc.value)
    device.on_disconnect = lambda c, u, flags, rc, props: got.put(("gone", rc.value))
    device.connect("localhost", int(env["LOCALCORE_MQTT_PORT"]), keepalive=30)
    device.loop_start()
    try:
        return got.get(timeout=10)
    finally:
        device.disconnect()
        device.loop_stop()


def lab_pid(env: dict) -> int:
    return json.loads((Path(env["LOCALCORE_HOME"]) / "lab.json").read_text())["pid"]


def kill_9(env: dict) -> None:
    pid = lab_pid(env)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)


def started(env: dict) -> None:
    result = localcore(env, "start")
    assert result.returncode == 0, result.stderr
    assert "It has everything it held" in result.stdout, result.stdout


def test_the_workshop_goes_on_after_a_clean_stop_and_a_kill_9(tmp_path):
    work = tmp_path / "work"
    env = notebook_env(tmp_path / "lab", work)
    try:
        check(run_nbval(chapters("00", "03"), env))
        before = inventory(env)
        assert before["things"] and before["certificates"] and before["stacks"]
        assert localcore(env, "stop").returncode == 0
        started(env)
        assert inventory(env) == before
        assert connack_with_old_files(env, work, "my-first-thing") == 0

        check(run_nbval(chapters("04", "06"), env))
        middle = inventory(env)
        for kind in ("things", "certificates"):  # what 00-03 made was found, not made again
            assert before[kind].items() <= middle[kind].items(), kind
        time.sleep(SAVED_WITHIN_S)  # the promise is about changes this old; there is no condition to poll
        kill_9(env)
        started(env)
        assert inventory(env) == middle
        assert connack_with_old_files(env, work, "my-first-thing") == 0

        check(run_nbval(chapters("07", "10"), env))
    finally:
        localcore(env, "stop")
