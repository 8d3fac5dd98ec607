"""The clean-up removes what chapter 11's state machines made on the server side (the ledger never saw
those calls): each bot of the trainee's bots table (thing, certificate, stored keys) and the bots stack."""

from __future__ import annotations

import pytest

from helpers import cleanup
from helpers.bots import service
from labfixture import connect_to, start_lab, stop_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("cleanup-bots-lab"))
    yield running
    stop_lab(running)


def thing_exists(ws, name) -> bool:
    try:
        ws.iot.describe_thing(thingName=name)
        return True
    except ws.iot.exceptions.ResourceNotFoundException:
        return False


def clean_up(ws, found):
    results = cleanup.run(ws, cleanup.plan(ws, found), dry_run=False, progress=False)
    failed = results[results["result"].isin(["error", "not yet"])]
    assert failed.empty, failed.to_dict("records")


def test_the_clean_up_removes_the_bots_and_their_stack(lab, tmp_path):
    ws = connect_to(lab, tmp_path / "work", prefix="anna")
    outputs = service.bots_stack(ws)
    bots = [service.bot_name(ws.prefix, ws.name(base)) for base in ("bot1", "bot2")]
    for bot in bots:
        assert service.wait(ws, service.provision(ws, bot))["status"] == "SUCCEEDED"
    certificates = [ws.client("dynamodb").get_item(TableName=outputs["BotsTableName"], Key={"thingName": {"S": bot}})
                    ["Item"]["certificateId"]["S"] for bot in bots]

    found = cleanup.inventory(ws, progress=False)
    clean_up(ws, found)

    assert not [bot for bot in bots if thing_exists(ws, bot)]
    ids = {c["certificateId"] for c in ws.iot.list_certificates()["certificates"]}
    assert not ids & set(certificates)
    stacks = [s["StackName"] for s in ws.cloudformation.list_stacks()["StackSummaries"]
              if s["StackStatus"] != "DELETE_COMPLETE"]
    assert service.bots_stack_name(ws) not in stacks
    assert outputs["BotsBucketName"] not in [b["Name"] for b in ws.client("s3").list_buckets()["Buckets"]]


def test_bots_the_table_lost_are_found_in_the_bucket_and_the_executions(lab, tmp_path):
    """A table item deleted by hand (bot3), and also its stored keys (bot4): the bucket and the
    ProvisionBot executions still name them. A thing of a bot's name that ProvisionBot did not make
    (created by hand after a failed run) is not the workshop's and stays."""
    ws = connect_to(lab, tmp_path / "work", prefix="ben")
    outputs = service.bots_stack(ws)
    bot3, bot4, other = (service.bot_name(ws.prefix, base) for base in ("bot3", "bot4", "bot-other"))
    for bot in (bot3, bot4, other):
        assert service.wait(ws, service.provision(ws, bot))["status"] == "SUCCEEDED"
    assert service.wait(ws, service.remove(ws, other))["status"] == "SUCCEEDED"
    lab.client("iot").create_thing(thingName=other)  # a plain boto3 client: not in the ledger
    dynamodb, s3 = ws.client("dynamodb"), ws.client("s3")
    certificates = {}
    for bot in (bot3, bot4):
        key = {"thingName": {"S": bot}}
        certificates[bot] = dynamodb.get_item(TableName=outputs["BotsTableName"], Key=key)["Item"]["certificateId"]["S"]
        dynamodb.delete_item(TableName=outputs["BotsTableName"], Key=key)
    for listed in s3.list_objects_v2(Bucket=outputs["BotsBucketName"], Prefix=f"bots/{bot4}/")["Contents"]:
        s3.delete_object(Bucket=outputs["BotsBucketName"], Key=listed["Key"])

    found = cleanup.inventory(ws, progress=False)
    rows = {(row["kind"], row["name"]): row for row in found.to_dict("records")}
    for bot in (bot3, bot4):
        assert rows[("thing", bot)]["ours"], rows[("thing", bot)]["why"]
        assert rows[("certificate", certificates[bot])]["ours"]
    assert ("thing", other) not in rows or not rows[("thing", other)]["ours"]
    clean_up(ws, found)

    assert not thing_exists(ws, bot3) and not thing_exists(ws, bot4)
    ids = {c["certificateId"] for c in ws.iot.list_certificates()["certificates"]}
    assert not ids & set(certificates.values())
    assert thing_exists(ws, other)
