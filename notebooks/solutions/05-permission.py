# Solution: what if AWS IoT may not invoke the function? Take the permission away, connect a third
# device and find out why nothing happens; give the permission back and connect the device again.
import base64

# 1. An error action for the rule: when one of its actions fails, AWS IoT sends the failure there. A
#    cloudwatchLogs error action writes it into a log group; the stack's logging role may write to
#    groups whose names start with AWSIotLogsV2.
ERRORS_GROUP = "AWSIotLogsV2-" + ws.name("jitr-rule-errors")
try:
    ws.logs.create_log_group(logGroupName=ERRORS_GROUP)
except ws.logs.exceptions.ResourceAlreadyExistsException:
    pass  # an earlier run made it
ws.iot.replace_topic_rule(ruleName=RULE, topicRulePayload={
    **rule_payload,
    "errorAction": {"cloudwatchLogs": {"logGroupName": ERRORS_GROUP, "roleArn": outputs["ArnIoTLoggingRole"]}},
})

# 2. Take the permission away: every statement of the function's policy that lets AWS IoT invoke it
#    (section 4 added one, STATEMENT_ID; you may have added others).
for statement in permissions():
    if statement["Principal"] == {"Service": "iot.amazonaws.com"}:
        ws.lambda_.remove_permission(FunctionName=FUNCTION, StatementId=statement["Sid"])
print(f"Statements left in the function's policy: {len(permissions())}")

# 3. The third device: a key and a certificate your CA signs (CN = THIRD). Its saved files are reused
#    while AWS IoT has not provisioned their certificate (an attempt of yours); a provisioned one would
#    simply connect, so then THIRD gets a new certificate (the old one and its thing stay: your work).
third_files = read_device(ws, THIRD)
third_pem = third_files.cert.read_text() if third_files else ""
if not third_pem or provisioning_state(ws, certificate_id(third_pem))["status"] not in (None, "PENDING_ACTIVATION"):
    if third_pem:
        print(f"{THIRD}'s earlier certificate is provisioned already; {THIRD} gets a new one.")
    third_key = new_key("ec")
    third_pem = sign_device_certificate(ca, third_key, THIRD, country=params["country"])
    save_device(ws, THIRD, chain_pem(third_pem, ca), third_key)
    del third_key  # the private key lives in its 0600 file only
THIRD_CERT_ID = certificate_id(third_pem)
third = Device.from_workshop(ws, THIRD, client_id=f"{JITR_PREFIX}{THIRD_CERT_ID}")

# 4. It connects: AWS IoT registers the certificate PENDING_ACTIVATION, announces it and closes the
#    connection; the rule matches the announcement and cannot invoke the function. Wait until the
#    error action has written that failure (the original message is in it, base64-encoded).
third_since_ms = int(time.time() * 1000)
try:
    third.connect()
    third.disconnect()
    print(f"{THIRD} connected: its certificate was provisioned already?")
except ConnectionRefused as refused:
    print(f"First connection of {THIRD}: {refused.reason}")


def failures_for_third():
    """The failures the error action wrote for the rule's run on THIRD's announcement."""
    try:
        pages = ws.logs.get_paginator("filter_log_events").paginate(logGroupName=ERRORS_GROUP, startTime=third_since_ms)
        events = [event for page in pages for event in page["events"]]
    except ws.logs.exceptions.ResourceNotFoundException:
        return []
    found = []
    for event in events:
        error = json.loads(event["message"])
        if json.loads(base64.b64decode(error["base64OriginalPayload"])).get("certificateId") == THIRD_CERT_ID:
            found += error["failures"]
    return found


failures = poll(failures_for_third, timeout=120, interval=0.5, what=f"the rule's failure in {ERRORS_GROUP}")
invocations = [e for e in log_events(third_since_ms) if e["message"].startswith("START")]
display(table({"certificate status": provisioning_state(ws, THIRD_CERT_ID)["status"],
               f"invocations of {FUNCTION} since": len(invocations),
               **{f"failure {n + 1}": f"{f['failedAction']}: {short(f['errorMessage'])}" for n, f in enumerate(failures)}},
              title=f"{THIRD} without the permission: why the rule {RULE} did nothing"))

# 5. The permission back (as in section 4), and the same device connects again: its certificate is still
#    PENDING_ACTIVATION, so AWS IoT announces it again; this time the function provisions it.
if not any(statement["Principal"] == {"Service": "iot.amazonaws.com"} for statement in permissions()):
    ws.lambda_.add_permission(FunctionName=FUNCTION, StatementId=STATEMENT_ID, Action="lambda:InvokeFunction",
                              Principal="iot.amazonaws.com", SourceArn=RULE_ARN, SourceAccount=ws.account_id)
try:
    third.connect()
    third.disconnect()
except ConnectionRefused as refused:
    print(f"Connection of {THIRD} with the permission back: {refused.reason}")
third_state = wait_for_provisioning(ws, THIRD_CERT_ID)
table({key: short(value) for key, value in third_state.items()},
      title=f"The certificate of {THIRD}, after the permission came back: the same one")
