"""Registry events and generation bumps from moto's IoT backend, driven in-process."""

from __future__ import annotations

import datetime
import inspect
import json
import logging
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto.iot.models import IoTBackend, iot_backends

from localcore.aws import moto_patches
from localcore.aws.moto_patches import hooks

ACCOUNT, REGION, OTHER_REGION = "123456789012", "us-east-1", "eu-west-1"
EVENT_KEYS = ("THING", "THING_TYPE", "THING_TYPE_ASSOCIATION", "THING_GROUP", "THING_GROUP_MEMBERSHIP",
              "THING_GROUP_HIERARCHY")
# Topic segment after "$aws/events/" → event-configuration key.
KEY_OF_SEGMENT = {
    "thing": "THING", "thingType": "THING_TYPE", "thingTypeAssociation": "THING_TYPE_ASSOCIATION",
    "thingGroup": "THING_GROUP", "thingGroupMembership": "THING_GROUP_MEMBERSHIP",
    "thingGroupHierarchy": "THING_GROUP_HIERARCHY",
}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})


class FakeLab:
    """What the hooks use of ``localcore.runtime.Lab``."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(account_id=ACCOUNT, region=REGION)
        self.enabled = {key: True for key in EVENT_KEYS}
        self.published: list[tuple[str, dict]] = []
        self.generation = 0
        self.state: dict = {}

    def publish(self, topic: str, payload: dict) -> None:
        self.published.append((topic, payload))

    def events_enabled(self, event_type: str) -> bool:
        return self.enabled.get(event_type, False)

    def registry_changed(self) -> None:
        self.generation += 1

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.published]


@pytest.fixture
def lab(monkeypatch):
    """Hooks installed for a fresh FakeLab; moto's class is restored afterwards."""
    for name in hooks.EVENT_SOURCES + hooks.AUTHORISATION_MUTATIONS:
        monkeypatch.setattr(IoTBackend, name, getattr(IoTBackend, name))
    iot_backends[ACCOUNT].reset()
    fake = FakeLab()
    hooks.install(fake)
    yield fake
    iot_backends[ACCOUNT].reset()


@pytest.fixture
def backend(lab):
    return iot_backends[ACCOUNT][REGION]


