"""SigV4 for MQTT over WebSockets: the kit's presigned path (helpers.iam_mqtt) against botocore's
signer as the known answer, and the lab's verifier (localcore.mqtt.sigv4) against both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from helpers.iam_mqtt import presigned_mqtt_path, websocket_host
from localcore.mqtt import sigv4

NOW = datetime(2026, 12, 3, 7, 5, 9, tzinfo=timezone.utc)
LAB = SimpleNamespace(access_key="localcore", secret_key="localcore", token=None)
TEMPORARY = SimpleNamespace(access_key="ASIAEXAMPLE", secret_key="wJalr/XUtnFEMI+K7MDENG", token="FQo//Gz+token=")
SECRETS = {"localcore": "localcore", "ASIAEXAMPLE": "wJalr/XUtnFEMI+K7MDENG"}


def botocore_signature(host: str, region: str, credentials, now: datetime) -> str:
    """botocore's SigV4 over exactly the parameters AWS IoT's WebSocket URL signs."""
    scope = f"{now:%Y%m%d}/{region}/iotdevicegateway/aws4_request"
    params = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{credentials.access_key}/{scope}",
              "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}", "X-Amz-SignedHeaders": "host"}
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    request = AWSRequest(method="GET", url=f"https://{host}/mqtt?{query}", headers={"Host": host})
    request.context["timestamp"] = params["X-Amz-Date"]
    auth = SigV4Auth(Credentials(credentials.access_key, credentials.secret_key), "iotdevicegateway", region)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


@pytest.mark.parametrize("host, region, credentials, now", [
    ("abc123-ats.iot.eu-west-1.amazonaws.com", "eu-west-1", TEMPORARY, NOW),
    ("localhost:4511", "us-east-1", LAB, NOW),
    ("localhost:4511", "us-east-1", LAB, NOW.replace(tzinfo=None)),  # naive means UTC
    ("localhost:4511", "ap-south-1", LAB, NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))),
])
def test_the_presigned_path_carries_botocores_signature(host, region, credentials, now):
    path = presigned_mqtt_path(host, region, credentials, now)
    url = urlsplit(path)
    params = dict(parse_qsl(url.query))

    assert url.path == "/mqtt"
    assert params["X-Amz-Signature"] == botocore_signature(host, region, credentials, NOW)
    assert params["X-Amz-Credential"] == f"{credentials.access_key}/20261203/{region}/iotdevicegateway/aws4_request"
    assert params["X-Amz-Date"] == "20261203T070509Z" and params["X-Amz-SignedHeaders"] == "host"
    assert params.get("X-Amz-Security-Token") == credentials.token


def test_the_session_token_is_appended_after_the_signature():
    path = presigned_mqtt_path("h", "us-east-1", TEMPORARY, NOW)
    assert [k for k, _ in parse_qsl(urlsplit(path).query)][-2:] == ["X-Amz-Signature", "X-Amz-Security-Token"]


@pytest.mark.parametrize("endpoint, port, host", [
    ("abc-ats.iot.us-east-1.amazonaws.com", 443, "abc-ats.iot.us-east-1.amazonaws.com"),
    ("localhost", 4511, "localhost:4511"),
])
def test_the_signed_host_is_the_one_paho_sends(endpoint, port, host):
    assert websocket_host(endpoint, port) == host


# -- the lab's verifier ---------------------------------------------------------------------------


def verify(path: str, host: str = "localhost:4511", *, now: datetime = NOW, region: str = "us-east-1",
           secrets=SECRETS) -> sigv4.SignedPrincipal:
    url = urlsplit(path)
    return sigv4.verify_presigned(url.path, url.query, host, secrets=secrets, region=region, now=now)


def signed(credentials=LAB, *, host: str = "localhost:4511", region: str = "us-east-1", at: datetime = NOW) -> str:
    return presigned_mqtt_path(host, region, credentials, at)


def test_the_verifier_accepts_the_kits_signature_and_names_the_principal():
    principal = verify(signed(TEMPORARY))
    assert (principal.access_key_id, principal.region, principal.session_token) == \
        ("ASIAEXAMPLE", "us-east-1", TEMPORARY.token)
    assert principal.principal_id == "ASIAEXAMPLE"


def test_the_verifier_accepts_botocores_presigned_url_with_its_expiry():
    request = AWSRequest(method="GET", url="https://localhost:4511/mqtt")
    SigV4QueryAuth(Credentials("localcore", "localcore"), "iotdevicegateway", "us-east-1", expires=300).add_auth(request)
    url = urlsplit(request.url)
    assert "X-Amz-Expires=300" in url.query
    now = datetime.now(timezone.utc)
    assert verify(f"{url.path}?{url.query}", now=now).access_key_id == "localcore"
    with pytest.raises(sigv4.SignatureRejected, match="expired"):
        verify(f"{url.path}?{url.query}", now=now + timedelta(seconds=301))


def tamper(path: str, name: str, value: str) -> str:
    url = urlsplit(path)
    params = [(k, value if k == name else v) for k, v in parse_qsl(url.query)]
    return url.path + "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in params)


WRONG_SECRET = SimpleNamespace(access_key="localcore", secret_key="not-the-secret", token=None)
UNKNOWN_KEY = SimpleNamespace(access_key="AKIAUNKNOWN", secret_key="localcore", token=None)


@pytest.mark.parametrize("path, host, now, why", [
    (signed(WRONG_SECRET), "localhost:4511", NOW, "does not match"),
    (signed(UNKNOWN_KEY), "localhost:4511", NOW, "not known"),
    (signed(host="localhost:9999"), "localhost:4511", NOW, "does not match"),
    (signed(region="eu-west-1"), "localhost:4511", NOW, "region"),
    (signed(), "localhost:4511", NOW + timedelta(minutes=16), "expired"),
    (signed(), "localhost:4511", NOW - timedelta(minutes=16), "future"),
    (tamper(signed(), "X-Amz-Signature", "0" * 64), "localhost:4511", NOW, "does not match"),
    (tamper(signed(), "X-Amz-Date", "20261203T070510Z"), "localhost:4511", NOW, "does not match"),
    (tamper(signed(), "X-Amz-Date", "yesterday"), "localhost:4511", NOW, "yyyymmdd"),
    (tamper(signed(), "X-Amz-Algorithm", "AWS4-HMAC-SHA1"), "localhost:4511", NOW, "Algorithm"),
    (tamper(signed(), "X-Amz-SignedHeaders", "host;origin"), "localhost:4511", NOW, "SignedHeaders"),
    (tamper(signed(), "X-Amz-Credential", "localcore/20261203/us-east-1/iot/aws4_request"), "localhost:4511", NOW,
     "service"),
    ("/mqtt", "localhost:4511", NOW, "not signed"),
    ("/mqtt?X-Amz-Date=20261203T070509Z", "localhost:4511", NOW, "not signed"),
])
def test_the_verifier_refuses(path, host, now, why):
    with pytest.raises(sigv4.SignatureRejected, match=why):
        verify(path, host, now=now)


def test_a_signature_still_valid_within_the_window_is_accepted():
    assert verify(signed(), now=NOW + timedelta(minutes=14)).access_key_id == "localcore"


def test_a_signed_session_token_is_refused():
    """AWS IoT wants the token appended after signing; one inside the signed query does not verify."""
    scope = "20261203/us-east-1/iotdevicegateway/aws4_request"
    params = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"ASIAEXAMPLE/{scope}"),
              ("X-Amz-Date", "20261203T070509Z"), ("X-Amz-Security-Token", TEMPORARY.token),
              ("X-Amz-SignedHeaders", "host")]
    signature = sigv4.signature(TEMPORARY.secret_key, method="GET", path="/mqtt", params=params,
                                host="localhost:4511", amz_date="20261203T070509Z", scope=scope)
    query = sigv4.canonical_query(params) + f"&X-Amz-Signature={signature}"
    with pytest.raises(sigv4.SignatureRejected, match="does not match"):
        verify(f"/mqtt?{query}")
