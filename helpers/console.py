"""The notebook's stand-in for the AWS console's MQTT test client.

`MqttConsole` subscribes with the workshop's console identity (`Workshop.console_identity`) on a
background MQTT thread and keeps what arrives in a bounded `MessageLog`. Displayed in a notebook it
is a live table (newest first); `wait_for` lets a cell wait for the message a lesson expects, and
`messages_df` turns the log into a pandas table. It works headless (CI) as well: display is optional.
"""

from __future__ import annotations

import html
import threading
import time
import uuid
from datetime import datetime
from typing import Any, Callable, Iterable

from .device import Device, Message, MessageLog, encode_payload, topic_matches
from .ui import widgets_available

DEFAULT_FILTERS = ("$aws/events/#", "iot/ws")
SHOWN_ROWS = 50
RENDER_DELAY_S = 0.25  # at most four screen updates per second, however fast messages arrive


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
        self._device: Device | None = None
        self._widget: Any = None
        self._render_timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self.log.listeners.append(self._changed)
        if ws is not None:
            cert, key = ws.console_identity()
            client_id = f"{ws.name('workshop-console')}-{uuid.uuid4().hex[:6]}"
            self._device = Device("console", cert, key, ws.endpoint, ws.port, ws.root_ca, client_id,
                                  local=ws.backend == "local")
            self._device.messages = self.log
            self._device.connect(timeout)
        try:
            for topic_filter in filters:
                self.subscribe(topic_filter)
        except Exception:
            self.close()
            raise

    # -- MQTT

    @property
    def connected(self) -> bool:
        return self._device is not None and self._device.connected

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        if self._device is not None:
            self._device.subscribe(topic_filter, qos=qos)
        if topic_filter not in self.filters:
            self.filters.append(topic_filter)

    def feed(self, topic: str, payload: dict | str | bytes, at: float | None = None) -> Message:
        """Add a message as if it had arrived (offline demos and tests); only subscribed topics count."""
        message = Message(topic, encode_payload(payload), time=at if at is not None else time.time())
        if any(topic_matches(f, topic) for f in self.filters):
            self.log.add(message)
        return message

    def close(self) -> None:
        if self._device is not None:
            self._device.disconnect()
        with self._timer_lock:
            if self._render_timer is not None:
                self._render_timer.cancel()

    def __enter__(self) -> "MqttConsole":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # -- reading

    def mark(self) -> int:
        """A position in the log: pass it as ``after`` to `wait_for` to skip older messages."""
        return self.log.mark()

    def wait_for(
        self, topic_filter: str, predicate: Callable[[Message], Any] | None = None,
        timeout: float = 10.0, after: int = 0,
    ) -> Message:
        """The first kept message on ``topic_filter`` satisfying ``predicate``; TimeoutError lists what came."""
        return self.log.wait_for(topic_filter, predicate, timeout, after)

    @property
    def messages(self) -> list[Message]:
        return self.log.messages()

    def messages_df(self) -> Any:
        import pandas as pd

        rows = [
            {"time": datetime.fromtimestamp(m.time), "topic": m.topic, "payload": m.pretty()}
            for m in self.log.messages()
        ]
        return pd.DataFrame(rows, columns=["time", "topic", "payload"])

    def clear(self) -> None:
        self.log.clear()
        self._changed(None)

    # -- display

    def _rows_html(self) -> str:
        newest = list(reversed(self.log.messages()))[:SHOWN_ROWS]
        rows = "".join(
            "<tr>"
            f"<td style='text-align:left;vertical-align:top'>{_clock(m.time)}</td>"
            f"<td style='text-align:left;vertical-align:top'><code>{html.escape(m.topic)}</code></td>"
            f"<td style='text-align:left'><pre style='margin:0'>{html.escape(m.pretty())}</pre></td>"
            "</tr>"
            for m in newest
        )
        state = "connected" if self.connected else ("offline" if self._device is None else "disconnected")
        head = (
            f"<b>MQTT console</b> ({state}; subscribed to {html.escape(', '.join(self.filters) or 'nothing')}; "
            f"{len(self.log)} message(s), newest first)"
        )
        return f"{head}<table><thead><tr><th>time</th><th>topic</th><th>payload</th></tr></thead><tbody>{rows}</tbody></table>"

    def _repr_html_(self) -> str:
        return self._rows_html()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MqttConsole({state}, filters={self.filters}, messages={len(self.log)})"

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        if not widgets_available():
            display(HTML(self._rows_html()))
            return
        import ipywidgets as w

        if self._widget is None:
            self._widget = w.HTML(self._rows_html())
        display(self._widget)

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


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]
