"""Every request is validated like AWS before anything is stored (issue 8, item 2).

Driven with the AWS CLI (whose own checks let lengths, patterns and counts through) and with raw
HTTP requests signed by botocore's SigV4 signer (which reach the lab with any body at all). After
each refusal the lab still serves and what was stored before is intact.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from labfixture import unique

AWS = Path(sys.executable).with_name("aws")


def raw(lab, method: str, path: str, body: bytes = b"", *, service: str = "iot", headers: dict | None = None):
    """A request signed like the AWS CLI signs it, sent as is; returns (status, headers, body)."""
    url = f"{lab.config.http_url}{path}"
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    SigV4Auth(Credentials("localcore", "localcore"), service, lab.config.region).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def error_of(status: int, headers: dict, body: bytes) -> tuple[int, str, str]:
    """(status, code, message) of an AWS JSON error; fails on anything else (an HTML page)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered.get("content-type", "").startswith("application/"), (status, headers, body[:200])
    document = json.loads(body)
    code = lowered.get("x-amzn-errortype") or document.get("__type")
    return status, code, document.get("message", "")


@pytest.fixture(scope="module")
def iot(lab):
    """boto3 without client-side validation or retries: what it sends is what the lab judges."""
    exports = lab.config.env_exports()
    import boto3

    return boto3.client(
        "iot", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=lab.config.region,
        aws_access_key_id="localcore", aws_secret_access_key="localcore",
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module")
def kept(iot):
    """Things stored before the bad requests; each test checks they are still whole."""
    names = {unique("kept"): {"serial": "1"}, unique("kept"): {"serial": "2", "model": "m"}}
    for name, attributes in names.items():
        iot.create_thing(thingName=name, attributePayload={"attributes": attributes})
    return names


def assert_still_serving(iot, kept: dict) -> None:
    listed = {}
    for page in iot.get_paginator("list_things").paginate():
        listed.update({t["thingName"]: t.get("attributes", {}) for t in page["things"]})
    for name, attributes in kept.items():
        assert listed.get(name) == attributes
        assert iot.describe_thing(thingName=name)["attributes"] == attributes
    spare = unique("spare")
    iot.create_thing(thingName=spare)
    iot.delete_thing(thingName=spare)


def assert_not_stored(iot, name: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        iot.describe_thing(thingName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.fixture
def aws(lab, tmp_path):
    """The AWS CLI against the lab, one attempt per call (no retries hiding a 500)."""
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed in this venv (pip install awscli)")
    env = {**lab.env, "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": str(tmp_path / "aws-config")}
    (tmp_path / "aws-config").write_text("[default]\nparameter_validation = false\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(AWS), *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)

    return run


# --- the registry survives the requests that broke it -------------------------------------------


@pytest.mark.parametrize("attributes", [5, ["a", "b"], "text", True], ids=["number", "list", "string", "boolean"])
def test_attributes_of_the_wrong_type_are_refused_and_nothing_is_stored(lab, iot, kept, attributes):
    name = unique("typed")

    status, code, message = error_of(*raw(lab, "POST", f"/things/{name}", json.dumps(
        {"attributePayload": {"attributes": attributes}}).encode()))

    assert (status, code) == (400, "SerializationException")
    assert "attributePayload.attributes" in message
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


@pytest.mark.parametrize("body", [b"{not json", b'{"attributePayload": ', b"[1, 2]", b"null", b'"text"', b"5"],
                         ids=["broken", "truncated", "array", "null", "string", "number"])
def test_a_body_that_is_not_a_json_object_gets_a_serialization_exception(lab, iot, kept, body):
    name = unique("malformed")

    status, code, _ = error_of(*raw(lab, "POST", f"/things/{name}", body))

    assert (status, code) == (400, "SerializationException")
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


def test_explicit_nulls_are_absent_members_and_never_reach_the_registry(lab, iot, kept):
    name = unique("nulls")

    status, _, _ = raw(lab, "POST", f"/things/{name}", b'{"thingTypeName": null, "attributePayload": {"attributes": {"a": "1", "b": null}}}')

    assert status == 200
    assert iot.describe_thing(thingName=name)["attributes"] == {"a": "1"}
    assert_still_serving(iot, kept)


# --- lengths, patterns and AWS IoT's attribute counts, with the AWS CLI -------------------------


def test_an_attribute_value_of_801_characters_is_refused_with_aws_error(aws, iot, kept):
    name = unique("long")

    refused = aws("iot", "create-thing", "--thing-name", name, "--attribute-payload",
                  json.dumps({"attributes": {"k": "v" * 801}}))
    accepted = aws("iot", "create-thing", "--thing-name", name, "--attribute-payload",
                   json.dumps({"attributes": {"k": "v" * 800}}))

    assert refused.returncode != 0 and "(InvalidRequestException)" in refused.stderr
    assert "1 validation error detected" in refused.stderr
    assert "Map value must satisfy constraint: [Member must have length less than or equal to 800" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert iot.describe_thing(thingName=name)["attributes"] == {"k": "v" * 800}
    assert_still_serving(iot, kept)


def test_attribute_names_and_values_must_match_aws_patterns(aws, iot, kept):
    name = unique("pattern")

    bad_name = aws("iot", "create-thing", "--thing-name", name, "--attribute-payload", '{"attributes": {"a b": "v"}}')
    bad_value = aws("iot", "update-thing", "--thing-name", next(iter(kept)), "--attribute-payload",
                    '{"attributes": {"serial": "has space"}, "merge": true}')

    assert "Map keys must satisfy constraint" in bad_name.stderr and "(InvalidRequestException)" in bad_name.stderr
    assert "Map value must satisfy constraint" in bad_value.stderr
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


def test_a_thing_without_a_type_has_at_most_three_attributes(aws, iot, kept):
    name = unique("three")
    four = {f"a{i}": "v" for i in range(4)}

    refused = aws("iot", "create-thing", "--thing-name", name, "--attribute-payload", json.dumps({"attributes": four}))
    created = aws("iot", "create-thing", "--thing-name", name, "--attribute-payload",
                  json.dumps({"attributes": {"a0": "v", "a1": "v", "a2": "v"}}))
    merged = aws("iot", "update-thing", "--thing-name", name, "--attribute-payload",
                 json.dumps({"attributes": {"a3": "v"}, "merge": True}))
    swapped = aws("iot", "update-thing", "--thing-name", name, "--attribute-payload",
                  json.dumps({"attributes": {"a3": "v", "a0": ""}, "merge": True}))

    assert refused.returncode != 0 and "(InvalidRequestException)" in refused.stderr
    assert "without a thing type can have at most 3" in refused.stderr
    assert created.returncode == 0, created.stderr
    assert merged.returncode != 0 and "would have 4 attributes" in merged.stderr
    assert swapped.returncode == 0, swapped.stderr  # one removed, one added: still three
    assert iot.describe_thing(thingName=name)["attributes"] == {"a1": "v", "a2": "v", "a3": "v"}
    assert_still_serving(iot, kept)


def test_a_thing_with_a_type_has_at_most_fifty_attributes(aws, iot, kept):
    thing_type, name = unique("type"), unique("fifty")
    assert aws("iot", "create-thing-type", "--thing-type-name", thing_type).returncode == 0
    fifty = {f"a{i}": "v" for i in range(50)}

    refused = aws("iot", "create-thing", "--thing-name", name, "--thing-type-name", thing_type,
                  "--attribute-payload", json.dumps({"attributes": {**fifty, "a50": "v"}}))
    created = aws("iot", "create-thing", "--thing-name", name, "--thing-type-name", thing_type,
                  "--attribute-payload", json.dumps({"attributes": fifty}))
    untyped = aws("iot", "update-thing", "--thing-name", name, "--remove-thing-type")

    assert refused.returncode != 0 and "with a thing type can have at most 50" in refused.stderr
    assert created.returncode == 0, created.stderr
    assert untyped.returncode != 0 and "without a thing type can have at most 3" in untyped.stderr
    described = iot.describe_thing(thingName=name)
    assert described["thingTypeName"] == thing_type and described["attributes"] == fifty
    assert_still_serving(iot, kept)


def test_sixty_attributes_are_refused_however_they_are_sent(lab, iot, kept):
    name = unique("sixty")
    body = json.dumps({"attributePayload": {"attributes": {f"a{i}": "v" for i in range(60)}}}).encode()

    status, code, message = error_of(*raw(lab, "POST", f"/things/{name}", body))

    assert (status, code) == (400, "InvalidRequestException") and "would have 60 attributes" in message
    assert_not_stored(iot, name)


def test_a_provisioning_template_cannot_store_what_the_api_refuses(iot, kept):
    name = unique("templated")
    template = {"Parameters": {"ThingName": {"Type": "String"}}, "Resources": {"thing": {
        "Type": "AWS::IoT::Thing",
        "Properties": {"ThingName": {"Ref": "ThingName"}, "AttributePayload": {f"a{i}": "v" for i in range(4)}}}}}

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        iot.register_thing(templateBody=json.dumps(template), parameters={"ThingName": name})

    assert refused.value.response["Error"]["Code"] == "ResourceRegistrationFailureException"
    assert "would have 4 attributes" in refused.value.response["Error"]["Message"]
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


# --- sizes --------------------------------------------------------------------------------------


def test_a_20_mb_body_is_refused_before_it_is_read(lab, iot, kept):
    name = unique("huge")
    body = json.dumps({"attributePayload": {"attributes": {"k": "v" * 20_000_000}}}).encode()

    status, code, message = error_of(*raw(lab, "POST", f"/things/{name}", body))

    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert str(len(body)) in message
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


def test_a_large_value_under_the_size_limit_is_refused_by_its_length(lab, iot, kept):
    name = unique("large")
    body = json.dumps({"attributePayload": {"attributes": {"k": "v" * 500_000}}}).encode()

    status, code, message = error_of(*raw(lab, "POST", f"/things/{name}", body))

    assert (status, code) == (400, "InvalidRequestException")
    assert len(message) < 2000  # the value is not echoed whole
    assert_not_stored(iot, name)


# --- half-written resources ---------------------------------------------------------------------


def test_a_missing_billing_group_stores_no_thing(iot, kept):
    name = unique("billed")

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        iot.create_thing(thingName=name, billingGroupName=unique("nogroup"))

    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert_not_stored(iot, name)
    assert_still_serving(iot, kept)


def test_a_missing_group_adds_the_thing_to_no_group(iot, kept):
    group, name = unique("group"), next(iter(kept))
    iot.create_thing_group(thingGroupName=group)

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        iot.update_thing_groups_for_thing(thingName=name, thingGroupsToAdd=[group, unique("nogroup")])

    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert iot.list_things_in_thing_group(thingGroupName=group)["things"] == []


# --- moto's failures are AWS errors, not HTML pages ---------------------------------------------


def test_a_request_moto_fails_on_is_a_json_error_and_the_lab_serves_on(lab, iot, kept):
    # moto 5.2.5 raises KeyError for GetQueryResults of an unknown query id
    body = json.dumps({"queryId": unique("query")}).encode()
    headers = {"X-Amz-Target": "Logs_20140328.GetQueryResults", "Content-Type": "application/x-amz-json-1.1"}

    status, headers_out, payload = raw(lab, "POST", "/", body, service="logs", headers=headers)

    status, code, message = error_of(status, headers_out, payload)
    assert status >= 500 and code == "ServiceUnavailableException"
    assert "GetQueryResults" in message and "lab.log" in message
    assert_still_serving(iot, kept)


def test_a_query_protocol_failure_in_moto_is_an_xml_error(aws):
    # moto 5.2.5 raises NotImplementedError for IAM SimulatePrincipalPolicy
    result = aws("iam", "simulate-principal-policy", "--policy-source-arn", "arn:aws:iam::123456789012:role/none",
                 "--action-names", "s3:GetObject")

    assert result.returncode != 0
    assert "(NotImplementedException)" in result.stderr and "SimulatePrincipalPolicy" in result.stderr
    assert "<html" not in result.stderr.lower()


def test_each_failed_request_is_one_log_line_without_traceback(lab, iot, aws):
    name = unique("logged")

    aws("iot", "create-thing", "--thing-name", name, "--attribute-payload", json.dumps({"attributes": {"k": "v" * 801}}))
    raw(lab, "POST", f"/things/{name}", b"{not json")
    raw(lab, "POST", "/", json.dumps({"queryId": name}).encode(), service="logs",
        headers={"X-Amz-Target": "Logs_20140328.GetQueryResults", "Content-Type": "application/x-amz-json-1.1"})

    lines = lab.config.log_file.read_text().splitlines()
    since = lines[next(i for i, line in enumerate(lines) if name in line):]  # the first request on
    assert [line.split(" -> ")[0].split(": ", 1)[1] for line in since] == [
        f"iot CreateThing /things/{name}", f"iot CreateThing /things/{name}", "logs GetQueryResults"]
    assert [line.split(" -> ")[1].split(":")[0] for line in since] == [
        "400 InvalidRequestException", "400 SerializationException", "500 ServiceUnavailableException"]


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to see the lab's file descriptors")
def test_the_lab_writes_lab_log_through_its_rotating_logger_only(lab):
    """Stray output (stdout/stderr) goes to lab.out, so nothing but the rotating logger writes lab.log."""
    fds = {fd: Path(f"/proc/{lab.info.pid}/fd/{fd}").resolve() for fd in (1, 2)}

    out = (lab.config.home / "lab.out").resolve()
    assert fds == {1: out, 2: out}
    first_line = lab.config.log_file.read_text().splitlines()[0]
    assert first_line.split(" ")[2:4] == ["INFO", "localcore:"]  # the logger's format, from the first line
