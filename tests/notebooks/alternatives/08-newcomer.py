# Another correct answer: a certificate from a CSR (the key never leaves the notebook), a child group
# of another name with a description, membership with update_thing_groups_for_thing, and plain
# Device calls instead of the chapter's attempt().
from helpers import make_csr, new_key

ws.iot.create_thing(thingName=NEWCOMER)
key = new_key("ec")
certificate = ws.iot.create_certificate_from_csr(certificateSigningRequest=make_csr(key, NEWCOMER), setAsActive=True)
save_device(ws, NEWCOMER, certificate["certificatePem"], key)
ws.iot.attach_thing_principal(thingName=NEWCOMER, principal=certificate["certificateArn"])

try:
    with Device.from_workshop(ws, NEWCOMER):
        print("connected?! It should not, in no group")
except ConnectionRefused as refused:
    print("in no group: refused, as it should be:", refused)

floor = ws.name("second-floor")
ws.iot.create_thing_group(thingGroupName=floor, parentGroupName=GROUP,
                          thingGroupProperties={"thingGroupDescription": "floor two of the building"})
ws.iot.update_thing_groups_for_thing(thingName=NEWCOMER, thingGroupsToAdd=[floor])

with Device.from_workshop(ws, NEWCOMER) as device:
    device.publish(f"{TOPICS}/{NEWCOMER}", {"temperature": 19.0, "floor": 2})
print("in", floor, "it published; policies on", floor, "itself:",
      ws.iot.list_attached_policies(target=ws.iot.describe_thing_group(thingGroupName=floor)["thingGroupArn"])["policies"])
