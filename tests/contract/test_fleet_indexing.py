"""Fleet indexing against the running lab, as the workshop drives it: the AWS CLI enables the
index and searches, boto3's iot-data writes the shadows, a paho device connects."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from botocore.exceptions import ClientError

from devices import write_secret

AWS = Path(sys.executable).with_name("aws")
WAIT_S = 10.0
WORKSHOP_QUERY = "shadow.reported.temperature>20 AND attributes.room_number:*"
# (thing suffix, room number or None, reported temperature)
ROOMS = [("a", "101", 24), ("b", "102", 19), ("c", None, 30), ("d", "104", 21)]


@pytest.fixture(scope="module")
def iot(lab):
    return lab.client("iot")


@pytest.fixture(scope="module")
def cli(lab):
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed in this venv (pip install awscli)")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(AWS), "iot", *args, "--output", "json"], env=lab.env, check=False,
                              capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture(scope="module")
def building(lab, iot, cli) -> str:
    """Indexing on (by the CLI, as in the workshop), four things with rooms and temperatures."""
    prefix = f"fleet{uuid.uuid4().hex[:6]}"
    enabled = cli("update-indexing-configuration", "--thing-indexing-configuration",
                  "thingIndexingMode=REGISTRY_AND_SHADOW,thingConnectivityIndexingMode=STATUS")
    assert enabled.returncode == 0, enabled.stderr
    data = lab.client("iot-data")
    for suffix, room, temperature in ROOMS:
        attributes = {"attributes": {"room_number": room}} if room else {}
        iot.create_thing(thingName=prefix + suffix, **({"attributePayload": attributes} if attributes else {}))
        data.update_thing_shadow(thingName=prefix + suffix,
                                 payload=json.dumps({"state": {"reported": {"temperature": temperature}}}))
    return prefix


def ours(output: dict, prefix: str) -> list[str]:
    return sorted(t["thingName"] for t in output["things"] if t["thingName"].startswith(prefix))


def test_get_indexing_configuration_shows_what_the_cli_enabled(building, cli):
    result = cli("get-indexing-configuration")
    assert result.returncode == 0, result.stderr
    things = json.loads(result.stdout)["thingIndexingConfiguration"]
    assert (things["thingIndexingMode"], things["thingConnectivityIndexingMode"]) == ("REGISTRY_AND_SHADOW", "STATUS")
    assert {"name": "shadow.version", "type": "Number"} in things["managedFields"]


def test_describe_index_is_active(building, cli):
    result = cli("describe-index", "--index-name", "AWS_Things")
    assert json.loads(result.stdout)["indexStatus"] == "ACTIVE"


def test_workshop_name_query_lists_every_thing_with_its_shadow(building, cli):
    result = cli("search-index", "--query-string", f"thingName:{building}*")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["things"]
    assert sorted(t["thingName"] for t in found) == [building + s for s, _, _ in ROOMS]
    shadow = json.loads(next(t for t in found if t["thingName"] == building + "a")["shadow"])
    assert shadow["reported"] == {"temperature": 24}


def test_workshop_temperature_query_finds_the_warm_rooms(building, cli):
    result = cli("search-index", "--query-string", WORKSHOP_QUERY)
    assert result.returncode == 0, result.stderr
    assert ours(json.loads(result.stdout), building) == [building + "a", building + "d"]


def test_a_shadow_update_is_searchable_at_once(lab, building, iot):
    lab.client("iot-data").update_thing_shadow(
        thingName=building + "b", payload=json.dumps({"state": {"reported": {"temperature": 26}}}))
    found = iot.search_index(queryString=WORKSHOP_QUERY)
    assert ours(found, building) == [building + "a", building + "b", building + "d"]


def test_statistics_over_a_custom_field(building, iot):
    iot.update_indexing_configuration(thingIndexingConfiguration={
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS",
        "customFields": [{"name": "shadow.reported.temperature", "type": "Number"}]})
    stats = iot.get_statistics(queryString=f"thingName:{building}*",
                               aggregationField="shadow.reported.temperature")["statistics"]
    assert stats["count"] == 4 and stats["maximum"] == 30


@pytest.mark.parametrize("params, code", [
    ({"queryString": "thingName:(unclosed"}, "InvalidQueryException"),
    ({"queryString": "*", "indexName": "NoSuchIndex"}, "ResourceNotFoundException"),
], ids=["bad query", "unknown index"])
def test_errors_carry_the_aws_codes(building, iot, params, code):
    with pytest.raises(ClientError) as raised:
        iot.search_index(**params)
    assert raised.value.response["Error"]["Code"] == code


def test_a_connected_device_is_indexed_as_connected(lab, building, iot, tmp_path):
    name = building + "a"
    keys = iot.create_keys_and_certificate(setAsActive=True)
    policy = f"{building}-connect"
    iot.create_policy(policyName=policy, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"arn:aws:iot:*:*:client/{name}"}]}))
    iot.attach_policy(policyName=policy, target=keys["certificateArn"])
    iot.attach_thing_principal(thingName=name, principal=keys["certificateArn"])
    cert = write_secret(tmp_path / "cert.pem", keys["certificatePem"])
    key = write_secret(tmp_path / "key.pem", keys["keyPair"]["PrivateKey"])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, reconnect_on_failure=False)
    client.tls_set(ca_certs=str(lab.root_ca), certfile=str(cert), keyfile=str(key))
    accepted = threading.Event()
    client.on_connect = lambda c, u, flags, rc, props: rc.value == 0 and accepted.set()
    client.connect(lab.mqtt_host, lab.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        assert accepted.wait(WAIT_S), "the device was not accepted"
        found = iot.search_index(queryString=f"connectivity.connected:true AND thingName:{name}")["things"]
        assert [t["thingName"] for t in found] == [name]
        assert isinstance(found[0]["connectivity"]["timestamp"], int)
    finally:
        client.disconnect()
        client.loop_stop()

