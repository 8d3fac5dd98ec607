# Solution: a small device made with the workshop's client, then deleted by hand in an order AWS IoT accepts.
import json

from helpers.certs import read_device

SCRATCH, SCRATCH_POLICY = ws.name("scratch-thing"), ws.name("scratch-policy")

# 1. The thing, keys and a certificate, a policy that allows iot:Connect; policy → certificate → thing.
#    If you made some of it already, it is reused (a thing or policy of that name) or replaced (the files).
try:
    ws.iot.create_thing(thingName=SCRATCH)
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass  # yours, made with other attributes: keep it
created = ws.iot.create_keys_and_certificate(setAsActive=True)
scratch_files = save_device(ws, SCRATCH, created["certificatePem"], created["keyPair"]["PrivateKey"])
SCRATCH_ID, SCRATCH_ARN = created["certificateId"], created["certificateArn"]
del created  # the private key lives only in its 0600 file
connect_only = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
try:
    ws.iot.create_policy(policyName=SCRATCH_POLICY, policyDocument=json.dumps(connect_only))
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass  # made by an earlier attempt
ws.iot.attach_policy(policyName=SCRATCH_POLICY, target=SCRATCH_ARN)
ws.iot.attach_thing_principal(thingName=SCRATCH, principal=SCRATCH_ARN)

# 2. What the ledger recorded: the three create calls, each with what identifies it. The attach
#    calls created nothing, so they are not there.
display(table(cleanup.view(ledger.table(ws).tail(3)), title="The last ledger entries"))

# 3. The wrong order first: AWS IoT refuses to delete an ACTIVE certificate, and says why.
try:
    ws.iot.delete_certificate(certificateId=SCRATCH_ID)
    print("Deleted?! AWS IoT should have refused.")
except ws.iot.exceptions.ClientError as error:
    print(f"Deleting the certificate first: {error.response['Error']['Code']}: {error.response['Error']['Message']}")

#    Then the right order, for every certificate of the thing (an earlier attempt may have left one):
#    detach its policies and the thing, deactivate it, delete it; then the thing; then the policy,
#    once it is attached to nothing and has no version besides the default.
for principal in ws.iot.list_thing_principals(thingName=SCRATCH)["principals"]:
    certificate_id = principal.rsplit("/", 1)[1]
    for policy in ws.iot.list_attached_policies(target=principal)["policies"]:
        ws.iot.detach_policy(policyName=policy["policyName"], target=principal)
    ws.iot.detach_thing_principal(thingName=SCRATCH, principal=principal)
    ws.iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
    ws.iot.delete_certificate(certificateId=certificate_id)
    print(f"Deleted the certificate {certificate_id[:12]}…")
ws.iot.delete_thing(thingName=SCRATCH)
for target in ws.iot.list_targets_for_policy(policyName=SCRATCH_POLICY)["targets"]:
    ws.iot.detach_policy(policyName=SCRATCH_POLICY, target=target)
for version in ws.iot.list_policy_versions(policyName=SCRATCH_POLICY)["policyVersions"]:
    if not version["isDefaultVersion"]:
        ws.iot.delete_policy_version(policyName=SCRATCH_POLICY, policyVersionId=version["versionId"])
ws.iot.delete_policy(policyName=SCRATCH_POLICY)
print(f"Deleted the thing {SCRATCH} and the policy {SCRATCH_POLICY}.")

# 4. The key files, and the check: none of the scratch resources is left.
for path in (scratch_files.cert, scratch_files.key):
    path.unlink(missing_ok=True)
print("Files left:", read_device(ws, SCRATCH))
scratch_left = cleanup.leftovers(ws)
scratch_left = scratch_left[scratch_left["name"].isin([SCRATCH, SCRATCH_POLICY, SCRATCH_ID])]
print("None of the scratch resources is left." if scratch_left.empty else scratch_left[["kind", "name", "note"]])
