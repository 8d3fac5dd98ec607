# Another correct answer, written as a trainee might: the roles read from the stack's resources
# instead of its outputs, a trust policy limited by aws:SourceArn alone (lists for principal and
# action), and AWS's managed policy for IoT logging attached instead of inline copies.
import json

for resource in ws.cloudformation.describe_stack_resources(StackName=ws.stack_name)["StackResources"]:
    if resource["ResourceType"] == "AWS::IAM::Role":
        role = ws.iam.get_role(RoleName=resource["PhysicalResourceId"])["Role"]
        print(role["RoleName"], "→", [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]])

mine = f"{ws.prefix}LoggingForMyAccountOnly"
trust = {"Version": "2012-10-17", "Statement": [{
    "Sid": "OnlyMyAccountsIoT",
    "Effect": "Allow",
    "Principal": {"Service": ["iot.amazonaws.com"]},
    "Action": ["sts:AssumeRole"],
    "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:iot:*:{ws.account_id}:*"}},
}]}
ws.iam.create_role(RoleName=mine, AssumeRolePolicyDocument=json.dumps(trust), Path="/workshop/")
ws.iam.attach_role_policy(RoleName=mine, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSIoTLogging")
