"""Device Shadow core: merges, metadata, deltas, versions, client tokens, errors and topics."""

from __future__ import annotations

import json

import pytest

from localcore.errors import AwsError
from localcore.iot import shadow as sh
from localcore.iot.shadow import (
    ShadowError,
    ShadowStore,
    ShadowTopic,
    parse_shadow_topic,
    request_client_token,
    response_topic,
)

T0 = 1_700_000_000


def run(store: ShadowStore, *states, thing: str = "lamp", name: str | None = None, start: int = T0):
    """Apply one update per state node, one second apart; return the last result."""
    result = None
    for i, state in enumerate(states):
        result = store.update(thing, name, {"state": state}, start + i)
    return result


def state_of(store: ShadowStore, thing: str = "lamp", name: str | None = None) -> dict:
    return store.get(thing, name, now=T0 + 999)["state"]


def rejected(call) -> ShadowError:
    with pytest.raises(ShadowError) as caught:
        call()
    return caught.value


# --- merges ------------------------------------------------------------------------------------

MERGES = [
    ("add-key", [{"desired": {"a": 1}}], {"desired": {"a": 1}}),
    ("add-second-key-keeps-first", [{"desired": {"a": 1}}, {"desired": {"b": 2}}],
     {"desired": {"a": 1, "b": 2}}),
    ("replace-value", [{"desired": {"a": 1}}, {"desired": {"a": "on"}}], {"desired": {"a": "on"}}),
    ("null-deletes-key", [{"desired": {"a": 1, "b": 2}}, {"desired": {"a": None}}], {"desired": {"b": 2}}),
    ("deleting-last-key-removes-section",
     [{"desired": {"a": 1}, "reported": {"a": 1}}, {"desired": {"a": None}}], {"reported": {"a": 1}}),
    ("section-null-removes-section", [{"desired": {"a": 1, "b": 2}, "reported": {"c": 3}}, {"desired": None}],
     {"reported": {"c": 3}}),
    ("nested-objects-merge", [{"desired": {"l": {"r": 1}}}, {"desired": {"l": {"g": 2}}}],
     {"desired": {"l": {"r": 1, "g": 2}}}),
    ("nested-null-deletes-leaf", [{"desired": {"l": {"r": 1, "g": 2}}}, {"desired": {"l": {"r": None}}}],
     {"desired": {"l": {"g": 2}}}),
    ("nested-emptied-object-removed", [{"desired": {"l": {"r": 1}, "x": 1}}, {"desired": {"l": {"r": None}}}],
     {"desired": {"x": 1}}),
    ("array-replaced-whole", [{"reported": {"c": [1, 2, 3]}}, {"reported": {"c": [9]}}],
     {"reported": {"c": [9]}}),
    ("object-replaces-scalar", [{"desired": {"a": 1}}, {"desired": {"a": {"x": 1}}}],
     {"desired": {"a": {"x": 1}}}),
    ("scalar-replaces-object", [{"desired": {"a": {"x": 1}}}, {"desired": {"a": 5}}], {"desired": {"a": 5}}),
    ("null-for-absent-key-is-no-op", [{"desired": {"a": 1}}, {"desired": {"b": None}}],
     {"desired": {"a": 1}}),
    ("nulls-in-new-subtree-add-nothing", [{"desired": {"a": 1}}, {"desired": {"n": {"x": None}}}],
     {"desired": {"a": 1}}),
    ("both-sections-in-one-request", [{"desired": {"a": 1}, "reported": {"a": 1}}],
     {"desired": {"a": 1}, "reported": {"a": 1}}),
    ("state-null-empties-shadow", [{"desired": {"a": 1}, "reported": {"b": 2}}, None], {}),
]


@pytest.mark.parametrize("states, expected", [m[1:] for m in MERGES], ids=[m[0] for m in MERGES])
def test_merge(states, expected):
    store = ShadowStore()
    run(store, *states)
    stored = state_of(store)
    stored.pop("delta", None)
    assert stored == expected


def test_bytes_and_dict_requests_merge_alike():
    from_bytes, from_dict = ShadowStore(), ShadowStore()
    from_bytes.update("lamp", None, b'{"state":{"reported":{"t":21.5,"on":true}}}', T0)
    from_dict.update("lamp", None, {"state": {"reported": {"t": 21.5, "on": True}}}, T0)
    assert from_bytes.get("lamp", now=T0) == from_dict.get("lamp", now=T0)


