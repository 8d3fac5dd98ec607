"""IoT Jobs against the running lab, as a device sees them: a small job agent written only against
AWS's documented MQTT jobs topics (paho), set up with boto3 as a trainee would.

The agent subscribes to the reply topics it uses: AWS would deliver them to the requesting client
even unsubscribed, the lab delivers them through the broker. Every wait is on a condition with a
timeout, never a fixed sleep.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from devices import write_secret
from labfixture import unique

WAIT_S = 10.0
OPEN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
ROLE_ARN = "arn:aws:iam::123456789012:role/iot-jobs-presign"


class Inbox:
    """Messages received by a paho client, waited on by topic and content."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []
        self.changed = threading.Condition()

    def add(self, topic: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
        except ValueError:
            body = payload
        with self.changed:
            self.messages.append((topic, body))
            self.changed.notify_all()

    def wait(self, topic: str, match: Callable[[Any], bool] = lambda body: True, timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for seen, body in self.messages:
                    if seen == topic and match(body):
                        return body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing on {topic} matched; received {[t for t, _ in self.messages]}")
                self.changed.wait(remaining)


class MqttClient:
    """paho 2.x over mutual TLS, connected and subscribed synchronously."""

    def __init__(self, lab, client_id: str, cert: Path, key: Path) -> None:
        self.inbox = Inbox()
        self.acks: threading.Event = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
        self.client.on_message = lambda c, u, message: self.inbox.add(message.topic, message.payload)
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.acks.set()
        connected = threading.Event()
        self.client.on_connect = lambda c, u, flags, rc, props: connected.set() if rc == 0 else None
        self.client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30)
        self.client.loop_start()
        assert connected.wait(WAIT_S), f"{client_id} could not connect"

    def subscribe(self, *filters: str) -> None:
        """In SUBSCRIBEs of at most 8 filters: AWS IoT Core disconnects a client that asks more."""
        for start in range(0, len(filters), 8):
            batch = filters[start:start + 8]
            self.acks.clear()
            self.client.subscribe([(f, 1) for f in batch])
            assert self.acks.wait(WAIT_S), f"no SUBACK for {batch}"

    def publish(self, topic: str, payload: dict | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload)
        self.client.publish(topic, data, qos=1).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class JobAgent(MqttClient):
    """A device running jobs through ``$aws/things/<thing>/jobs/...`` only."""

    def __init__(self, lab, thing: str, cert: Path, key: Path) -> None:
        super().__init__(lab, thing, cert, key)
        self.thing = thing
        self.subscribe(*(self.topic(s) for s in (
            "notify", "notify-next", "get/accepted", "get/rejected", "start-next/accepted", "start-next/rejected",
            "+/get/accepted", "+/get/rejected", "+/update/accepted", "+/update/rejected",
        )))

    def topic(self, suffix: str) -> str:
        return f"$aws/things/{self.thing}/jobs/{suffix}"

    def request(self, suffix: str, payload: dict | bytes) -> None:
        self.publish(self.topic(suffix), payload)

    def next_job(self, job_id: str) -> dict:
        """Wait for notify-next to name ``job_id``; return its execution."""
        body = self.inbox.wait(self.topic("notify-next"), lambda b: b.get("execution", {}).get("jobId") == job_id)
        return body["execution"]

    def reply(self, suffix: str, token: str) -> dict:
        return self.inbox.wait(self.topic(suffix), lambda b: b.get("clientToken") == token)

    def start_next(self) -> dict:
        token = unique("start")
        self.request("start-next", {"clientToken": token, "statusDetails": {"step": "starting"}})
        return self.reply("start-next/accepted", token)["execution"]

    def update(self, job_id: str, outcome: str = "accepted", **fields: Any) -> dict:
        token = unique("update")
        self.request(f"{job_id}/update", {"clientToken": token, **fields})
        return self.reply(f"{job_id}/update/{outcome}", token)


@pytest.fixture(scope="module")
def iot(lab):
    return lab.client("iot")


@pytest.fixture
def agents(lab, iot, tmp_path):
    """Make job agents (a thing with an active certificate and an open policy, connected)."""
    made: list[JobAgent] = []
    policy = unique("jobs-policy")
    iot.create_policy(policyName=policy, policyDocument=OPEN_POLICY)

    def make(thing: str, *groups: str) -> JobAgent:
        iot.create_thing(thingName=thing)
        for group in groups:
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
        keys = iot.create_keys_and_certificate(setAsActive=True)
        cert = write_secret(tmp_path / f"{thing}.crt", keys["certificatePem"])
        key = write_secret(tmp_path / f"{thing}.key", keys["keyPair"]["PrivateKey"])
        iot.attach_policy(policyName=policy, target=keys["certificateArn"])
        iot.attach_thing_principal(thingName=thing, principal=keys["certificateArn"])
        agent = JobAgent(lab, thing, cert, key)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.close()


@pytest.fixture
def bucket(lab):
    """A bucket in the lab's S3 holding the workshop's job document and a file it points at."""
    s3, name = lab.client("s3"), unique("jobs-bucket")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="artifacts/info.txt", Body=b"collect uptime\n")
    document = {
        "operation": "sys-info", "sys-info": "uptime", "topic": "sys/info",
        "instructions": f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{name}/artifacts/info.txt}}",
    }
    s3.put_object(Bucket=name, Key="job-document.json", Body=json.dumps(document).encode())
    return name


