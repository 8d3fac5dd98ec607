"""Registry answers moto got wrong: setAsActive=false from a CSR, CreateThingType's id and a second
create, forceDelete with policies attached."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from devices import csr_pem, new_key


@pytest.fixture
def iot(lab):
    return lab.client("iot")


@pytest.mark.parametrize("active, status", [(False, "INACTIVE"), (True, "ACTIVE")])
def test_a_certificate_from_a_csr_is_active_only_when_asked(iot, active, status):
    created = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem(new_key(), "csr"), setAsActive=active)
    assert iot.describe_certificate(certificateId=created["certificateId"])["certificateDescription"]["status"] == status


def test_create_thing_type_answers_its_id_and_a_second_create_keeps_the_type(iot):
    name = f"type-{uuid.uuid4().hex[:6]}"
    properties = {"thingTypeDescription": "sensors", "searchableAttributes": ["room"]}
    first = iot.create_thing_type(thingTypeName=name, thingTypeProperties=properties)
    assert first["thingTypeId"] == iot.describe_thing_type(thingTypeName=name)["thingTypeId"]
    iot.create_thing(thingName=f"{name}-thing", thingTypeName=name)
    again = iot.create_thing_type(thingTypeName=name, thingTypeProperties=properties)
    assert again["thingTypeId"] == first["thingTypeId"]
    with pytest.raises(ClientError) as raised:
        iot.create_thing_type(thingTypeName=name, thingTypeProperties={"thingTypeDescription": "other"})
    assert raised.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    assert iot.describe_thing(thingName=f"{name}-thing")["thingTypeName"] == name


def test_force_delete_takes_the_policy_attachments_with_the_certificate(iot):
    name = f"forced-{uuid.uuid4().hex[:6]}"
    iot.create_policy(policyName=name, policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    certificate = iot.create_keys_and_certificate(setAsActive=False)
    iot.attach_policy(policyName=name, target=certificate["certificateArn"])
    iot.delete_certificate(certificateId=certificate["certificateId"], forceDelete=True)
    assert iot.list_targets_for_policy(policyName=name)["targets"] == []
    iot.delete_policy(policyName=name)  # nothing attached any more
    with pytest.raises(ClientError):
        iot.get_policy(policyName=name)