# --- metadata ----------------------------------------------------------------------------------

METADATA = [
    ("leaves-keep-their-own-time", [{"desired": {"a": 1}}, {"desired": {"b": 2}}],
     {"desired": {"a": {"timestamp": T0}, "b": {"timestamp": T0 + 1}}}),
    ("nested-leaves", [{"desired": {"l": {"r": 1}}}, {"desired": {"l": {"g": 2}}}],
     {"desired": {"l": {"r": {"timestamp": T0}, "g": {"timestamp": T0 + 1}}}}),
    ("array-one-stamp-per-element", [{"reported": {"c": [1, {"k": 2}]}}],
     {"reported": {"c": [{"timestamp": T0}, {"k": {"timestamp": T0}}]}}),
    ("rewritten-leaf-restamped", [{"desired": {"a": 1}}, {"desired": {"a": 1}}],
     {"desired": {"a": {"timestamp": T0 + 1}}}),
    ("deleted-leaf-loses-metadata", [{"desired": {"a": 1, "b": 2}}, {"desired": {"a": None}}],
     {"desired": {"b": {"timestamp": T0}}}),
]


@pytest.mark.parametrize("states, expected", [m[1:] for m in METADATA], ids=[m[0] for m in METADATA])
def test_metadata(states, expected):
    store = ShadowStore()
    run(store, *states)
    assert store.get("lamp", now=T0 + 50)["metadata"] == expected


# --- accepted payload --------------------------------------------------------------------------

ACCEPTED = [
    ("echoes-only-requested-fields", {"desired": {"a": 3}},
     {"state": {"desired": {"a": 3}}, "metadata": {"desired": {"a": {"timestamp": T0 + 1}}}}),
    ("echoes-null-deletions-with-time", {"desired": {"b": None}},
     {"state": {"desired": {"b": None}}, "metadata": {"desired": {"b": {"timestamp": T0 + 1}}}}),
    ("state-null", None, {"state": None, "metadata": {"timestamp": T0 + 1}}),
]


