# Another way to fail ProvisionBot: a thing of the bot's name exists already (with other attributes),
# so CreateThing answers ResourceAlreadyExistsException and the run fails at once, with nothing to undo.
other_name = DOOMED + "-taken"
ws.iot.create_thing(thingName=other_name, attributePayload={"attributes": {"owner": "somebody-else"}})
run = service.provision(ws, other_name)
ending = service.wait(ws, run)
assert ending["status"] == "FAILED", ending
print([step["state"] + ": " + step["status"] for step in service.progress(ws, run)])
ws.iot.delete_thing(thingName=other_name)  # the stranger's thing goes; the failed run made nothing
