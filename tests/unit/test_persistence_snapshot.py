"""Snapshots: the lab's moto backends and durable parts go to one file and come back whole."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import weakref
from pathlib import Path

import moto
import pytest
from moto.core.base_backend import BackendDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labfixture import in_process_lab  # noqa: E402

from localcore.persistence import snapshot  # noqa: E402


@pytest.fixture
def lab(tmp_path):
    with in_process_lab(tmp_path / "home") as lab:
        yield lab


HEADER = {"format": snapshot.FORMAT, "moto": moto.__version__}


def _roundtrip(parts: dict) -> dict:
    return snapshot.decode(snapshot.encode(snapshot.Snapshot(header=dict(HEADER), moto={}, parts=parts))).parts


class Holder:
    """Something a backend keeps, with the machinery moto's objects carry."""


def test_moto_backends_and_lab_parts_come_back(lab):
    iot = lab.iot
    iot.create_thing("persist-a", None, {"attributes": {"room": "1"}})
    s3 = lab.backend("s3")
    s3.create_bucket("persist-bucket", lab.config.region)
    s3.put_object("persist-bucket", "k", b"payload")
    lab.state["example"] = {"kept": True}
    lab.event_configurations["THING"] = True

    encoded = snapshot.encode(snapshot.capture(lab))
    thing_id = iot.things[lab.arn("thing", "persist-a")].thing_id
    # forget everything, as a new process would have nothing
    iot.delete_thing("persist-a")
    s3.delete_object("persist-bucket", "k")
    lab.state.pop("example")
    lab.event_configurations["THING"] = False

    back = snapshot.decode(encoded)
    snapshot.restore_moto(back.moto)
    lab.restore_parts(back.parts)
    thing = lab.iot.things[lab.arn("thing", "persist-a")]
    assert (thing.thing_id, thing.attributes) == (thing_id, {"room": "1"})
    assert lab.backend("s3").get_object("persist-bucket", "k").value == b"payload"
    assert lab.state["example"] == {"kept": True}
    assert lab.event_configurations["THING"] is True


def test_objects_shared_between_backends_stay_shared():
    shared = {"role": "one object"}
    back = _roundtrip({"a": shared, "b": [shared]})
    assert back["a"] is back["b"][0]


def test_locks_events_and_weak_maps_are_saved_as_what_they_hold():
    holder = Holder()
    holder.lock, holder.rlock = threading.Lock(), threading.RLock()
    holder.condition, holder.event = threading.Condition(), threading.Event()
    holder.event.set()
    holder.lock.acquire()  # a lock held when the snapshot is taken comes back free
    target = Holder()
    holder.weak_values = weakref.WeakValueDictionary({"t": target})
    holder.target, holder.ref = target, weakref.ref(target)
    back = _roundtrip({"h": holder})["h"]
    assert back.lock.acquire(blocking=False)
    assert back.rlock.acquire(blocking=False)
    assert back.event.is_set()
    assert back.weak_values["t"] is back.target
    assert back.ref() is back.target


def test_a_defaultdict_made_with_a_lambda_keeps_making_the_same_defaults():
    from collections import defaultdict

    aliases = defaultdict(lambda: {})  # as moto's Lambda storage makes it
    aliases["fn"]["live"] = 1
    nested = defaultdict(lambda: defaultdict(list))
    back = _roundtrip({"aliases": aliases, "nested": nested, "plain": defaultdict(list)})
    assert back["aliases"]["fn"] == {"live": 1}
    assert back["aliases"]["new"] == {} and back["aliases"]["other"] is not back["aliases"]["new"]
    back["nested"]["a"]["b"].append(1)
    assert back["nested"]["c"]["d"] == []
    assert back["plain"]["x"] == []


def test_a_file_is_written_atomically_with_mode_0600(tmp_path):
    path = tmp_path / "deep" / "snapshot.bin"
    snapshot.write_atomically(path, b"first")
    snapshot.write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["snapshot.bin"]  # no temporary file left


def _file(**header_changes) -> bytes:
    data = snapshot.encode(snapshot.Snapshot(header=dict(HEADER), moto={}, parts={"x": 1}))
    if not header_changes:
        return data
    end = data.index(b"\n", len(snapshot.MAGIC))
    header = json.loads(data[len(snapshot.MAGIC):end])
    header.update(header_changes)
    return snapshot.MAGIC + json.dumps(header).encode() + data[end:]


@pytest.mark.parametrize("damage, reason", [
    (lambda data: b"garbage" + data, "not a localcore snapshot"),
    (lambda data: data[:-10], "cut short or damaged"),
    (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "cut short or damaged"),
    (lambda data: snapshot.MAGIC + b"{not json\n" + data, "header is damaged"),
    (lambda data: _file(moto="4.0.0"), "written with moto 4.0.0"),
    (lambda data: _file(format=999), "format 999"),
])
def test_a_damaged_or_foreign_file_is_refused_with_the_reason(damage, reason):
    with pytest.raises(snapshot.UnreadableSnapshot, match=reason):
        snapshot.decode(damage(_file()))


def test_a_payload_that_does_not_unpickle_is_refused(tmp_path):
    data = _file()
    end = data.index(b"\n", len(snapshot.MAGIC))
    payload = b"\x80\x05not a pickle at all."
    import hashlib

    header = json.loads(data[len(snapshot.MAGIC):end])
    header.update(sha256=hashlib.sha256(payload).hexdigest(), payloadBytes=len(payload))
    with pytest.raises(snapshot.UnreadableSnapshot, match="content cannot be loaded"):
        snapshot.decode(snapshot.MAGIC + json.dumps(header).encode() + b"\n" + payload)


def test_no_file_means_no_snapshot(tmp_path):
    assert snapshot.read(tmp_path / "missing.bin") is None


def test_every_backend_moto_has_created_is_captured(lab):
    lab.backend("logs")  # creates the region's backend
    names = snapshot.moto_backends()
    assert ("moto.iot.models", "iot_backends") in names
    assert ("moto.logs.models", "logs_backends") in names
    for backends in BackendDict._instances:
        if any(regions for regions in dict.values(backends)):
            assert snapshot._backend_dict_name(backends) in names


def test_the_snapshot_file_is_private_to_its_owner(lab, tmp_path):
    path = tmp_path / "s.bin"
    snapshot.write_atomically(path, snapshot.encode(snapshot.capture(lab)))
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def test_aws_managed_policies_are_saved_by_name_and_come_back_whole(lab):
    iam = lab.backend("iam")
    arn = "arn:aws:iam::aws:policy/service-role/AWSIoTLogging"
    role = iam.create_role(role_name="persist-logging", assume_role_policy_document=json.dumps(
        {"Version": "2012-10-17", "Statement": []}), path="/", permissions_boundary=None, description="",
        tags=[], max_session_duration=None)
    iam.attach_role_policy(arn, role.name)
    policy = iam.managed_policies[arn]
    encoded = snapshot.encode(snapshot.capture(lab))
    assert len(encoded) < 1_000_000, "1,600 AWS policies must not be saved whole"
    back = snapshot.decode(encoded)
    restored = back.moto[("moto.iam.models", "iam_backends")][lab.config.account_id]["aws"]
    again = restored.managed_policies[arn]
    assert (again.id, again.attachment_count, again.versions[0].document) == (
        policy.id, policy.attachment_count, policy.versions[0].document)
    assert restored.roles[role.id].managed_policies[arn] is again  # one object, as before
    assert len(restored.managed_policies) == len(iam.managed_policies)
