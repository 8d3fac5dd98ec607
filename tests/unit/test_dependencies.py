"""pyproject.toml and environment.yml must name the same dependencies with the same pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normalise(r) for r in requirements}


def environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:") + 1
    return {_normalise(line.strip()[2:]) for line in lines[start:] if line.strip().startswith("- ")}


def test_environment_yml_matches_pyproject():
    missing_in_env = pyproject_requirements() - environment_requirements()
    missing_in_pyproject = environment_requirements() - pyproject_requirements()
    assert not missing_in_env, f"in pyproject.toml but not environment.yml: {sorted(missing_in_env)}"
    assert not missing_in_pyproject, f"in environment.yml but not pyproject.toml: {sorted(missing_in_pyproject)}"


def test_engines_are_pinned():
    pins = {r.split("==")[0].split("[")[0]: r for r in pyproject_requirements() if "==" in r}
    assert {"moto", "amqtt", "luqum"} <= set(pins), f"engines must be pinned with ==, got {sorted(pins)}"
    assert pins["moto"].endswith("==5.2.5") and pins["amqtt"].endswith("==0.12.1")
