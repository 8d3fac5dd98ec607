"""Account-wide limits and AWS-like delays on a lab of their own (``LOCALCORE_DELAY_<NAME>`` set small):
one running bulk registration task per account (AWS's error from the lab, the kit waiting its turn),
a role too young for AWS IoT to assume, the fleet index and CloudWatch Logs lagging behind, and a
policy attached to a connected device's certificate applying only after its propagation delay."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from labfixture import free_port

from helpers.catchup import ensure_device
from helpers.device import Device, SubscribeRefused
from helpers.provisioning import bulk_input, follow_task, make_devices, start_task, upload_input
from helpers.waits import ROLE_NOT_YET_ASSUMABLE, retry_while
from helpers.workshop import connect
from localcore import lifecycle
from localcore.config import LabConfig

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
DELAYS = {"BULK_LINE": 0.05, "ROLE_PROPAGATION": 1.5, "INDEX_LATENCY": 1.0, "LOG_LATENCY": 1.0,
          "POLICY_PROPAGATION": 1.0}
WAIT_S = 30
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


class Lab:
    def __init__(self, config: LabConfig) -> None:
        self.config = config

    def client(self, service: str):
        import boto3

        exports = self.config.env_exports()
        return boto3.client(service, endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=self.config.region,
                            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="module")
def slow_lab(tmp_path_factory):
    """A lab with every AWS-like delay switched on, each small."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("LOCALCORE_REALISM", raising=False)
        for name, seconds in DELAYS.items():
            env.setenv(f"LOCALCORE_DELAY_{name}", str(seconds))
        config = LabConfig(home=tmp_path_factory.mktemp("slow-lab"), http_port=free_port(), mqtt_port=free_port())
        lifecycle.start(config, quiet=True)
    try:
        yield Lab(config)
    finally:
        lifecycle.stop(config, quiet=True)


def workshop(lab: Lab, prefix: str, work_dir: Path):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCALCORE_HOME", str(lab.config.home))
        env.setenv("LOCALCORE_HTTP_PORT", str(lab.config.http_port))
        env.setenv("LOCALCORE_MQTT_PORT", str(lab.config.mqtt_port))
        env.delenv("WORKSHOP_BACKEND", raising=False)
        return connect(prefix=prefix, work_dir=work_dir)


