# Another correct answer, written as a trainee might: every parameter spelled out (no copy of
# `parameters`), an RSA key whose PEM text is saved, and a publish without the `with` block.
from helpers import key_pem

key = new_key()
answer = ws.iot.register_thing(templateBody=Path("../data/provisioning-template.json").read_text(), parameters={
    "ThingName": THIRD,
    "SerialNumber": "3",
    "Version": "v2",
    "CSR": make_csr(key, THIRD),
    "ThingTypeName": TYPE,
    "ThingGroupName": GROUP,
    "PolicyName": outputs["IoTPolicy"],
})
save_device(ws, THIRD, answer["certificatePem"], key_pem(key))
print(ws.iot.describe_thing(thingName=THIRD)["attributes"])

me = Device.from_workshop(ws, THIRD)
me.connect()
me.publish("iot/ws", "hello from the third device")
me.disconnect()
