# Another correct answer, written as a trainee might: the permission removed by its name only, no
# error action (AWS IoT's own log, AWSIotLogsV2, says why), an RSA key, the permission given back
# under another statement id and without SourceAccount, and a connect loop instead of a wait helper.
from helpers.logs import log_entries

ws.lambda_.remove_permission(FunctionName=FUNCTION, StatementId=STATEMENT_ID)

key3 = new_key("rsa")
cert3 = sign_device_certificate(ca, key3, THIRD)
save_device(ws, THIRD, cert3 + ca.pem, key3)
client3 = JITR_PREFIX + certificate_id(cert3)
started = int(time.time() * 1000) - 1000
try:
    Device.from_workshop(ws, THIRD, client_id=client3).connect()
except ConnectionRefused as e:
    print("refused:", e.reason)

why = log_entries(ws.logs.filter_log_events, logGroupName="AWSIotLogsV2", startTime=started,
                  filterPattern=f'{{ $.ruleName = "{RULE}" && $.status = "Failure" }}',
                  until=lambda frame: len(frame) > 0, timeout=120)
print(why[["eventType", "status", "details"]].to_string())
print("certificate:", ws.iot.describe_certificate(certificateId=certificate_id(cert3))["certificateDescription"]["status"])

ws.lambda_.add_permission(FunctionName=FUNCTION, StatementId="AllowTheJitrRuleAgain", Action="lambda:InvokeFunction",
                          Principal="iot.amazonaws.com", SourceArn=RULE_ARN)
deadline = time.monotonic() + 120
while True:
    try:
        with Device.from_workshop(ws, THIRD, client_id=client3) as d3:
            d3.publish("ji/tr", {"device": client3, "hello": "again"})
        break
    except ConnectionRefused as e:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
print("in:", ws.iot.describe_certificate(certificateId=certificate_id(cert3))["certificateDescription"]["status"])
