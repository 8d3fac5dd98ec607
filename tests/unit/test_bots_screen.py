"""helpers.bots.screen driven headlessly: its buttons' callbacks and refresh(), with a fake service and fleet."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from helpers.bots.screen import ThingsScreen
from helpers.failures import WorkshopError

PREFIX = "anna-"


class FakeService:
    """The service's functions over an in-memory table; executions advance one scripted step per poll."""

    def __init__(self, names=()):
        self.table = {n: {"thingName": n, "status": "PROVISIONED", "createdAt": "2026-12-03T08:00:00.5+00:00"}
                      for n in names}
        self.calls: list[tuple] = []
        self.executions: dict[str, dict] = {}
        self.fail_with: Exception | None = None

    def _start(self, action, name, script, outcome):
        if self.fail_with is not None:
            raise self.fail_with
        arn = f"arn:aws:states:eu-central-1:123456789012:execution:{action}:{len(self.calls)}"
        self.calls.append((action, name))
        self.executions[arn] = {"thing": name, "script": script, "at": 0, "outcome": outcome, "action": action}
        return arn

    def provision(self, ws, name):
        return self._start("provision", name, PROVISION_SCRIPT, ("SUCCEEDED", "", ""))

    def remove(self, ws, name):
        return self._start("remove", name, REMOVE_SCRIPT, ("SUCCEEDED", "", ""))

    def progress(self, ws, arn):
        run = self.executions[arn]
        run["at"] = min(run["at"] + 1, len(run["script"]))
        return [dict(step) for step in run["script"][run["at"] - 1]]

    def describe(self, ws, arn):
        run = self.executions[arn]
        if run["at"] < len(run["script"]):
            return {"status": "RUNNING", "thingName": run["thing"], "error": "", "cause": ""}
        status, error, cause = run["outcome"]
        if status == "SUCCEEDED":
            if run["action"] == "provision":
                self.table[run["thing"]] = {"thingName": run["thing"], "status": "PROVISIONED",
                                            "createdAt": "2026-12-03T09:30:00.000000+00:00"}
            else:
                self.table.pop(run["thing"], None)
        return {"status": status, "thingName": run["thing"], "error": error, "cause": cause}

    def search(self, ws, text, fleet=None):
        self.calls.append(("search", text))
        return [dict(row, online=fleet.status(name) if fleet else "offline")
                for name, row in sorted(self.table.items()) if text in name]


def steps(*pairs):
    return [{"state": s, "status": st} for s, st in pairs]


PROVISION_SCRIPT = [
    steps(("CreateThing", "entered")),
    steps(("CreateThing", "succeeded"), ("CreateKeysAndCertificate", "entered")),
    steps(("CreateThing", "succeeded"), ("CreateKeysAndCertificate", "succeeded"), ("AttachPolicy", "succeeded"),
          ("AttachThingPrincipal", "succeeded"), ("SaveKeys", "succeeded"), ("SaveMetadata", "succeeded"),
          ("Provisioned", "succeeded")),
]
REMOVE_SCRIPT = [
    steps(("GetMetadata", "succeeded"), ("DeactivateCertificate", "entered")),
    steps(("GetMetadata", "succeeded"), ("DeactivateCertificate", "succeeded"), ("DetachThingPrincipal", "entered")),
    steps(*[(s, "succeeded") for s in ("GetMetadata", "DeactivateCertificate", "DetachThingPrincipal", "DetachPolicy",
                                       "DeleteCertificate", "DeleteThing", "DeleteKeys", "DeleteMetadata", "Removed")]),
]
FAILED_SCRIPT = [
    steps(("CreateThing", "succeeded"), ("CreateKeysAndCertificate", "succeeded"),
          ("AttachPolicy", "failed"), ("UndoCreateKeysAndCertificate", "compensating")),
    steps(("CreateThing", "succeeded"), ("CreateKeysAndCertificate", "succeeded"), ("AttachPolicy", "failed"),
          ("UndoCreateKeysAndCertificate", "succeeded"), ("UndoCreateThing", "succeeded"),
          ("ProvisioningFailed", "failed")),
]


class FakeFleet:
    def __init__(self):
        self.states: dict[str, str] = {}
        self.started: list[str] = []
        self.start_error: Exception | None = None

    def start(self, name):
        if self.start_error is not None:
            raise self.start_error
        self.started.append(name)
        self.states[name] = "online"

    def status(self, name):
        state = self.states.get(name, "offline")
        return "disconnected" if state.startswith("disconnected") else state

    def state(self, name):
        return self.states.get(name, "not running")

    def forget(self, name):
        self.states.pop(name, None)


