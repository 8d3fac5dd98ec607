# Solution: who may assume the stack's roles, and a copy of the logging role for this account only.
import json

# 1. One row per role: the principals its trust policy allows, their conditions, its inline policies.
rows = []
for output in ("ArnIoTProvisioningRole", "ArnIoTLoggingRole", "ArnLambdaRole"):
    role_name = outputs[output].split("/")[-1]
    trust = ws.iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    allowed = [s for s in trust["Statement"] if s["Effect"] == "Allow"]
    rows.append({
        "output": output,
        "role": role_name,
        "may be assumed by": ", ".join(json.dumps(s["Principal"]) for s in allowed),
        "conditions": ", ".join(json.dumps(s["Condition"]) for s in allowed if "Condition" in s) or "none",
        "inline policies": ", ".join(ws.iam.list_role_policies(RoleName=role_name)["PolicyNames"]),
    })
display(table(rows, title="The stack's roles"))  # display(): a table that is not the cell's last line
# The provisioning and logging roles trust the service iot.amazonaws.com, the Lambda role
# lambda.amazonaws.com. Without a condition, that is the service acting for ANY account.

# 2. A copy of the logging role that AWS IoT may assume only when it acts for this account (and
#    region): the conditions AWS recommends against the confused deputy.
STRICT_ROLE = ws.name("iot-logging-strict")
strict_trust = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "iot.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ws.account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:iot:{ws.region}:{ws.account_id}:*"},
        },
    }],
}
try:
    ws.iam.create_role(RoleName=STRICT_ROLE, AssumeRolePolicyDocument=json.dumps(strict_trust),
                       Description="Writes AWS IoT logs; only AWS IoT acting for this account may assume it")
    print(f"Created the role {STRICT_ROLE}.")
except ws.iam.exceptions.EntityAlreadyExistsException:
    # Yours from an earlier attempt: give it this trust policy (its permissions follow below).
    ws.iam.update_assume_role_policy(RoleName=STRICT_ROLE, PolicyDocument=json.dumps(strict_trust))
    print(f"The role {STRICT_ROLE} existed: its trust policy is this one now.")

# The same permissions as the stack's logging role: copy its inline policies (putting one again
# replaces it, so re-running is harmless).
logging_role = outputs["ArnIoTLoggingRole"].split("/")[-1]
for policy_name in ws.iam.list_role_policies(RoleName=logging_role)["PolicyNames"]:
    document = ws.iam.get_role_policy(RoleName=logging_role, PolicyName=policy_name)["PolicyDocument"]
    ws.iam.put_role_policy(RoleName=STRICT_ROLE, PolicyName=policy_name, PolicyDocument=json.dumps(document))

strict = ws.iam.get_role(RoleName=STRICT_ROLE)["Role"]
table({"role": STRICT_ROLE, "trust policy": json.dumps(strict["AssumeRolePolicyDocument"]),
       "inline policies": ", ".join(ws.iam.list_role_policies(RoleName=STRICT_ROLE)["PolicyNames"])},
      title="Your copy of the logging role")
