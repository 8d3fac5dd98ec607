"""helpers.device without a broker: error wording, diagnosis, payloads, TLS set-up, unreachable hosts."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from contextlib import closing
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers import certs
from helpers.device import (
    ConnectionRefused, Device, EndpointUnreachable, NotConnected, PublishRefused, classify_socket_error,
    diagnose_refusal, encode_payload, tls_context, try_connect_and_publish,
)
from helpers.failures import BackendUnreachable


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    """A self-signed certificate and key on disk, used as device identity and as root CA."""
    folder = tmp_path_factory.mktemp("identity")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    files = certs.save_device(folder, "dev", cert.public_bytes(serialization.Encoding.PEM).decode(), key)
    return SimpleNamespace(cert=files.cert, key=files.key, ca=files.cert)


def closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("error", "local", "reason", "words"),
    [(ConnectionRefusedError(111, "refused"), True, "unreachable", "make lab"),
     (ConnectionRefusedError(111, "refused"), False, "unreachable", "Nothing accepts connections"),
     (ssl.SSLCertVerificationError(1, "certificate verify failed"), False, "tls", "not trusted by the root CA"),
     (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), False, "certificate_unknown",
      "rejected the device certificate"),
     (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), False, "tls", "TLS with"),
     (socket.gaierror(-2, "Name or service not known"), False, "unreachable", "cannot be resolved"),
     (TimeoutError("timed out"), False, "timeout", "No answer"),
     (OSError(113, "No route to host"), False, "unreachable", "Cannot reach"),
     (ConnectionResetError(104, "Connection reset by peer"), True, "tls", "closed the connection during the TLS"),
     (BrokenPipeError(32, "Broken pipe"), False, "tls", "closed the connection during the TLS")],
    ids=["lab-not-running", "nothing-listens", "server-not-trusted", "client-cert-rejected", "tls-other",
         "unknown-host", "timeout", "other-os-error", "reset-in-handshake", "pipe-broken-in-handshake"],
)
def test_socket_errors_become_plain_refusals(error, local, reason, words):
    refused = classify_socket_error(error, "localhost", 8883, local)

    assert refused.reason == reason and words in str(refused)
    assert "localhost" in str(refused)
    # Nothing answering is not a refusal: a table of refusals must not swallow it as one.
    assert isinstance(refused, EndpointUnreachable if reason == "unreachable" else ConnectionRefused)
    assert isinstance(refused, BackendUnreachable) == (reason == "unreachable")


class RegistryIot:
    """describe_certificate answering from a dict of certificate id → status."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses

    def describe_certificate(self, certificateId):
        if certificateId not in self.statuses:
            error = Exception("not found")
            error.response = {"Error": {"Code": "ResourceNotFoundException"}}
            raise error
        return {"certificateDescription": {"status": self.statuses[certificateId]}}


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [(None, "certificate_unknown", "is not registered"),
     ("INACTIVE", "certificate_inactive", "is INACTIVE"),
     ("REVOKED", "certificate_inactive", "is REVOKED"),
     ("ACTIVE", "client_id_not_authorised", "allows iot:Connect with client id 'dev-1'")],
    ids=["unknown", "inactive", "revoked", "active-but-client-id-not-allowed"],
)
def test_a_refused_connect_is_explained_by_the_registry(identity, status, reason, words):
    cert_id = certs.certificate_id(identity.cert.read_text())
    iot = RegistryIot({cert_id: status} if status else {})

    got_reason, message = diagnose_refusal(iot, identity.cert, "dev-1")

    assert got_reason == reason and words in message


@pytest.mark.parametrize(
    ("payload", "expected"),
    [({"a": 1}, b'{"a": 1}'), ([1, 2], b"[1, 2]"), ("text", b"text"), (b"\x00raw", b"\x00raw"), (None, b"")],
    ids=["dict-as-json", "list-as-json", "str-as-utf8", "bytes-as-is", "none-empty"],
)
def test_encode_payload(payload, expected):
    assert encode_payload(payload) == expected


