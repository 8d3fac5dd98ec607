# Another correct answer: the range written as two comparisons, a group of another name with a
# description, and the membership set per thing with update_thing_groups_for_thing.
from botocore.exceptions import ClientError

comfy = ws.name("rooms-18-to-22")
try:
    ws.iot.create_thing_group(thingGroupName=comfy,
                              thingGroupProperties={"thingGroupDescription": "rooms from 18 to 22 degrees"})
except ClientError as error:
    if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
        raise

query = f"thingName:{PREFIX}* AND shadow.reported.temperature>=18 AND shadow.reported.temperature<=22"
in_range = sorted(t["thingName"] for t in search(query))
for name in NAMES:
    if name in in_range:
        ws.iot.update_thing_groups_for_thing(thingName=name, thingGroupsToAdd=[comfy])
    else:
        ws.iot.update_thing_groups_for_thing(thingName=name, thingGroupsToRemove=[comfy])
print(len(in_range), "comfortable rooms:", ", ".join(in_range))
