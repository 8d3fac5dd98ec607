"""Notebook furniture: tables, parameter forms, solutions, instructor notes, progress.

Everything here renders as HTML (``_repr_html_``) and as plain text (``repr``), so it works in CI
(nbval), in a terminal and in JupyterLab alike. ipywidgets are used only inside a running kernel,
and nothing ever waits for a browser: a notebook run unattended never blocks on a widget.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

THING_NAME_PATTERN = r"[a-zA-Z0-9:_-]+"


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where ipywidgets can render), False in scripts and tests."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def widgets_available() -> bool:
    if not in_kernel():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def show(*objects: Any) -> None:
    """IPython's display in a notebook; print elsewhere."""
    if in_kernel():
        from IPython.display import display

        display(*objects)
    else:
        for obj in objects:
            print(obj if isinstance(obj, str) else repr(obj))


def _text_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ----------------------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A titled table that shows as HTML in notebooks and as text elsewhere."""

    header: list[str]
    rows: list[list[Any]]
    title: str | None = None

    def _repr_html_(self) -> str:
        title = f"<h4>{html.escape(self.title)}</h4>" if self.title else ""
        return title + _html_table(self.header, self.rows)

    def __repr__(self) -> str:
        text = _text_table(self.header, self.rows)
        return f"{self.title}\n{text}" if self.title else text


def table(data: Any, title: str | None = None) -> Table:
    """A `Table` from a pandas DataFrame, a list of dicts, a list of rows, or a mapping."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        header = [str(c) for c in data.columns]
        rows = [list(r) for r in data.itertuples(index=False, name=None)]
    elif isinstance(data, Mapping):
        header, rows = ["", ""], [[k, v] for k, v in data.items()]
    else:
        items = list(data)
        if items and isinstance(items[0], Mapping):
            header = list(dict.fromkeys(k for item in items for k in item))
            rows = [[item.get(k, "") for k in header] for item in items]
        else:
            width = max((len(r) for r in items), default=0)
            header, rows = [str(i) for i in range(width)], [list(r) for r in items]
    return Table(header, rows, title)


# ------------------------------------------------------------------------- solutions and notes


@dataclass(frozen=True)
class Solution:
    text: str
    summary: str = "Solution"

    def _repr_html_(self) -> str:
        return (
            f"<details><summary><b>{html.escape(self.summary)}</b> (click to open)</summary>"
            f"<pre><code>{html.escape(self.text.strip())}</code></pre></details>"
        )

    def __repr__(self) -> str:
        return f"{self.summary} (open the cell's HTML output to see it)"


def solution(text: str, summary: str = "Solution") -> Solution:
    """A collapsed solution for a "Your turn" exercise."""
    return Solution(text, summary)


@dataclass(frozen=True)
class InstructorNote:
    text: str

    def _repr_html_(self) -> str:
        return (
            "<div style='border-left:4px solid #d08700;padding:4px 10px;background:#fff8e6'>"
            f"<b>Instructor note</b><br>{html.escape(self.text.strip()).replace(chr(10), '<br>')}</div>"
        )

    def __repr__(self) -> str:
        return f"Instructor note: {self.text.strip()}"


def instructor_note(text: str) -> InstructorNote:
    return InstructorNote(text)


# ---------------------------------------------------------------------------------------- forms


@dataclass(frozen=True)
class Text:
    """A text field; ``pattern`` must match the whole value."""

    label: str = ""
    pattern: str | None = None
    min_length: int = 1
    max_length: int = 128
    help: str = ""

    def parse(self, raw: Any) -> str:
        value = "" if raw is None else str(raw).strip()
        if len(value) < self.min_length:
            raise ValueError("must not be empty" if self.min_length == 1 else f"needs at least {self.min_length} characters")
        if len(value) > self.max_length:
            raise ValueError(f"is {len(value)} characters long; at most {self.max_length} are allowed")
        if self.pattern and not re.fullmatch(self.pattern, value):
            bad = sorted({c for c in value if not re.fullmatch(self.pattern, c)})
            which = f" ({' '.join(repr(c) for c in bad)} not allowed)" if bad else ""
            raise ValueError(f"must match {self.pattern}{which}")
        return value