@pytest.mark.parametrize("state, expected", [a[1:] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_accepted_payload(state, expected):
    store = ShadowStore()
    run(store, {"desired": {"a": 1, "b": 2}})
    result = store.update("lamp", None, {"state": state}, T0 + 1)
    assert result.accepted == {**expected, "version": 2, "timestamp": T0 + 1}


# --- delta -------------------------------------------------------------------------------------

DELTAS = [
    ("desired-without-reported", [{"desired": {"a": 1}}], {"a": 1}),
    ("desired-equals-reported", [{"reported": {"a": 1}}, {"desired": {"a": 1}}], None),
    ("only-differing-keys", [{"reported": {"a": 1, "b": 1}}, {"desired": {"a": 1, "b": 2}}], {"b": 2}),
    ("reported-only-keys-left-out", [{"reported": {"x": 1}}, {"desired": {"a": 1}}], {"a": 1}),
    ("nested-differing-leaf-with-path",
     [{"reported": {"l": {"r": 1, "g": 3}}}, {"desired": {"l": {"r": 1, "g": 2}}}], {"l": {"g": 2}}),
    ("differing-array-whole", [{"reported": {"c": [1, 2]}}, {"desired": {"c": [1, 3]}}], {"c": [1, 3]}),
    ("key-removed-from-reported", [{"desired": {"a": 1}, "reported": {"a": 1}}, {"reported": {"a": None}}],
     {"a": 1}),
    ("lists-all-differences-not-just-update", [{"desired": {"a": 1}}, {"desired": {"b": 2}}],
     {"a": 1, "b": 2}),
    ("bool-is-not-number", [{"reported": {"a": 1}}, {"desired": {"a": True}}], {"a": True}),
    ("int-equals-float", [{"reported": {"a": 1.0}}, {"desired": {"a": 1}}], None),
    ("reported-catches-up", [{"desired": {"a": 2}}, {"reported": {"a": 2}}], None),
    ("desired-section-removed", [{"desired": {"a": 2}}, {"desired": None}], None),
]


@pytest.mark.parametrize("states, expected", [d[1:] for d in DELTAS], ids=[d[0] for d in DELTAS])
def test_delta_message_and_get(states, expected):
    store = ShadowStore()
    result = run(store, *states)
    assert (result.delta or {}).get("state") == expected
    assert state_of(store).get("delta") == expected


def test_delta_message_carries_desired_metadata_version_and_token():
    store = ShadowStore()
    run(store, {"desired": {"l": {"r": 1, "g": 2}}, "reported": {"l": {"r": 1}}})
    result = store.update("lamp", None, {"state": {"desired": {"x": [5, 6]}}, "clientToken": "t-9"}, T0 + 5)
    assert result.delta == {
        "version": 2,
        "timestamp": T0 + 5,
        "state": {"l": {"g": 2}, "x": [5, 6]},
        "metadata": {"l": {"g": {"timestamp": T0}}, "x": [{"timestamp": T0 + 5}, {"timestamp": T0 + 5}]},
        "clientToken": "t-9",
    }


# --- documents ---------------------------------------------------------------------------------


def test_documents_of_first_update_have_no_previous():
    store = ShadowStore()
    result = run(store, {"desired": {"a": 1}})
    assert result.documents == {
        "previous": None,
        "current": {
            "state": {"desired": {"a": 1}},
            "metadata": {"desired": {"a": {"timestamp": T0}}},
            "version": 1,
        },
        "timestamp": T0,
    }


def test_documents_hold_previous_and_current_without_delta():
    store = ShadowStore()
    result = run(store, {"desired": {"a": 2}}, {"reported": {"a": 1}})
    assert result.documents["previous"] == {
        "state": {"desired": {"a": 2}},
        "metadata": {"desired": {"a": {"timestamp": T0}}},
        "version": 1,
    }
    assert result.documents["current"]["state"] == {"desired": {"a": 2}, "reported": {"a": 1}}
    assert result.documents["current"]["version"] == 2


# --- versions ----------------------------------------------------------------------------------

VERSION_CASES = [
    ("matching-version-accepted", 2, None),
    ("stale-version-conflict", 1, (409, sh.VERSION_CONFLICT)),
    ("future-version-conflict", 3, (409, sh.VERSION_CONFLICT)),
    ("string-version-invalid", "2", (400, sh.INVALID_VERSION)),
    ("float-version-invalid", 2.5, (400, sh.INVALID_VERSION)),
    ("bool-version-invalid", True, (400, sh.INVALID_VERSION)),
    ("negative-version-invalid", -1, (400, sh.INVALID_VERSION)),
    ("null-version-ignored", None, None),
]


@pytest.mark.parametrize("version, error", [v[1:] for v in VERSION_CASES], ids=[v[0] for v in VERSION_CASES])
def test_version_check(version, error):
    store = ShadowStore()
    run(store, {"desired": {"a": 1}}, {"desired": {"a": 2}})
    request = {"state": {"desired": {"a": 3}}, "version": version}
    if error is None:
        assert store.update("lamp", None, request, T0 + 9).version == 3
        return
    err = rejected(lambda: store.update("lamp", None, request, T0 + 9))
    assert (err.status, err.message) == error
    assert store.get("lamp", now=T0 + 9)["version"] == 2
    assert state_of(store) == {"desired": {"a": 2}, "delta": {"a": 2}}


@pytest.mark.parametrize("version, accepted", [(0, True), (1, False)], ids=["zero-accepted", "one-conflicts"])
def test_version_of_a_shadow_that_does_not_exist_is_zero(version, accepted):
    store = ShadowStore()
    request = {"state": {"reported": {"a": 1}}, "version": version}
    if accepted:
        assert store.update("lamp", None, request, T0).version == 1
    else:
        assert rejected(lambda: store.update("lamp", None, request, T0)).status == 409


# --- client tokens -----------------------------------------------------------------------------


def test_client_token_echoed_in_every_update_payload():
    store = ShadowStore()
    result = store.update("lamp", None, {"state": {"desired": {"a": 1}}, "clientToken": "tok"}, T0)
    assert [p["clientToken"] for p in (result.accepted, result.delta, result.documents)] == ["tok"] * 3


def test_no_client_token_key_without_one():
    store = ShadowStore()
    result = run(store, {"desired": {"a": 1}})
    payloads = [result.accepted, result.delta, result.documents, store.get("lamp", now=T0)]
    assert not any("clientToken" in p for p in payloads)


def test_client_token_echoed_by_get_and_delete():
    store = ShadowStore()
    run(store, {"reported": {"a": 1}})
    assert store.get("lamp", now=T0 + 1, client_token="g-1")["clientToken"] == "g-1"
    assert store.delete("lamp", None, b'{"clientToken":"d-1"}', now=T0 + 2) == {
        "version": 1,
        "timestamp": T0 + 2,
        "clientToken": "d-1",
    }


TOKENS = [
    ("64-bytes-accepted", "x" * 64, None),
    ("65-bytes-invalid", "x" * 65, sh.INVALID_CLIENT_TOKEN),
    ("counted-in-utf8-bytes", "é" * 33, sh.INVALID_CLIENT_TOKEN),
    ("non-string-invalid", 42, sh.INVALID_CLIENT_TOKEN),
]


@pytest.mark.parametrize("token, message", [t[1:] for t in TOKENS], ids=[t[0] for t in TOKENS])
def test_client_token_limits(token, message):
    store = ShadowStore()
    request = {"state": {"desired": {"a": 1}}, "clientToken": token}
    if message is None:
        assert store.update("lamp", None, request, T0).accepted["clientToken"] == token
    else:
        err = rejected(lambda: store.update("lamp", None, request, T0))
        assert (err.status, err.message) == (400, message)


@pytest.mark.parametrize(
    "payload, token",
    [(None, None), (b"", None), (b"not json", None), (b'{"clientToken":"c"}', "c"),
     ({"clientToken": "c"}, "c")],
    ids=["none", "empty", "garbage-ignored", "bytes", "dict"],
)
def test_request_client_token_of_get_and_delete_payloads(payload, token):
    assert request_client_token(payload) == token


# --- errors ------------------------------------------------------------------------------------

deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}  # the section object plus 5 more: 6 levels
deeper = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}

