# Another correct answer, written as a trainee might: a certificate from a CSR (the key never leaves the
# notebook), other names, a policy of two statements, and another order AWS IoT accepts: the
# certificate first detached from the thing and deactivated, then the policy detached from everything
# it is attached to (found from the policy's side), then certificate, thing and policy deleted.
import json

from helpers import make_csr, new_key

sensor, sensor_policy = ws.name("scratch-sensor"), ws.name("scratch-sensor-connect")
ws.iot.create_thing(thingName=sensor, attributePayload={"attributes": {"purpose": "exercise"}})
key = new_key("ec")
certificate = ws.iot.create_certificate_from_csr(certificateSigningRequest=make_csr(key, sensor), setAsActive=True)
files = save_device(ws, sensor, certificate["certificatePem"], key)
arn = f"arn:aws:iot:{ws.region}:{ws.account_id}"
ws.iot.create_policy(policyName=sensor_policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": [f"{arn}:client/{sensor}"]},
    {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": [f"{arn}:topic/scratch/{sensor}"]}]}))
ws.iot.attach_policy(policyName=sensor_policy, target=certificate["certificateArn"])
ws.iot.attach_thing_principal(thingName=sensor, principal=certificate["certificateArn"])
print(ledger.table(ws).tail(3)[["kind", "name", "identity"]])

try:
    ws.iot.delete_certificate(certificateId=certificate["certificateId"])
except ws.iot.exceptions.CertificateStateException as refused:
    print("Refused, as expected:", refused)

ws.iot.detach_thing_principal(thingName=sensor, principal=certificate["certificateArn"])
ws.iot.update_certificate(certificateId=certificate["certificateId"], newStatus="INACTIVE")
for target in ws.iot.list_targets_for_policy(policyName=sensor_policy)["targets"]:
    ws.iot.detach_policy(policyName=sensor_policy, target=target)
ws.iot.delete_certificate(certificateId=certificate["certificateId"])
ws.iot.delete_thing(thingName=sensor)
ws.iot.delete_policy(policyName=sensor_policy)
files.cert.unlink()
files.key.unlink()
