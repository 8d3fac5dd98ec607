"""MQTT on 443 with ALPN x-amzn-mqtt-ca: the option (helpers.mqtt_alpn) and the lab's ClientHello reader (localcore.mqtt.alpn)."""

from __future__ import annotations

import ssl

import pytest

from helpers import mqtt_alpn
from helpers.failures import WorkshopError
from localcore.mqtt import alpn as lab_alpn


@pytest.mark.parametrize(
    ("environ", "wanted", "port"),
    [({}, False, 8883),
     ({"WORKSHOP_MQTT_PORT": "443"}, True, 443),
     ({"WORKSHOP_MQTT_ALPN": "1"}, True, 443),
     ({"WORKSHOP_MQTT_ALPN": "true"}, True, 443),
     ({"WORKSHOP_MQTT_ALPN": "0"}, False, 8883),
     ({"WORKSHOP_MQTT_PORT": "8883"}, False, 8883),
     ({"WORKSHOP_MQTT_PORT": "8883", "WORKSHOP_MQTT_ALPN": "1"}, True, 8883),
     ({"WORKSHOP_MQTT_PORT": " 443 "}, True, 443)],
    ids=["default", "port-443", "alpn-1", "alpn-true", "alpn-0", "port-8883", "alpn-on-8883", "spaces"],
)
def test_the_option_chooses_alpn_and_the_aws_port(environ, wanted, port):
    assert mqtt_alpn.alpn_wanted(environ) is wanted
    assert mqtt_alpn.aws_port(environ) == port


@pytest.mark.parametrize("value", ["1883", "80", "https", "-1"])
def test_other_ports_are_refused_with_the_two_that_work(value):
    with pytest.raises(WorkshopError, match="8883, or on 443 with ALPN x-amzn-mqtt-ca"):
        mqtt_alpn.aws_port({"WORKSHOP_MQTT_PORT": value})


def client_hello(protocols: list[str] | None, server_name: str = "localhost") -> bytes:
    """The bytes a Python TLS client sends first, offering ``protocols`` by ALPN (None: no ALPN)."""
    context = ssl.create_default_context()
    if protocols is not None:
        context.set_alpn_protocols(protocols)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize(
    ("protocols", "offered", "refused"),
    [(None, [], False),
     (["x-amzn-mqtt-ca"], ["x-amzn-mqtt-ca"], False),
     (["h2", "http/1.1"], ["h2", "http/1.1"], True),
     (["mqtt"], ["mqtt"], True),
     (["h2", "x-amzn-mqtt-ca"], ["h2", "x-amzn-mqtt-ca"], False)],
    ids=["no-alpn", "aws-mqtt", "http", "custom-authorizer-mqtt", "ours-among-others"],
)
def test_the_lab_reads_the_offered_protocols_from_the_client_hello(protocols, offered, refused):
    hello = client_hello(protocols)

    assert lab_alpn.offered_alpn(hello) == offered
    assert lab_alpn.refused(lab_alpn.offered_alpn(hello)) is refused


def test_an_incomplete_client_hello_asks_for_more_bytes():
    hello = client_hello(["x-amzn-mqtt-ca"])

    for cut in (0, 3, 5, 9, len(hello) // 2, len(hello) - 1):
        with pytest.raises(lab_alpn.Pending):
            lab_alpn.offered_alpn(hello[:cut])
    assert lab_alpn.offered_alpn(hello) == ["x-amzn-mqtt-ca"]


def test_a_client_hello_split_over_two_records_is_read_whole():
    hello = client_hello(["h2"])
    body = hello[5:]
    half = len(body) // 2
    records = b"".join(b"\x16" + hello[1:3] + len(part).to_bytes(2, "big") + part for part in (body[:half], body[half:]))

    assert lab_alpn.offered_alpn(records) == ["h2"]


@pytest.mark.parametrize("data", [b"GET / HTTP/1.1\r\n\r\n", b"\x10\x0c\x00\x04MQTT", b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"],
                         ids=["http", "plain-mqtt", "not-a-client-hello"])
def test_what_is_not_a_client_hello_is_left_to_openssl(data):
    assert lab_alpn.offered_alpn(data) is None
    assert lab_alpn.refused(None) is False


def test_a_client_context_offers_alpn_only_when_asked():
    plain, asked = ssl.create_default_context(), ssl.create_default_context()
    mqtt_alpn.configure(plain, False)
    mqtt_alpn.configure(asked, True)

    def offered(context: ssl.SSLContext) -> list[str]:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        return lab_alpn.offered_alpn(outgoing.read())

    assert offered(plain) == [] and offered(asked) == ["x-amzn-mqtt-ca"]
