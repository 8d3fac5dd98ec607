"""The things screen: create, search and remove bots, and watch the state machines work (ipywidgets).

    screen = ThingsScreen(ws)     # a cell's last line shows it; big fonts, for a projector
    screen.close()                # stops its polling (the bots keep running: screen.fleet.stop_all())

A name box with *Create* and *Search* (an empty search lists every bot), a message line, one row of
step labels per execution (grey until reached, yellow while running, green when passed, red when
failed, orange while compensating), and the table of bots (name, status, created, online) with a
*Remove* button per row. Searching reads the bots' DynamoDB table (`service.search`), never ListThings.

When a provisioning run succeeds the screen starts the bot on this machine (`Fleet.start`), so it
shows *online*; removing a running bot deactivates its certificate first, and the row shows it
*disconnected* while the other steps pass. Errors (a bad name, a refused call, a failed run) show in
the message line, in plain words, never as a traceback.

For tests and for CI the screen is a model first: every button calls a method (`create`, `search`,
`remove`), `refresh()` polls the running executions once and redraws, and `text()` is what it shows.
In a kernel, displaying the screen starts a background thread that calls `refresh()` every
``poll_s`` seconds; nothing else runs by itself.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from . import service as default_service
from .bot import ONLINE, RECONNECTING, STARTING
from .service import COMPENSATING, ENTERED, FAILED, SUCCEEDED, BotNameInvalid, bot_name
from ..failures import Explained
from ..ui import widgets_available
from ..waits import aws_error_code, aws_error_message

POLL_S = 1.0
KEEP_FINISHED = 3
MESSAGE_MAX = 300  # characters: a nested Step Functions cause can run to pages  # finished executions still shown (their final lights)
FONT = "20px"
TITLE_FONT = "28px"
# The steps each state machine walks through on success (issue 11's interface); the screen shows them
# grey until reached. States that appear only on failure (Undo…, ProvisioningFailed) are added as they come.
PLANNED = {
    "create": ("CreateThing", "CreateKeysAndCertificate", "AttachPolicy", "AttachThingPrincipal", "SaveKeys",
               "SaveMetadata", "Provisioned"),
    "remove": ("GetMetadata", "DeactivateCertificate", "DetachThingPrincipal", "DetachPolicy", "DeleteCertificate",
               "DeleteThing", "DeleteKeys", "DeleteMetadata", "Removed"),
}
PENDING = "pending"
COLOURS = {  # (background, text)
    PENDING: ("#e0e0e0", "#777"), ENTERED: ("#ffd54f", "#000"), SUCCEEDED: ("#2e7d32", "#fff"),
    FAILED: ("#c62828", "#fff"), COMPENSATING: ("#ef6c00", "#fff"),
}
MARKS = {PENDING: "·", ENTERED: "…", SUCCEEDED: "✓", FAILED: "✗", COMPENSATING: "↶"}
ONLINE_COLOURS = {"online": "#2e7d32", "disconnected": "#c62828", "offline": "#777"}
COLUMNS = (("name", "18em"), ("status", "9em"), ("created", "13em"), ("online", "8em"))


@dataclass
class Run:
    """One execution the screen follows."""

    arn: str
    action: str  # "create" or "remove"
    thing: str
    status: str = "RUNNING"
    steps: list[dict[str, str]] = field(default_factory=list)
    error: str = ""

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    def lights(self) -> list[tuple[str, str]]:
        """``(state, status)`` of the steps reached, in the order reached (a Choice, Undo… steps and the
        Fail state included), then the planned steps not reached (``pending``)."""
        seen = [(s["state"], s["status"]) for s in self.steps]
        reached = {state for state, _status in seen}
        return seen + [(name, PENDING) for name in PLANNED.get(self.action, ()) if name not in reached]


def plain_words(error: BaseException) -> str:
    """An error as one or two lines for the message line."""
    code = aws_error_code(error)
    if code:
        return f"AWS refused it ({code}): {aws_error_message(error)}"
    if isinstance(error, Explained):
        return str(error)
    return f"{type(error).__name__}: {error}"


class ThingsScreen:
    """The things screen of chapter 11 (see the module's docstring)."""

    def __init__(self, ws: Any, *, service: Any = default_service, fleet: Any = None, poll_s: float = POLL_S,
                 start_bots: bool = True, search_now: bool = True) -> None:
        self.ws, self.service, self.poll_s, self.start_bots = ws, service, poll_s, start_bots
        if fleet is None:
            from .bot import Fleet

            fleet = Fleet(ws)
        self.fleet = fleet
        self.rows: list[dict[str, Any]] = []
        self.runs: dict[str, Run] = {}
        self.leaving: set[str] = set()  # removed bots still connected: AWS IoT closes them a little later
        self.query = ""
        self.message, self.message_is_error = "", False
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._poller: threading.Thread | None = None
        self._shown_rows: tuple = ()
        self.remove_buttons: dict[str, Any] = {}
        self._build()
        if search_now:
            self.search()

    # -- what the buttons do

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run ``action``; any error becomes the message line."""
        with self._lock:
            try:
                action()
            except Exception as error:  # noqa: BLE001 - the screen never shows a traceback
                self.say(plain_words(error), error=True)
            self.render()

    def create(self, _button: Any = None) -> None:
        """*Create*: start ProvisionBot for the name in the box."""
        def act() -> None:
            try:
                name = bot_name(getattr(self.ws, "prefix", ""), self.name_box.value)
            except BotNameInvalid as error:
                self.say(str(error), error=True)
                return
            if any(row["thingName"] == name for row in self.rows):
                self.say(f"{name} is already there: pick another name, or remove it first.", error=True)
                return
            arn = self.service.provision(self.ws, name)
            self._follow(Run(arn, "create", name))
            self.say(f"Creating {name}: ProvisionBot is running.")
            self._poll()

        self._guarded(act)

    def search(self, _button: Any = None) -> None:
        """*Search*: the bots whose name contains the box's text (all of them when it is empty)."""
        def act() -> None:
            self.query = self.name_box.value.strip()
            self._load_rows()
            found = len(self.rows)
            what = f"containing {self.query!r}" if self.query else "in the table"
            self.say(f"{found} bot{'s' if found != 1 else ''} {what}.")

        self._guarded(act)

    def remove(self, name: str) -> None:
        """A row's *Remove*: start RemoveBot for that bot."""
        def act() -> None:
            if any(run.running and run.thing == name for run in self.runs.values()):
                self.say(f"{name} is busy: wait for its run to end.", error=True)
                return
            arn = self.service.remove(self.ws, name)
            self._follow(Run(arn, "remove", name))
            self.say(f"Removing {name}: RemoveBot is running.")
            self._poll()

        self._guarded(act)

    def refresh(self) -> None:
        """Poll the running executions once, update the bots' online column, redraw (the poller calls it)."""
        self._guarded(self._poll)

    # -- the model

    def say(self, text: str, error: bool = False) -> None:
        """Put ``text`` in the message line (at most `MESSAGE_MAX` characters)."""
        text = " ".join(text.split())
        self.message = text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"
        self.message_is_error = error

    def _follow(self, run: Run) -> None:
        self.runs[run.arn] = run
        self._prune()

    def _prune(self) -> None:
        """Keep the running executions and the last `KEEP_FINISHED` finished ones."""
        finished = [arn for arn, r in self.runs.items() if not r.running]
        for arn in finished[: max(len(finished) - KEEP_FINISHED, 0)]:
            del self.runs[arn]

    def _load_rows(self) -> None:
        self.rows = list(self.service.search(self.ws, self.query, fleet=self.fleet))

    def _poll(self) -> None:
        ended = False
        for run in [r for r in self.runs.values() if r.running]:
            run.steps = self.service.progress(self.ws, run.arn)
            described = self.service.describe(self.ws, run.arn)
            run.status = described["status"]
            if not run.running:
                error, cause = described.get("error", ""), described.get("cause", "")
                run.error = f"{error}: {cause}" if error and cause else error or cause
                self._ended(run)
                ended = True
        if ended:
            self._prune()
            self._load_rows()
        for row in self.rows:
            row["online"] = self.fleet.status(row["thingName"])
        for thing in sorted(self.leaving):
            last = self.fleet.state(thing)
            if last not in (ONLINE, RECONNECTING, STARTING):  # ended: asked the registry why, or stopped
                self.leaving.discard(thing)
                self.fleet.forget(thing)
                self.say(f"✓ {thing} removed (its bot: {last}).")

    def _ended(self, run: Run) -> None:
        what = "Provisioning" if run.action == "create" else "Removing"
        if run.status != "SUCCEEDED":
            self.say(f"✗ {what} {run.thing} ended {run.status}: {run.error or 'no cause given'}", error=True)
            return
        if run.action == "create":
            if not self.start_bots:
                self.say(f"✓ {run.thing} provisioned.")
                return
            try:
                self.fleet.start(run.thing)
            except Exception as error:  # noqa: BLE001 - provisioned, but its bot did not come alive
                self.say(f"✓ {run.thing} provisioned, but its bot did not start: {plain_words(error)}", error=True)
                return
            self.say(f"✓ {run.thing} provisioned; its bot is {self.fleet.status(run.thing)}.")
        else:
            last = self.fleet.state(run.thing)
            if last in (ONLINE, RECONNECTING):  # its certificate is disabled: the broker closes the connection shortly
                self.leaving.add(run.thing)
                self.say(f"✓ {run.thing} removed; its bot is still connected until AWS IoT closes the connection.")
                return
            self.fleet.forget(run.thing)
            bot = f" (its bot: {last})" if last != "not running" else ""
            self.say(f"✓ {run.thing} removed{bot}.")

    # -- widgets

    def _build(self) -> None:
        import ipywidgets as w

        self.title = w.HTML(style={"font_size": TITLE_FONT})
        self.name_box = w.Text(placeholder="bot name, e.g. bot1", layout=w.Layout(width="22em"),
                               style={"font_size": FONT})
        self.create_button = w.Button(description="Create", button_style="success", style={"font_size": FONT},
                                      layout=w.Layout(width="8em"))
        self.search_button = w.Button(description="Search", button_style="info", style={"font_size": FONT},
                                      layout=w.Layout(width="8em"))
        self.create_button.on_click(self.create)
        self.search_button.on_click(self.search)
        self.message_line = w.HTML(style={"font_size": FONT})
        self.runs_box = w.VBox()
        self.table_box = w.VBox()
        self.widget = w.VBox([self.title, w.HBox([self.name_box, self.create_button, self.search_button]),
                              self.message_line, self.runs_box, self.table_box],
                             layout=w.Layout(padding="8px"))

    def render(self) -> None:
        """Bring the widgets in line with the model."""
        import ipywidgets as w

        prefix = getattr(self.ws, "prefix", "")
        self.title.value = "<b>Bots</b>" + (f" <span style='color:#777'>({html.escape(prefix)}…)</span>" if prefix else "")
        colour = "#c62828" if self.message_is_error else "#1b5e20"
        self.message_line.value = f"<span style='color:{colour}'>{html.escape(self.message)}</span>"
        self.runs_box.children = [w.HTML(self._run_html(run), style={"font_size": FONT}) for run in self.runs.values()]
        shown = tuple((r["thingName"], r["status"], r["createdAt"], r["online"]) for r in self.rows)
        if shown != self._shown_rows:
            self._shown_rows = shown
            for child in self.table_box.children:
                child.close()
            self.remove_buttons = {}
            self.table_box.children = [self._header_row()] + [self._row(row) for row in self.rows] if self.rows else [
                w.HTML("No bots here yet: type a name and press Create.", style={"font_size": FONT})]

    def _cell(self, text: str, width: str, colour: str = "#000", bold: bool = False) -> Any:
        import ipywidgets as w

        weight = "bold" if bold else "normal"
        return w.HTML(f"<span style='color:{colour};font-weight:{weight}'>{html.escape(text)}</span>",
                      layout=w.Layout(width=width), style={"font_size": FONT})

    def _header_row(self) -> Any:
        import ipywidgets as w

        return w.HBox([self._cell(title, width, bold=True) for title, width in COLUMNS])

    def _row(self, row: dict[str, Any]) -> Any:
        import ipywidgets as w

        name = row["thingName"]
        button = w.Button(description="Remove", button_style="danger", style={"font_size": FONT},
                          layout=w.Layout(width="8em"))
        button.on_click(lambda _b, name=name: self.remove(name))
        self.remove_buttons[name] = button
        widths = dict(COLUMNS)
        return w.HBox([self._cell(name, widths["name"]), self._cell(row["status"], widths["status"]),
                       self._cell(_short_time(row["createdAt"]), widths["created"]),
                       self._cell(row["online"], widths["online"], ONLINE_COLOURS.get(row["online"], "#000"), True),
                       button])

    @staticmethod
    def _run_html(run: Run) -> str:
        verb = "Create" if run.action == "create" else "Remove"
        labels = []
        for state, status in run.lights():
            background, text = COLOURS.get(status, COLOURS[PENDING])
            labels.append(f"<span title='{html.escape(status)}' style='background:{background};color:{text};"
                          f"padding:2px 6px;margin:2px;border-radius:4px;display:inline-block'>"
                          f"{MARKS.get(status, '')} {html.escape(state)}</span>")
        return f"<b>{verb} {html.escape(run.thing)}</b> ({html.escape(run.status)}): {''.join(labels)}"

    # -- text, display, polling

    def text(self) -> str:
        """What the screen shows, as plain text (tests, CI output, terminals)."""
        lines = [f"Bots{' (' + self.ws.prefix + '…)' if getattr(self.ws, 'prefix', '') else ''}"]
        if self.message:
            lines.append(("! " if self.message_is_error else "") + self.message)
        for run in self.runs.values():
            verb = "Create" if run.action == "create" else "Remove"
            lights = ", ".join(f"{MARKS.get(status, '?')} {state}" for state, status in run.lights())
            lines.append(f"{verb} {run.thing} ({run.status}): {lights}")
        if self.rows:
            for row in self.rows:
                lines.append(f"  {row['thingName']}  {row['status']}  {_short_time(row['createdAt'])}  {row['online']}")
        else:
            lines.append("  (no bots)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if widgets_available():
            bundle = dict(self.widget._repr_mimebundle_() or {})
            bundle["text/plain"] = self.text()  # what a saved or converted notebook shows
            display(bundle, raw=True)
            self.start_polling()
        else:
            display({"text/plain": self.text()}, raw=True)

    def start_polling(self) -> None:
        """Call `refresh()` every ``poll_s`` seconds on a background thread, until `close()`."""
        if self._poller is not None and self._poller.is_alive():
            return
        self._closing.clear()
        self._poller = threading.Thread(target=self._poll_loop, name="things-screen", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._closing.wait(self.poll_s):
            self.refresh()

    def close(self) -> None:
        """Stop polling (the bots keep running: ``screen.fleet.stop_all()`` stops them)."""
        self._closing.set()
        if self._poller is not None and self._poller is not threading.current_thread():
            self._poller.join(self.poll_s + 5)


def _short_time(iso: str) -> str:
    """``2026-12-03T08:00:00.123456+00:00`` → ``2026-12-03 08:00:00``."""
    return iso.replace("T", " ")[:19] if iso else ""


__all__ = ["PLANNED", "Run", "ThingsScreen", "plain_words"]
