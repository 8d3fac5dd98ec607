"""The moto internals the lab patches exist, and the patches do what AWS does."""

from __future__ import annotations

import importlib

import pytest
from moto.iot.models import iot_backends

from devices import csr_pem, new_key
from localcore.aws import moto_patches
from localcore.config import LabConfig
from localcore.server import build_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = build_lab(LabConfig(home=tmp_path_factory.mktemp("lab")))
    yield lab
    moto_patches.reset()


@pytest.fixture
def iot(lab):
    iot_backends[lab.config.account_id].reset()
    return lab.iot


def test_every_patched_moto_attribute_exists(lab):
    assert moto_patches.PATCHED, "apply() recorded no patched attribute"
    for module, cls, attribute in moto_patches.PATCHED:
        owner = getattr(importlib.import_module(module), cls)
        assert hasattr(owner, attribute), f"moto changed: {module}.{cls}.{attribute} is gone"


def test_certificate_from_csr_keeps_the_device_key_and_is_issued_by_the_lab(lab, iot):
    from cryptography import x509

    key = new_key()
    cert = iot.create_certificate_from_csr(csr_pem(key, "dev"), set_as_active=True)
    parsed = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    assert parsed.public_key().public_numbers() == key.public_key().public_numbers()
    assert parsed.issuer == x509.load_pem_x509_certificate(lab.pki.issuing_ca_pem.encode()).subject
    assert cert.status == "ACTIVE"


def test_certificate_id_is_sha256_of_der(lab, iot):
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert, _keys = iot.create_keys_and_certificate(set_as_active=False)
    der = x509.load_pem_x509_certificate(cert.certificate_pem.encode()).public_bytes(serialization.Encoding.DER)
    assert cert.certificate_id == hashlib.sha256(der).hexdigest()


def test_create_thing_again_with_same_attributes_keeps_the_thing(iot):
    first = iot.create_thing("t1", None, {"attributes": {"a": "1"}})
    again = iot.create_thing("t1", None, {"attributes": {"a": "1"}})
    assert again.thing_id == first.thing_id


@pytest.mark.parametrize("name", ["has space", "", "x" * 129, "slash/no", "é"])
def test_invalid_thing_names_are_refused(iot, name):
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as raised:
        iot.create_thing(name, None, None)
    assert raised.value.error_type == "InvalidRequestException"


def test_create_thing_with_other_attributes_conflicts_and_keeps_the_original(iot):
    from moto.core.exceptions import JsonRESTError

    first = iot.create_thing("t2", None, {"attributes": {"a": "1"}})
    with pytest.raises(JsonRESTError) as raised:
        iot.create_thing("t2", None, {"attributes": {"a": "2"}})
    assert raised.value.error_type == "ResourceAlreadyExistsException"
    assert iot.describe_thing("t2").thing_id == first.thing_id
    assert iot.describe_thing("t2").attributes == {"a": "1"}


@pytest.mark.parametrize("document", ["{not json", '{"Statement": []}', '{"Statement": [{"Effect": "Maybe", "Action": "iot:*", "Resource": "*"}]}'])
def test_malformed_policy_documents_are_refused(iot, document):
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as raised:
        iot.create_policy("p", document)
    assert raised.value.error_type == "MalformedPolicyException"
    assert "p" not in iot.policies


def test_cloudformation_ref_of_an_iot_policy_is_its_name(lab):
    from moto.iot.models import FakePolicy

    policy = FakePolicy("my-policy", "{}", lab.config.account_id, lab.config.region)
    assert policy.physical_resource_id == "my-policy"


def test_a_group_with_a_missing_parent_is_not_found(iot):
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as raised:
        iot.create_thing_group("child", "no-such-parent", {})
    assert raised.value.error_type == "ResourceNotFoundException"


def test_deleting_a_certificate_works_while_a_group_has_a_policy(iot):
    iot.create_thing_group("g", None, {})
    iot.create_policy("gp", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}')
    iot.attach_policy("gp", iot.describe_thing_group("g").arn)
    cert, _ = iot.create_keys_and_certificate(set_as_active=False)
    iot.delete_certificate(cert.certificate_id, force_delete=False)
    assert cert.certificate_id not in iot.certificates


def test_a_certificate_with_a_policy_cannot_be_deleted(iot):
    from moto.core.exceptions import JsonRESTError

    iot.create_policy("cp", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}')
    cert, _ = iot.create_keys_and_certificate(set_as_active=False)
    iot.attach_policy("cp", cert.arn)
    with pytest.raises(JsonRESTError) as raised:
        iot.delete_certificate(cert.certificate_id, force_delete=False)
    assert raised.value.error_type == "DeleteConflictException"
    assert cert.certificate_id in iot.certificates


def test_inline_role_policies_from_cloudformation_are_json(lab):
    import json as _json

    from moto.iam.models import Role, iam_backends

    Role.create_from_cloudformation_json("r1", {"Properties": {
        "RoleName": "cfn-role", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "Policies": [{"PolicyName": "inline", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}],
    }}, lab.config.account_id, lab.config.region)
    document = iam_backends[lab.config.account_id]["aws"].get_role_policy("cfn-role", "inline")[1]
    assert _json.loads(document)["Statement"][0]["Action"] == "s3:GetObject"


def test_creating_the_same_group_twice_returns_it(iot):
    first = iot.create_thing_group("same", None, None)
    assert iot.create_thing_group("same", None, None) == first


