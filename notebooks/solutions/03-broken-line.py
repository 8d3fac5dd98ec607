# Solution: a task whose input has two good lines and a broken third, and where the broken one shows up.

# trial1 and trial2 from an earlier attempt go first, with their certificates: a task leaves a thing
# that exists already as it is and would only add one more certificate to it.
for row in remove_things(ws, TRIAL):
    print(f"Removed your earlier {row['thing']} and {row['certificates removed']} certificate(s) to start afresh.")

# Two good devices (elliptic-curve keys are made in an instant), then a line whose CSR is not a CSR.
trial = make_devices(ws.name("trial"), 2, key_kind="ec")  # trial1 and trial2: TRIAL[0] and TRIAL[1]
broken_line = json.dumps({"ThingName": TRIAL[2], "SerialNumber": "3",
                          "CSR": "this is not a certificate signing request"})
trial_input = bulk_input(trial) + broken_line + "\n"

TRIAL_KEY = f"{ws.name('trial')}-input.json"
ws.s3.put_object(Bucket=BUCKET, Key=TRIAL_KEY, Body=trial_input.encode())

trial_task = retry_while(lambda: ws.iot.start_thing_registration_task(
    templateBody=template_body,
    inputFileBucket=BUCKET,
    inputFileKey=TRIAL_KEY,
    roleArn=outputs["ArnIoTProvisioningRole"],
), transient=bulk_transients(ws))  # one task per account at a time: waits for its turn
trial_finished = follow_task(ws, trial_task["taskId"])
trial_results, trial_errors = task_reports(ws, trial_task["taskId"])

display(table(trial_results[["offset", "thing_name"]],
              title=f"RESULTS of the trial task: {len(trial_results)} line(s)"))
table(trial_errors, title=f"ERRORS of the trial task: {len(trial_errors)} line(s)")
# The broken line has the offset 2: offsets count the input file's lines from 0, so 2 is the third
# line. The task went on past it; trial1 (offset 0) and trial2 (offset 1) are in RESULTS as usual.