@dataclass(frozen=True)
class Integer:
    """A whole number from ``minimum`` to ``maximum`` (inclusive)."""

    minimum: int
    maximum: int
    label: str = ""
    help: str = ""

    def parse(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError("must be a whole number")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"must be between {self.minimum} and {self.maximum}, not {value}")
        return value


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]
    label: str = ""
    help: str = ""

    def parse(self, raw: Any) -> str:
        if raw not in self.options:
            raise ValueError(f"must be one of {', '.join(map(str, self.options))}")
        return raw


@dataclass(frozen=True)
class Flag:
    label: str = ""
    help: str = ""

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise ValueError("must be yes or no")


THING_NAME = Text(pattern=THING_NAME_PATTERN, max_length=128, help="letters, digits, ':', '_' and '-'")
# An attribute value of a thing (AWS IoT API reference, AttributePayload): up to 800 characters of these.
ATTRIBUTE_VALUE = Text(pattern=r"[a-zA-Z0-9_.,@/:#=\[\]-]+", max_length=800,
                       help="letters, digits and _ . , @ / : # = [ ] -")
DEVICE_COUNT = Integer(1, 1000, help="how many devices, 1 to 1000")

Field = Text | Integer | Choice | Flag


def validate(spec: Mapping[str, Field], values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse every field: ``(parsed values, {field: message})``; a missing value is an error."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec_field in spec.items():
        if name not in values:
            errors[name] = "is missing"
            continue
        try:
            parsed[name] = spec_field.parse(values[name])
        except ValueError as error:
            errors[name] = str(error)
    return parsed, errors


FORMS_FOLDER = "forms"


class Form:
    """Edits some entries of a parameters dict; a valid value applies as soon as it is typed.

    In a kernel it shows ipywidgets: each field applies on change when every field is valid (a
    field that is not says why, and the form says the cells below still use the old values), and
    the values are *remembered* in the work folder (``<work>/forms/<notebook>.json``), so Run All,
    which runs the parameters cell again, keeps them: the form puts them back and says so, with a
    "Back to the defaults" button. A remembered value yields to an edit of the parameters cell (a
    default that differs from the one it replaced). Elsewhere it shows the values (edit the
    parameters cell instead); `apply` and `reset` do the same without a browser.
    """

    def __init__(self, params: dict[str, Any], spec: Mapping[str, Field], title: str = "Parameters",
                 *, remember: str | bool | None = None, folder: str | Path | None = None) -> None:
        unknown = [name for name in spec if name not in params]
        if unknown:
            raise KeyError(f"The form names parameters that the dict does not have: {', '.join(unknown)}")
        self.params = params
        self.spec = dict(spec)
        self.title = title
        self.errors: dict[str, str] = {}
        self.defaults = {name: params[name] for name in self.spec}
        self.remembered: dict[str, Any] = {}  # the fields whose value came from the saved file
        self.saved_at = ""
        self.path = _forms_path(self.spec, remember, folder)
        self._widget: Any = None
        self._restore()

    # -- remembering

    def _restore(self) -> None:
        if self.path is None or not self.path.is_file():
            return
        try:
            saved = json.loads(self.path.read_text())
            values, defaults = dict(saved["values"]), dict(saved["defaults"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # an unreadable file is as good as none; the next change writes it again
        for name, value in values.items():
            if name not in self.spec or defaults.get(name) != self.defaults[name]:
                continue  # the parameters cell was edited since: its value wins
            try:
                parsed = self.spec[name].parse(value)
            except ValueError:
                continue
            if parsed != self.defaults[name]:
                self.params[name] = self.remembered[name] = parsed
        self.saved_at = str(saved.get("saved", ""))

    def _save(self) -> None:
        if self.path is None:
            return
        changed = {name: self.params[name] for name in self.spec if self.params[name] != self.defaults[name]}
        self.remembered = dict(changed)
        if not changed:
            self.path.unlink(missing_ok=True)
            return
        self.saved_at = datetime.now().strftime("%H:%M:%S")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"values": changed, "defaults": {name: self.defaults[name] for name in changed}, "saved": self.saved_at}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=1, default=str))
        tmp.replace(self.path)

    # -- changing

    def apply(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Validate ``values`` (merged over the current params); update params if all are valid."""
        merged = {name: values.get(name, self.params[name]) for name in self.spec}
        parsed, self.errors = validate(self.spec, merged)
        if not self.errors:
            self.params.update(parsed)
            self._save()
        return dict(self.errors)

    def reset(self) -> None:
        """Back to the parameters cell's values; forget what was remembered."""
        self.params.update(self.defaults)
        self.errors = {}
        self._save()

    def widget(self) -> Any:
        if self._widget is None:
            self._widget = _form_widget(self)
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget() if widgets_available() else self)

    def _note(self) -> str:
        if not self.remembered:
            return ""
        names = ", ".join(f"{name} = {value!r}" for name, value in self.remembered.items())
        return (f"Remembered from your last edit{f' ({self.saved_at})' if self.saved_at else ''}: {names}. "
                f"Back to the defaults: the form's button, or form(...).reset().")

    def _rows(self) -> list[list[Any]]:
        return [
            [spec.label or name, self.params[name], "remembered" if name in self.remembered else "default",
             self.errors.get(name, ""), spec.help]
            for name, spec in self.spec.items()
        ]

    def _table(self) -> Table:
        note = self._note()
        title = f"{self.title}. {note}" if note else self.title
        return Table(["parameter", "value", "from", "problem", "allowed"], self._rows(), title)

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self._table())