def test_describe_certificate_names_the_ca_and_the_real_validity(lab, iot):
    from cryptography import x509

    cert, _ = iot.create_keys_and_certificate(set_as_active=True)
    cert.ca_certificate_id = "a" * 64
    description = cert.to_description_dict()
    parsed = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    assert description["caCertificateId"] == "a" * 64
    assert description["validity"]["notAfter"] == parsed.not_valid_after_utc


@pytest.mark.parametrize(
    "deprecate, keep_thing, error_part",
    [(False, False, "non-deprecated"), (True, True, "things still use it"), (True, False, None)],
    ids=["not-deprecated", "still-used", "deprecated-and-unused"],
)
def test_a_thing_type_is_deleted_only_when_deprecated_and_unused(iot, deprecate, keep_thing, error_part):
    from moto.core.exceptions import JsonRESTError

    iot.create_thing_type("tt", {})
    if keep_thing:
        iot.create_thing("uses-tt", "tt", None)
    if deprecate:
        iot.deprecate_thing_type("tt", False)
    if error_part is None:
        iot.delete_thing_type("tt")
        assert not any(t.thing_type_name == "tt" for t in iot.thing_types.values())
        return
    with pytest.raises(JsonRESTError) as raised:
        iot.delete_thing_type("tt")
    assert raised.value.error_type == "InvalidRequestException" and error_part in raised.value.message
    assert any(t.thing_type_name == "tt" for t in iot.thing_types.values())


# --- attributes, however they reach moto (templates, bulk, CloudFormation, the API) -----------------


@pytest.mark.parametrize("payload, words", [
    ({"attributes": 5}, "Member must be a map"),
    ({"attributes": ["a"]}, "Member must be a map"),
    ({"attributes": {"k": 5}}, "Map value must satisfy constraint"),
    ({"attributes": {"k": "v" * 801}}, "less than or equal to 800"),
    ({"attributes": {"bad key": "v"}}, "Map keys must satisfy constraint"),
    ({"attributes": {f"a{i}": "v" for i in range(4)}}, "without a thing type can have at most 3"),
])
def test_attributes_moto_would_store_badly_are_refused_before_anything_is_stored(iot, payload, words):
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as raised:
        iot.create_thing("bad-attributes", None, payload)

    assert raised.value.error_type == "InvalidRequestException" and words in raised.value.message
    assert iot.things == {}


def test_update_thing_keeps_within_the_attribute_count_of_its_resulting_type(iot):
    from moto.core.exceptions import JsonRESTError

    iot.create_thing_type("typed", {})
    iot.create_thing("t", "typed", {"attributes": {f"a{i}": "v" for i in range(10)}})

    with pytest.raises(JsonRESTError) as raised:
        iot.update_thing("t", None, None, True)  # removing the type would leave 10 attributes on an untyped thing

    assert "would have 10 attributes" in raised.value.message
    assert iot.describe_thing("t").thing_type.thing_type_name == "typed"
    iot.update_thing("t", None, {"attributes": {f"a{i}": "" for i in range(8)}, "merge": True}, False)
    iot.update_thing("t", None, None, True)
    assert iot.describe_thing("t").attributes == {"a8": "v", "a9": "v"}


def test_thing_groups_hold_at_most_fifty_attributes(iot):
    from moto.core.exceptions import JsonRESTError

    fifty = {f"a{i}": "v" for i in range(50)}
    iot.create_thing_group("g50", None, {"attributePayload": {"attributes": fifty}})

    with pytest.raises(JsonRESTError):
        iot.create_thing_group("g51", None, {"attributePayload": {"attributes": {**fifty, "a50": "v"}}})
    with pytest.raises(JsonRESTError):
        iot.update_thing_group("g50", {"attributePayload": {"attributes": {"a50": "v"}, "merge": True}}, None)
    iot.update_thing_group("g50", {"attributePayload": {"attributes": {"a50": "v"}}}, None)  # replaces: one left


def test_a_thing_is_not_stored_when_its_billing_group_is_missing(iot):
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as raised:
        iot.create_thing("billed", None, None, billing_group_name="no-such-group")

    assert raised.value.error_type == "ResourceNotFoundException"
    assert iot.things == {}


def test_a_missing_group_leaves_the_thing_in_no_group(iot):
    from moto.core.exceptions import JsonRESTError

    iot.create_thing("member", None, None)
    iot.create_thing_group("exists", None, {})

    with pytest.raises(JsonRESTError):
        iot.update_thing_groups_for_thing("member", ["exists", "missing"], [])

    assert list(iot.list_things_in_thing_group("exists")) == []


def test_moto_models_are_freed_once_the_lab_drops_them(lab):
    """moto kept every model it ever made in ``instances_tracked``: a deleted thing, or a log entry
    trimmed from its stream, stayed in memory for the lab's lifetime."""
    import gc
    import weakref

    from moto.logs.models import LogEvent

    event = LogEvent(0, {"timestamp": 0, "message": "m"})
    dropped = weakref.ref(event)
    del event
    gc.collect()
    assert dropped() is None, "a dropped LogEvent is still referenced"
    thing = lab.iot.create_thing("freed-thing", None, None)
    gone = weakref.ref(lab.iot.things[lab.arn("thing", "freed-thing")])
    del thing
    lab.iot.delete_thing("freed-thing")
    gc.collect()
    assert gone() is None, "a deleted thing is still referenced"