def make_screen(names=(), **kwargs):
    service, fleet = FakeService(names), FakeFleet()
    screen = ThingsScreen(SimpleNamespace(prefix=PREFIX), service=service, fleet=fleet, **kwargs)
    return screen, service, fleet


def lights(screen):
    (run,) = screen.runs.values()
    return dict(run.lights())


# -- create ---------------------------------------------------------------------------------------


def test_create_starts_provisioning_with_the_prefixed_name_and_shows_its_first_step():
    screen, service, _fleet = make_screen()
    screen.name_box.value = "bot1"

    screen.create_button.click()

    assert ("provision", "anna-bot1") in service.calls
    assert lights(screen)["CreateThing"] == "entered" and lights(screen)["SaveMetadata"] == "pending"
    assert "Creating anna-bot1" in screen.message and not screen.message_is_error
    assert "… CreateThing" in screen.text() and "· SaveMetadata" in screen.text()
    assert "CreateThing" in screen.runs_box.children[0].value


def test_refresh_lights_the_steps_as_they_pass_then_starts_the_bot_and_lists_it():
    screen, _service, fleet = make_screen()
    screen.name_box.value = "bot1"
    screen.create()

    screen.refresh()
    middle = lights(screen)
    screen.refresh()

    assert (middle["CreateThing"], middle["CreateKeysAndCertificate"], middle["AttachPolicy"]) == (
        "succeeded", "entered", "pending")
    assert set(lights(screen).values()) == {"succeeded"}
    assert fleet.started == ["anna-bot1"]
    assert [(r["thingName"], r["online"]) for r in screen.rows] == [("anna-bot1", "online")]
    assert "✓ anna-bot1 provisioned; its bot is online." == screen.message
    assert "anna-bot1" in screen.remove_buttons
    assert "2026-12-03 09:30:00" in screen.text()


def test_a_failed_run_shows_its_compensation_and_the_cause():
    screen, service, fleet = make_screen()
    screen.name_box.value = "bot1"
    screen.create()
    (arn,) = screen.runs
    service.executions[arn].update(script=FAILED_SCRIPT, at=0, outcome=(
        "FAILED", "Iot.ResourceNotFoundException", "The policy anna-bot-policy does not exist"))

    screen.refresh()
    during = lights(screen)
    screen.refresh()

    assert (during["AttachPolicy"], during["UndoCreateKeysAndCertificate"]) == ("failed", "compensating")
    assert lights(screen)["ProvisioningFailed"] == "failed"
    assert screen.message_is_error
    assert screen.message == ("✗ Provisioning anna-bot1 ended FAILED: Iot.ResourceNotFoundException: "
                              "The policy anna-bot-policy does not exist")
    assert fleet.started == [] and screen.rows == []


@pytest.mark.parametrize(("typed", "words"), [("", "Type a name"), ("bot 1", "' ' not allowed"),
                                              ("bot/1", "'/' not allowed")],
                         ids=["empty", "space", "slash"])
def test_an_invalid_name_is_refused_with_a_message(typed, words):
    screen, service, _fleet = make_screen()
    screen.name_box.value = typed

    screen.create()

    assert not [c for c in service.calls if c[0] == "provision"] and screen.runs == {}
    assert screen.message_is_error and words in screen.message
    assert words in screen.message_line.value.replace("&#x27;", "'")


def test_a_name_already_in_the_table_is_refused():
    screen, service, _fleet = make_screen(["anna-bot1"])
    screen.name_box.value = "anna-bot1"

    screen.create()

    assert not [c for c in service.calls if c[0] == "provision"]
    assert "already there" in screen.message and screen.message_is_error


# -- search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "names"), [("", ["anna-bot1", "anna-bot2", "anna-robot"]),
                                              ("bot", ["anna-bot1", "anna-bot2", "anna-robot"]),
                                              ("bot2", ["anna-bot2"]), ("zzz", [])],
                         ids=["empty-is-all", "substring", "one", "none"])
def test_search_lists_what_the_service_finds(typed, names):
    screen, service, _fleet = make_screen(["anna-bot2", "anna-robot", "anna-bot1"])
    screen.name_box.value = typed

    screen.search_button.click()

    assert service.calls[-1] == ("search", typed)
    assert [r["thingName"] for r in screen.rows] == names
    assert sorted(screen.remove_buttons) == names
    assert f"{len(names)} bot" in screen.message