def _forms_path(spec: Mapping[str, Any], remember: str | bool | None, folder: str | Path | None) -> Path | None:
    """Where a form keeps its values: ``<folder or the work folder>/forms/<key>.json``, or None.

    ``remember``: False never; a string is the key; None remembers in a kernel only, keyed by the
    notebook's name (JupyterLab tells the kernel: ``JPY_SESSION_NAME``) or else by the fields' names.
    """
    if remember is False or (remember is None and not in_kernel()):
        return None
    key = remember if isinstance(remember, str) else _notebook_name() or "form-" + "-".join(sorted(spec))
    key = re.sub(r"[^A-Za-z0-9_.-]+", "-", key)[:100]
    if folder is None:
        from .workshop import choose_backend, default_work_dir  # late: workshop imports ui

        try:
            folder = default_work_dir(choose_backend(None, os.environ), os.environ)
        except Exception:  # noqa: BLE001 - an unknown backend: nothing is remembered, nothing breaks
            return None
    return Path(folder) / FORMS_FOLDER / f"{key}.json"


def _notebook_name() -> str:
    session = os.environ.get("JPY_SESSION_NAME", "")
    return Path(session).stem if session.endswith(".ipynb") else ""


def form(params: dict[str, Any], spec: Mapping[str, Field], title: str = "Parameters", *,
         remember: str | bool | None = None, folder: str | Path | None = None) -> Form:
    """A parameter form over ``params`` (see `Form`)."""
    return Form(params, spec, title, remember=remember, folder=folder)


def _form_widget(form: Form) -> Any:
    import ipywidgets as w

    inputs: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    rows = []
    for name, spec in form.spec.items():
        value = form.params[name]
        description = spec.label or name
        if isinstance(spec, Choice):
            box = w.Dropdown(options=list(spec.options), value=value, description=description)
        elif isinstance(spec, Flag):
            box = w.Checkbox(value=bool(value), description=description)
        else:
            box = w.Text(value=str(value), description=description, placeholder=spec.help)
        box.style.description_width = "initial"
        inputs[name], messages[name] = box, w.HTML()
        rows.append(w.HBox([box, messages[name]]))
    status = w.HTML()
    reset = w.Button(description="Back to the defaults", tooltip="the values of the parameters cell")

    def show_status() -> None:
        for name, message in messages.items():
            text = form.errors.get(name, "")
            message.value = (f"<span style='color:#b00020'>✗ {html.escape(text)}</span>" if text else
                             "<span style='color:#555'>remembered</span>" if name in form.remembered else "")
        if form.errors:
            now = ", ".join(f"{name} = {form.params[name]!r}" for name in form.errors)
            status.value = (f"<span style='color:#b00020'>✗ Not applied: fix the fields marked ✗. "
                            f"The cells below still use {html.escape(now)}.</span>")
        elif form.remembered:
            where = f" in {html.escape(str(form.path))}" if form.path else ""
            status.value = (f"<span style='color:#1b7f3b'>✓ Applied and remembered{where} (Run All keeps them). "
                            "Re-run the cells below.</span>")
        else:
            status.value = "<span style='color:#555'>The defaults of the parameters cell. Type to change them.</span>"

    def on_change(_change: Any) -> None:
        form.apply({name: box.value for name, box in inputs.items()})
        show_status()

    def on_reset(_button: Any) -> None:
        form.reset()
        for name, box in inputs.items():
            box.unobserve(on_change, names="value")
            box.value = form.params[name] if not isinstance(box, w.Text) else str(form.params[name])
            box.observe(on_change, names="value")
        show_status()

    for box in inputs.values():
        box.observe(on_change, names="value")
    reset.on_click(on_reset)
    show_status()
    return w.VBox([w.HTML(f"<b>{html.escape(form.title)}</b>"), *rows, w.HBox([reset, status])])


