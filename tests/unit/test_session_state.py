"""`localcore.mqtt.session_state` answers as amqtt's `transitions` machine did, for every trigger from every state."""

from __future__ import annotations

import gc
import pickle
import weakref

import pytest
from amqtt.session import Session
from transitions import MachineError

from localcore.mqtt import session_state


class Recorder:
    def __init__(self) -> None:
        self.entered: list[str] = []

    def _on_enter_connected(self) -> None:
        self.entered.append("connected")

    def _on_enter_disconnected(self) -> None:
        self.entered.append("disconnected")


def reach(state: str) -> tuple[session_state.SessionState, Recorder]:
    recorder = Recorder()
    machine = session_state.SessionState(recorder)
    path = {"new": [], "connected": ["connect"], "disconnected": ["disconnect"]}[state]
    for trigger in path:
        getattr(machine, trigger)()
    recorder.entered.clear()
    return machine, recorder


@pytest.mark.parametrize("start, trigger, end", [
    ("new", "connect", "connected"),
    ("disconnected", "connect", "connected"),
    ("connected", "disconnect", "disconnected"),
    ("new", "disconnect", "disconnected"),
    ("disconnected", "disconnect", "disconnected"),
])
def test_allowed_triggers_move_and_run_the_enter_callback(start, trigger, end):
    machine, recorder = reach(start)
    assert getattr(machine, trigger)() is True
    assert machine.state == end
    assert recorder.entered == [end]
    assert machine.is_connected() == (end == "connected")
    assert machine.is_disconnected() == (end == "disconnected")
    assert not machine.is_new()


def test_connect_while_connected_raises_machine_error_as_amqtt_expects():
    machine, recorder = reach("connected")
    with pytest.raises(MachineError):
        machine.connect()
    assert machine.state == "connected" and recorder.entered == []


def test_installed_sessions_use_it_and_survive_pickling():
    session_state.install()
    session = Session()
    assert isinstance(session.transitions, session_state.SessionState) and session.transitions.is_new()
    session.transitions.connect()
    assert session.last_connect_time is not None
    copy = pickle.loads(pickle.dumps(session))
    assert copy.transitions.is_connected()
    copy.transitions.disconnect()
    assert copy.last_disconnect_time is not None and session.last_disconnect_time is None


def test_a_dropped_session_is_freed_by_reference_counting_alone():
    """amqtt's machine made every session a reference cycle, freed only by a full collection."""
    session_state.install()
    session = Session()
    session.transitions.connect()
    gone = weakref.ref(session)
    gc.disable()
    try:
        del session
        assert gone() is None
    finally:
        gc.enable()
