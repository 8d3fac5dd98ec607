"""The saver writes the lab's state after changes, in fork and inline mode, and survives its own failures."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labfixture import in_process_lab  # noqa: E402

from localcore import persistence  # noqa: E402
from localcore.persistence import snapshot  # noqa: E402
from localcore.persistence.saver import Saver  # noqa: E402

MODES = ["inline"] + (["fork"] if hasattr(os, "fork") else [])


@pytest.fixture
def lab(tmp_path):
    with in_process_lab(tmp_path / "home") as lab:
        yield lab


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def saved_revision(path: Path) -> int | None:
    try:
        return snapshot.read(path).header["revision"]
    except (snapshot.UnreadableSnapshot, AttributeError):
        return None


@pytest.mark.parametrize("mode", MODES)
def test_a_change_is_saved_by_the_background_saver(lab, tmp_path, mode):
    path = tmp_path / f"{mode}.bin"
    saver = Saver(lab, path, mode=mode)
    saver.start()
    try:
        with lab.changing():
            lab.state["saved-by"] = mode
        revision = lab.revision
        assert wait_for(lambda: saver.status.saved_revision >= revision)
        assert saved_revision(path) >= revision
        assert snapshot.read(path).parts["lab"]["state"]["saved-by"] == mode
        assert saver.status.error is None
    finally:
        saver.stop(final_save=False)


@pytest.mark.parametrize("mode", MODES)
def test_one_save_writes_a_file_that_restores(lab, tmp_path, mode):
    lab.iot.create_thing(f"saver-{mode}", None, None)
    path = tmp_path / "one.bin"
    assert Saver(lab, path, mode=mode).save()
    back = snapshot.read(path)
    iot = back.moto[("moto.iot.models", "iot_backends")][lab.config.account_id][lab.config.region]
    assert lab.arn("thing", f"saver-{mode}") in iot.things


def test_a_save_waits_for_requests_inside_and_tries_again_later(lab, tmp_path):
    saver = Saver(lab, tmp_path / "s.bin", mode="inline")
    inside, leave = threading.Event(), threading.Event()

    def request():
        with lab.gate.reading():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=request)
    worker.start()
    assert inside.wait(5)
    assert saver.save(quiet_timeout=0.05) is False  # the request is still inside
    leave.set()
    worker.join()
    assert saver.save(quiet_timeout=1.0) is True


def test_a_part_that_cannot_be_saved_is_reported_and_the_lab_goes_on(lab, tmp_path):
    saver = Saver(lab, tmp_path / "s.bin", mode="inline")
    sock = socket.socket()
    try:
        lab.durable("broken", lambda: {"socket": sock}, lambda data: None)
        assert saver.save() is False
        assert "socket" in saver.status.error
        with lab.changing():  # the lab still changes state
            lab.state["after"] = 1
        lab.durable("broken", lambda: None, lambda data: None)
        assert saver.save() is True
        assert saver.status.error is None
    finally:
        sock.close()
        lab._durable.pop("broken", None)


def test_a_clean_stop_saves_what_changed_since_the_last_save(lab, tmp_path):
    path = tmp_path / "s.bin"
    saver = Saver(lab, path, mode="inline")
    saver.start()
    saver.stop(final_save=False)  # the thread is gone: only the final save can write now
    with lab.changing():
        lab.state["last words"] = "kept"
    saver.stop(final_save=True)
    assert snapshot.read(path).parts["lab"]["state"]["last words"] == "kept"


def test_a_restored_lab_gets_its_parts_back_even_when_they_register_later(lab):
    loaded = []
    lab.restore_parts({"late": {"n": 3}})
    lab.durable("late", lambda: None, loaded.append)
    assert loaded == [{"n": 3}]
    lab._durable.pop("late")


def test_an_unreadable_file_is_moved_aside_and_the_lab_starts_empty(lab):
    path = persistence.snapshot_path(lab.config.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"LOCALCORE-SNAPSHOT\n{}\nnot a pickle")
    report = persistence.restore(lab)
    assert not report.found and not path.exists()
    assert Path(report.moved_aside).read_bytes().endswith(b"not a pickle")
    assert "could not be loaded" in report.problem and "starts empty" in report.problem