def test_tls_context_requires_tls12_and_verifies_the_server(identity):
    context = tls_context(identity.ca, identity.cert, identity.key)

    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_tls_context_names_a_missing_file(identity, tmp_path):
    with pytest.raises(FileNotFoundError, match="root CA file"):
        tls_context(tmp_path / "missing.pem", identity.cert, identity.key)


def test_connecting_where_nothing_listens_says_so_in_a_few_lines(identity):
    device = Device("dev", identity.cert, identity.key, "127.0.0.1", closed_port(), identity.ca, local=True)

    with pytest.raises(EndpointUnreachable) as caught:
        device.connect(timeout=2)

    shown = caught.value._render_traceback_()
    assert caught.value.reason == "unreachable" and "make lab" in str(caught.value)
    assert len(shown) <= 4 and "EndpointUnreachable" in shown[0] and "not running" in shown[0]
    assert not device.connected


def test_publishing_before_connecting_is_refused_plainly(identity):
    device = Device("dev", identity.cert, identity.key, "127.0.0.1", 8883, identity.ca)

    with pytest.raises(NotConnected, match="call connect"):
        device.publish("iot/ws", {"a": 1})


@pytest.fixture()
def rude_server():
    """A port that accepts TCP connections and closes them at once (TLS fails: a refusal, not silence)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_try_connect_and_publish_returns_a_row_instead_of_raising(identity, rude_server):
    device = Device("dev", identity.cert, identity.key, "127.0.0.1", rude_server, identity.ca)

    row = try_connect_and_publish(device, timeout=2)

    assert {k: row[k] for k in ("device", "connected", "connect_ms", "published", "received")} == {
        "device": "dev", "connected": False, "connect_ms": None, "published": False, "received": None}
    assert row["error"].startswith("ConnectionRefused: ")


def test_try_connect_and_publish_raises_when_nothing_answers(identity):
    """A stopped lab fails every device alike: one short error, not a table of "refused" rows."""
    device = Device("dev", identity.cert, identity.key, "127.0.0.1", closed_port(), identity.ca, local=True)

    with pytest.raises(EndpointUnreachable, match="make lab"):
        try_connect_and_publish(device, timeout=2)


def test_client_id_defaults_to_the_device_name_and_repr_shows_no_secrets(identity):
    device = Device("dev", identity.cert, identity.key, "localhost", 8883, identity.ca)

    assert device.client_id == "dev"
    assert repr(device) == "Device('dev', client_id='dev', localhost:8883, not connected)"


@pytest.mark.parametrize(
    ("error", "kind"),
    [(PublishRefused("not_authorised", "x"), "refused by the policy"),
     (ConnectionRefused("client_id_not_authorised", "x"), "connection refused by the policy (iot:Connect)"),
     (ConnectionRefused("certificate_unknown", "x"), "connection refused: unknown certificate"),
     (ConnectionRefused("auto_registration_off", "x"), "connection refused: CA auto-registration off"),
     (ConnectionRefused("auto_registration", "x"), "connection closed: certificate just auto-registered"),
     (EndpointUnreachable("unreachable", "x"), "nothing answers (is the lab running?)")],
    ids=["publish-policy", "connect-policy", "unknown-certificate", "auto-registration-off", "jitp-first", "unreachable"],
)
def test_each_error_has_a_few_words_for_an_outcome_table(error, kind):
    assert error.kind == kind


def test_a_device_that_lost_the_lab_says_so_on_its_next_publish(identity):
    device = Device("dev", identity.cert, identity.key, "127.0.0.1", closed_port(), identity.ca, local=True)
    device._client, device._connack, device._closed = object(), 0, True  # connected once, then the lab stopped

    with pytest.raises(EndpointUnreachable, match="make lab"):
        device.publish("iot/ws", {"a": 1})
