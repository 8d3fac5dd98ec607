"""Copy the state machine definitions (data/stepfunctions/*.asl.json) into cfn/iot-dm-bots.yaml.

The stack embeds each definition as a ``DefinitionString`` block; after editing an ``.asl.json``
file (chapter 11's exercises), run ``.venv/bin/python cfn/embed_asl.py`` so the stack deploys the
edited machine. ``tests/unit/test_bot_definitions.py`` fails while the two differ.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cfn" / "iot-dm-bots.yaml"
SOURCES = {"ProvisionBot": ROOT / "data" / "stepfunctions" / "provision_bot.asl.json",
           "RemoveBot": ROOT / "data" / "stepfunctions" / "remove_bot.asl.json"}
INDENT = " " * 8


def embedded(template: str, resource: str, definition: dict) -> str:
    """``template`` with ``resource``'s DefinitionString block replaced by ``definition``."""
    block = re.compile(rf"(\n  {resource}:\n(?:    .*\n|\n)*?      DefinitionString: \|\n)((?:{INDENT}.*\n)+)")
    text = "".join(f"{INDENT}{line}\n" for line in json.dumps(definition, indent=2).splitlines())
    updated, count = block.subn(lambda match: match.group(1) + text, template, count=1)
    if count != 1:
        raise SystemExit(f"{TEMPLATE.name}: no DefinitionString block found for {resource}")
    return updated


def main() -> int:
    template = TEMPLATE.read_text()
    for resource, source in SOURCES.items():
        template = embedded(template, resource, json.loads(source.read_text()))
    changed = template != TEMPLATE.read_text()
    if changed:
        TEMPLATE.write_text(template)
    print(f"{TEMPLATE.relative_to(ROOT)}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
