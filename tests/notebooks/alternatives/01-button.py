# Another correct answer, written as a trainee might: a certificate from a CSR (the key never leaves
# the notebook), a policy with one statement per action and a topic filter wildcard-free, and a
# try of the refused publish with a plain Device.
from helpers import make_csr, new_key

ws.iot.create_thing(thingName=BUTTON, attributePayload={"attributes": {"kind": "button"}})
key = new_key("ec")
certificate = ws.iot.create_certificate_from_csr(certificateSigningRequest=make_csr(key, BUTTON), setAsActive=True)
save_device(ws, BUTTON, certificate["certificatePem"], key)

arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
document = {"Version": "2012-10-17", "Statement": [
    {"Sid": "OnlyAsMyself", "Effect": "Allow", "Action": ["iot:Connect"], "Resource": [f"{arn}:client/{BUTTON}"]},
    {"Sid": "OnlyMyClicks", "Effect": "Allow", "Action": ["iot:Publish"], "Resource": [f"{arn}:topic/iotbutton/{BUTTON}"]},
]}
ws.iot.create_policy(policyName=f"{BUTTON}_OnlyClicks", policyDocument=json.dumps(document))
ws.iot.attach_policy(policyName=f"{BUTTON}_OnlyClicks", target=certificate["certificateArn"])
ws.iot.attach_thing_principal(thingName=BUTTON, principal=certificate["certificateArn"])

with Device.from_workshop(ws, BUTTON) as clicker:
    clicker.publish(f"iotbutton/{BUTTON}", {"clickType": "DOUBLE"})
try:
    with Device.from_workshop(ws, BUTTON) as clicker:
        clicker.publish(TOPIC, {"clickType": "LONG"})
    print("not refused?!")
except PublishRefused as refused:
    print("refused, as it should be:", refused)