def test_the_workshop_job_runs_to_completion_with_a_presigned_url(lab, iot, agents, bucket):
    agent = agents(unique("job-agent"))
    agent.request("get", {"clientToken": "poll-1"})
    assert agent.reply("get/accepted", "poll-1")["queuedJobs"] == []

    job_id = unique("sysinfo")
    thing_arn = iot.describe_thing(thingName=agent.thing)["thingArn"]
    created = iot.create_job(jobId=job_id, targets=[thing_arn],
                             documentSource=f"https://s3.amazonaws.com/{bucket}/job-document.json",
                             presignedUrlConfig={"roleArn": ROLE_ARN, "expiresInSec": 3600})
    assert created["jobArn"].endswith(f":job/{job_id}")

    queued = agent.next_job(job_id)
    assert queued["status"] == "QUEUED" and queued["jobDocument"]["operation"] == "sys-info"
    execution = agent.start_next()
    assert (execution["jobId"], execution["status"]) == (job_id, "IN_PROGRESS")
    with urllib.request.urlopen(execution["jobDocument"]["instructions"], timeout=WAIT_S) as response:
        assert response.read() == b"collect uptime\n"
    accepted = agent.update(job_id, status="SUCCEEDED", expectedVersion=execution["versionNumber"],
                            statusDetails={"uptime": "12 days"}, includeJobExecutionState=True)
    assert accepted["executionState"]["status"] == "SUCCEEDED"

    job = iot.describe_job(jobId=job_id)
    assert job["documentSource"].endswith("/job-document.json")
    assert job["job"]["status"] == "COMPLETED"
    assert job["job"]["jobProcessDetails"]["numberOfSucceededThings"] == 1
    assert job["job"]["jobProcessDetails"]["numberOfQueuedThings"] == 0
    summaries = iot.list_job_executions_for_job(jobId=job_id)["executionSummaries"]
    assert [(s["thingArn"], s["jobExecutionSummary"]["status"]) for s in summaries] == [(thing_arn, "SUCCEEDED")]
    described = iot.describe_job_execution(jobId=job_id, thingName=agent.thing)["execution"]
    assert described["statusDetails"] == {"detailsMap": {"uptime": "12 days"}}
    assert described["versionNumber"] == accepted["executionState"]["versionNumber"]
    placeholder = json.loads(iot.get_job_document(jobId=job_id)["document"])["instructions"]
    assert placeholder.startswith("${aws:iot:s3-presigned-url:")


