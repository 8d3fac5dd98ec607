# Solution: a third device from the same template, with serial number 3 and version v2.

# RegisterThing leaves a thing that exists already as it is (it would only add one more certificate),
# so a THIRD from an earlier attempt goes first, with its certificates.
for row in remove_things(ws, [THIRD]):
    print(f"Removed your earlier {row['thing']} and {row['certificates removed']} certificate(s) to start afresh.")

# Its own key and CSR (an elliptic-curve key is made much faster than RSA, and works as well).
third_key = new_key("ec")

# The same template and parameters, with four values changed: Version overrides the template's
# default v1 without touching the template.
third = ws.iot.register_thing(
    templateBody=template_body,
    parameters={**parameters, "ThingName": THIRD, "SerialNumber": "3", "Version": "v2",
                "CSR": make_csr(third_key, THIRD)},
)
third_files = save_device(ws, THIRD, third["certificatePem"], third_key)

with Device.from_workshop(ws, THIRD) as third_device:
    third_device.publish("iot/ws", {"prov": "third", "device": THIRD})
print(f"{THIRD} connected in {third_device.connect_ms:.0f} ms and published to iot/ws.")

table(ws.iot.describe_thing(thingName=THIRD)["attributes"], title=f"The attributes of {THIRD}")
