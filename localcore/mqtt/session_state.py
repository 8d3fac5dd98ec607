"""amqtt's session state machine without the ``transitions`` library.

amqtt gives every ``Session`` a ``transitions.Machine`` (new → connected ⇄ disconnected) for three
states and two triggers: some 200 Python objects per session (lists of callbacks, bound methods,
partials, events), most of them in reference cycles. With a class fleet connected (`bench/fleet.py`,
1,000 devices) that was ~250,000 long-lived objects which every full garbage collection walks
(0.3-0.9 s pauses every client felt), and which a closed session only released at the next full
collection. `SessionState` answers what amqtt and the lab ask of it (``state``, ``connect()``,
``disconnect()``, ``is_connected()`` ...) with the same rules: ``connect`` from ``connected`` raises
``MachineError`` (amqtt's broker catches it to take the session over), entering a state runs the
session's ``_on_enter_<state>``, as the machine did.
"""

from __future__ import annotations

import weakref
from typing import Any

from transitions import MachineError

NEW, CONNECTED, DISCONNECTED = "new", "connected", "disconnected"
_CONNECT_FROM = (NEW, DISCONNECTED)


class SessionState:
    """The session's state; it holds its session weakly, so that a closed session is freed at once
    by reference counting instead of waiting, as a cycle, for the next full garbage collection."""

    __slots__ = ("state", "_session")

    def __init__(self, session: Any) -> None:
        self.state = NEW
        self._session = weakref.ref(session)

    def connect(self) -> bool:
        if self.state not in _CONNECT_FROM:
            raise MachineError(f"Can't trigger event connect from state {self.state}!")
        self.state = CONNECTED
        self._entered("_on_enter_connected")
        return True

    def disconnect(self) -> bool:  # allowed from every state (disconnected → disconnected too)
        self.state = DISCONNECTED
        self._entered("_on_enter_disconnected")
        return True

    def _entered(self, callback: str) -> None:
        session = self._session()
        if session is not None:
            getattr(session, callback)()

    def is_new(self) -> bool:
        return self.state == NEW

    def is_connected(self) -> bool:
        return self.state == CONNECTED

    def is_disconnected(self) -> bool:
        return self.state == DISCONNECTED

    def __reduce__(self) -> tuple[Any, ...]:
        """amqtt's ``Session`` pickles its ``__dict__``: the copy is relinked by `_relink`."""
        return _unpickled, (self.state,)


def _unpickled(state: str) -> "SessionState":
    machine = SessionState.__new__(SessionState)
    machine.state, machine._session = state, _no_session
    return machine


def _no_session() -> None:
    return None


def _init_states(session: Any) -> None:
    session.transitions = SessionState(session)


def _relink(session: Any, original_setstate: Any, state: dict[str, Any]) -> None:
    original_setstate(session, state)
    machine = session.__dict__.get("transitions")
    if isinstance(machine, SessionState):
        machine._session = weakref.ref(session)


def install() -> None:
    """Every amqtt ``Session`` made (or unpickled) from now on uses `SessionState`."""
    from amqtt.session import Session

    if getattr(Session._init_states, "__module__", None) == __name__:
        return
    original_setstate = Session.__setstate__
    Session._init_states = _init_states
    Session.__setstate__ = lambda session, state: _relink(session, original_setstate, state)