def test_a_continuous_group_job_reaches_members_and_things_that_join_later(lab, iot, agents):
    group = unique("job-group")
    iot.create_thing_group(thingGroupName=group)
    members = [agents(unique("member"), group) for _ in range(2)]
    latecomer = agents(unique("late"))
    job_id = unique("group-job")
    group_arn = iot.describe_thing_group(thingGroupName=group)["thingGroupArn"]
    iot.create_job(jobId=job_id, targets=[group_arn], targetSelection="CONTINUOUS",
                   document=json.dumps({"operation": "sys-info"}))

    for member in members:
        member.next_job(job_id)
        assert member.start_next()["jobId"] == job_id
        member.update(job_id, status="SUCCEEDED")
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=latecomer.thing)
    assert latecomer.next_job(job_id)["status"] == "QUEUED"

    details = iot.describe_job(jobId=job_id)["job"]
    assert details["status"] == "IN_PROGRESS"  # a continuous job never completes by itself
    assert (details["jobProcessDetails"]["numberOfSucceededThings"], details["jobProcessDetails"]["numberOfQueuedThings"]) == (2, 1)


def test_updates_a_device_may_not_make_are_rejected_with_the_current_state(lab, iot, agents):
    agent = agents(unique("strict"))
    job_id = unique("strict-job")
    iot.create_job(jobId=job_id, targets=[iot.describe_thing(thingName=agent.thing)["thingArn"]],
                   document=json.dumps({"operation": "sys-info"}))
    agent.next_job(job_id)
    execution = agent.start_next()

    stale = agent.update(job_id, "rejected", status="SUCCEEDED", expectedVersion=execution["versionNumber"] - 1)
    assert stale["code"] == "VersionMismatch"
    assert stale["executionState"] == {"status": "IN_PROGRESS", "statusDetails": {"step": "starting"},
                                       "versionNumber": execution["versionNumber"]}
    agent.update(job_id, status="FAILED", statusDetails={"reason": "no disk"})
    backwards = agent.update(job_id, "rejected", status="IN_PROGRESS")
    assert backwards["code"] == "InvalidStateTransition" and backwards["executionState"]["status"] == "FAILED"
    agent.request("get", b"{not json")
    assert agent.inbox.wait(agent.topic("get/rejected"), lambda b: b.get("code") == "InvalidJson")
    assert iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]["numberOfFailedThings"] == 1


def test_job_and_job_execution_events_when_enabled(lab, iot, agents):
    before = iot.describe_event_configurations()["eventConfigurations"]
    iot.update_event_configurations(eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}})
    observer = MqttClient(lab, unique("observer"), lab.config.console_cert_path, lab.config.console_key_path)
    try:
        observer.subscribe("$aws/events/job/#", "$aws/events/jobExecution/#")
        agent = agents(unique("evented"))
        job_id = unique("evented-job")
        thing_arn = iot.describe_thing(thingName=agent.thing)["thingArn"]
        iot.create_job(jobId=job_id, targets=[thing_arn], document=json.dumps({"operation": "sys-info"}))
        agent.next_job(job_id)
        agent.start_next()
        agent.update(job_id, status="SUCCEEDED", statusDetails={"uptime": "1 day"})

        succeeded = observer.inbox.wait(f"$aws/events/jobExecution/{job_id}/succeeded")
        assert (succeeded["eventType"], succeeded["thingArn"], succeeded["status"]) == ("JOB_EXECUTION", thing_arn, "SUCCEEDED")
        assert succeeded["statusDetails"] == {"uptime": "1 day"}
        completed = observer.inbox.wait(f"$aws/events/job/{job_id}/completed")
        assert (completed["eventType"], completed["operation"], completed["status"]) == ("JOB", "completed", "COMPLETED")
        assert completed["jobProcessDetails"]["numberOfSucceededThings"] == 1 and completed["targets"] == [thing_arn]
    finally:
        observer.close()
        iot.update_event_configurations(eventConfigurations={
            key: {"Enabled": before[key]["Enabled"]} for key in ("JOB", "JOB_EXECUTION")
        })
