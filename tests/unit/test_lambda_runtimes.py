"""CreateFunction's runtime rule: AWS's refusal for the runtimes it blocks, and the kit's own runtimes pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pytest

from localcore.aws.moto_patches.lambda_runtimes import CREATE_BLOCKED_RUNTIMES, refusal

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("runtime", ["python2.7", "python3.6", "python3.7", "nodejs14.x", "go1.x", "java8", "provided"])
def test_blocked_runtimes_get_aws_message(runtime):
    assert refusal(runtime) == (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. "
        "We recommend you use a supported runtime while creating or updating functions."
    )


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13", "python3.14", "python3.9", "nodejs20.x",
                                     "java21", "provided.al2023", None, ""])
def test_current_runtimes_and_container_images_pass(runtime):
    assert refusal(runtime) is None


def test_the_list_holds_only_runtime_identifiers_lambda_knows_with_iso_dates():
    model = botocore.session.get_session().get_service_model("lambda")
    known = set(model.shape_for("Runtime").enum)
    assert set(CREATE_BLOCKED_RUNTIMES) <= known
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in CREATE_BLOCKED_RUNTIMES.values())


def kit_runtimes() -> set[str]:
    """Every Lambda runtime the kit's notebooks, data, templates and helpers name."""
    found: set[str] = set()
    pattern = re.compile(r"""Runtime["']?\s*[:=]\s*\\?["']([a-z0-9.]+)""")
    for folder in ("notebooks", "data", "cfn", "helpers"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".ipynb", ".py", ".json", ".yaml", ".yml"):
                text = path.read_text(errors="replace")
                if path.suffix == ".ipynb":
                    text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
                found.update(pattern.findall(text))
    return found


def test_every_runtime_the_kit_uses_is_accepted():
    runtimes = kit_runtimes()
    assert "python3.12" in runtimes  # the JITR chapter's function; the scan must see it
    assert {runtime for runtime in runtimes if refusal(runtime)} == set()
