"""helpers.job_agent against a real lab: the workshop's job document, end to end, as chapter 06 runs it.

The job is created with boto3 the way a trainee does (documentSource in S3 and presignedUrlConfig,
or a document with a presigned-URL placeholder, a thing or a thing group as the target); the agent
talks to the broker only through AWS's MQTT jobs topics.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers import certs
from helpers.catchup import fill_placeholders
from helpers.console import MqttConsole
from helpers.job_agent import JobAgent, JobAgentError, follow_job
from labfixture import connect_to, unique

pytestmark = pytest.mark.lab

DATA = Path(__file__).resolve().parents[2] / "data" / "jobs"
ROLE_ARN = "arn:aws:iam::123456789012:role/iot-jobs-presign"
NOTES = b"the notes a job document links to\n"
WAIT_S = 15


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    """`connect()` as a notebook calls it, with the environment naming the fixture's lab."""
    return connect_to(lab, tmp_path_factory.mktemp("job-agent-work"))


@pytest.fixture(scope="module")
def bucket(ws):
    """A bucket with the workshop's job document and a file for the presigned-URL variant."""
    name = unique("jobs")
    ws.s3.create_bucket(Bucket=name)
    ws.s3.put_object(Bucket=name, Key="job-document.json", Body=(DATA / "job-document.json").read_bytes())
    ws.s3.put_object(Bucket=name, Key="notes.txt", Body=NOTES)
    return name


@pytest.fixture
def agent(ws):
    """A provisioned thing (the stack-like open device policy) running a JobAgent; stopped afterwards."""
    thing = unique("job-agent")
    policy = unique("agent-policy")
    ws.iot.create_policy(policyName=policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"], "Resource": "*"}]}))
    ws.iot.create_thing(thingName=thing)
    created = ws.iot.create_keys_and_certificate(setAsActive=True)
    certs.save_device(ws, thing, created["certificatePem"], created["keyPair"]["PrivateKey"])
    ws.iot.attach_policy(policyName=policy, target=created["certificateArn"])
    ws.iot.attach_thing_principal(thingName=thing, principal=created["certificateArn"])
    running = JobAgent.from_workshop(ws, thing)
    yield running
    running.stop()


def test_a_job_from_s3_runs_queued_in_progress_succeeded_and_publishes_the_uptime(ws, bucket, agent):
    job_id = unique("uptime")
    thing_arn = ws.iot.describe_thing(thingName=agent.thing_name)["thingArn"]
    ws.iot.create_job(jobId=job_id, targets=[thing_arn],
                      documentSource=f"https://s3.amazonaws.com/{bucket}/job-document.json",
                      presignedUrlConfig={"roleArn": ROLE_ARN, "expiresInSec": 3600})
    before = ws.iot.describe_job_execution(jobId=job_id, thingName=agent.thing_name)["execution"]["status"]

    with MqttConsole(ws, ["sys/info"]) as console:
        agent.work_s = 2.0  # ten polls' time: follow_job sees the execution IN_PROGRESS
        agent.start()
        transitions = follow_job(ws, job_id, timeout=WAIT_S)
        agent.wait_for_job(job_id, "SUCCEEDED", timeout=WAIT_S)
        result = console.wait_for("sys/info", lambda m: m.json["jobId"] == job_id, timeout=WAIT_S)

    assert before == "QUEUED"
    # the first poll may come before the agent took the job: QUEUED first is seen then, never after
    assert list(transitions["status"]) in (["IN_PROGRESS", "SUCCEEDED"], ["QUEUED", "IN_PROGRESS", "SUCCEEDED"])
    assert transitions["statusDetails"].iloc[-1]["uptime"] == result.json["uptime"]
    assert result.json["thingName"] == agent.thing_name and result.json["uptime_seconds"] > 0
    assert ws.iot.describe_job(jobId=job_id)["job"]["status"] == "COMPLETED"
    events = list(agent.log_df()["event"])
    assert events.index("started") < events.index("published") < events.index("reported") < events.index("confirmed")


def test_a_group_job_with_a_presigned_url_placeholder_downloads_the_file(ws, bucket, agent):
    group = unique("agents")
    group_arn = ws.iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    ws.iot.add_thing_to_thing_group(thingGroupName=group, thingName=agent.thing_name)
    document = fill_placeholders((DATA / "job-document-with-file.json").read_text(), {"bucket": bucket, "key": "notes.txt"})
    job_id = unique("uptime-group")

    agent.start()
    ws.iot.create_job(jobId=job_id, targets=[group_arn], document=document,
                      presignedUrlConfig={"roleArn": ROLE_ARN, "expiresInSec": 600})
    agent.wait_for_job(job_id, "SUCCEEDED", timeout=WAIT_S)

    details = ws.iot.describe_job_execution(jobId=job_id, thingName=agent.thing_name)["execution"]["statusDetails"]["detailsMap"]
    assert details["file_sha256"] == hashlib.sha256(NOTES).hexdigest()
    assert "${aws:iot:s3-presigned-url:" in ws.iot.get_job_document(jobId=job_id)["document"]


def test_a_document_the_agent_cannot_run_ends_failed_with_the_reason(ws, agent):
    job_id = unique("reboot")
    thing_arn = ws.iot.describe_thing(thingName=agent.thing_name)["thingArn"]

    agent.start()
    ws.iot.create_job(jobId=job_id, targets=[thing_arn], document=json.dumps({"operation": "reboot"}))
    with pytest.raises(JobAgentError, match="ended FAILED"):
        agent.wait_for_job(job_id, "SUCCEEDED", timeout=WAIT_S)

    execution = ws.iot.describe_job_execution(jobId=job_id, thingName=agent.thing_name)["execution"]
    assert execution["status"] == "FAILED"
    assert "unknown operation 'reboot'" in execution["statusDetails"]["detailsMap"]["reason"]
