# Another correct answer: DEBUG instead of INFO for the outsider's client id, the publishes written
# with Device directly, and one compound filter pattern for its publishes, polled by hand.
import time

ws.iot.set_v2_logging_level(logTarget={"targetType": "CLIENT_ID", "targetName": OUTSIDER}, logLevel="DEBUG")

outsider = Device.from_workshop(ws, OUTSIDER)
with outsider:
    outsider.publish(f"{TOPICS}/{OUTSIDER}", {"temperature": 22.0})
try:
    with Device.from_workshop(ws, OUTSIDER) as again:
        again.publish(f"{TOPICS}/{OUTSIDER}_foo", {"temperature": 22.0})
except PublishRefused as refused:
    print("refused, as before:", refused)

pattern = f'{{ $.clientId = "{OUTSIDER}" && $.eventType = "Publish-In" }}'
deadline = time.monotonic() + 120
while True:
    found = log_entries(ws.logs.filter_log_events, logGroupName="AWSIotLogsV2",
                        startTime=int((time.time() - 600) * 1000), filterPattern=pattern)
    if (found["status"] == "Success").any() or time.monotonic() > deadline:
        break
    time.sleep(1)
print(found[["timestamp", "logLevel", "topicName", "status", "reason"]].to_string(index=False))
