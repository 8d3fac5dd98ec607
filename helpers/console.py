"""The notebook's stand-in for the AWS console's MQTT test client.

`MqttConsole` subscribes the way the AWS console's MQTT test client does: MQTT over WebSockets signed
with the notebook's own AWS credentials (`helpers.iam_mqtt`; on AWS ``wss://<endpoint>:443/mqtt``,
in the lab its WebSocket port), on a background MQTT thread and keeps what arrives in a bounded `MessageLog`. Displayed in a notebook it
is a live table (newest first) in a box of fixed height that scrolls; `wait_for` lets a cell wait
for the message a lesson expects, and `messages_df` turns the log into a pandas table. It works
headless (CI) as well: display is optional.

What it promises:

* **Its state is shown.** The header says connected, disconnected (since when), or reconnected.
  When the connection drops (the lab stopped or restarted) it reconnects by itself, subscribes
  again, and says so; messages published while it was away are missed, and it says that too.
* **Nothing old is reported as new.** Every `helpers.workshop.connect()` (the first line of every
  set-up cell) is a new *set-up*. `wait_for` and `wait_until` only consider messages that arrived
  after the latest set-up, whenever the console itself was made: re-running a set-up cell without
  re-running the console cell can no longer return the earlier run's ``created`` event as the new
  one. Older messages stay listed, greyed, below a line that says they came before the set-up.
* **Its saved output tells the truth.** In JupyterLab the live view is an ipywidget; the same
  display also carries the table as HTML and text, marked with the time it was taken, and every
  later call on the console (``wait_for``, ``messages``, ...) renews that copy, so a notebook
  saved, converted or run by CI shows what had arrived, never a stale "0 message(s)".
"""

from __future__ import annotations

import html
import threading
import time
import uuid
import weakref
from datetime import datetime
from typing import Any, Callable, Iterable

from . import waits
from .device import Device, EndpointUnreachable, Message, MessageLog, MqttError, encode_payload, topic_matches
from .iam_mqtt import IamMqttConnection
from .ui import widgets_available

DEFAULT_FILTERS = ("$aws/events/#", "iot/ws")
SHOWN_ROWS = 50
HEIGHT = "24em"  # the live table scrolls inside a box this high
TEXT_ROWS = 5  # newest messages in the plain-text copy
RENDER_DELAY_S = 0.25  # at most four screen updates per second, however fast messages arrive
RECONNECT_PAUSES_S = (0.5, 1.0, 2.0, 5.0)  # then every 5 s, as long as the console is open
CONNECT_TIMEOUT_S = 5.0

_consoles: "weakref.WeakSet[MqttConsole]" = weakref.WeakSet()


def new_setup() -> None:
    """A new set-up began (`connect()` calls this): every console ignores older messages in its waits."""
    for console in list(_consoles):
        console.mark_setup()


