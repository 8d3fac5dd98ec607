"""Device-side helpers for tests: keys, CSRs and certificate files, made with `cryptography`."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def new_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def csr_pem(key, common_name: str, country: str | None = None) -> str:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if country:
        names.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def write_secret(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def device_files(folder: Path, name: str, certificate_pem: str, key) -> tuple[Path, Path]:
    """Write ``name.crt`` and ``name.key``; return their paths."""
    return (
        write_secret(folder / f"{name}.crt", certificate_pem),
        write_secret(folder / f"{name}.key", key_pem(key) if not isinstance(key, str) else key),
    )


def make_ca(common_name: str, kind: str = "ec", *, country: str | None = None,
            organization: str | None = None):
    """A self-signed CA (what `openssl req -x509` makes in the workshop); returns (cert, key)."""
    from datetime import datetime, timedelta, timezone

    key = new_key(kind)
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if country:
        names.insert(0, x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    subject = x509.Name(names)
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def jitp_template(group: str, policy: str) -> str:
    """The workshop's JITP template: thing named by the CN, Country attribute, a group, a policy."""
    import json

    return json.dumps({
        "Parameters": {
            "AWS::IoT::Certificate::Id": {"Type": "String"},
            "AWS::IoT::Certificate::CommonName": {"Type": "String"},
            "AWS::IoT::Certificate::Country": {"Type": "String"},
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "AttributePayload": {"Country": {"Ref": "AWS::IoT::Certificate::Country"}},
                "ThingGroups": [group],
            }},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE",
            }},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": policy}},
        },
    })


def registered_device(iot, folder: Path, policy_name: str, prefix: str, *,
                      active: bool = True) -> tuple[str, Path, Path]:
    """A thing named ``<prefix>-<random>`` holding a new certificate (ACTIVE unless ``active`` is
    False) that carries ``policy_name``; its files in ``folder``. Returns (name, cert path, key path)."""
    import uuid

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    out = iot.create_keys_and_certificate(setAsActive=active)
    iot.create_thing(thingName=name)
    iot.attach_thing_principal(thingName=name, principal=out["certificateArn"])
    iot.attach_policy(policyName=policy_name, target=out["certificateArn"])
    return (name, write_secret(folder / f"{name}.crt", out["certificatePem"]),
            write_secret(folder / f"{name}.key", out["keyPair"]["PrivateKey"]))
