"""helpers.ui outside a kernel: self-checks, form validation, tables, solutions, progress text."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import ui


# -- form validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [(ui.THING_NAME, "my-first-thing", "my-first-thing"),
     (ui.THING_NAME, "  bulky_1:a  ", "bulky_1:a"),
     (ui.DEVICE_COUNT, "20", 20),
     (ui.DEVICE_COUNT, 1, 1),
     (ui.DEVICE_COUNT, "1000", 1000),
     (ui.Choice(("rsa", "ec")), "ec", "ec"),
     (ui.Flag(), "yes", True),
     (ui.Flag(), False, False)],
    ids=["thing-name", "thing-name-trimmed", "count-text", "count-min", "count-max", "choice", "flag-yes",
         "flag-bool"],
)
def test_valid_values_are_parsed(field, raw, expected):
    assert field.parse(raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [(ui.THING_NAME, "", "must not be empty"),
     (ui.THING_NAME, "my thing", "' ' not allowed"),
     (ui.THING_NAME, "thing/1", "'/' not allowed"),
     (ui.THING_NAME, "x" * 129, "at most 128"),
     (ui.DEVICE_COUNT, "0", "between 1 and 1000, not 0"),
     (ui.DEVICE_COUNT, 1001, "between 1 and 1000, not 1001"),
     (ui.DEVICE_COUNT, "twenty", "'twenty' is not a whole number"),
     (ui.DEVICE_COUNT, "2.5", "is not a whole number"),
     (ui.DEVICE_COUNT, True, "must be a whole number"),
     (ui.Choice(("rsa", "ec")), "dsa", "one of rsa, ec"),
     (ui.Flag(), "maybe", "yes or no")],
    ids=["empty-name", "space-in-name", "slash-in-name", "name-too-long", "count-zero", "count-too-big",
         "count-word", "count-fraction", "count-bool", "choice-unknown", "flag-unclear"],
)
def test_invalid_values_get_a_message_instead_of_a_traceback(field, raw, message):
    with pytest.raises(ValueError, match=message):
        field.parse(raw)


SPEC = {"thing_name": ui.THING_NAME, "count": ui.DEVICE_COUNT}


def test_validate_collects_every_problem_by_field():
    parsed, errors = ui.validate(SPEC, {"thing_name": "ok-name", "count": "0"})

    assert parsed == {"thing_name": "ok-name"}
    assert errors == {"count": "must be between 1 and 1000, not 0"}


def test_validate_reports_a_missing_value():
    assert ui.validate(SPEC, {"thing_name": "a"})[1] == {"count": "is missing"}


def test_apply_updates_the_params_only_when_every_field_is_valid():
    params = {"thing_name": "bulky", "count": 20, "untouched": "x"}
    form = ui.form(params, SPEC)

    assert form.apply({"thing_name": "bad name", "count": "5"}) == {"thing_name": "must match [a-zA-Z0-9:_-]+ (' ' not allowed)"}
    assert params == {"thing_name": "bulky", "count": 20, "untouched": "x"}

    assert form.apply({"count": "5"}) == {}
    assert params == {"thing_name": "bulky", "count": 5, "untouched": "x"}


def test_a_form_over_unknown_parameters_is_refused():
    with pytest.raises(KeyError, match="count"):
        ui.form({"thing_name": "a"}, SPEC)


def test_a_form_outside_a_kernel_shows_values_and_problems_as_text_and_html():
    form = ui.form({"thing_name": "bulky", "count": 20}, SPEC)
    form.apply({"count": "5000"})

    assert "between 1 and 1000" in repr(form) and "between 1 and 1000" in form._repr_html_()


# -- tables, solutions, notes, progress ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "header", "rows"),
    [(pd.DataFrame([{"a": 1, "b": 2}]), ["a", "b"], [[1, 2]]),
     ([{"a": 1}, {"a": 2, "b": 3}], ["a", "b"], [[1, ""], [2, 3]]),
     ({"backend": "local"}, ["", ""], [["backend", "local"]]),
     ([(1, 2)], ["0", "1"], [[1, 2]])],
    ids=["dataframe", "dicts", "mapping", "tuples"],
)
def test_table_accepts_the_usual_shapes(data, header, rows):
    table = ui.table(data, "T")

    assert (table.header, table.rows) == (header, rows)


def test_table_html_escapes_cells():
    assert "&lt;script&gt;" in ui.table([{"a": "<script>"}])._repr_html_()


def test_a_solution_is_collapsed_and_escaped():
    page = ui.solution("iot.list_things()  # a < b")._repr_html_()

    assert page.startswith("<details>") and "a &lt; b" in page


def test_an_instructor_note_is_marked_as_such():
    note = ui.instructor_note("Show the console on the projector.")

    assert "Instructor note" in note._repr_html_() and repr(note).startswith("Instructor note:")


def test_progress_text_prints_about_ten_lines_for_a_thousand_updates(capsys):
    bar = ui.Progress(1000, "devices", widget=False)
    for n in range(1, 1001):
        bar.update(n)
    bar.close("done")

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and lines[0] == "devices 1/1000" and lines[-2] == "devices 1000/1000" and lines[-1] == "devices done"


def test_a_panel_renders_as_text_and_html():
    panel = ui.Panel("Status", {"backend": "local", "MQTT": "localhost:8883"})

    assert repr(panel) == "Status\n  backend  local\n  MQTT     localhost:8883"
    assert "<td style='text-align:left'>localhost:8883</td>" in panel._repr_html_()


def test_outside_a_kernel_no_widgets_are_used():
    assert ui.in_kernel() is False and ui.widgets_available() is False
