# Solution: a newcomer without a policy of its own, first in no group, then in a group inside the building.

# 1. The newcomer: thing, keys and certificate, the certificate attached to the thing. If you made them
#    already they are reused: the thing, and the certificate whose files save_device wrote for NEWCOMER,
#    if AWS IoT still has it ACTIVE.
from helpers.certs import certificate_id, read_device

try:
    ws.iot.create_thing(thingName=NEWCOMER)
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass  # yours, with its own attributes or type: keep it

newcomer_files = read_device(ws, NEWCOMER)
NEWCOMER_CERT_ARN = None
if newcomer_files is not None:
    try:
        described = ws.iot.describe_certificate(certificateId=certificate_id(newcomer_files.cert.read_text()))
        if described["certificateDescription"]["status"] == "ACTIVE":
            NEWCOMER_CERT_ARN = described["certificateDescription"]["certificateArn"]
    except ws.iot.exceptions.ResourceNotFoundException:
        pass  # files of a certificate AWS IoT no longer knows
if NEWCOMER_CERT_ARN is None:
    response = ws.iot.create_keys_and_certificate(setAsActive=True)
    save_device(ws, NEWCOMER, response["certificatePem"], response["keyPair"]["PrivateKey"])
    NEWCOMER_CERT_ARN = response["certificateArn"]
    del response  # the private key lives in its 0600 file only
ws.iot.attach_thing_principal(thingName=NEWCOMER, principal=NEWCOMER_CERT_ARN)  # again: not an error

# No policy of its own, and in no group (an earlier try may have put it somewhere).
for policy in ws.iot.list_attached_policies(target=NEWCOMER_CERT_ARN)["policies"]:
    ws.iot.detach_policy(policyName=policy["policyName"], target=NEWCOMER_CERT_ARN)
    print(f"Detached {policy['policyName']} from the newcomer's certificate: it gets no policy of its own.")
for group in ws.iot.list_thing_groups_for_thing(thingName=NEWCOMER)["thingGroups"]:
    ws.iot.remove_thing_from_thing_group(thingGroupName=group["groupName"], thingName=NEWCOMER)

newcomer = Device.from_workshop(ws, NEWCOMER)  # client id = thing name
NEWCOMER_TOPIC = f"{TOPICS}/{NEWCOMER}"
newcomer_outcomes = [attempt("connect, in no group", newcomer, "",
                             lambda: f"connected in {newcomer.connect().connect_ms:.0f} ms")]
newcomer.disconnect()

# 2. A group inside the building, and the newcomer in it (not in GROUP itself). create_thing_group
#    returns the group when it exists with the same properties; one of yours with others is kept.
try:
    ws.iot.create_thing_group(thingGroupName=CHILD_GROUP, parentGroupName=GROUP)
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass
ws.iot.add_thing_to_thing_group(thingGroupName=CHILD_GROUP, thingName=NEWCOMER)

# 3. Connect and publish again, then ask which policies the child group itself has.
newcomer_outcomes.append(attempt(f"publish, in {CHILD_GROUP}", newcomer, NEWCOMER_TOPIC,
                                 lambda: publish_and_see(newcomer, NEWCOMER_TOPIC)))
newcomer.disconnect()
child = ws.iot.describe_thing_group(thingGroupName=CHILD_GROUP)
child_policies = ws.iot.list_attached_policies(target=child["thingGroupArn"])["policies"]
print(f"Policies attached to {CHILD_GROUP} itself: {', '.join(p['policyName'] for p in child_policies) or 'none'}; "
      f"its parent is {child['thingGroupMetadata'].get('parentGroupName')}.")
table(newcomer_outcomes, title=f"{NEWCOMER} before and after joining {CHILD_GROUP}")