ERRORS = [
    ("invalid-json", b"{state:", 400, sh.INVALID_JSON),
    ("json-not-an-object", b"[1]", 400, sh.INVALID_JSON),
    ("nan-is-not-json", b'{"state":{"reported":{"t":NaN}}}', 400, sh.INVALID_JSON),
    ("not-utf8", b'{"state":{"reported":{"n":"\xff"}}}', 415, sh.BAD_ENCODING),
    ("missing-state", {"clientToken": "c"}, 400, sh.MISSING_STATE),
    ("state-not-object", {"state": "on"}, 400, sh.STATE_NOT_OBJECT),
    ("state-without-sections", {"state": {}}, 400, sh.INVALID_NODE),
    ("state-with-unknown-node", {"state": {"desired": {"a": 1}, "delta": {"a": 1}}}, 400, sh.INVALID_NODE),
    ("desired-not-object", {"state": {"desired": "on"}}, 400, "Desired node must be an object"),
    ("reported-not-object", {"state": {"reported": [1]}}, 400, "Reported node must be an object"),
    ("too-deep", {"state": {"reported": deeper}}, 400,
     "JSON contains too many levels of nesting; maximum is 6"),
    ("array-with-null", {"state": {"desired": {"c": [None, "RED"]}}}, 400, sh.INVALID_NODE),
    ("state-over-8kb", {"state": {"reported": {"blob": "x" * 8200}}}, 413, sh.TOO_LARGE),
]


