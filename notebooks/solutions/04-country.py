# Solution: a device from France. Sections 6 to 9 again, for SECOND with the Country FR; JITP does the
# rest: no API call of yours creates its thing, its attribute, its group membership or its policy.
from helpers.catchup import remove_things
from helpers.certs import read_device

# 0. An earlier attempt may have made SECOND with another country. JITP leaves a thing that exists as
#    it is (the template has no OverrideSettings), so that thing goes first, with its certificates.
try:
    earlier = ws.iot.describe_thing(thingName=SECOND).get("attributes", {})
except ws.iot.exceptions.ResourceNotFoundException:
    earlier = None  # not there: JITP makes it
if earlier is not None and earlier.get("Country") != "FR":
    remove_things(ws, [SECOND])
    print(f"Removed {SECOND} (Country = {earlier.get('Country')}) and its certificates: JITP makes it again.")

# 1. A key made on the device and a certificate your CA signs (CN = SECOND, Country = FR), kept with the
#    CA's certificate. Files of SECOND that hold such a certificate already (yours, or an earlier run's)
#    are reused.
second_files = read_device(ws, SECOND)
second_pem = second_files.cert.read_text() if second_files else ""
if not (second_pem and "C=FR" in certificate_summary(second_pem)["subject"].split(",") and ca.pem in second_pem):
    second_key = new_key("rsa")
    second_pem = sign_device_certificate(ca, second_key, SECOND, country="FR")
    second_files = save_device(ws, SECOND, chain_pem(second_pem, ca), second_key)
    del second_key  # the private key lives in its 0600 file only
SECOND_CERT_ID = certificate_id(second_pem)
display(table(certificate_summary(second_pem), title=f"The certificate of {SECOND}"))

# 2. The first connection: AWS IoT registers the certificate, runs the CA's template, and closes it.
second_device = Device.from_workshop(ws, SECOND)
try:
    second_device.connect()
    second_device.disconnect()
    print(f"{SECOND} connected at once: JITP provisioned it before (an earlier run).")
except ConnectionRefused as refused:
    print(f"First connection of {SECOND}: {refused.reason}. {refused}")
second_state = wait_for_provisioning(ws, SECOND_CERT_ID)

# 3. The second connection: the device is in.
with second_device:
    second_device.publish(params["topic"], {"let-me": "in", "device": SECOND})

# 4. What JITP made, read from the registry.
second_thing = ws.iot.describe_thing(thingName=SECOND)
second_groups = ws.iot.list_thing_groups_for_thing(thingName=SECOND)["thingGroups"]
table({"attributes": second_thing.get("attributes", {}),
       "thing groups": ", ".join(g["groupName"] for g in second_groups),
       "certificate": f"{SECOND_CERT_ID[:12]}… {second_state['status']}",
       "policies on the certificate": ", ".join(second_state["policies"])},
      title=f"The thing {SECOND}, made by JITP")