def pem(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# -- registry builders used by the scenarios -------------------------------------------------------
def thing(b, name="lamp", type_name="", **attributes):
    return b.create_thing(thing_name=name, thing_type_name=type_name, attribute_payload={"attributes": attributes})


def thing_type(b, name="bulb"):
    b.create_thing_type(name, {"thingTypeDescription": "bulbs", "searchableAttributes": ["serial"]})


def group(b, name, parent=None):
    b.create_thing_group(name, parent, {})


def typed_lamp(b):
    thing_type(b)
    thing(b, type_name="bulb")


def two_types_and_lamp(b):
    thing_type(b, "old")
    thing_type(b, "new")
    thing(b, type_name="old")


def lamp_and_groups(b):
    thing(b)
    group(b, "g1")
    group(b, "g2")


def lamp_in_g1(b):
    lamp_and_groups(b)
    b.add_thing_to_thing_group("g1", None, "lamp", None)


def nothing(b):
    pass


def update(b, **changes):
    arguments = {"thing_name": "lamp", "thing_type_name": None, "attribute_payload": None, "remove_thing_type": False}
    b.update_thing(**(arguments | changes))


E = "$aws/events"
SCENARIOS = [
    pytest.param(nothing, thing, [f"{E}/thing/lamp/created"], id="create-thing"),
    pytest.param(
        lambda b: thing_type(b), lambda b: thing(b, type_name="bulb"),
        [f"{E}/thing/lamp/created", f"{E}/thingTypeAssociation/thing/lamp/thingType/bulb/added"],
        id="create-typed-thing",
    ),
    pytest.param(thing, thing, [], id="create-existing-thing-is-quiet"),
    pytest.param(
        thing, lambda b: update(b, attribute_payload={"attributes": {"site": "b"}}),
        [f"{E}/thing/lamp/updated"], id="update-thing-attributes",
    ),
    pytest.param(
        lambda b: (thing(b), thing_type(b)), lambda b: update(b, thing_type_name="bulb"),
        [f"{E}/thing/lamp/updated", f"{E}/thingTypeAssociation/thing/lamp/thingType/bulb/added"],
        id="update-thing-sets-type",
    ),
    pytest.param(
        two_types_and_lamp, lambda b: update(b, thing_type_name="new"),
        [f"{E}/thing/lamp/updated", f"{E}/thingTypeAssociation/thing/lamp/thingType/old/removed",
         f"{E}/thingTypeAssociation/thing/lamp/thingType/new/added"],
        id="update-thing-changes-type",
    ),
    pytest.param(
        typed_lamp, lambda b: update(b, remove_thing_type=True),
        [f"{E}/thing/lamp/updated", f"{E}/thingTypeAssociation/thing/lamp/thingType/bulb/removed"],
        id="update-thing-removes-type",
    ),
    pytest.param(
        typed_lamp, lambda b: b.delete_thing("lamp"),
        [f"{E}/thing/lamp/deleted", f"{E}/thingTypeAssociation/thing/lamp/thingType/bulb/removed"],
        id="delete-typed-thing",
    ),
    pytest.param(nothing, thing_type, [f"{E}/thingType/bulb/created"], id="create-thing-type"),
    pytest.param(
        thing_type, lambda b: b.deprecate_thing_type("bulb", False), [f"{E}/thingType/bulb/updated"],
        id="deprecate-thing-type",
    ),
    pytest.param(
        lambda b: (thing_type(b), b.deprecate_thing_type("bulb", False)),
        lambda b: b.deprecate_thing_type(thing_type_name="bulb", undo_deprecate=True),
        [f"{E}/thingType/bulb/updated"], id="undeprecate-thing-type",
    ),
    pytest.param(
        thing_type, lambda b: b.delete_thing_type("bulb"), [f"{E}/thingType/bulb/deleted"], id="delete-thing-type",
    ),
    pytest.param(nothing, lambda b: group(b, "root"), [f"{E}/thingGroup/root/created"], id="create-root-group"),
    pytest.param(
        lambda b: group(b, "root"), lambda b: group(b, "child", "root"),
        [f"{E}/thingGroup/child/created", f"{E}/thingGroupHierarchy/thingGroup/root/childThingGroup/child/added"],
        id="create-child-group",
    ),
    pytest.param(lambda b: group(b, "root"), lambda b: group(b, "root"), [], id="identical-group-re-create-is-quiet"),
    pytest.param(
        lambda b: group(b, "root"),
        lambda b: b.update_thing_group("root", {"thingGroupDescription": "new"}, None),
        [f"{E}/thingGroup/root/updated"], id="update-group",
    ),
    pytest.param(
        lambda b: (group(b, "root"), group(b, "child", "root")), lambda b: b.delete_thing_group("child"),
        [f"{E}/thingGroup/child/deleted", f"{E}/thingGroupHierarchy/thingGroup/root/childThingGroup/child/removed"],
        id="delete-child-group",
    ),
    pytest.param(nothing, lambda b: b.delete_thing_group("ghost"), [], id="delete-missing-group-is-quiet"),
    pytest.param(
        lamp_and_groups, lambda b: b.add_thing_to_thing_group("g1", None, "lamp", None),
        [f"{E}/thingGroupMembership/thingGroup/g1/thing/lamp/added"], id="add-thing-to-group",
    ),
    pytest.param(
        lamp_in_g1,
        lambda b: b.add_thing_to_thing_group(thing_group_name=None, thing_group_arn=b.describe_thing_group("g1").arn,
                                             thing_name="lamp", thing_arn=None),
        [], id="add-existing-member-is-quiet",
    ),
    pytest.param(
        lamp_in_g1, lambda b: b.remove_thing_from_thing_group("g1", None, "lamp", None),
        [f"{E}/thingGroupMembership/thingGroup/g1/thing/lamp/removed"], id="remove-thing-from-group",
    ),
    pytest.param(
        lamp_and_groups, lambda b: b.remove_thing_from_thing_group("g1", None, "lamp", None),
        [], id="remove-non-member-is-quiet",
    ),
    pytest.param(
        lamp_in_g1, lambda b: b.update_thing_groups_for_thing("lamp", ["g2"], ["g1"]),
        [f"{E}/thingGroupMembership/thingGroup/g2/thing/lamp/added",
         f"{E}/thingGroupMembership/thingGroup/g1/thing/lamp/removed"],
        id="update-thing-groups-for-thing",
    ),
]


@pytest.mark.parametrize(("setup", "action", "expected"), SCENARIOS)
def test_operation_publishes_exactly_its_events(lab, backend, setup, action, expected):
    setup(backend)
    lab.published.clear()
    action(backend)
    assert lab.topics() == expected


@pytest.mark.parametrize("key", EVENT_KEYS)
@pytest.mark.parametrize(("setup", "action", "expected"), SCENARIOS)
def test_only_enabled_event_types_are_published(lab, backend, setup, action, expected, key):
    lab.enabled = {key: True}
    setup(backend)
    lab.published.clear()
    action(backend)
    assert lab.topics() == [topic for topic in expected if KEY_OF_SEGMENT[topic.split("/")[2]] == key]


@pytest.mark.parametrize(("setup", "action", "expected"), SCENARIOS)
def test_disabled_events_publish_nothing(lab, backend, setup, action, expected):
    lab.enabled = {}
    setup(backend)
    action(backend)
    assert lab.published == []


@pytest.mark.parametrize(("setup", "action", "expected"), SCENARIOS)
def test_other_region_stays_silent(lab, setup, action, expected):
    other = iot_backends[ACCOUNT][OTHER_REGION]
    setup(other)
    action(other)
    assert lab.published == []
    assert lab.generation == 0


# -- payload content from moto's state ------------------------------------------------------------
def payload(lab, suffix: str) -> dict:
    matches = [body for topic, body in lab.published if topic.endswith(suffix)]
    assert len(matches) == 1, lab.topics()
    return matches[0]


def test_update_thing_bumps_version_like_aws(lab, backend):
    thing(backend, serial="1")
    update(backend, attribute_payload={"attributes": {"site": "b"}, "merge": True})
    update(backend, attribute_payload={"attributes": {"site": "c"}, "merge": True})
    assert backend.describe_thing("lamp").version == 3
    assert [body["versionNumber"] for topic, body in lab.published] == [1, 2, 3]
    assert lab.published[-1][1]["attributes"] == {"serial": "1", "site": "c"}


def test_deleted_thing_event_carries_what_was_there(lab, backend):
    thing(backend, serial="7")
    update(backend, attribute_payload={"attributes": {"site": "b"}, "merge": True})
    created_id = backend.describe_thing("lamp").thing_id
    backend.delete_thing("lamp")
    body = payload(lab, "/lamp/deleted")
    assert (body["thingId"], body["versionNumber"], body["attributes"]) == (created_id, 2, {"serial": "7", "site": "b"})


def test_membership_removed_repeats_the_added_membership_id(lab, backend):
    lamp_in_g1(backend)
    backend.remove_thing_from_thing_group("g1", None, "lamp", None)
    added, removed = payload(lab, "/lamp/added"), payload(lab, "/lamp/removed")
    assert added["membershipId"] == removed["membershipId"]
    assert added["thingArn"] == backend.describe_thing("lamp").arn
    assert added["groupId"] == backend.describe_thing_group("g1").thing_group_id


def test_group_events_carry_ancestry_and_new_version(lab, backend):
    group(backend, "root")
    group(backend, "middle", "root")
    group(backend, "leaf", "middle")
    backend.update_thing_group("leaf", {"attributePayload": {"attributes": {"site": "berlin"}}}, None)
    body = payload(lab, "/leaf/updated")
    ids = {name: backend.describe_thing_group(name).thing_group_id for name in ("root", "middle", "leaf")}
    assert body["versionNumber"] == backend.describe_thing_group("leaf").version == 2
    assert body["attributes"] == {"site": "berlin"}
    assert (body["parentGroupName"], body["parentGroupId"]) == ("middle", ids["middle"])
    assert [g["groupId"] for g in body["rootToParentThingGroups"]] == [ids["root"], ids["middle"]]
    hierarchy = payload(lab, "childThingGroup/leaf/added")
    assert (hierarchy["thingGroupId"], hierarchy["childGroupId"]) == (ids["middle"], ids["leaf"])


def test_deprecation_date_recorded_in_moto_and_event(lab, backend):
    thing_type(backend)
    backend.deprecate_thing_type("bulb", False)
    metadata = backend.describe_thing_type("bulb").metadata
    body = payload(lab, "thingType/bulb/updated")
    expected_ms = int(metadata["deprecationDate"].replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    assert (body["isDeprecated"], body["deprecationDate"]) == (True, expected_ms)
    assert (body["description"], body["searchableAttributes"]) == ("bulbs", ["serial"])
    backend.deprecate_thing_type("bulb", True)
    assert "deprecationDate" not in backend.describe_thing_type("bulb").metadata


def test_deleted_thing_leaves_its_groups(lab, backend):
    lamp_in_g1(backend)
    backend.delete_thing("lamp")
    thing(backend)
    assert list(backend.list_things_in_thing_group("g1")) == []


def test_failed_operation_publishes_nothing(lab, backend):
    with pytest.raises(Exception, match="ResourceNotFound|does not exist"):
        update(backend, attribute_payload={"attributes": {"a": "b"}})
    assert (lab.published, lab.generation) == ([], 0)


def test_publish_failure_is_logged_not_raised(lab, backend, caplog):
    def broken(topic, body):
        raise RuntimeError("broker gone")

    lab.publish = broken
    with caplog.at_level(logging.ERROR, logger=hooks.__name__):
        thing(backend)
    assert backend.describe_thing("lamp").thing_name == "lamp"
    assert "thing/lamp/created" in caplog.text


def test_event_through_the_http_api(lab):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    with mock_aws():
        boto3.client("iot", region_name=REGION).create_thing(thingName="via-http")
    assert lab.topics() == [f"{E}/thing/via-http/created"]


# -- generation ------------------------------------------------------------------------------------
def world(b) -> SimpleNamespace:
    """A thing in g1, an empty g2, a policy with a second version, an inactive cert and CA."""
    lamp_in_g1(b)
    b.create_policy("p", POLICY)
    b.create_policy_version("p", POLICY, False)
    cert = b.register_certificate_without_ca(pem("device"), "INACTIVE")
    ca = b.register_ca_certificate(pem("ca"), False, {})
    return SimpleNamespace(cert=cert, ca=ca)


MUTATIONS = [
    pytest.param(lambda b, w: b.attach_policy("p", w.cert.arn), id="attach_policy"),
    pytest.param(lambda b, w: (b.attach_policy("p", w.cert.arn), b.detach_policy("p", w.cert.arn)), id="detach_policy"),
    pytest.param(lambda b, w: b.attach_principal_policy("p", w.cert.arn), id="attach_principal_policy"),
    pytest.param(lambda b, w: (b.attach_principal_policy("p", w.cert.arn), b.detach_principal_policy("p", w.cert.arn)),
                 id="detach_principal_policy"),
    pytest.param(lambda b, w: b.create_policy_version("p", POLICY, False), id="create_policy_version"),
    pytest.param(lambda b, w: b.set_default_policy_version("p", "2"), id="set_default_policy_version"),
    pytest.param(lambda b, w: b.delete_policy_version("p", "2"), id="delete_policy_version"),
    pytest.param(lambda b, w: (b.delete_policy_version("p", "2"), b.delete_policy("p")), id="delete_policy"),
    pytest.param(lambda b, w: b.register_certificate(pem("other"), None, False, "INACTIVE"), id="register_certificate"),
    pytest.param(lambda b, w: b.register_certificate_without_ca(pem("other"), "INACTIVE"),
                 id="register_certificate_without_ca"),
    pytest.param(lambda b, w: b.update_certificate(w.cert.certificate_id, "ACTIVE"), id="update_certificate"),
    pytest.param(lambda b, w: b.delete_certificate(w.cert.certificate_id, False), id="delete_certificate"),
    pytest.param(lambda b, w: b.register_ca_certificate(pem("other-ca"), True, {}), id="register_ca_certificate"),
    pytest.param(lambda b, w: b.update_ca_certificate(w.ca.certificate_id, "ACTIVE", None), id="update_ca_certificate"),
    pytest.param(lambda b, w: b.delete_ca_certificate(w.ca.certificate_id), id="delete_ca_certificate"),
    pytest.param(lambda b, w: b.attach_thing_principal("lamp", w.cert.arn), id="attach_thing_principal"),
    pytest.param(
        lambda b, w: (b.attach_thing_principal("lamp", w.cert.arn), b.detach_thing_principal("lamp", w.cert.arn)),
        id="detach_thing_principal",
    ),
    pytest.param(lambda b, w: update(b, attribute_payload={"attributes": {"a": "b"}}), id="update_thing"),
    pytest.param(lambda b, w: b.delete_thing("lamp"), id="delete_thing"),
    pytest.param(lambda b, w: b.add_thing_to_thing_group("g2", None, "lamp", None), id="add_thing_to_thing_group"),
    pytest.param(lambda b, w: b.remove_thing_from_thing_group("g1", None, "lamp", None),
                 id="remove_thing_from_thing_group"),
    pytest.param(lambda b, w: b.update_thing_groups_for_thing("lamp", ["g2"], []), id="update_thing_groups_for_thing"),
    pytest.param(lambda b, w: b.delete_thing_group("g1"), id="delete_thing_group"),
]


@pytest.mark.parametrize("mutate", MUTATIONS)
def test_registry_mutation_bumps_generation(lab, backend, mutate):
    made = world(backend)
    before = lab.generation
    mutate(backend, made)
    assert lab.generation > before


@pytest.mark.parametrize("mutate", MUTATIONS)
def test_other_region_mutation_leaves_generation(lab, mutate):
    other = iot_backends[ACCOUNT][OTHER_REGION]
    made = world(other)
    mutate(other, made)
    assert lab.generation == 0


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda b: b.describe_thing("lamp"), id="describe_thing"),
        pytest.param(lambda b: b.list_thing_groups_for_thing("lamp"), id="list_thing_groups_for_thing"),
        pytest.param(lambda b: b.list_policies(), id="list_policies"),
    ],
)
def test_reads_leave_generation(lab, backend, read):
    world(backend)
    before = lab.generation
    read(backend)
    assert lab.generation == before


