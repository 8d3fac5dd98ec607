# Solution: ProvisionBot writes a firmwareVersion attribute on every new bot, in a step of its own.

# 1. The definition ProvisionBot runs now (a dict).
definition = service.definition(ws, "ProvisionBot")
states = definition["States"]

# 2. A new Task after CreateThing: UpdateThing merges the attribute in; "ResultPath": None keeps the
#    state's input as it was for the steps after it. Added once, so that the cell can run again.
if "SetFirmwareVersion" not in states:
    states["SetFirmwareVersion"] = {
        "Type": "Task",
        "Comment": "Every bot starts with the firmware version it was provisioned with.",
        "Resource": "arn:aws:states:::aws-sdk:iot:updateThing",
        "Parameters": {
            "ThingName.$": "$.thingName",
            "AttributePayload": {"Attributes": {"firmwareVersion": params["firmware_version"]}, "Merge": True},
        },
        "ResultPath": None,
        "Retry": states["CreateThing"]["Retry"],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "UndoCreateThing"}],
        "Next": states["CreateThing"]["Next"],
    }
    states["CreateThing"]["Next"] = "SetFirmwareVersion"
else:  # run again with another version: just change the value
    states["SetFirmwareVersion"]["Parameters"]["AttributePayload"]["Attributes"]["firmwareVersion"] = params["firmware_version"]

# 3. UpdateStateMachine (Step Functions checks the definition first).
service.update_definition(ws, "ProvisionBot", definition)
table(states_of(definition), title="ProvisionBot, as it runs now")

# 4. A new bot, provisioned with the new definition (removed first when an earlier run left it).
if any(row["thingName"] == FIRMWARE for row in service.search(ws, FIRMWARE)):
    service.wait(ws, service.remove(ws, FIRMWARE))
ended = service.wait(ws, service.provision(ws, FIRMWARE))
print(f"ProvisionBot for {FIRMWARE}: {ended['status']}")
table(ws.iot.describe_thing(thingName=FIRMWARE)["attributes"], title=f"The attributes of {FIRMWARE}")