# ----------------------------------------------------------------------------------- key/values


@dataclass
class Panel:
    """A titled list of name/value pairs (a status panel)."""

    title: str
    items: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return Table(["", ""], [[k, v] for k, v in self.items.items()], self.title)._repr_html_()

    def __repr__(self) -> str:
        width = max((len(k) for k in self.items), default=0)
        lines = [self.title] + [f"  {k.ljust(width)}  {v}" for k, v in self.items.items()]
        return "\n".join(lines)

    def widget(self) -> Any:
        import ipywidgets as w

        return w.HTML(self._repr_html_())


# ------------------------------------------------------------------------------------- progress


class Progress:
    """A progress bar: ipywidgets IntProgress in a kernel, a few text lines elsewhere.

    The text fallback prints when the bar crosses a tenth of ``total`` or the text changes state,
    so a long task leaves about ten lines, not thousands.
    """

    def __init__(self, total: int, description: str = "", *, widget: bool | None = None) -> None:
        self.total = max(int(total), 1)
        self.description = description
        self.value = 0
        self._printed_step = -1
        self._bar = self._label = None
        if widget if widget is not None else widgets_available():
            import ipywidgets as w
            from IPython.display import display

            self._bar = w.IntProgress(value=0, min=0, max=self.total, description=description)
            self._label = w.Label()
            display(w.HBox([self._bar, self._label]))

    def update(self, value: int, text: str = "") -> None:
        self.value = min(max(int(value), 0), self.total)
        if self._bar is not None:
            self._bar.value = self.value
            self._label.value = text
            return
        step = self.value * 10 // self.total
        if step != self._printed_step:
            self._printed_step = step
            print(f"{self.description} {self.value}/{self.total} {text}".strip())

    def close(self, text: str = "") -> None:
        if self._bar is not None:
            self._bar.bar_style = "success" if self.value >= self.total else "warning"
            self._label.value = text or self._label.value
        elif text:
            print(f"{self.description} {text}".strip())


def progress(total: int, description: str = "") -> Progress:
    return Progress(total, description)


@dataclass(frozen=True)
class _Line:
    text: str
    colour: str = "#555"

    def _repr_html_(self) -> str:
        return f"<span style='color:{self.colour}'>{html.escape(self.text)}</span>"

    def __repr__(self) -> str:
        return self.text


class StatusLine:
    """One line a long wait rewrites in place: a display handle in a kernel (its last text stays in
    the saved notebook), elsewhere printed when it first appears and when it ends.

    ``out`` (a callable taking the text) replaces both, for tests.
    """

    def __init__(self, out: Callable[[str], None] | None = None) -> None:
        self.out = out
        self.text = ""
        self._handle: Any = None

    def update(self, text: str, colour: str = "#555") -> None:
        first = not self.text
        self.text = text
        if self.out is not None:
            self.out(text)
        elif in_kernel():
            from IPython.display import display

            if self._handle is None:
                self._handle = display(_Line(text, colour), display_id=True)
            else:
                self._handle.update(_Line(text, colour))
        elif first:
            print(text)

    def done(self, text: str) -> None:
        self._last(text, "#1b7f3b")

    def fail(self, text: str) -> None:
        self._last(text, "#b00020")

    def _last(self, text: str, colour: str) -> None:
        shown = bool(self.text)
        self.update(text, colour)
        if shown and self.out is None and not in_kernel():
            print(text)


__all__ = [
    "Table", "table", "Solution", "solution", "InstructorNote", "instructor_note",
    "Text", "Integer", "Choice", "Flag", "THING_NAME", "DEVICE_COUNT", "validate", "Form", "form",
    "Panel", "Progress", "progress", "StatusLine", "in_kernel", "widgets_available", "show",
]
