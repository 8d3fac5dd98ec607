# Solution: a button that may connect as itself and publish its clicks, and nothing else.

# 1. The thing, and keys and a certificate. If you made them already, they are reused: the thing,
#    and the certificate whose files save_device wrote for BUTTON, if AWS IoT still has it ACTIVE.
from helpers.certs import certificate_id, read_device

try:
    ws.iot.create_thing(thingName=BUTTON)
except ws.iot.exceptions.ResourceAlreadyExistsException:
    pass  # yours, with its own attributes or type: keep it

button_files = read_device(ws, BUTTON)
BUTTON_CERT_ARN = None
if button_files is not None:
    try:
        described = ws.iot.describe_certificate(certificateId=certificate_id(button_files.cert.read_text()))
        if described["certificateDescription"]["status"] == "ACTIVE":
            BUTTON_CERT_ARN = described["certificateDescription"]["certificateArn"]
    except ws.iot.exceptions.ResourceNotFoundException:
        pass  # files of a certificate AWS IoT no longer knows
if BUTTON_CERT_ARN is None:
    response = ws.iot.create_keys_and_certificate(setAsActive=True)
    button_files = save_device(ws, BUTTON, response["certificatePem"], response["keyPair"]["PrivateKey"])
    BUTTON_CERT_ARN = response["certificateArn"]
    del response  # the private key lives in its 0600 file only
print(f"{BUTTON}: certificate {BUTTON_CERT_ARN.split('/')[-1][:12]}…, files in {button_files.cert.parent}")

# 2. The policy: connect only as BUTTON, publish only to the button's topic.
BUTTON_TOPIC = f"iotbutton/{BUTTON}"
BUTTON_POLICY = f"{BUTTON}-policy"
button_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": f"arn:aws:iot:{ws.region}:{ws.account_id}:client/{BUTTON}"},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": f"arn:aws:iot:{ws.region}:{ws.account_id}:topic/{BUTTON_TOPIC}"},
    ],
}
try:
    ws.iot.create_policy(policyName=BUTTON_POLICY, policyDocument=json.dumps(button_policy))
    print(f"Created the policy {BUTTON_POLICY}.")
except ws.iot.exceptions.ResourceAlreadyExistsException:
    # A policy of that name exists (yours, or an earlier run's): make this document its default
    # version. A policy keeps at most five versions; delete an old one first if it has five.
    versions = ws.iot.list_policy_versions(policyName=BUTTON_POLICY)["policyVersions"]
    if len(versions) == 5:
        oldest = min((v for v in versions if not v["isDefaultVersion"]), key=lambda v: int(v["versionId"]))
        ws.iot.delete_policy_version(policyName=BUTTON_POLICY, policyVersionId=oldest["versionId"])
    ws.iot.create_policy_version(policyName=BUTTON_POLICY, policyDocument=json.dumps(button_policy),
                                 setAsDefault=True)
    print(f"The policy {BUTTON_POLICY} existed: this document is its default version now.")
print(json.dumps(button_policy, indent=2))

# 3. Attach: policy → certificate → thing (attaching twice is not an error).
ws.iot.attach_policy(policyName=BUTTON_POLICY, target=BUTTON_CERT_ARN)
ws.iot.attach_thing_principal(thingName=BUTTON, principal=BUTTON_CERT_ARN)

# 4. Try it: a click on the button's own topic arrives; a publish to TOPIC closes the connection;
#    another client id with the button's certificate is refused.
console.subscribe(BUTTON_TOPIC)
click = {"serialNumber": BUTTON, "clickType": "SINGLE", "nonce": uuid.uuid4().hex[:8]}
button = Device.from_workshop(ws, BUTTON)
impostor = Device.from_workshop(ws, BUTTON, client_id=f"{BUTTON}-impostor")


def attempt(what, client_id, topic, action):
    """One row of the table: run ``action`` and record whether AWS IoT allowed it."""
    try:
        return {"attempt": what, "client id": client_id, "topic": topic, "outcome": "allowed", "detail": action()}
    except (PublishRefused, ConnectionRefused) as refused:
        return {"attempt": what, "client id": client_id, "topic": topic, "outcome": "refused by the policy",
                "detail": str(refused)}


def publish_and_see(topic):
    button.publish(topic, click)
    seen = console.wait_for(topic, lambda m: (m.json or {}).get("nonce") == click["nonce"])
    return f"the console received {seen.short(60)}"


button.connect()
outcomes = [
    attempt("publish", BUTTON, BUTTON_TOPIC, lambda: publish_and_see(BUTTON_TOPIC)),
    attempt("publish", BUTTON, TOPIC, lambda: publish_and_see(TOPIC)),
    attempt("connect", impostor.client_id, "", lambda: f"connected in {impostor.connect().connect_ms:.0f} ms"),
]
button.disconnect()
impostor.disconnect()
table(outcomes, title="What the button's policy allows")