def until(probe, what: str, timeout: float = WAIT_S, pause: float = 0.1):
    """Poll ``probe`` until it answers something true; return that answer."""
    deadline = time.monotonic() + timeout
    while not (answer := probe()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(pause)
    return answer


def old_role(lab: Lab) -> str:
    """A role old enough to be assumed (waits out the propagation delay once)."""
    iam, name = lab.client("iam"), "old-enough"
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    until(lambda: _assumable(lab, arn), "the role to become assumable")
    return arn


def _assumable(lab: Lab, arn: str) -> bool:
    try:
        lab.client("iot").set_v2_logging_options(roleArn=arn, defaultLogLevel="ERROR", disableAllLogs=False)
        return True
    except ClientError as error:
        assert "unable to assume role" in str(error)
        return False


def bulk_file(lab: Lab, lines: int) -> tuple[str, str]:
    s3, bucket, key = lab.client("s3"), "limits-bulk", f"{uuid.uuid4().hex}.json"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    body = "".join(json.dumps({"ThingName": f"limit-{uuid.uuid4().hex[:10]}"}) + "\n" for _ in range(lines))
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return bucket, key


THING_ONLY = json.dumps({"Parameters": {"ThingName": {"Type": "String"}},
                         "Resources": {"thing": {"Type": "AWS::IoT::Thing",
                                                 "Properties": {"ThingName": {"Ref": "ThingName"}}}}})


def test_a_second_bulk_task_while_one_runs_gets_awss_error_then_starts_once_the_first_ended(slow_lab):
    iot, role = slow_lab.client("iot"), old_role(slow_lab)
    first_bucket, first_key = bulk_file(slow_lab, 40)  # 40 lines at 0.05 s: the task runs for 2 s
    first = iot.start_thing_registration_task(templateBody=THING_ONLY, roleArn=role, inputFileBucket=first_bucket,
                                              inputFileKey=first_key)
    bucket, key = bulk_file(slow_lab, 2)
    with pytest.raises(ClientError) as refused:
        iot.start_thing_registration_task(templateBody=THING_ONLY, roleArn=role, inputFileBucket=bucket,
                                          inputFileKey=key)
    error = refused.value.response
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert first["taskId"] in error["Error"]["Message"] and "one bulk registration task" in error["Error"]["Message"]
    assert iot.list_thing_registration_tasks(status="InProgress")["taskIds"] == [first["taskId"]]

    until(lambda: iot.describe_thing_registration_task(taskId=first["taskId"])["status"] == "Completed",
          "the first task to complete")
    second = iot.start_thing_registration_task(templateBody=THING_ONLY, roleArn=role, inputFileBucket=bucket,
                                               inputFileKey=key)
    until(lambda: iot.describe_thing_registration_task(taskId=second["taskId"])["status"] == "Completed",
          "the second task to complete")


def test_two_workshops_starting_bulk_tasks_together_each_wait_their_turn_and_both_complete(slow_lab, tmp_path):
    """Two trainees' kernels start a bulk task at the same moment: one runs, the other is told why
    it waits, then runs; both provision all their devices."""
    trainees = [workshop(slow_lab, prefix, tmp_path / prefix) for prefix in ("anna-", "ben-")]
    template = (REPO / "data" / "register-thing-template.json").read_text()
    jobs = []
    for ws in trainees:
        outputs = ws.deploy_stack()
        # the stack's roles are seconds old: let them become assumable (the logging role is as old as the
        # provisioning role), so that the only "not yet" below is the other trainee's running task
        until(lambda outputs=outputs: _assumable(slow_lab, outputs["ArnIoTLoggingRole"]), "the stack's roles")
        for create, kwargs in ((ws.iot.create_thing_type, {"thingTypeName": "bulk-type"}),
                               (ws.iot.create_thing_group, {"thingGroupName": "bulk-group"})):
            try:
                create(**kwargs)
            except ClientError:
                pass
        devices = make_devices(ws.name("turn") + "-", 15, key_kind="ec")
        key = ws.name("turn.json")
        upload_input(ws, outputs["S3Bucket"], key, bulk_input(devices))
        jobs.append((ws, outputs, key, devices))

    barrier, finished, failures = threading.Barrier(len(jobs)), {}, []
    output = io.StringIO()

    def run(ws, outputs, key, devices) -> None:
        try:
            barrier.wait()
            task_id = start_task(ws, template, outputs["S3Bucket"], key, outputs["ArnIoTProvisioningRole"])
            finished[ws.prefix] = (follow_task(ws, task_id, progress=False, timeout=WAIT_S), len(devices))
        except Exception as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    with redirect_stdout(output):
        threads = [threading.Thread(target=run, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * WAIT_S)
    assert not failures, failures
    for prefix, (task, count) in finished.items():
        assert (task["status"], task["successCount"], task["failureCount"]) == ("Completed", count, 0), prefix
    assert len(finished) == 2
    shown = output.getvalue()
    assert shown.count("another bulk registration task is running in this account") == 1, shown


def test_a_role_made_seconds_ago_cannot_be_assumed_until_the_delay_has_passed(slow_lab):
    iam, iot = slow_lab.client("iam"), slow_lab.client("iot")
    arn = iam.create_role(RoleName=f"young-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    made = time.monotonic()
    with pytest.raises(ClientError) as refused:
        iot.set_v2_logging_options(roleArn=arn, defaultLogLevel="WARN", disableAllLogs=False)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert f"unable to assume role (sts:AssumeRole) on resource: {arn}" in str(refused.value)

    status_lines: list[str] = []
    status = type("Status", (), {"update": lambda self, text: status_lines.append(text),
                                 "done": lambda self, text: status_lines.append(text),
                                 "fail": lambda self, text: status_lines.append(text)})()
    retry_while(lambda: iot.set_v2_logging_options(roleArn=arn, defaultLogLevel="WARN", disableAllLogs=False),
                transient=ROLE_NOT_YET_ASSUMABLE, backend="local", status=status)
    assert time.monotonic() - made >= DELAYS["ROLE_PROPAGATION"] - 0.5  # the role's clock started at creation
    assert iot.get_v2_logging_options()["roleArn"] == arn
    assert status_lines[0].startswith("⏳ the role was made seconds ago") and status_lines[-1].startswith("✓")


def test_a_new_index_is_building_and_then_shows_a_change_only_after_its_latency(slow_lab):
    iot = slow_lab.client("iot")
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    switched_on = time.monotonic()
    assert iot.describe_index(indexName="AWS_Things")["indexStatus"] == "BUILDING"
    until(lambda: iot.describe_index(indexName="AWS_Things")["indexStatus"] == "ACTIVE", "the index to be ACTIVE")
    assert time.monotonic() - switched_on >= DELAYS["INDEX_LATENCY"] - 0.05
    name = f"lagging-{uuid.uuid4().hex[:8]}"
    query = f"thingName:{name}"
    assert iot.search_index(queryString=query)["things"] == []  # the index has looked once before the change
    iot.create_thing(thingName=name, attributePayload={"attributes": {"floor": "3"}})
    changed = time.monotonic()
    assert iot.search_index(queryString=query)["things"] == []
    until(lambda: iot.search_index(queryString=query)["things"], "the new thing in the index")
    assert time.monotonic() - changed >= DELAYS["INDEX_LATENCY"]
    assert iot.get_statistics(queryString=query)["statistics"]["count"] == 1


def test_log_events_are_returned_only_after_the_log_latency(slow_lab):
    logs = slow_lab.client("logs")
    group, stream = f"/limits/{uuid.uuid4().hex[:8]}", "s"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "written"}])
    put = time.monotonic()
    assert logs.filter_log_events(logGroupName=group)["events"] == []
    events = until(lambda: logs.filter_log_events(logGroupName=group)["events"], "the event in FilterLogEvents")
    assert time.monotonic() - put >= DELAYS["LOG_LATENCY"] - 0.05
    assert [event["message"] for event in events] == ["written"]


