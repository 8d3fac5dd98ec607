"""Notebook furniture: tables, parameter forms, solutions, instructor notes, progress.

Everything here renders as HTML (``_repr_html_``) and as plain text (``repr``), so it works in CI
(nbval), in a terminal and in JupyterLab alike. ipywidgets are used only inside a running kernel,
and nothing ever waits for a browser: a notebook run unattended never blocks on a widget.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
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


class Form:
    """Edits some entries of a parameters dict; "Apply" writes them back only when all are valid.

    In a kernel it shows ipywidgets with each field's message next to it; elsewhere it shows the
    current values (edit the parameters cell instead). `apply` does the same without a browser.
    """

    def __init__(self, params: dict[str, Any], spec: Mapping[str, Field], title: str = "Parameters") -> None:
        unknown = [name for name in spec if name not in params]
        if unknown:
            raise KeyError(f"The form names parameters that the dict does not have: {', '.join(unknown)}")
        self.params = params
        self.spec = dict(spec)
        self.title = title
        self.errors: dict[str, str] = {}
        self._widget: Any = None

    def apply(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Validate ``values`` (merged over the current params); update params if all are valid."""
        merged = {name: values.get(name, self.params[name]) for name in self.spec}
        parsed, self.errors = validate(self.spec, merged)
        if not self.errors:
            self.params.update(parsed)
        return dict(self.errors)

    def widget(self) -> Any:
        if self._widget is None:
            self._widget = _form_widget(self)
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget() if widgets_available() else self)

    def _rows(self) -> list[list[Any]]:
        return [
            [spec.label or name, self.params[name], self.errors.get(name, ""), spec.help]
            for name, spec in self.spec.items()
        ]

    def _repr_html_(self) -> str:
        return Table(["parameter", "value", "problem", "allowed"], self._rows(), self.title)._repr_html_()

    def __repr__(self) -> str:
        return repr(Table(["parameter", "value", "problem", "allowed"], self._rows(), self.title))


def form(params: dict[str, Any], spec: Mapping[str, Field], title: str = "Parameters") -> Form:
    """A parameter form over ``params`` (see `Form`)."""
    return Form(params, spec, title)


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
    button = w.Button(description="Apply", button_style="primary")

    def on_apply(_button: Any) -> None:
        errors = form.apply({name: box.value for name, box in inputs.items()})
        for name, message in messages.items():
            text = errors.get(name, "")
            message.value = f"<span style='color:#b00020'>✗ {html.escape(text)}</span>" if text else ""
        status.value = (
            "<span style='color:#b00020'>Not applied: fix the fields marked ✗.</span>"
            if errors else "<span style='color:#1b7f3b'>✓ Applied. Re-run the cells below.</span>"
        )

    button.on_click(on_apply)
    return w.VBox([w.HTML(f"<b>{html.escape(form.title)}</b>"), *rows, w.HBox([button, status])])


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
    "Panel", "Progress", "progress", "in_kernel", "widgets_available", "show",
]
