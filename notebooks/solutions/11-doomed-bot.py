# Solution: make ProvisionBot fail half way on purpose, and read the compensation in its history.

# 1. A record for DOOMED in the table already: SaveMetadata's condition (attribute_not_exists) refuses
#    to overwrite it, so the run fails after the thing, the certificate and the keys were made.
dynamodb = ws.client("dynamodb")
dynamodb.put_item(TableName=outputs["BotsTableName"], Item={"thingName": {"S": DOOMED}})

# 2. Start ProvisionBot, wait for the end, and show its steps (names and statuses only).
doomed_arn = service.provision(ws, DOOMED)
doomed = service.wait(ws, doomed_arn)
print(f"ProvisionBot for {DOOMED}: {doomed['status']}, {doomed['error']}")
table(service.progress(ws, doomed_arn), title="A failed run: the Undo... states take back each step")

# 3. Nothing left behind, then remove the record put in at step 1.
try:
    ws.iot.describe_thing(thingName=DOOMED)
    thing_left = "yes"
except ws.iot.exceptions.ResourceNotFoundException:
    thing_left = "no"
objects_left = ws.client("s3").list_objects_v2(Bucket=outputs["BotsBucketName"], Prefix=f"bots/{DOOMED}/").get("KeyCount", 0)
dynamodb.delete_item(TableName=outputs["BotsTableName"], Key={"thingName": {"S": DOOMED}})
table({"thing left": thing_left, "objects left in the bucket": objects_left}, title="What the failed run left")
