"""The notebooks' helpers against a real lab: connect, devices, console, refusals, bulk provisioning."""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from helpers import certs
from helpers.console import MqttConsole
from helpers.device import ConnectionRefused, Device, PublishRefused, SubscribeRefused
from helpers.provisioning import (
    bulk_input, connect_time_chart, connectivity_test, follow_task, make_devices, start_task, task_reports,
    upload_input, write_certificates,
)
from labfixture import connect_to, unique

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 10


@pytest.fixture(scope="module")
def ws(lab, tmp_path_factory):
    return connect_to(lab, tmp_path_factory.mktemp("helpers-work"))


def provision(ws, name: str, statements: list[tuple[str, str]]) -> tuple[certs.DeviceFiles, str]:
    """Thing, keys and certificate, a policy of (action, resource suffix) statements, attachments."""
    iot = ws.iot
    iot.create_thing(thingName=name)
    created = iot.create_keys_and_certificate(setAsActive=True)
    base = f"arn:aws:iot:{ws.region}:{ws.account_id}"
    document = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": a, "Resource": f"{base}:{r}"} for a, r in statements]}
    iot.create_policy(policyName=f"{name}-policy", policyDocument=json.dumps(document))
    iot.attach_policy(policyName=f"{name}-policy", target=created["certificateArn"])
    iot.attach_thing_principal(thingName=name, principal=created["certificateArn"])
    files = certs.save_device(ws, name, created["certificatePem"], created["keyPair"]["PrivateKey"])
    return files, created["certificateId"]


def publisher(name: str, topic: str = "iot/ws") -> list[tuple[str, str]]:
    return [("iot:Connect", f"client/{name}"), ("iot:Publish", f"topic/{topic}")]


# -- connect --------------------------------------------------------------------------------------


def test_connect_uses_the_lab_the_environment_names(lab, ws):
    assert (ws.backend, ws.region, ws.account_id) == ("local", lab.config.region, lab.config.account_id)
    assert (ws.endpoint, ws.port, ws.root_ca) == (lab.mqtt_host, lab.mqtt_port, lab.root_ca)
    assert ws.http_url == lab.config.http_url
    assert ws.ws_port == lab.ws_port
    assert stat.S_IMODE(ws.work_dir.stat().st_mode) == 0o700


def test_connecting_again_reuses_the_running_lab(lab, tmp_path, capsys):
    again = connect_to(lab, tmp_path / "again")

    assert f"already running (pid {lab.info.pid})" in capsys.readouterr().out
    assert (again.endpoint, again.port) == (lab.mqtt_host, lab.mqtt_port)


def test_clients_reach_the_lab(ws):
    name = unique("helper-thing")
    ws.iot.create_thing(thingName=name)

    assert ws.iot.describe_thing(thingName=name)["thingName"] == name
    assert ws.iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"] == ws.endpoint


def test_the_status_panel_counts_the_registry(ws):
    ws.iot.create_thing(thingName=unique("counted"))
    things = sum(len(p["things"]) for p in ws.iot.get_paginator("list_things").paginate())

    panel = ws.status_panel()

    assert panel.items["things"] == things >= 1
    assert panel.items["MQTT"] == f"{ws.endpoint}:{ws.port}" and panel.items["account"] == ws.account_id
    assert "thing groups" in repr(panel) and "<table>" in panel._repr_html_()


def test_deploy_stack_creates_the_workshop_stack_once_and_returns_its_outputs(ws):
    first = ws.deploy_stack()
    second = ws.deploy_stack()

    assert set(first) == {"S3Bucket", "IoTPolicy", "ArnIoTProvisioningRole", "ArnIoTLoggingRole", "ArnLambdaRole"}
    assert first == second == ws.stack_outputs
    assert ws.iot.get_policy(policyName=first["IoTPolicy"])["policyName"] == "iotdm-device-policy"


# -- a device and the console ---------------------------------------------------------------------


def test_a_device_connects_publishes_and_the_console_receives_it(ws):
    name = unique("dev")
    provision(ws, name, publisher(name))
    with MqttConsole(ws, filters=["iot/ws", "$aws/events/presence/connected/+"]) as console:
        with Device.from_workshop(ws, name) as device:
            device.publish("iot/ws", {"prov": "first", "device": name})

        message = console.wait_for("iot/ws", lambda m: m.json["device"] == name, timeout=WAIT_S)
        event = console.wait_for(f"$aws/events/presence/connected/{name}", timeout=WAIT_S)

    assert message.json == {"prov": "first", "device": name}
    assert event.json["clientId"] == name
    assert device.connect_ms is not None and device.connect_ms > 0
    assert not device.connected


def test_a_device_receives_what_it_subscribed_to(ws):
    name = unique("listener")
    provision(ws, name, [("iot:Connect", f"client/{name}"), ("iot:Subscribe", f"topicfilter/news/{name}"),
                         ("iot:Receive", f"topic/news/{name}"), ("iot:Publish", f"topic/news/{name}")])
    with Device.from_workshop(ws, name) as device:
        device.subscribe(f"news/{name}")
        device.publish(f"news/{name}", "hello")

        assert device.wait_for(f"news/{name}", timeout=WAIT_S).text == "hello"


def test_a_publish_the_policy_does_not_allow_raises_publish_refused(ws):
    name = unique("rogue")
    provision(ws, name, publisher(name))
    device = Device.from_workshop(ws, name).connect()

    with pytest.raises(PublishRefused, match="does not allow iot:Publish on not/allowed; AWS IoT closed the connection"):
        device.publish("not/allowed", {"x": 1}, qos=1)
    assert not device.connected


