# Solution: a job the agent cannot do. The document asks for a sys-info item the agent does not know
# ("disk"): the agent takes the job, cannot run it, and reports FAILED with its reason.
DISK_JOB_ID = new_job_id(ws.name(params["job_prefix"]), "disk")
disk_document = {"operation": "sys-info", "sys-info": "disk", "topic": "sys/info"}
ws.iot.create_job(jobId=DISK_JOB_ID, targets=[AGENT_ARN], document=json.dumps(disk_document),
                  description="Report the free disk space (this agent cannot)")

# 1. Wait for the outcome, as the service confirmed it to the agent.
agent.wait_for_job(DISK_JOB_ID, "FAILED")

# 2. The execution as AWS IoT keeps it: FAILED, with the agent's statusDetails.
failed = ws.iot.describe_job_execution(jobId=DISK_JOB_ID, thingName=AGENT)["execution"]

# 3. The registry events (the console of section 9 listens to them).
failed_event = group_console.wait_for(f"$aws/events/jobExecution/{DISK_JOB_ID}/failed")
completed_event = group_console.wait_for(f"$aws/events/job/{DISK_JOB_ID}/completed")

# 4. Bonus: a snapshot job is COMPLETED when all its executions have ended, successfully or not.
disk_job = ws.iot.describe_job(jobId=DISK_JOB_ID)["job"]
table({"execution status": failed["status"], "statusDetails": failed["statusDetails"]["detailsMap"],
       "registry events": f"{failed_event.topic}, {completed_event.topic}",
       "job status": disk_job["status"],
       "failed things": disk_job["jobProcessDetails"]["numberOfFailedThings"]}, title=f"Job {DISK_JOB_ID}")
