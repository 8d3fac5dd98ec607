"""The clean-up removes what chapter 11's state machines made on the server side (the ledger never saw
those calls): each bot of the trainee's bots table (thing, certificate, stored keys) and the bots stack."""

from __future__ import annotations

import pytest

from helpers import cleanup
from helpers.bots import service
from helpers.workshop import connect
from labfixture import start_lab, stop_lab

pytestmark = pytest.mark.lab
LAB_VARIABLES = ("LOCALCORE_HOME", "LOCALCORE_HTTP_PORT", "LOCALCORE_MQTT_PORT")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("cleanup-bots-lab"))
    yield running
    stop_lab(running)


def connect_to(lab, work_dir, prefix=""):
    with pytest.MonkeyPatch.context() as env:
        for variable in LAB_VARIABLES:
            env.setenv(variable, lab.env[variable])
        env.delenv("WORKSHOP_BACKEND", raising=False)
        env.delenv("JPY_SESSION_NAME", raising=False)
        return connect(prefix=prefix, work_dir=work_dir)


def thing_exists(ws, name) -> bool:
    try:
        ws.iot.describe_thing(thingName=name)
        return True
    except ws.iot.exceptions.ResourceNotFoundException:
        return False


def test_the_clean_up_removes_the_bots_and_their_stack(lab, tmp_path):
    ws = connect_to(lab, tmp_path / "work", prefix="anna")
    outputs = service.bots_stack(ws)
    bots = [service.bot_name(ws.prefix, ws.name(base)) for base in ("bot1", "bot2")]
    for bot in bots:
        assert service.wait(ws, service.provision(ws, bot))["status"] == "SUCCEEDED"
    certificates = [ws.client("dynamodb").get_item(TableName=outputs["BotsTableName"], Key={"thingName": {"S": bot}})
                    ["Item"]["certificateId"]["S"] for bot in bots]

    found = cleanup.inventory(ws, progress=False)
    the_plan = cleanup.plan(ws, found)
    results = cleanup.run(ws, the_plan, dry_run=False, progress=False)
    failed = results[results["result"].isin(["error", "not yet"])]
    assert failed.empty, failed.to_dict("records")

    assert not [bot for bot in bots if thing_exists(ws, bot)]
    ids = {c["certificateId"] for c in ws.iot.list_certificates()["certificates"]}
    assert not ids & set(certificates)
    stacks = [s["StackName"] for s in ws.cloudformation.list_stacks()["StackSummaries"]
              if s["StackStatus"] != "DELETE_COMPLETE"]
    assert service.bots_stack_name(ws) not in stacks
    assert outputs["BotsBucketName"] not in [b["Name"] for b in ws.client("s3").list_buckets()["Buckets"]]
