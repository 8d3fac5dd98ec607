"""README "Running on AWS" names the commands and settings the code and the tests use (they drift apart otherwise)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import endpoints, mqtt_alpn, root_ca

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def section() -> str:
    text = README.read_text()
    found = re.search(r"^## Running on AWS\n(.*?)(?=^## )", text, re.S | re.M)
    assert found, "README has no '## Running on AWS' section"
    return found.group(1)


@pytest.mark.parametrize("words", [
    "make workshop BACKEND=aws",
    f"{endpoints.REHEARSAL_VAR}=1",
    endpoints.REHEARSAL_LABEL,
    f"{mqtt_alpn.PORT_VAR}=443",
    f"{mqtt_alpn.ALPN_VAR}=1",
    f"--tls-alpn {mqtt_alpn.ALPN_PROTOCOL}",
    f"work/aws/{root_ca.ROOT_CA_FILE}",
    "IOT_ROOT_CA",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "LoopbackEndpoint",
    "python -m helpers.classroom setup",
    "python -m helpers.classroom status",
    "python -m helpers.classroom teardown",
    "WORKSHOP_MODE=class",
    'eval "$(.venv/bin/python -m localcore env)"',
    "10_cleanup",
])
def test_the_section_names_it(section, words):
    assert words in " ".join(section.split())