@pytest.mark.parametrize("request_, status, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_update_rejections(request_, status, message):
    store = ShadowStore()
    err = rejected(lambda: store.update("lamp", None, request_, T0))
    assert (err.status, err.message) == (status, message)
    assert rejected(lambda: store.get("lamp", now=T0)).status == 404  # nothing was created


def test_depth_of_six_levels_accepted():
    assert ShadowStore().update("lamp", None, {"state": {"reported": deep}}, T0).version == 1


def test_size_is_checked_on_the_merged_state():
    store = ShadowStore()
    run(store, {"reported": {"a": "x" * 4000}}, {"desired": {"b": "y" * 4000}})
    err = rejected(lambda: store.update("lamp", None, {"state": {"reported": {"c": "z" * 300}}}, T0 + 5))
    assert (err.status, err.code) == (413, "RequestEntityTooLargeException")
    assert "c" not in state_of(store)["reported"]


NOT_FOUND = [
    ("classic-get", lambda s: s.get("lamp", now=T0), "No shadow exists with name: 'lamp'"),
    ("named-get", lambda s: s.get("lamp", "cfg", now=T0), "No shadow exists with name: 'lamp~cfg'"),
    ("classic-delete", lambda s: s.delete("lamp", now=T0), "No shadow exists with name: 'lamp'"),
    ("named-delete", lambda s: s.delete("lamp", "cfg", now=T0), "No shadow exists with name: 'lamp~cfg'"),
]


@pytest.mark.parametrize("call, message", [n[1:] for n in NOT_FOUND], ids=[n[0] for n in NOT_FOUND])
def test_not_found(call, message):
    err = rejected(lambda: call(ShadowStore()))
    assert (err.status, err.code, err.message) == (404, "ResourceNotFoundException", message)


@pytest.mark.parametrize("status, code", sorted(sh.ERROR_TYPES.items()), ids=str)
def test_shadow_error_is_an_aws_error_with_the_iot_data_type(status, code):
    err = ShadowError(status, "m")
    assert isinstance(err, AwsError) and (err.status, err.code) == (status, code)


def test_rejection_payload_carries_code_message_and_token():
    store = ShadowStore()
    run(store, {"desired": {"a": 1}})
    request = {"state": {"desired": {"a": 2}}, "version": 7, "clientToken": "426b"}
    err = rejected(lambda: store.update("lamp", None, request, T0 + 3))
    expected = {"code": 409, "message": "Version conflict", "clientToken": "426b"}
    if sh.REJECTION_INCLUDES_TIMESTAMP:
        expected["timestamp"] = T0 + 3
    assert err.rejection(T0 + 3) == expected


@pytest.mark.parametrize(
    "thing, name",
    [("bad name", None), ("x" * 129, None), ("lamp", "x" * 65), ("lamp", "a/b")],
    ids=["thing-chars", "thing-too-long", "shadow-too-long", "shadow-chars"],
)
def test_invalid_names_rejected(thing, name):
    err = rejected(lambda: ShadowStore().update(thing, name, {"state": {"reported": {"a": 1}}}, T0))
    assert err.status == 400


# --- delete ------------------------------------------------------------------------------------


def test_delete_then_get_is_404_and_second_delete_too():
    store = ShadowStore()
    run(store, {"reported": {"a": 1}}, {"reported": {"a": 2}})
    assert store.delete("lamp", now=T0 + 5) == {"version": 2, "timestamp": T0 + 5}
    assert rejected(lambda: store.get("lamp", now=T0 + 6)).status == 404
    assert rejected(lambda: store.delete("lamp", now=T0 + 6)).status == 404


@pytest.mark.parametrize(
    "gap, version",
    [(60, 4), (sh.DELETED_VERSION_KEPT_SECONDS, 4), (sh.DELETED_VERSION_KEPT_SECONDS + 1, 1)],
    ids=["soon-after-continues", "at-48h-continues", "after-48h-restarts"],
)
def test_update_after_delete(gap, version):
    store = ShadowStore()
    run(store, {"reported": {"a": 1}}, {"reported": {"b": 2}}, {"reported": {"c": 3}})
    store.delete("lamp", now=T0 + 10)
    result = store.update("lamp", None, {"state": {"reported": {"d": 4}}}, T0 + 10 + gap)
    assert result.version == version
    assert result.documents["previous"] is None
    assert state_of(store) == {"reported": {"d": 4}}


# --- named and classic -------------------------------------------------------------------------


def test_named_and_classic_shadows_are_separate():
    store = ShadowStore()
    run(store, {"reported": {"a": 1}})
    run(store, {"reported": {"a": 2}}, name="cfg")
    assert state_of(store) == {"reported": {"a": 1}}
    assert state_of(store, name="cfg") == {"reported": {"a": 2}}
    assert store.reported("lamp") == {"a": 1} and store.reported("lamp", "cfg") == {"a": 2}


def test_list_named_sorted_without_classic_or_deleted():
    store = ShadowStore()
    for name in [None, "zeta", "alpha", "gone"]:
        run(store, {"reported": {"a": 1}}, name=name)
    run(store, {"reported": {"a": 1}}, thing="other", name="beta")
    store.delete("lamp", "gone", now=T0 + 5)
    assert store.list_named("lamp") == ["alpha", "zeta"]


def test_delete_thing_forgets_all_its_shadows_only():
    store = ShadowStore()
    run(store, {"reported": {"a": 1}})
    run(store, {"reported": {"a": 1}}, name="cfg")
    run(store, {"reported": {"a": 1}}, thing="other")
    store.delete_thing("lamp")
    assert store.reported("lamp") is None and store.list_named("lamp") == []
    assert store.update("lamp", None, {"state": {"reported": {"a": 1}}}, T0 + 5).version == 1
    assert store.reported("other") == {"a": 1}


def test_reported_is_empty_dict_for_a_shadow_with_only_desired_and_none_when_absent():
    store = ShadowStore()
    run(store, {"desired": {"a": 1}})
    assert store.reported("lamp") == {} and store.reported("nope") is None


def test_payloads_are_copies_not_views_of_the_store():
    store = ShadowStore()
    result = run(store, {"desired": {"l": {"r": 1}}})
    result.accepted["state"]["desired"]["l"]["r"] = 99
    result.documents["current"]["state"]["desired"]["l"]["r"] = 99
    store.get("lamp", now=T0)["state"]["desired"]["l"]["r"] = 99
    assert state_of(store)["desired"] == {"l": {"r": 1}}
    json.dumps(result.documents)  # every payload is plain JSON


# --- topics ------------------------------------------------------------------------------------

TOPICS = [
    ("classic-update", "$aws/things/lamp/shadow/update", ShadowTopic("lamp", None, "update")),
    ("classic-get", "$aws/things/lamp/shadow/get", ShadowTopic("lamp", None, "get")),
    ("classic-delete", "$aws/things/lamp/shadow/delete", ShadowTopic("lamp", None, "delete")),
    ("named-update", "$aws/things/lamp-1/shadow/name/cfg:v2/update",
     ShadowTopic("lamp-1", "cfg:v2", "update")),
    ("named-with-dollar", "$aws/things/lamp/shadow/name/$package/get",
     ShadowTopic("lamp", "$package", "get")),
    ("response-topic-is-not-a-request", "$aws/things/lamp/shadow/update/accepted", None),
    ("named-response-topic", "$aws/things/lamp/shadow/name/cfg/update/delta", None),
    ("unknown-op", "$aws/things/lamp/shadow/patch", None),
    ("missing-op", "$aws/things/lamp/shadow", None),
    ("named-without-name", "$aws/things/lamp/shadow/name/get", None),
    ("named-empty-name", "$aws/things/lamp/shadow/name//get", None),
    ("wrong-prefix", "aws/things/lamp/shadow/update", None),
    ("not-things", "$aws/thing/lamp/shadow/update", None),
    ("trailing-slash", "$aws/things/lamp/shadow/update/", None),
    ("bad-thing-chars", "$aws/things/la mp/shadow/update", None),
    ("thing-too-long", f"$aws/things/{'t' * 129}/shadow/update", None),
    ("shadow-name-too-long", f"$aws/things/lamp/shadow/name/{'s' * 65}/update", None),
    ("jobs-topic", "$aws/things/lamp/jobs/get", None),
]


@pytest.mark.parametrize("topic, expected", [t[1:] for t in TOPICS], ids=[t[0] for t in TOPICS])
def test_parse_shadow_topic(topic, expected):
    assert parse_shadow_topic(topic) == expected


CLASSIC, NAMED = "$aws/things/lamp/shadow", "$aws/things/lamp/shadow/name/cfg"
RESPONSES = [
    ("classic-update-accepted", ("lamp", None, "update", "accepted"), f"{CLASSIC}/update/accepted"),
    ("classic-update-documents", ("lamp", None, "update", "documents"), f"{CLASSIC}/update/documents"),
    ("named-update-delta", ("lamp", "cfg", "update", "delta"), f"{NAMED}/update/delta"),
    ("named-get-rejected", ("lamp", "cfg", "get", "rejected"), f"{NAMED}/get/rejected"),
    ("classic-delete-accepted", ("lamp", None, "delete", "accepted"), f"{CLASSIC}/delete/accepted"),
]


@pytest.mark.parametrize("args, topic", [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES])
def test_response_topic(args, topic):
    assert response_topic(*args) == topic


@pytest.mark.parametrize(
    "op, suffix",
    [("get", "delta"), ("delete", "documents"), ("update", "bogus"), ("put", "accepted")],
    ids=["get-has-no-delta", "delete-has-no-documents", "unknown-suffix", "unknown-op"],
)
def test_response_topic_rejects_combinations_aws_does_not_use(op, suffix):
    with pytest.raises(ValueError):
        response_topic("lamp", None, op, suffix)