def _subscribe_policy(ws, name: str, topic: str) -> str:
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"arn:aws:iot:*:*:topicfilter/{topic}"}]}
    ws.iot.create_policy(policyName=name, policyDocument=json.dumps(document))
    return name


def test_a_policy_attached_to_a_connected_device_applies_after_its_propagation_delay(slow_lab, tmp_path):
    ws = workshop(slow_lab, "carl-", tmp_path / "carl")
    tag = uuid.uuid4().hex[:8]
    thing = ws.name(f"late-{tag}")
    ensure_device(ws, thing, policy=_subscribe_policy(ws, ws.name(f"early-{tag}"), "early/*"))
    # The lab keeps no registry history: a connection re-reads the registry once a change it has not
    # applied yet is old enough. Letting the set-up's own changes age first makes the attachment below
    # the only change the connection has not applied.
    time.sleep(DELAYS["POLICY_PROPAGATION"])
    device = Device.from_workshop(ws, thing).connect()
    try:
        assert device.subscribe("early/x") == 1
        certificate = ws.iot.list_thing_principals(thingName=thing)["principals"][0]
        ws.iot.attach_policy(policyName=_subscribe_policy(ws, ws.name(f"later-{tag}"), "late/*"), target=certificate)
        attached = time.monotonic()
        with pytest.raises(SubscribeRefused):
            device.subscribe("late/x")  # the connection still decides with the policies it had

        def granted() -> bool:
            try:
                return device.subscribe("late/x") == 1
            except SubscribeRefused:
                return False

        until(granted, "the new policy to apply", pause=0.2)
        assert time.monotonic() - attached >= DELAYS["POLICY_PROPAGATION"]
    finally:
        device.disconnect()
