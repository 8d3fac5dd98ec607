# Another correct solution: no new state; CreateThing writes the firmware version beside provisionedBy,
# starting from the definition the kit ships; the bot is provisioned with the AWS SDK directly.
import json
import time

definition = service.asl_definition(ws, "ProvisionBot")
definition["States"]["CreateThing"]["Parameters"]["AttributePayload"]["Attributes"]["firmwareVersion"] = "2.0.0-beta"
service.update_definition(ws, "ProvisionBot", json.dumps(definition))

sfn = ws.client("stepfunctions")
try:
    ws.iot.describe_thing(thingName=FIRMWARE)
    arn = sfn.start_execution(stateMachineArn=outputs["RemoveBotArn"], input=json.dumps({"thingName": FIRMWARE}))["executionArn"]
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.5)
except ws.iot.exceptions.ResourceNotFoundException:
    pass
arn = sfn.start_execution(stateMachineArn=outputs["ProvisionBotArn"], input=json.dumps({"thingName": FIRMWARE}))["executionArn"]
while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
    time.sleep(0.5)
print(ws.iot.describe_thing(thingName=FIRMWARE)["attributes"])
