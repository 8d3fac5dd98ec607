"""The aws backend's loopback guard (helpers.endpoints): which settings point at this machine, and connect()'s error."""

from __future__ import annotations

import pytest

from helpers import endpoints, workshop
from helpers.endpoints import LoopbackEndpoint
from helpers.failures import WorkshopError


@pytest.mark.parametrize(
    ("value", "loopback"),
    [("http://127.0.0.1:4510", True), ("http://127.0.0.1:4510/", True), ("https://127.1.2.3", True),
     ("127.0.0.1", True), ("127.255.255.254:8883", True), ("http://localhost:4510", True), ("localhost", True),
     ("LOCALHOST.", True), ("lab.localhost", True), ("localhost.localdomain", True), ("http://[::1]:4510", True),
     ("::1", True), ("[::1]:8883", True), ("0:0:0:0:0:0:0:1", True), ("::ffff:127.0.0.1", True),
     ("http://0.0.0.0:4510", True), ("::", True),
     ("https://iot.eu-west-1.amazonaws.com", False), ("a1b2c3d4e5f6g7-ats.iot.us-west-2.amazonaws.com", False),
     ("http://10.0.0.5:4510", False), ("192.168.1.10", False), ("http://[fe80::1]:1", False),
     ("http://128.0.0.1", False), ("localhost-proxy.example.com", False), ("mylocalhost", False), ("", False),
     ("http://[::1", False)],
)
def test_is_loopback(value, loopback):
    assert endpoints.is_loopback(value) is loopback


@pytest.mark.parametrize(
    ("environ", "found"),
    [({"AWS_ENDPOINT_URL": "http://127.0.0.1:4510"}, ["AWS_ENDPOINT_URL"]),
     ({"AWS_ENDPOINT_URL_IOT": "http://localhost:4510"}, ["AWS_ENDPOINT_URL_IOT"]),
     ({"AWS_ENDPOINT_URL_IOT_DATA_PLANE": "http://[::1]:4510", "AWS_ENDPOINT_URL_STS": "https://sts.amazonaws.com"},
      ["AWS_ENDPOINT_URL_IOT_DATA_PLANE"]),
     ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL": "http://localhost:1"},
      ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]),
     ({"IOT_ENDPOINT": "localhost"}, ["IOT_ENDPOINT"]),
     ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4510", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, []),
     ({"AWS_ENDPOINT_URL": "https://vpce-1.iot.eu-west-1.vpce.amazonaws.com"}, []),
     ({"AWS_ENDPOINT_URL": ""}, []),
     ({"SOME_URL": "http://127.0.0.1"}, []),
     ({}, [])],
    ids=["generic", "per-service", "per-service-data-plane", "both", "iot-endpoint", "botocore-ignores-them",
         "vpc-endpoint", "empty", "unrelated", "nothing"],
)
def test_configured_endpoints(environ, found):
    assert [f.name for f in endpoints.configured_endpoints(environ)] == found


def test_the_error_names_the_settings_and_how_to_fix_it():
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4510", "IOT_ENDPOINT": "localhost"}

    with pytest.raises(LoopbackEndpoint) as caught:
        endpoints.check_configured(environ)

    message = str(caught.value)
    assert "would talk to this machine (the local lab), not to AWS" in message
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:4510" in message and "IOT_ENDPOINT=localhost" in message
    assert "unset AWS_ENDPOINT_URL IOT_ENDPOINT`" in message
    assert "WORKSHOP_REHEARSAL=1" in message and "WORKSHOP_BACKEND=local" in message
    assert isinstance(caught.value, WorkshopError)


def test_the_fix_unsets_every_lab_export_but_keeps_real_keys():
    lab_shell = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4510", "IOT_ENDPOINT": "localhost", "IOT_PORT": "8883",
                 "IOT_WS_PORT": "4511", "IOT_ROOT_CA": "/w/lab/pki/root-ca.pem", "AWS_ACCESS_KEY_ID": "localcore",
                 "AWS_SECRET_ACCESS_KEY": "localcore", "AWS_DEFAULT_REGION": "us-east-1"}
    own_keys = dict(lab_shell, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="real")

    with pytest.raises(LoopbackEndpoint, match="unset AWS_ACCESS_KEY_ID AWS_ENDPOINT_URL AWS_SECRET_ACCESS_KEY "
                                               "IOT_ENDPOINT IOT_PORT IOT_ROOT_CA IOT_WS_PORT`"):
        endpoints.check_configured(lab_shell)
    with pytest.raises(LoopbackEndpoint, match="unset AWS_ENDPOINT_URL IOT_ENDPOINT IOT_PORT IOT_ROOT_CA IOT_WS_PORT`"):
        endpoints.check_configured(own_keys)


@pytest.mark.parametrize(("value", "rehearsal"), [("1", True), ("true", True), ("YES", True), ("on", True),
                                                   ("0", False), ("", False), ("no", False)])
def test_the_rehearsal_switch_allows_loopback(value, rehearsal):
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4510", "WORKSHOP_REHEARSAL": value}

    assert endpoints.rehearsal(environ) is rehearsal
    if rehearsal:
        endpoints.check_configured(environ)
        endpoints.check_endpoint("MQTT", "localhost", environ)
    else:
        with pytest.raises(LoopbackEndpoint):
            endpoints.check_configured(environ)
        with pytest.raises(LoopbackEndpoint, match="MQTT=localhost"):
            endpoints.check_endpoint("MQTT", "localhost", environ)


def test_a_rehearsal_takes_the_labs_port_and_root_ca(tmp_path):
    ca = tmp_path / "root-ca.pem"
    ca.write_text("lab CA")

    assert endpoints.rehearsal_mqtt({"IOT_PORT": "18883", "IOT_ROOT_CA": str(ca)}) == (18883, ca)
    with pytest.raises(WorkshopError, match="IOT_PORT, IOT_ROOT_CA is not set"):
        endpoints.rehearsal_mqtt({})
    with pytest.raises(WorkshopError, match="does not exist; is the lab started"):
        endpoints.rehearsal_mqtt({"IOT_PORT": "18883", "IOT_ROOT_CA": str(tmp_path / "gone.pem")})


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """An aws backend with dummy credentials and no lab settings; nothing may reach the network."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT", "IOT_ENDPOINT", "IOT_PORT", "IOT_ROOT_CA",
                 "WORKSHOP_ROOT_CA", "WORKSHOP_REHEARSAL", "AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                 "WORKSHOP_MQTT_PORT", "WORKSHOP_MQTT_ALPN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKSHOP_BACKEND", "aws")
    monkeypatch.setenv("WORKSHOP_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return monkeypatch


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT", "IOT_ENDPOINT"])
def test_connect_refuses_a_leftover_lab_endpoint_on_aws(aws_env, variable):
    aws_env.setenv(variable, "http://127.0.0.1:1")

    with pytest.raises(LoopbackEndpoint, match=f"{variable}=http://127.0.0.1:1"):
        workshop.connect()


def test_connect_refuses_a_profile_whose_endpoint_url_is_the_lab(aws_env, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile lab]\nendpoint_url = http://localhost:4510\nregion = eu-west-1\n")
    aws_env.setenv("AWS_CONFIG_FILE", str(config))
    aws_env.setenv("AWS_PROFILE", "lab")

    with pytest.raises(LoopbackEndpoint, match="AWS IoT API endpoint=http://localhost:4510"):
        workshop.connect()