# -- moto upgrade guard ----------------------------------------------------------------------------
WRAPPED = hooks.EVENT_SOURCES + hooks.AUTHORISATION_MUTATIONS


@pytest.mark.parametrize("name", WRAPPED + hooks.LOOKUPS)
def test_moto_still_has_every_hooked_method(name):
    assert callable(getattr(IoTBackend, name, None)), f"moto's IoTBackend.{name} is gone"


@pytest.mark.parametrize("name", WRAPPED)
def test_install_wraps_and_records_every_method(lab, name):
    before = getattr(IoTBackend, name)
    hooks.install(FakeLab())
    assert getattr(IoTBackend, name).__wrapped__ is before
    assert ("moto.iot.models", "IoTBackend", name) in moto_patches.PATCHED


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        pytest.param("create_thing", ["thing_name"], id="create_thing"),
        pytest.param("update_thing", ["thing_name"], id="update_thing"),
        pytest.param("delete_thing", ["thing_name"], id="delete_thing"),
        pytest.param("create_thing_type", ["thing_type_name"], id="create_thing_type"),
        pytest.param("delete_thing_type", ["thing_type_name"], id="delete_thing_type"),
        pytest.param("create_thing_group", ["thing_group_name"], id="create_thing_group"),
        pytest.param("update_thing_group", ["thing_group_name"], id="update_thing_group"),
        pytest.param("delete_thing_group", ["thing_group_name"], id="delete_thing_group"),
        *[
            pytest.param(method, ["thing_group_name", "thing_group_arn", "thing_name", "thing_arn"], id=method)
            for method in ("add_thing_to_thing_group", "remove_thing_from_thing_group")
        ],
    ],
)
def test_moto_parameter_names_the_hooks_read(method, parameters):
    moto_function = inspect.unwrap(getattr(IoTBackend, method))
    assert set(parameters) <= set(inspect.signature(moto_function).parameters)
