"""helpers.bots.service.search against the lab's DynamoDB: a Scan with contains(), every page, empty = all.

The table is made here as the bots stack makes it (partition key thingName); the stack itself and the
state machines are tested with the other half of issue 11."""

from __future__ import annotations

import uuid

import pytest

from helpers.bots import service
from labfixture import connect_to

pytestmark = pytest.mark.lab

NAMES = ("finder-bot1", "finder-bot2", "finder-robot", "finder-zed")


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    ws = connect_to(lab, tmp_path_factory.mktemp("bots-search"), prefix="finder")
    table = f"finder-bots-{uuid.uuid4().hex[:6]}"
    dynamodb = ws.client("dynamodb")
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "thingName", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "thingName", "KeyType": "HASH"}])
    for name in NAMES:
        dynamodb.put_item(TableName=table, Item={
            "thingName": {"S": name}, "status": {"S": "PROVISIONED"}, "createdAt": {"S": "2026-12-03T08:00:00Z"},
            "certificateId": {"S": "0" * 64}, "certificateKey": {"S": f"bots/{name}/certificate.pem.crt"}})
    ws.bots_outputs = {key: "unused" for key in service.OUTPUTS} | {"BotsTableName": table}
    return ws


@pytest.mark.parametrize(("text", "names"), [("", list(NAMES)), ("bot", list(NAMES[:3])), ("bot2", [NAMES[1]]),
                                             ("nothing", [])],
                         ids=["empty-is-all", "substring", "one", "none"])
def test_search_reads_the_table(ws, text, names):
    rows = service.search(ws, text)

    assert [r["thingName"] for r in rows] == names
    assert all(r["status"] == "PROVISIONED" and r["createdAt"] == "2026-12-03T08:00:00Z" and r["online"] == "offline"
               for r in rows)
