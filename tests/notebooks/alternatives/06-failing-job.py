# Another correct answer, written as a trainee might: an operation the agent has never heard of, the
# document in S3 (documentSource), the thing group as the target, a job id made by hand, and a
# poll of describe_job_execution instead of the agent's wait.
import time
import uuid

reboot_key = "jobs/reboot.json"
ws.s3.put_object(Bucket=BUCKET, Key=reboot_key, Body=json.dumps({"operation": "reboot", "topic": "sys/info"}).encode())
reboot_job = ws.name(f"reboot-{uuid.uuid4().hex}")
ws.iot.create_job(jobId=reboot_job, targets=[group["thingGroupArn"]],
                  documentSource=f"https://s3.amazonaws.com/{BUCKET}/{reboot_key}")

deadline = time.monotonic() + 60
while True:
    execution = ws.iot.describe_job_execution(jobId=reboot_job, thingName=AGENT)["execution"]
    if execution["status"] not in ("QUEUED", "IN_PROGRESS") or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(execution["status"], execution.get("statusDetails"))
print([m.topic for m in group_console.messages if reboot_job in m.topic])
print(ws.iot.describe_job(jobId=reboot_job)["job"]["jobProcessDetails"])