def test_the_screen_lists_every_bot_when_it_opens():
    screen, _service, _fleet = make_screen(["anna-bot1"])

    assert [r["thingName"] for r in screen.rows] == ["anna-bot1"]
    assert "anna-bot1  PROVISIONED  2026-12-03 08:00:00  offline" in screen.text()


# -- remove ---------------------------------------------------------------------------------------


def test_remove_shows_the_bot_disconnected_while_the_run_passes_then_drops_the_row():
    screen, service, fleet = make_screen(["anna-bot1", "anna-bot2"])
    fleet.states["anna-bot1"] = "online"
    screen.refresh()

    screen.remove_buttons["anna-bot1"].click()
    fleet.states["anna-bot1"] = "disconnected: certificate disabled"  # what its certificate's deactivation does
    screen.refresh()
    online_during = {r["thingName"]: r["online"] for r in screen.rows}
    screen.refresh()

    assert ("remove", "anna-bot1") in service.calls
    assert online_during == {"anna-bot1": "disconnected", "anna-bot2": "offline"}
    assert [r["thingName"] for r in screen.rows] == ["anna-bot2"]
    assert screen.message == "✓ anna-bot1 removed (its bot: disconnected: certificate disabled)."
    assert fleet.state("anna-bot1") == "not running"
    assert set(lights(screen).values()) == {"succeeded"}


def test_a_bot_still_connected_when_its_removal_ends_is_followed_until_it_is_cut_off():
    screen, _service, fleet = make_screen(["anna-bot1"])
    fleet.states["anna-bot1"] = "online"
    screen.remove("anna-bot1")
    while any(run.running for run in screen.runs.values()):
        screen.refresh()
    still = screen.message

    fleet.states["anna-bot1"] = "disconnected: certificate disabled"  # the broker closes it a moment later
    screen.refresh()

    assert "still connected" in still and screen.leaving == set()
    assert screen.message == "✓ anna-bot1 removed (its bot: disconnected: certificate disabled)."


def test_a_bot_cannot_be_removed_while_its_run_is_going():
    screen, service, _fleet = make_screen(["anna-bot1"])
    screen.remove("anna-bot1")

    screen.remove("anna-bot1")

    assert [c for c in service.calls if c[0] == "remove"] == [("remove", "anna-bot1")]
    assert "busy" in screen.message


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "shown"),
    [(ClientError({"Error": {"Code": "StateMachineDoesNotExist", "Message": "State Machine Does Not Exist"}},
                  "StartExecution"),
      "AWS refused it (StateMachineDoesNotExist): State Machine Does Not Exist"),
     (WorkshopError("The lab does not answer: start it with `make lab`."),
      "The lab does not answer: start it with `make lab`."),
     (KeyError("ProvisionBotArn"), "KeyError: 'ProvisionBotArn'")],
    ids=["aws-error", "workshop-error", "anything-else"],
)
def test_an_error_shows_as_a_message_never_a_traceback(error, shown):
    screen, service, _fleet = make_screen()
    service.fail_with = error
    screen.name_box.value = "bot1"

    screen.create()

    assert screen.message == shown and screen.message_is_error
    assert "Traceback" not in screen.text() and screen.runs == {}


def test_a_bot_that_cannot_start_is_said_so():
    screen, _service, fleet = make_screen()
    fleet.start_error = WorkshopError("The bucket holds no certificate.pem.crt for anna-bot1.")
    screen.name_box.value = "bot1"
    screen.create()

    screen.refresh()
    screen.refresh()

    assert screen.message == ("✓ anna-bot1 provisioned, but its bot did not start: "
                              "The bucket holds no certificate.pem.crt for anna-bot1.")
    assert screen.message_is_error


def test_only_the_last_finished_runs_stay_on_screen():
    screen, _service, _fleet = make_screen()
    for n in range(5):
        screen.name_box.value = f"bot{n}"
        screen.create()
        screen.refresh()
        screen.refresh()

    assert [run.thing for run in screen.runs.values()] == ["anna-bot2", "anna-bot3", "anna-bot4"]


def test_a_long_cause_is_cut_to_one_readable_line():
    screen, service, _fleet = make_screen()
    screen.name_box.value = "bot1"
    screen.create()
    (arn,) = screen.runs
    service.executions[arn].update(script=FAILED_SCRIPT, at=0,
                                   outcome=("FAILED", "States.Runtime", "The JSONPath\n" + "x" * 2000))

    screen.refresh()
    screen.refresh()

    assert screen.message.startswith("✗ Provisioning anna-bot1 ended FAILED: States.Runtime: The JSONPath xxx")
    assert len(screen.message) == 300 and screen.message.endswith("…") and "\n" not in screen.message
