# Another correct answer, written as a trainee might: the broken line in the middle and not JSON at
# all, keys and CSRs made one by one, its own polling loop, and the ERRORS report read by hand.
import time
import urllib.request

from helpers import make_csr, new_key

lines = []
for name in (TRIAL[0], "broken", TRIAL[1]):
    if name == "broken":
        lines.append("ThingName=" + TRIAL[2] + " (this line is not JSON)")
    else:
        lines.append(json.dumps({"ThingName": name, "CSR": make_csr(new_key("ec"), name)}))
ws.s3.put_object(Bucket=outputs["S3Bucket"], Key="my-broken-input.json", Body="\n".join(lines).encode())

task_id = ws.iot.start_thing_registration_task(
    templateBody=template_body, inputFileBucket=outputs["S3Bucket"], inputFileKey="my-broken-input.json",
    roleArn=outputs["ArnIoTProvisioningRole"])["taskId"]
deadline = time.monotonic() + 120
while (state := ws.iot.describe_thing_registration_task(taskId=task_id))["status"] == "InProgress":
    assert time.monotonic() < deadline, "the task did not finish in two minutes"
    time.sleep(0.5)
print(state["status"], state["successCount"], "provisioned,", state["failureCount"], "failed")

for link in ws.iot.list_thing_registration_task_reports(taskId=task_id, reportType="ERRORS")["resourceLinks"]:
    with urllib.request.urlopen(link) as report:
        print(report.read().decode())
