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


# -- forms remember what was typed ----------------------------------------------------------------


def defaults() -> dict:
    """What a parameters cell makes, each time it runs (Run All runs it again)."""
    return {"thing_name": "bulky", "count": 20}


def test_a_typed_value_survives_run_all_and_says_it_was_remembered(tmp_path):
    ui.form(defaults(), SPEC, remember="03", folder=tmp_path).apply({"count": "7"})

    params = defaults()  # Run All: the parameters cell again, then the form cell
    form = ui.form(params, SPEC, remember="03", folder=tmp_path)

    assert params == {"thing_name": "bulky", "count": 7}
    assert form.remembered == {"count": 7}
    assert "Remembered from your last edit" in repr(form) and "count = 7" in form._repr_html_()
    assert (tmp_path / "forms" / "03.json").is_file()


def test_back_to_the_defaults_forgets_the_remembered_values(tmp_path):
    ui.form(defaults(), SPEC, remember="03", folder=tmp_path).apply({"count": "7"})
    params = defaults()
    form = ui.form(params, SPEC, remember="03", folder=tmp_path)

    form.reset()

    assert params == defaults() and form.remembered == {}
    assert ui.form(defaults(), SPEC, remember="03", folder=tmp_path).remembered == {}


def test_an_edit_of_the_parameters_cell_wins_over_a_remembered_value(tmp_path):
    ui.form(defaults(), SPEC, remember="03", folder=tmp_path).apply({"count": "7"})

    params = {"thing_name": "bulky", "count": 50}  # the trainee changed the cell's default since
    form = ui.form(params, SPEC, remember="03", folder=tmp_path)

    assert params["count"] == 50 and form.remembered == {}


def test_an_invalid_value_is_not_applied_nor_remembered_and_the_form_says_so(tmp_path):
    params = defaults()
    form = ui.form(params, SPEC, remember="03", folder=tmp_path)

    form.apply({"count": "5000"})

    assert params["count"] == 20 and not (tmp_path / "forms" / "03.json").exists()
    assert "between 1 and 1000" in repr(form)


def test_outside_a_kernel_nothing_is_remembered_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    form = ui.form(defaults(), SPEC)

    form.apply({"count": "7"})

    assert form.path is None


def test_the_widget_applies_a_typed_value_without_any_button(tmp_path):
    params = defaults()
    form = ui.form(params, SPEC, remember="03", folder=tmp_path)
    box = form.widget()
    inputs = {row.children[0].description: row.children[0] for row in box.children[1:-1]}
    status = box.children[-1].children[1]

    inputs["count"].value = "12"
    assert params["count"] == 12 and "Applied and remembered" in status.value

    inputs["count"].value = "twelve"
    assert params["count"] == 12 and "Not applied" in status.value and "count = 12" in status.value

    box.children[-1].children[0].click()  # back to the defaults
    assert params == defaults() and inputs["count"].value == "20"


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
