"""helpers.console and the message log of helpers.device, fed by hand: no broker."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from helpers.console import HEIGHT, SHOWN_ROWS, MqttConsole, new_setup
from helpers.device import Message, MessageLog, topic_matches


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [("iot/ws", "iot/ws", True),
     ("iot/ws", "iot/ws/x", False),
     ("iot/+", "iot/ws", True),
     ("iot/+", "iot/ws/x", False),
     ("iot/#", "iot", True),
     ("iot/#", "iot/a/b/c", True),
     ("+/+/created", "thing/t1/created", True),
     ("#", "iot/ws", True),
     ("#", "$aws/events/thing/t1/created", False),
     ("+/events/#", "$aws/events/x", False),
     ("$aws/events/#", "$aws/events/thing/t1/created", True),
     ("$aws/events/thing/+/created", "$aws/events/thing/t1/updated", False)],
    ids=["exact", "exact-is-not-prefix", "plus-one-level", "plus-not-two", "hash-includes-parent",
         "hash-many-levels", "plus-twice", "hash-all", "hash-skips-dollar", "plus-skips-dollar",
         "dollar-filter", "dollar-other-leaf"],
)
def test_topic_matches(topic_filter, topic, expected):
    assert topic_matches(topic_filter, topic) is expected


def msg(topic: str, payload: bytes = b"{}") -> Message:
    return Message(topic, payload)


def test_wait_for_returns_a_message_that_arrived_before_the_call():
    log = MessageLog()
    log.add(msg("$aws/events/thing/t1/created", b'{"thingName": "t1"}'))

    assert log.wait_for("$aws/events/thing/+/created", timeout=0).json == {"thingName": "t1"}


def test_wait_for_wakes_up_when_another_thread_adds_the_message():
    log = MessageLog()
    waiting = threading.Event()
    found: list[Message] = []

    def waiter() -> None:
        waiting.set()
        found.append(log.wait_for("iot/ws", timeout=10))

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait()
    log.add(msg("other/topic"))
    log.add(msg("iot/ws", b'{"n": 1}'))
    thread.join(10)

    assert [m.json for m in found] == [{"n": 1}]


def test_wait_for_applies_the_predicate_and_skips_what_it_cannot_read():
    log = MessageLog()
    for payload in (b"not json", b'{"n": 1}', b'{"n": 2}'):
        log.add(msg("iot/ws", payload))

    assert log.wait_for("iot/ws", lambda m: m.json["n"] == 2, timeout=0).json == {"n": 2}


def test_wait_for_after_a_mark_ignores_older_messages():
    log = MessageLog()
    log.add(msg("iot/ws", b'{"n": 1}'))
    mark = log.mark()
    log.add(msg("iot/ws", b'{"n": 2}'))

    assert log.wait_for("iot/ws", timeout=0, after=mark).json == {"n": 2}


def test_a_timeout_lists_what_did_arrive():
    log = MessageLog()
    log.add(msg("iot/other", b'{"hello": "there"}'))

    with pytest.raises(TimeoutError) as caught:
        log.wait_for("iot/ws", timeout=0.01)

    assert "iot/other" in str(caught.value) and '{"hello": "there"}' in str(caught.value)


def test_a_timeout_on_an_empty_log_says_nothing_arrived():
    with pytest.raises(TimeoutError, match="nothing arrived at all"):
        MessageLog().wait_for("iot/ws", timeout=0)


def test_the_log_keeps_only_the_newest_messages():
    log = MessageLog(maxlen=3)
    for n in range(5):
        log.add(msg("iot/ws", str(n).encode()))

    assert [m.text for m in log.messages()] == ["2", "3", "4"]


def test_wait_until_reports_whether_the_condition_held():
    log = MessageLog()
    log.add(msg("a"))

    assert log.wait_until(lambda messages: len(messages) == 1, timeout=0) is True
    assert log.wait_until(lambda messages: len(messages) == 2, timeout=0.01) is False


@pytest.mark.parametrize(
    ("payload", "pretty"),
    [(b'{"b": 1, "a": 2}', '{\n  "a": 2,\n  "b": 1\n}'), (b"plain text", "plain text")],
    ids=["json-is-indented-and-sorted", "text-stays-text"],
)
def test_message_pretty(payload, pretty):
    assert msg("t", payload).pretty() == pretty


# -- the console, offline ------------------------------------------------------------------------


def test_an_offline_console_keeps_only_messages_on_its_filters():
    console = MqttConsole(filters=["iot/ws"])
    console.feed("iot/ws", {"n": 1})
    console.feed("elsewhere", {"n": 2})

    assert [m.topic for m in console.messages] == ["iot/ws"]
    assert console.wait_for("iot/ws", timeout=0).json == {"n": 1}


def test_subscribe_adds_a_filter_to_an_offline_console():
    console = MqttConsole(filters=[])
    console.subscribe("$aws/events/#")
    console.feed("$aws/events/thing/t/created", {"thingName": "t"})

    assert console.filters == ["$aws/events/#"] and len(console.messages) == 1


def test_messages_df_has_time_topic_and_pretty_payload():
    console = MqttConsole(filters=["#"])
    console.feed("iot/ws", {"a": 1}, at=1_700_000_000.0)

    df = console.messages_df()

    assert list(df.columns) == ["time", "topic", "payload"]
    assert df.loc[0, "topic"] == "iot/ws" and df.loc[0, "payload"] == '{\n  "a": 1\n}'


def test_clear_empties_the_console():
    console = MqttConsole(filters=["#"])
    console.feed("iot/ws", "x")
    console.clear()

    assert console.messages == [] and len(console.messages_df()) == 0


def test_the_html_view_shows_the_newest_first_and_at_most_fifty_escaped():
    console = MqttConsole(filters=["#"])
    for n in range(SHOWN_ROWS + 5):
        console.feed(f"iot/n{n}", "<b>x</b>")

    page = console._repr_html_()

    assert page.index("iot/n54") < page.index("iot/n53")
    assert "iot/n4<" not in page and "iot/n5<" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_repr_says_offline_console_state():
    assert repr(MqttConsole(filters=["iot/ws"])) == "MqttConsole(not connected, filters=['iot/ws'], messages=0)"


# -- set-ups: nothing older than the latest set-up is reported as new ------------------------------


def test_a_set_up_re_run_without_a_new_console_never_returns_the_earlier_runs_event():
    console = MqttConsole(filters=["$aws/events/#"])
    console.feed("$aws/events/thing/t1/created", {"thingName": "t1", "thingId": "old-id"})

    new_setup()  # the set-up cell runs again: connect()
    with pytest.raises(TimeoutError) as caught:
        console.wait_for("$aws/events/thing/t1/created", timeout=0)
    console.feed("$aws/events/thing/t1/created", {"thingName": "t1", "thingId": "new-id"})

    assert "belongs to an earlier run" in str(caught.value)
    assert console.wait_for("$aws/events/thing/t1/created", timeout=0).json["thingId"] == "new-id"


def test_a_mark_from_before_the_set_up_does_not_reach_back_past_it():
    console = MqttConsole(filters=["iot/ws"])
    old_mark = console.mark()
    console.feed("iot/ws", {"run": 1})
    new_setup()

    with pytest.raises(TimeoutError):
        console.wait_for("iot/ws", timeout=0, after=old_mark)


def test_a_console_made_after_the_set_up_sees_everything_it_received():
    new_setup()
    console = MqttConsole(filters=["iot/ws"])
    console.feed("iot/ws", {"n": 1})

    assert console.wait_for("iot/ws", timeout=0).json == {"n": 1}
    assert console.wait_until(lambda messages: len(messages) == 1, timeout=0)


def test_wait_until_counts_only_messages_since_the_set_up():
    console = MqttConsole(filters=["iot/ws"])
    console.feed("iot/ws", {"n": 1})
    new_setup()

    assert console.wait_until(lambda messages: len(messages) >= 1, timeout=0) is False
    console.feed("iot/ws", {"n": 2})
    assert console.wait_until(lambda messages: [m.json for m in messages] == [{"n": 2}], timeout=0) is True


def test_older_messages_are_listed_grey_below_a_line_naming_the_set_up():
    console = MqttConsole(filters=["#"])
    console.feed("iot/old", "x")
    new_setup()
    console.feed("iot/new", "y")

    page = console._repr_html_()

    assert page.index("iot/new") < page.index("before the set-up at") < page.index("iot/old")


# -- display: a fixed height, the state, and saved copies that tell the truth ----------------------


def test_the_table_scrolls_inside_a_box_of_fixed_height():
    console = MqttConsole(filters=["#"])
    for n in range(9):
        console.feed("iot/ws", {"n": n, "text": "a payload\nof several lines"})

    page = console._repr_html_()

    assert f"max-height:{HEIGHT};overflow-y:auto" in page
    assert page.index("max-height") < page.index("<table>")


def test_the_header_shows_the_state_the_count_and_when_it_was_taken():
    console = MqttConsole(filters=["iot/ws"])
    console.feed("iot/ws", "x")

    assert "offline" in console._repr_html_() and "1 message(s) as of " in console._repr_html_()
    assert console._text().startswith("MQTT console (offline; subscribed to iot/ws): 1 message(s) as of ")


class Handle:
    """A display handle that keeps the last bundle it was given (what a saved notebook would hold)."""

    def __init__(self) -> None:
        self.bundle: dict | None = None

    def update(self, bundle, raw=False):
        self.bundle = bundle


def test_each_use_of_the_console_renews_its_saved_copy():
    console = MqttConsole(filters=["iot/ws"])
    handle = Handle()
    console._handles.append(handle)  # what displaying it in a notebook does
    for n in range(3):
        console.feed("iot/ws", {"n": n})

    console.wait_for("iot/ws", lambda m: m.json["n"] == 2, timeout=0)

    assert "3 message(s)" in handle.bundle["text/plain"] and "3 message(s)" in handle.bundle["text/html"]
    assert '{"n": 2}' in handle.bundle["text/plain"]


def test_a_timeout_on_a_disconnected_console_says_so_and_what_to_run():
    console = MqttConsole(filters=["iot/ws"])
    console._device = SimpleNamespace(connected=False)  # a console whose connection dropped
    console._lost_at = 0.0

    with pytest.raises(TimeoutError) as caught:
        console.wait_for("iot/ws", timeout=0)

    assert "disconnected since" in str(caught.value) and "make lab" in str(caught.value)
    assert "missed" in str(caught.value)