def test_a_subscription_the_policy_does_not_allow_raises_subscribe_refused(ws):
    name = unique("nosy")
    provision(ws, name, publisher(name))

    with Device.from_workshop(ws, name) as device:
        with pytest.raises(SubscribeRefused, match="does not allow iot:Subscribe on secrets/#"):
            device.subscribe("secrets/#")


@pytest.mark.parametrize(
    ("case", "reason", "words"),
    [("other-client-id", "client_id_not_authorised", "allows iot:Connect with client id"),
     ("inactive", "certificate_inactive", "is INACTIVE"),
     ("deleted", "certificate_unknown", "is not registered in the lab: the lab was reset, or the certificate was deleted")],
    ids=["client-id-not-allowed", "inactive-certificate", "unknown-certificate"],
)
def test_a_refused_connection_says_why(ws, case, reason, words):
    name = unique("refused")
    files, cert_id = provision(ws, name, publisher(name))
    client_id = name
    if case == "other-client-id":
        client_id = name + "-other"
    if case in ("inactive", "deleted"):
        ws.iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    if case == "deleted":
        arn = ws.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["certificateArn"]
        ws.iot.detach_policy(policyName=f"{name}-policy", target=arn)
        ws.iot.detach_thing_principal(thingName=name, principal=arn)
        ws.iot.delete_certificate(certificateId=cert_id)

    with pytest.raises(ConnectionRefused) as caught:
        Device.from_workshop(ws, name, files, client_id=client_id).connect(timeout=WAIT_S)

    assert caught.value.reason == reason and words in str(caught.value)


# -- bulk provisioning end to end -----------------------------------------------------------------


def test_bulk_provisioning_then_a_connectivity_test_of_three_devices(ws):
    outputs = ws.deploy_stack()
    for create, kwargs in ((ws.iot.create_thing_type, {"thingTypeName": "bulk-type"}),
                           (ws.iot.create_thing_group, {"thingGroupName": "bulk-group"})):
        try:
            create(**kwargs)
        except ws.iot.exceptions.ResourceAlreadyExistsException:
            pass
    devices = make_devices(unique("bulky") + "-", 3, key_kind="ec")
    key = unique("bulk") + ".json"
    upload_input(ws, outputs["S3Bucket"], key, bulk_input(devices))

    task_id = start_task(ws, (REPO / "data" / "register-thing-template.json").read_text(),
                         outputs["S3Bucket"], key, outputs["ArnIoTProvisioningRole"])
    task = follow_task(ws, task_id, progress=False, timeout=60)
    results, errors = task_reports(ws, task_id)
    written = write_certificates(ws, results, devices)
    report = connectivity_test(ws, devices, progress=False)

    assert (task["status"], task["successCount"], task["failureCount"]) == ("Completed", 3, 0)
    assert sorted(results["thing_name"]) == sorted(d.name for d in devices) and errors.empty
    assert list(written["written"]) == [True, True, True]
    assert report[["connected", "published", "received"]].all().all(), report.to_string()
    assert len(connect_time_chart(report).axes[0].patches) == 3


def self_signed_files(folder: Path, name: str) -> certs.DeviceFiles:
    key = certs.new_key("ec")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    return certs.save_device(folder, name, cert.public_bytes(serialization.Encoding.PEM).decode(), key)


def test_a_certificate_aws_iot_never_issued_is_refused_as_unknown(ws, tmp_path):
    files = self_signed_files(tmp_path, "stranger")
    device = Device("stranger", files.cert, files.key, ws.endpoint, ws.port, ws.root_ca, iot=ws.iot, local=True)

    with pytest.raises(ConnectionRefused) as caught:
        device.connect(timeout=WAIT_S)

    assert caught.value.reason == "certificate_unknown"


def test_the_wrong_root_ca_is_a_tls_failure(ws, tmp_path):
    name = unique("trusting")
    files, _ = provision(ws, name, publisher(name))
    wrong_ca = self_signed_files(tmp_path, "not-the-lab").cert
    device = Device(name, files.cert, files.key, ws.endpoint, ws.port, wrong_ca, iot=ws.iot, local=True)

    with pytest.raises(ConnectionRefused) as caught:
        device.connect(timeout=WAIT_S)

    assert caught.value.reason == "tls" and "not trusted by the root CA" in str(caught.value)


# -- JITP refused: the CA does not auto-register --------------------------------------------------


@pytest.mark.parametrize(
    ("spoil", "reason", "words"),
    [("auto-registration off", "auto_registration_off", "has auto-registration DISABLE"),
     ("inactive CA", "ca_inactive", "is INACTIVE: JITP and JITR register certificates of an ACTIVE CA only")],
    ids=["auto-registration-off", "ca-inactive"],
)
def test_a_jitp_device_whose_ca_does_not_auto_register_is_told_why(ws, spoil, reason, words):
    from helpers.ca import chain_pem, make_ca, sign_device_certificate, verification_certificate

    ca = make_ca(unique("no-jitp-ca"))
    code = ws.iot.get_registration_code()["registrationCode"]
    ws.iot.register_ca_certificate(caCertificate=ca.pem, verificationCertificate=verification_certificate(ca, code),
                                   setAsActive=spoil != "inactive CA", allowAutoRegistration=spoil != "auto-registration off")
    key = certs.new_key("ec")
    name = unique("jitp-refused")
    files = certs.save_device(ws, name, chain_pem(sign_device_certificate(ca, key, name), ca), key)

    with pytest.raises(ConnectionRefused) as caught:
        Device.from_workshop(ws, name, files).connect(timeout=WAIT_S)

    assert caught.value.reason == reason and words in str(caught.value), str(caught.value)
    assert caught.value.kind.startswith("connection refused: CA")