class MqttConsole:
    """Subscribe to ``filters`` and keep every message (``ws=None``: an offline console to `feed`)."""

    def __init__(
        self,
        ws: Any = None,
        filters: Iterable[str] = DEFAULT_FILTERS,
        *,
        maxlen: int = 1000,
        timeout: float = 10.0,
    ) -> None:
        self.filters: list[str] = []
        self.log = MessageLog(maxlen)
        self.backend = waits.backend_of(ws) if ws is not None else "local"
        self.setup_seq = 0  # messages up to this sequence number arrived before the latest set-up
        self.setup_at: float | None = None
        self.history: list[tuple[float, str]] = []  # (time, what happened to the connection)
        self._device: Device | None = None
        self._widget: Any = None
        self._handles: list[Any] = []
        self._render_timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._closing = False
        self._lost_at: float | None = None
        self._reconnecting: threading.Thread | None = None
        self.log.listeners.append(self._changed)
        if ws is not None:
            client_id = f"{ws.name('workshop-console')}-{uuid.uuid4().hex[:6]}"
            self._device = IamMqttConnection.from_workshop(ws, "console", client_id)
            self._device.messages = self.log
            self._device.on_connection_lost.append(self._lost)
            self._device.connect(timeout)
            self.history.append((time.time(), "connected"))
        try:
            for topic_filter in filters:
                self.subscribe(topic_filter)
        except Exception:
            self.close()
            raise
        _consoles.add(self)

    # -- MQTT

    @property
    def connected(self) -> bool:
        return self._device is not None and self._device.connected

    @property
    def state(self) -> str:
        """``offline`` (no broker), ``connected``, ``reconnecting`` or ``closed``."""
        if self._device is None:
            return "offline"
        if self.connected:
            return "connected"
        return "closed" if self._closing else "reconnecting"

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        if self._device is not None and self.connected:
            self._device.subscribe(topic_filter, qos=qos)
        if topic_filter not in self.filters:  # a reconnecting console subscribes to it once back
            self.filters.append(topic_filter)

    def feed(self, topic: str, payload: dict | str | bytes, at: float | None = None) -> Message:
        """Add a message as if it had arrived (offline demos and tests); only subscribed topics count."""
        message = Message(topic, encode_payload(payload), time=at if at is not None else time.time())
        if any(topic_matches(f, topic) for f in self.filters):
            self.log.add(message)
        return message

    def close(self) -> None:
        self._closing = True
        if self._device is not None:
            self._device.disconnect()
            self.history.append((time.time(), "closed"))
        with self._timer_lock:
            if self._render_timer is not None:
                self._render_timer.cancel()
        self._render()
        self.refresh()

    def __enter__(self) -> "MqttConsole":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # -- losing and finding the connection again

    def _lost(self, _device: Device) -> None:
        """paho's thread: the connection closed without `close()`: say so and reconnect in the background."""
        if self._closing:
            return
        self._lost_at = time.time()
        self.history.append((self._lost_at, "disconnected"))
        self._changed(None)
        if self._reconnecting is None or not self._reconnecting.is_alive():
            self._reconnecting = threading.Thread(target=self._reconnect, name="console-reconnect", daemon=True)
            self._reconnecting.start()

    def _reconnect(self) -> None:
        attempt = 0
        while not self._closing and self._device is not None and not self.connected:
            time.sleep(RECONNECT_PAUSES_S[min(attempt, len(RECONNECT_PAUSES_S) - 1)])
            attempt += 1
            if self._closing:
                return
            try:
                self._device.connect(CONNECT_TIMEOUT_S)
                for topic_filter in list(self.filters):
                    self._device.subscribe(topic_filter)
            except (EndpointUnreachable, TimeoutError, OSError):
                continue  # the lab is not back yet
            except MqttError as error:
                if error.reason == "timeout":
                    continue  # the lab is starting
                self.history.append((time.time(), f"cannot reconnect ({error.kind}): re-run the console's cell"))
                self._changed(None)
                return
            away = time.time() - (self._lost_at or time.time())
            self.history.append((time.time(), f"reconnected after {away:.0f} s; messages published meanwhile were missed"))
            self._changed(None)
            return

    # -- set-ups

    def mark_setup(self) -> None:
        """From now on, `wait_for` and `wait_until` ignore the messages already here (`new_setup`)."""
        self.setup_seq = self.log.mark()
        self.setup_at = time.time()
        self._changed(None)

    # -- reading

    def mark(self) -> int:
        """A position in the log: pass it as ``after`` to `wait_for` to skip older messages."""
        return self.log.mark()

    def wait_for(
        self, topic_filter: str, predicate: Callable[[Message], Any] | None = None,
        timeout: float | None = None, after: int = 0,
    ) -> Message:
        """The first message on ``topic_filter`` satisfying ``predicate`` that arrived after the latest
        set-up (and after ``after``, a `mark`).

        Waits up to ``timeout`` seconds (default: sized to the backend, `helpers.waits.MESSAGE`),
        saying after a few seconds what it awaits; then raises `helpers.waits.WaitTimedOut` (a
        TimeoutError) saying what did arrive and whether the console was disconnected meanwhile.
        """
        after = max(after, self.setup_seq)
        timeout = waits.MESSAGE.seconds(self.backend) if timeout is None else timeout
        what = f"a message on {topic_filter}" + (" matching the condition" if predicate else "")
        deadline = time.monotonic() + timeout

        def look() -> Message | None:  # blocks up to a second for a new message, so nothing polls
            return self.log.first(topic_filter, predicate, after, timeout=min(1.0, max(deadline - time.monotonic(), 0)))

        try:
            return waits.wait_until(
                look,
                lambda found: found is not None, what=what, timeout=timeout, interval=0,
                describe=lambda _none: f"the console is {self._state_words()}",
            )
        except waits.WaitTimedOut:
            raise waits.WaitTimedOut(self._nothing_came(topic_filter, predicate, after, timeout)) from None
        finally:
            self.refresh()

    def wait_until(self, check: Callable[[list[Message]], Any], timeout: float | None = None) -> bool:
        """Wait until ``check(messages since the latest set-up)`` holds; return whether it did in time."""
        timeout = waits.MESSAGE.seconds(self.backend) if timeout is None else timeout
        try:
            return self.log.wait_until(lambda _all: check(self.log.messages(self.setup_seq)), timeout)
        finally:
            self.refresh()

    def _nothing_came(self, topic_filter: str, predicate: Any, after: int, timeout: float) -> str:
        what = f"on {topic_filter}" + (" matching the condition" if predicate else "")
        since = f" since the set-up at {_clock(self.setup_at)}" if self.setup_at else ""
        lines = [f"No message {what} within {timeout:g} s{since}."]
        if not self.connected and self._device is not None:
            lines.append(f"The console is {self._state_words()}: messages published meanwhile were missed. "
                         "Is the lab running (`make lab`)? Then re-run the cell that makes the message.")
        elif self._recently_reconnected():
            lines.append("The console reconnected meanwhile; messages published while it was away were missed: "
                         "re-run the cell that makes the message.")
        older = self.log.first(topic_filter, predicate, 0)
        if older is not None and after > 0 and self.log.first(topic_filter, predicate, after) is None:
            lines.append(f"One arrived before ({_clock(older.time)}), but that belongs to an earlier run, "
                         f"so it does not count.")
        arrived = self.log.messages(after)[-5:]
        if arrived:
            lines.append("What did arrive (newest last):")
            lines += [f"  {m.topic}: {m.short(60)}" for m in arrived]
        else:
            lines.append("Nothing arrived at all.")
        return "\n".join(lines)

    def _recently_reconnected(self) -> bool:
        return any(text.startswith("reconnected") for _t, text in self.history[-2:])

    def _state_words(self) -> str:
        if self._device is None:
            return "offline"
        if self.connected:
            return "connected"
        if self._closing:
            return "closed"
        return f"disconnected since {_clock(self._lost_at)}, reconnecting" if self._lost_at is not None else "disconnected"

    @property
    def messages(self) -> list[Message]:
        self.refresh()
        return self.log.messages()

    def messages_df(self) -> Any:
        import pandas as pd

        self.refresh()
        rows = [
            {"time": datetime.fromtimestamp(m.time), "topic": m.topic, "payload": m.pretty()}
            for m in self.log.messages()
        ]
        return pd.DataFrame(rows, columns=["time", "topic", "payload"])

    def clear(self) -> None:
        self.log.clear()
        self._changed(None)

    # -- display

    def _header(self) -> tuple[str, str]:
        """``(state as HTML, state as text)``."""
        words = self._state_words()
        colour = {"connected": "#1b7f3b", "offline": "#555", "closed": "#555"}.get(words, "#b00020")
        last = self.history[-1][1] if self.history else ""
        note = ""
        if last.startswith(("reconnected", "cannot reconnect")):
            note = f" ({last})"
        if words.startswith("disconnected"):
            note = " (is the lab running? `make lab`)"
        return (f"<span style='color:{colour}'>●</span> {html.escape(words + note)}", words + note)

    def _rows_html(self) -> str:
        items = list(reversed(self.log.items()))[:SHOWN_ROWS]
        cell = "text-align:left;vertical-align:top"
        rows, divided = [], False
        for seq, m in items:
            old = seq <= self.setup_seq
            if old and not divided:
                divided = True
                rows.append(f"<tr><td colspan='3' style='{cell};color:#777'><i>below: before the set-up at "
                            f"{_clock(self.setup_at)} (an earlier run; never reported as new)</i></td></tr>")
            grey = ";color:#999" if old else ""
            rows.append(
                f"<tr><td style='{cell}{grey}'>{_clock(m.time)}</td>"
                f"<td style='{cell}{grey}'><code>{html.escape(m.topic)}</code></td>"
                f"<td style='text-align:left{grey}'><pre style='margin:0'>{html.escape(m.pretty())}</pre></td></tr>"
            )
        state, _text = self._header()
        head = (
            f"<b>MQTT console</b> {state}; subscribed to {html.escape(', '.join(self.filters) or 'nothing')}; "
            f"{len(self.log)} message(s) as of {_clock(time.time())}, newest first"
        )
        table = (f"<table><thead><tr><th>time</th><th>topic</th><th>payload</th></tr></thead>"
                 f"<tbody>{''.join(rows)}</tbody></table>")
        return f"<div>{head}</div><div style='max-height:{HEIGHT};overflow-y:auto'>{table}</div>"

    def _text(self) -> str:
        _html, state = self._header()
        lines = [f"MQTT console ({state}; subscribed to {', '.join(self.filters) or 'nothing'}): "
                 f"{len(self.log)} message(s) as of {_clock(time.time())}"]
        lines += [f"  {_clock(m.time)}  {m.topic}  {m.short(60)}" for m in reversed(self.log.messages()[-TEXT_ROWS:])]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self._rows_html()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MqttConsole({state}, filters={self.filters}, messages={len(self.log)})"

    def _bundle(self) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self._text(), "text/html": self._rows_html()}
        if self._widget is not None:
            view = self._widget._repr_mimebundle_()
            bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if widgets_available() and self._widget is None:
            import ipywidgets as w

            self._widget = w.HTML(self._rows_html())
        self._handles.append(display(self._bundle(), raw=True, display_id=True))

    def refresh(self) -> None:
        """Renew the saved copy of every display of this console (the live widget renews itself)."""
        if not self._handles:
            return
        bundle = self._bundle()
        for handle in self._handles:
            try:
                handle.update(bundle, raw=True)
            except Exception:  # noqa: BLE001 - no kernel to talk to any more
                pass

    def _changed(self, _message: Message | None) -> None:
        if self._widget is None:
            return
        with self._timer_lock:
            if self._render_timer is None:
                self._render_timer = threading.Timer(RENDER_DELAY_S, self._render)
                self._render_timer.daemon = True
                self._render_timer.start()

    def _render(self) -> None:
        with self._timer_lock:
            self._render_timer = None
        if self._widget is not None:
            self._widget.value = self._rows_html()


def _clock(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]
