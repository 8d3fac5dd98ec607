"""Provisioning-template engine: parsing, parameters, intrinsic functions, conditions, resources."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localcore.errors import InvalidRequestException, NotImplementedInLab
from localcore.iot import templates
from localcore.iot.cert_fields import jitp_parameters
from localcore.iot.templates import (
    CertificateSpec,
    PolicySpec,
    ThingSpec,
    parse_template,
    resolve,
    resource_arns,
)

THING = "AWS::IoT::Thing"
CERT = "AWS::IoT::Certificate"
POLICY = "AWS::IoT::Policy"
CERT_ID = "ab" * 32
ALLOW_ALL = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
})


def thing(name: object = "device-1", **props: object) -> dict:
    return {"Type": THING, "Properties": {"ThingName": name, **props}}


def expect_invalid(call, fragment: str) -> None:
    with pytest.raises(InvalidRequestException) as caught:
        call()
    assert caught.value.code == "InvalidRequestException"
    assert caught.value.status == 400
    assert fragment in caught.value.message, caught.value.message


# --- parse_template ---------------------------------------------------------------------------

PARSE_ERRORS = [
    ("malformed-json", '{"Resources": ', "not valid JSON"),
    ("not-an-object", "[1, 2]", "must be a JSON object"),
    ("missing-resources", {"Parameters": {}}, "no Resources section"),
    ("resources-not-object", {"Resources": ["thing"]}, "Resources must be a JSON object"),
    ("empty-resources", {"Resources": {}}, "declares no resources"),
    ("unknown-type", {"Resources": {"g": {"Type": "AWS::IoT::ThingGroup"}}},
     "Resources.g.Type 'AWS::IoT::ThingGroup' is not supported"),
    ("missing-type", {"Resources": {"t": {"Properties": {}}}}, "Resources.t.Type None"),
    ("two-things", {"Resources": {"a": thing("a"), "b": thing("b")}},
     "only one AWS::IoT::Thing resource; found 2: a, b"),
    ("two-certificates", {"Resources": {"c1": {"Type": CERT}, "c2": {"Type": CERT}}},
     "only one AWS::IoT::Certificate"),
    ("unknown-section", {"Resources": {"t": thing()}, "Outputs": {}},
     "unsupported key(s) Outputs"),
    ("unknown-resource-key", {"Resources": {"t": {**thing(), "DependsOn": "x"}}},
     "Resources.t has unsupported key(s) DependsOn"),
    ("properties-not-object", {"Resources": {"t": {"Type": THING, "Properties": "x"}}},
     "Resources.t.Properties must be a JSON object"),
    ("parameter-type", {"Parameters": {"N": {"Type": "Number"}}, "Resources": {"t": thing()}},
     "Parameters.N.Type must be one of String"),
    ("parameter-default-not-string",
     {"Parameters": {"N": {"Type": "String", "Default": 3}}, "Resources": {"t": thing()}},
     "Parameters.N.Default must be a string"),
    ("parameter-unknown-key",
     {"Parameters": {"N": {"Type": "String", "AllowedValues": ["a"]}}, "Resources": {"t": thing()}},
     "unsupported key(s) AllowedValues"),
    ("mapping-with-function",
     {"Mappings": {"M": {"k": {"v": {"Ref": "X"}}}}, "Resources": {"t": thing()}},
     "Mappings may not hold parameters or functions"),
    ("undeclared-resource-condition", {"Resources": {"t": {**thing(), "Condition": "Nope"}}},
     "refers to 'Nope', which is not declared in Conditions"),
    ("body-too-long", json.dumps({"Resources": {"t": thing("x" * 11000)}}), "the limit is 10240"),
]


@pytest.mark.parametrize(("body", "fragment"), [c[1:] for c in PARSE_ERRORS],
                         ids=[c[0] for c in PARSE_ERRORS])
def test_parse_template_refuses(body, fragment):
    expect_invalid(lambda: parse_template(body), fragment)


def test_parse_template_accepts_text_and_object_alike():
    body = {"Resources": {"t": thing(), "p1": {"Type": POLICY, "Properties": {"PolicyName": "a"}},
                          "p2": {"Type": POLICY, "Properties": {"PolicyName": "b"}}}}
    assert parse_template(json.dumps(body)) == parse_template(body) == body


# --- parameters -------------------------------------------------------------------------------

PARAMS = {
    "Name": {"Type": "String"},
    "Location": {"Type": "String", "Default": "WA"},
    "Csv": {"Type": "String", "Default": "a,b,c"},
    "AWS::IoT::Certificate::Id": {"Type": "String"},
}
MAPPINGS = {"Sites": {"WA": {"Url": "https://wa.example", "Racks": ["r1", "r2"]},
                      "NY": {"Url": "https://ny.example"}}}


def attribute(expression: object, parameters: dict | None = None, conditions: dict | None = None):
    """The value ``expression`` gives as a thing attribute under the shared test template."""
    body = {
        "Parameters": PARAMS,
        "Mappings": MAPPINGS,
        "Conditions": conditions or {},
        "Resources": {"thing": thing(AttributePayload={"a": expression})},
    }
    plan = resolve(body, {"Name": "dev", **(parameters or {})})
    return plan.thing.attributes.get("a", "<dropped>")


@pytest.mark.parametrize(
    ("expression", "parameters", "expected"),
    [
        ({"Ref": "Name"}, {}, "dev"),
        ({"Ref": "Location"}, {}, "WA"),
        ({"Ref": "Location"}, {"Location": "NY"}, "NY"),
        ({"Ref": "Name"}, {"Name": "dev", "Unused": "ignored"}, "dev"),
    ],
    ids=["value-passed", "default-used", "value-beats-default", "undeclared-value-ignored"],
)
def test_ref_reads_parameters(expression, parameters, expected):
    assert attribute(expression, parameters) == expected


def test_missing_parameter_without_default_is_named_when_used():
    body = {"Parameters": PARAMS, "Resources": {"thing": thing({"Ref": "Name"})}}
    expect_invalid(lambda: resolve(body, {}), "parameter Name has no value and no Default")


def test_missing_parameter_that_is_never_used_is_fine():
    body = {"Parameters": PARAMS, "Resources": {"thing": thing("fixed")}}
    assert resolve(body, {}).thing.thing_name == "fixed"


def test_require_all_demands_every_declared_parameter():
    body = {"Parameters": PARAMS, "Resources": {"thing": thing("fixed")}}
    expect_invalid(lambda: resolve(body, {"Name": "x"}, require_all=True),
                   "No value for parameter(s) AWS::IoT::Certificate::Id")


@pytest.mark.parametrize(
    ("expression", "parameters", "fragment"),
    [
        ({"Ref": "Unused"}, {"Unused": "v"}, "Ref to Unused, which is not declared in Parameters"),
        ({"Ref": "thing"}, {}, "Ref to resource thing is not supported"),
        ({"Ref": ["Name"]}, {}, "Ref takes a name"),
        ({"Ref": "Name"}, {"Name": 7}, "parameter Name must be a string"),
    ],
    ids=["undeclared", "resource", "not-a-name", "non-string-value"],
)
def test_ref_errors(expression, parameters, fragment):
    expect_invalid(lambda: attribute(expression, parameters), fragment)


# --- intrinsic functions ----------------------------------------------------------------------

FUNCTION_CASES = [
    ("join", {"Fn::Join": ["-", ["a", "b", "c"]]}, {}, "a-b-c"),
    ("join-empty-delimiter", {"Fn::Join": ["", ["pre_", {"Ref": "Name"}]]}, {}, "pre_dev"),
    ("join-split-list", {"Fn::Join": [":", {"Fn::Split": [",", {"Ref": "Csv"}]}]}, {}, "a:b:c"),
    ("sub-parameter", {"Fn::Sub": "thing-${Name}-${Location}"}, {}, "thing-dev-WA"),
    ("sub-variable-map", {"Fn::Sub": ["${Site}/${Name}", {"Site": {"Ref": "Location"}}]}, {},
     "WA/dev"),
    ("sub-escaped-literal", {"Fn::Sub": "${!Name}=${Name}"}, {}, "${Name}=dev"),
    ("sub-special-parameter", {"Fn::Sub": "c-${AWS::IoT::Certificate::Id}"},
     {"AWS::IoT::Certificate::Id": CERT_ID}, "c-" + CERT_ID),
    ("select", {"Fn::Select": [1, ["x", "y", "z"]]}, {}, "y"),
    ("select-string-index", {"Fn::Select": ["2", {"Fn::Split": [",", {"Ref": "Csv"}]}]}, {}, "c"),
    ("find-in-map", {"Fn::FindInMap": ["Sites", {"Ref": "Location"}, "Url"]}, {},
     "https://wa.example"),
    ("find-in-map-list", {"Fn::Select": [0, {"Fn::FindInMap": ["Sites", "WA", "Racks"]}]}, {},
     "r1"),
]


@pytest.mark.parametrize(("expression", "parameters", "expected"),
                         [c[1:] for c in FUNCTION_CASES], ids=[c[0] for c in FUNCTION_CASES])
def test_intrinsic_functions(expression, parameters, expected):
    assert attribute(expression, parameters) == expected


FUNCTION_ERRORS = [
    ("join-arity", {"Fn::Join": ["-"]}, "Fn::Join takes a list of 2 arguments"),
    ("join-not-a-list", {"Fn::Join": ["-", "abc"]}, "Fn::Join needs a list"),
    ("join-non-string", {"Fn::Join": ["-", ["a", 1]]}, "each Fn::Join value must be a string"),
    ("select-out-of-range", {"Fn::Select": [3, ["x"]]}, "index 3 is out of range"),
    ("select-negative", {"Fn::Select": [-1, ["x"]]}, "index must be an integer >= 0"),
    ("select-null-element", {"Fn::Select": [0, [None]]}, "index 0 is out of range"),
    ("split-empty-delimiter", {"Fn::Split": ["", "abc"]}, "delimiter must not be empty"),
    ("find-in-map-missing-key", {"Fn::FindInMap": ["Sites", "TX", "Url"]},
     "found no top-level key 'TX'"),
    ("find-in-map-missing-map", {"Fn::FindInMap": ["Nope", "WA", "Url"]}, "found no mapping"),
    ("sub-resource-attribute", {"Fn::Sub": "${thing.Arn}"}, "reads a resource attribute"),
    ("sub-undeclared", {"Fn::Sub": "${Other}"}, "Ref to Other, which is not declared"),
    ("get-att", {"Fn::GetAtt": ["thing", "Arn"]}, "Fn::GetAtt is not supported"),
    ("base64", {"Fn::Base64": "abc"}, "Fn::Base64 is not supported"),
    ("equals-outside-conditions", {"Fn::Equals": ["a", "a"]}, "only valid in Conditions"),
    ("two-keys", {"Fn::Join": ["", []], "Ref": "Name"}, "exactly one key"),
]


@pytest.mark.parametrize(("expression", "fragment"), [c[1:] for c in FUNCTION_ERRORS],
                         ids=[c[0] for c in FUNCTION_ERRORS])
def test_intrinsic_function_errors(expression, fragment):
    expect_invalid(lambda: attribute(expression), fragment)


def test_error_message_names_the_property():
    expect_invalid(lambda: attribute({"Fn::Select": [5, []]}),
                   "Resources.thing.Properties.AttributePayload.a:")


def test_a_plain_condition_key_is_data_not_a_function():
    body = {"Resources": {"thing": thing(AttributePayload={"Condition": "good"})}}
    assert resolve(body, {}).thing.attributes == {"Condition": "good"}


# --- conditions -------------------------------------------------------------------------------

CONDITIONS = {
    "InWA": {"Fn::Equals": [{"Ref": "Location"}, "WA"]},
    "IsDev": {"Fn::Equals": ["dev", {"Ref": "Name"}]},
    "Both": {"Fn::And": [{"Condition": "InWA"}, {"Condition": "IsDev"}]},
    "Either": {"Fn::Or": [{"Condition": "InWA"}, {"Fn::Equals": [{"Ref": "Name"}, "x"]}]},
    "NotWA": {"Fn::Not": [{"Condition": "InWA"}]},
}


@pytest.mark.parametrize(
    ("condition", "parameters", "expected"),
    [
        ("InWA", {}, "yes"),
        ("InWA", {"Location": "NY"}, "no"),
        ("Both", {}, "yes"),
        ("Both", {"Name": "prod"}, "no"),
        ("Either", {"Location": "NY", "Name": "x"}, "yes"),
        ("Either", {"Location": "NY"}, "no"),
        ("NotWA", {"Location": "NY"}, "yes"),
    ],
    ids=["equals-true", "equals-false", "and-true", "and-false", "or-second", "or-none", "not"],
)
def test_fn_if_follows_conditions(condition, parameters, expected):
    expression = {"Fn::If": [condition, "yes", "no"]}
    assert attribute(expression, parameters, CONDITIONS) == expected


def test_fn_if_evaluates_only_the_branch_taken():
    body = {
        "Parameters": {"Mode": {"Type": "String"}, "Extra": {"Type": "String"}},
        "Conditions": {"Simple": {"Fn::Equals": [{"Ref": "Mode"}, "simple"]}},
        "Resources": {"t": thing({"Fn::If": ["Simple", "plain", {"Ref": "Extra"}]})},
    }
    assert resolve(body, {"Mode": "simple"}).thing.thing_name == "plain"


NO_VALUE = {"Ref": "AWS::NoValue"}


def test_no_value_drops_the_property():
    body = {
        "Parameters": {"Typed": {"Type": "String", "Default": "no"}},
        "Conditions": {"HasType": {"Fn::Equals": [{"Ref": "Typed"}, "yes"]}},
        "Resources": {"t": thing(ThingTypeName={"Fn::If": ["HasType", "sensor", NO_VALUE]},
                                 ThingGroups=["g1", {"Fn::If": ["HasType", "g2", NO_VALUE]}])},
    }
    plain = resolve(body, {}).thing
    typed = resolve(body, {"Typed": "yes"}).thing
    assert (plain.thing_type_name, plain.thing_groups) == (None, ["g1"])
    assert (typed.thing_type_name, typed.thing_groups) == ("sensor", ["g1", "g2"])


def test_resource_condition_skips_the_resource():
    body = {
        "Parameters": {"Secure": {"Type": "String", "Default": "false"}},
        "Conditions": {"IsSecure": {"Fn::Equals": [{"Ref": "Secure"}, "true"]}},
        "Resources": {
            "t": thing(),
            "strict": {"Type": POLICY, "Condition": "IsSecure",
                       "Properties": {"PolicyName": "strict"}},
            "open": {"Type": POLICY, "Properties": {"PolicyName": "open"}},
        },
    }
    assert [p.policy_name for p in resolve(body, {}).policies] == ["open"]
    assert [p.policy_name for p in resolve(body, {"Secure": "true"}).policies] == ["strict", "open"]


@pytest.mark.parametrize(
    ("conditions", "expression", "fragment"),
    [
        ({"A": {"Condition": "B"}, "B": {"Condition": "A"}}, {"Fn::If": ["A", "y", "n"]},
         "refers to itself through a cycle"),
        ({}, {"Fn::If": ["Missing", "y", "n"]}, "'Missing', which is not declared in Conditions"),
        ({"One": {"Fn::And": [{"Fn::Equals": ["a", "a"]}]}}, {"Fn::If": ["One", "y", "n"]},
         "Fn::And takes a list of 2 to 10 conditions"),
        ({"Bad": {"Fn::Join": ["", []]}}, {"Fn::If": ["Bad", "y", "n"]},
         "Fn::Join is not one of"),
        ({"C": {"Fn::Equals": ["a", "a"]}}, {"Fn::If": ["C", "y"]}, "Fn::If takes a list of 3"),
    ],
    ids=["cycle", "undeclared", "and-needs-two", "not-a-condition-function", "if-arity"],
)
def test_condition_errors(conditions, expression, fragment):
    expect_invalid(lambda: attribute(expression, {}, conditions), fragment)


def test_conditions_switch(monkeypatch):
    monkeypatch.setattr(templates, "CONDITIONS_SUPPORTED", False)
    body = {"Conditions": {"C": {"Fn::Equals": ["a", "a"]}}, "Resources": {"t": thing()}}
    expect_invalid(lambda: parse_template(body), "Conditions are not supported")


# --- resources --------------------------------------------------------------------------------


def test_thing_spec_carries_every_property():
    body = {"Resources": {"dev": {
        "Type": THING,
        "Properties": {"ThingName": "lamp:1_a-b", "AttributePayload": {"room": "12", "ver": "v1"},
                       "ThingTypeName": "lamp-type", "ThingGroups": ["floor-1", "lamps"],
                       "BillingGroup": "lab"},
        "OverrideSettings": {"ATTRIBUTE_PAYLOAD": "MERGE", "ThingGroups": "DO_NOTHING",
                             "ThingTypeName": "REPLACE"},
    }}}
    assert resolve(body, {}).thing == ThingSpec(
        logical_id="dev", thing_name="lamp:1_a-b", attributes={"room": "12", "ver": "v1"},
        thing_type_name="lamp-type", thing_groups=["floor-1", "lamps"], billing_group="lab",
        override_settings={"AttributePayload": "MERGE", "ThingGroups": "DO_NOTHING",
                           "ThingTypeName": "REPLACE"},
    )


THING_ERRORS = [
    ("name-with-space", thing("my lamp"), "ThingName 'my lamp' does not match"),
    ("name-too-long", thing("x" * 129), "does not match the pattern [a-zA-Z0-9:_-]{1,128}"),
    ("name-empty", thing(""), "ThingName '' does not match"),
    ("name-missing", {"Type": THING, "Properties": {}}, "needs a ThingName"),
    ("attribute-not-string", thing(AttributePayload={"n": 3}),
     "AttributePayload.n must be a string"),
    ("groups-not-list", thing(ThingGroups="g"), "ThingGroups must be a list"),
    ("bad-group-name", thing(ThingGroups=["a b"]), "thing group 'a b' does not match"),
    ("unknown-property", thing(Color="red"), "unsupported key(s) Color"),
    ("bad-override", {**thing(), "OverrideSettings": {"ThingGroups": "KEEP"}},
     "'KEEP' is not one of DO_NOTHING"),
    ("merge-type", {**thing(), "OverrideSettings": {"ThingTypeName": "MERGE"}},
     "MERGE is allowed only for AttributePayload, ThingGroups"),
    ("override-unknown-key", {**thing(), "OverrideSettings": {"ThingName": "REPLACE"}},
     "unsupported key(s) ThingName"),
]


@pytest.mark.parametrize("resource,fragment", [c[1:] for c in THING_ERRORS],
                         ids=[c[0] for c in THING_ERRORS])
def test_thing_errors(resource, fragment):
    expect_invalid(lambda: resolve({"Resources": {"t": resource}}, {}), fragment)


def test_package_versions_are_refused_as_not_emulated():
    with pytest.raises(NotImplementedInLab):
        resolve({"Resources": {"t": thing(PackageVersions={"pkg": "1"})}}, {})


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"CertificateSigningRequest": "CSR-PEM", "Status": "ACTIVE"},
         CertificateSpec("c", csr="CSR-PEM", status="ACTIVE")),
        ({"CertificateId": CERT_ID, "Status": "Active"},
         CertificateSpec("c", certificate_id=CERT_ID, status="ACTIVE")),
        ({"CertificatePem": "CERT", "CACertificatePem": "CA", "Status": "inactive"},
         CertificateSpec("c", certificate_pem="CERT", ca_certificate_pem="CA", status="INACTIVE")),
        ({"CertificateId": CERT_ID}, CertificateSpec("c", certificate_id=CERT_ID, status=None)),
    ],
    ids=["csr", "id-mixed-case-status", "pem-with-ca", "no-status"],
)
def test_certificate_specs(props, expected):
    plan = resolve({"Resources": {"c": {"Type": CERT, "Properties": props}}}, {})
    assert plan.certificate == expected


def test_certificate_override_is_kept():
    body = {"Resources": {"c": {"Type": CERT, "Properties": {"CertificateId": CERT_ID},
                                "OverrideSettings": {"Status": "REPLACE"}}}}
    assert resolve(body, {}).certificate.override_settings == {"Status": "REPLACE"}


CERTIFICATE_ERRORS = [
    ("no-source", {"Status": "ACTIVE"}, "exactly one of CertificateSigningRequest"),
    ("two-sources", {"CertificateId": CERT_ID, "CertificatePem": "x"},
     "got CertificateId, CertificatePem"),
    ("ca-without-pem", {"CertificateId": CERT_ID, "CACertificatePem": "x"},
     "CACertificatePem goes only with CertificatePem"),
    ("bad-id", {"CertificateId": "1234"}, "'1234' is not 64 hexadecimal digits"),
    ("bad-status", {"CertificateId": CERT_ID, "Status": "REVOKED"}, "'REVOKED' is not one of"),
]


@pytest.mark.parametrize("props,fragment", [c[1:] for c in CERTIFICATE_ERRORS],
                         ids=[c[0] for c in CERTIFICATE_ERRORS])
def test_certificate_errors(props, fragment):
    expect_invalid(lambda: resolve({"Resources": {"c": {"Type": CERT, "Properties": props}}}, {}),
                   fragment)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"PolicyName": "Device_Policy.v1"}, PolicySpec("p", policy_name="Device_Policy.v1")),
        ({"PolicyDocument": ALLOW_ALL}, PolicySpec("p", policy_document=ALLOW_ALL)),
        ({"PolicyDocument": json.loads(ALLOW_ALL)}, PolicySpec("p", policy_document=ALLOW_ALL)),
    ],
    ids=["by-name", "document-string", "document-object"],
)
def test_policy_specs(props, expected):
    plan = resolve({"Resources": {"p": {"Type": POLICY, "Properties": props}}}, {})
    assert plan.policies == [expected]


POLICY_ERRORS = [
    ("neither", {}, "exactly one of PolicyName or PolicyDocument; got none"),
    ("both", {"PolicyName": "a", "PolicyDocument": ALLOW_ALL}, "got PolicyName, PolicyDocument"),
    ("bad-name", {"PolicyName": "no spaces"}, "PolicyName 'no spaces' does not match"),
]


@pytest.mark.parametrize("props,fragment", [c[1:] for c in POLICY_ERRORS],
                         ids=[c[0] for c in POLICY_ERRORS])
def test_policy_errors(props, fragment):
    expect_invalid(lambda: resolve({"Resources": {"p": {"Type": POLICY, "Properties": props}}}, {}),
                   fragment)


def test_policy_takes_no_override_settings():
    body = {"Resources": {"p": {"Type": POLICY, "Properties": {"PolicyName": "a"},
                                "OverrideSettings": {"PolicyName": "REPLACE"}}}}
    expect_invalid(lambda: resolve(body, {}), "policy resources take no OverrideSettings")


def test_device_configuration_is_resolved():
    body = {"Parameters": PARAMS, "Mappings": MAPPINGS, "Resources": {"t": thing()},
            "DeviceConfiguration": {
                "Fallback": "https://fallback.example",
                "Site": {"Fn::FindInMap": ["Sites", {"Ref": "Location"}, "Url"]},
            }}
    assert resolve(body, {"Location": "NY"}).device_configuration == {
        "Fallback": "https://fallback.example", "Site": "https://ny.example"}


# --- resource_arns ----------------------------------------------------------------------------

ARN = "arn:aws:iot:eu-central-1:111122223333:"
ARN_TEMPLATE = {"Resources": {
    "thing": thing(),
    "certificate": {"Type": CERT, "Properties": {"CertificateId": CERT_ID}},
    "PolicyLogicalName": {"Type": POLICY, "Properties": {"PolicyDocument": ALLOW_ALL}},
    "existing": {"Type": POLICY, "Properties": {"PolicyName": "shared"}},
}}
APPLIED = {
    "thing_arn": ARN + "thing/device-1",
    "certificate_arn": ARN + "cert/" + CERT_ID,
    "policy_arns": {"PolicyLogicalName": ARN + "policy/ABC", "existing": ARN + "policy/shared"},
}


def test_resource_arns_reports_created_resources_by_logical_id():
    assert resource_arns(resolve(ARN_TEMPLATE, {}), **APPLIED) == {
        "PolicyLogicalName": ARN + "policy/ABC",
        "certificate": ARN + "cert/" + CERT_ID,
        "thing": ARN + "thing/device-1",
    }


def test_resource_arns_by_type_when_switched(monkeypatch):
    monkeypatch.setattr(templates, "ARN_KEYS_ARE_LOGICAL_IDS", False)
    body = {"Resources": {"dev": thing(),
                          "pol": {"Type": POLICY, "Properties": {"PolicyDocument": ALLOW_ALL}}}}
    arns = resource_arns(resolve(body, {}), thing_arn="t-arn", policy_arns={"pol": "p-arn"})
    assert arns == {"thing": "t-arn", "policy": "p-arn"}


# --- the workshop's templates, end to end -----------------------------------------------------

REGISTER_THING_TEMPLATE = json.dumps({
    "Parameters": {
        "ThingName": {"Type": "String"},
        "SerialNumber": {"Type": "String"},
        "Location": {"Type": "String", "Default": "WA"},
        "CSR": {"Type": "String"},
    },
    "Resources": {
        "thing": {"Type": THING, "Properties": {
            "ThingName": {"Ref": "ThingName"},
            "AttributePayload": {"version": "v1", "serialNumber": {"Ref": "SerialNumber"}},
            "ThingTypeName": "bulk-type",
            "ThingGroups": ["bulk-group"],
        }},
        "certificate": {"Type": CERT, "Properties": {
            "CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}},
        "policy": {"Type": POLICY, "Properties": {"PolicyDocument": ALLOW_ALL}},
    },
})

JITP_TEMPLATE = json.dumps({
    "Parameters": {
        "AWS::IoT::Certificate::Id": {"Type": "String"},
        "AWS::IoT::Certificate::CommonName": {"Type": "String"},
        "AWS::IoT::Certificate::Country": {"Type": "String"},
    },
    "Resources": {
        "thing": {"Type": THING, "Properties": {
            "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
            "AttributePayload": {"Country": {"Ref": "AWS::IoT::Certificate::Country"}},
            "ThingGroups": ["bulk-group"],
        }},
        "certificate": {"Type": CERT, "Properties": {
            "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        "policy": {"Type": POLICY, "Properties": {"PolicyName": "workshop-policy"}},
    },
})


@pytest.mark.parametrize(
    "name,serial", [("bulky1", "1"), ("bulky2", "2"), ("my-second-thing", "42")]
)
def test_workshop_register_thing_template(name, serial):
    csr = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
    plan = resolve(REGISTER_THING_TEMPLATE, {"ThingName": name, "SerialNumber": serial, "CSR": csr})
    assert plan.thing == ThingSpec("thing", name, {"version": "v1", "serialNumber": serial},
                                   "bulk-type", ["bulk-group"])
    assert plan.certificate == CertificateSpec("certificate", csr=csr, status="ACTIVE")
    assert plan.policies == [PolicySpec("policy", policy_document=ALLOW_ALL)]


def test_workshop_register_thing_template_names_a_missing_csr():
    parameters = {"ThingName": "a", "SerialNumber": "1"}
    expect_invalid(lambda: resolve(REGISTER_THING_TEMPLATE, parameters),
                   "parameter CSR has no value")


def device_certificate(**subject: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    oids = {"CN": NameOID.COMMON_NAME, "C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME}
    name = x509.Name([x509.NameAttribute(oids[k], v) for k, v in subject.items()])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def test_workshop_jitp_template_with_certificate_fields():
    cert = device_certificate(CN="jitp-device-7", C="DE", O="Workshop")
    plan = resolve(JITP_TEMPLATE, jitp_parameters(cert, CERT_ID), require_all=True)
    assert plan.thing == ThingSpec("thing", "jitp-device-7", {"Country": "DE"},
                                   thing_groups=["bulk-group"])
    assert plan.certificate == CertificateSpec("certificate", certificate_id=CERT_ID,
                                               status="ACTIVE")
    assert plan.policies == [PolicySpec("policy", policy_name="workshop-policy")]


def test_workshop_jitp_template_fails_when_the_certificate_lacks_a_declared_field():
    cert = device_certificate(CN="jitp-device-8")
    expect_invalid(lambda: resolve(JITP_TEMPLATE, jitp_parameters(cert, CERT_ID), require_all=True),
                   "AWS::IoT::Certificate::Country")
