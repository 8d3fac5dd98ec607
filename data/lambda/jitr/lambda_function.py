"""Just-in-time registration (JITR): finish what AWS IoT started when a device first connected.

AWS IoT registered the device's certificate as PENDING_ACTIVATION and published a message on
``$aws/events/certificates/registered/<caCertificateId>``. A topic rule hands that message to this
function, which provisions the device:

1. create the thing ``<THING_PREFIX><certificateId>`` (``jitr-<certificateId>`` by default),
2. create a policy for it (connect with the thing name as client id; publish, subscribe and
   receive under ``ji/`` and on ``iot/ws``),
3. attach the policy to the certificate and the certificate to the thing,
4. activate the certificate (last, so that the device connects only once everything is in place).

``THING_PREFIX`` is an environment variable of the function: in a class sharing one account each
trainee's function names its things (and their policies) with the trainee's prefix, ``anna-jitr-…``.

Every step can run again (AWS retries failed asynchronous invocations): what exists is reused.
A certificate that is neither PENDING_ACTIVATION nor ACTIVE (e.g. revoked) is left alone.
The function needs only boto3, which every Python runtime of AWS Lambda includes.
"""

import json
import logging
import os

import boto3
from botocore.exceptions import ClientError

THING_PREFIX = os.environ.get("THING_PREFIX") or "jitr-"
POLICY_PREFIX = THING_PREFIX
TOPICS = ("ji/*", "iot/ws")
WORKABLE = ("PENDING_ACTIVATION", "ACTIVE")

logger = logging.getLogger("jitr")  # its own logger: INFO lines of boto3 stay out of the log
logger.setLevel(logging.INFO)
iot = boto3.client("iot")  # made once per container, reused by warm invocations


def device_policy(region, account, thing_name):
    """Connect as the thing (client id = thing name); publish, subscribe and receive on TOPICS only."""
    base = f"arn:aws:iot:{region}:{account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{base}:client/{thing_name}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [f"{base}:topic/{topic}" for topic in TOPICS]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [f"{base}:topicfilter/{topic}" for topic in TOPICS]},
        ],
    }


def already_exists(error):
    return error.response.get("Error", {}).get("Code") == "ResourceAlreadyExistsException"


def lambda_handler(event, context):
    certificate_id = event["certificateId"]
    account = event.get("awsAccountId") or context.invoked_function_arn.split(":")[4]
    region = os.environ["AWS_REGION"]
    thing_name = THING_PREFIX + certificate_id
    policy_name = POLICY_PREFIX + certificate_id
    logger.info("registered certificate %s of CA %s (status %s)",
                certificate_id, event.get("caCertificateId"), event.get("certificateStatus"))

    certificate = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    if certificate["status"] not in WORKABLE:
        logger.warning("certificate %s is %s: not provisioning it", certificate_id, certificate["status"])
        return {"certificateId": certificate_id, "provisioned": False, "status": certificate["status"]}
    certificate_arn = certificate["certificateArn"]

    try:
        iot.create_thing(thingName=thing_name)
        logger.info("created thing %s", thing_name)
    except ClientError as error:
        if not already_exists(error):
            raise
        logger.info("thing %s exists already", thing_name)

    try:
        iot.create_policy(policyName=policy_name,
                          policyDocument=json.dumps(device_policy(region, account, thing_name)))
        logger.info("created policy %s", policy_name)
    except ClientError as error:
        if not already_exists(error):
            raise
        logger.info("policy %s exists already", policy_name)

    iot.attach_policy(policyName=policy_name, target=certificate_arn)
    logger.info("attached policy %s to certificate %s", policy_name, certificate_id)
    iot.attach_thing_principal(thingName=thing_name, principal=certificate_arn)
    logger.info("attached certificate %s to thing %s", certificate_id, thing_name)

    if certificate["status"] != "ACTIVE":  # last: the device can connect only once all is in place
        iot.update_certificate(certificateId=certificate_id, newStatus="ACTIVE")
        logger.info("activated certificate %s", certificate_id)

    return {"certificateId": certificate_id, "provisioned": True, "thingName": thing_name, "policyName": policy_name}
