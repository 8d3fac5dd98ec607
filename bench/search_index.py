"""Fleet-index search on 10,000 things with shadows, in an in-process lab. Target ≤ 100 ms per query.

The registry is filled through moto's backend and the shadows through the shadow store directly
(no HTTP, for speed); indexing is then enabled through the lab's handler, which reads the shadows
that already exist. Each query runs once to warm up, then `--runs` times; the median is printed.
SearchIndex returns one page (100 things at most), as the AWS CLI shows it.

Run: `.venv/bin/python bench/search_index.py [--things 10000] [--runs 7]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from common import Timer, report

TARGET_MS = 100.0
GROUPS = 10
QUERIES = [
    ("workshop: thingName:bulky*", "thingName:bulky*"),
    ("workshop: temperature>20 AND room_number:*", "shadow.reported.temperature>20 AND attributes.room_number:*"),
    ("one thing by name", "thingName:bulky4242"),
    ("attribute range", "attributes.room_number:[110 TO 120]"),
    ("shadow range AND NOT group", "shadow.reported.temperature:{18 TO 22} AND NOT thingGroupNames:floor-1"),
    ("bare term (every field)", "bulky4242"),
    ("nothing matches", "shadow.reported.temperature>100"),
]


def build(count: int):
    """An in-process lab with ``count`` things, ten groups and a shadow per thing."""
    from localcore.config import LabConfig
    from localcore.mqtt.shadow_service import shadow_store
    from localcore.server import build_lab

    lab = build_lab(LabConfig(home=Path(tempfile.mkdtemp(prefix="bench-index-"))))
    iot, store = lab.iot, shadow_store(lab)
    for group in range(GROUPS):
        iot.create_thing_group(f"floor-{group}", None, {})
    for i in range(count):
        name = f"bulky{i}"
        attributes = {"room_number": str(100 + i % 50), "version": "v1"} if i % 10 else {"version": "v1"}
        iot.create_thing(name, None, {"attributes": attributes})
        iot.add_thing_to_thing_group(f"floor-{i % GROUPS}", None, name, None)
        reported = {"temperature": 15 + i % 15, "stats": {"battery": i % 100}}
        state = {"reported": reported, "desired": {"temperature": 20}}
        store.update(name, None, json.dumps({"state": state}).encode(), 1_700_000_000)
    return lab


def median_ms(call, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        with Timer() as timer:
            call()
        times.append(timer.seconds * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--things", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from localcore.aws import moto_patches
    from localcore.aws.handlers import fleet_indexing as fx
    from localcore.mqtt.shadow_service import update_document

    print(f"Fleet-index search, {args.things} things with shadows, in-process lab")
    with Timer() as setup:
        lab = build(args.things)
    report("set-up: registry and shadows (not a target)", setup.seconds, "s", "-", True)
    with Timer() as enabling:
        fx.update_indexing_configuration(lab, {"thingIndexingConfiguration": {
            "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS",
            "customFields": [{"name": "shadow.reported.temperature", "type": "Number"}]}})
    report("UpdateIndexingConfiguration (reads every shadow)", enabling.seconds * 1000, "ms", "-", True)

    ok = True
    for label, query in QUERIES:
        ms = median_ms(lambda params={"queryString": query}: fx.search_index(lab, params), args.runs)
        ok &= report(f"SearchIndex {label}", ms, "ms", f"<= {TARGET_MS:.0f} ms", ms <= TARGET_MS)
    stats_params = {"queryString": "thingName:bulky*", "aggregationField": "shadow.reported.temperature"}
    ms = median_ms(lambda: fx.get_statistics(lab, stats_params), args.runs)
    ok &= report("GetStatistics shadow.reported.temperature", ms, "ms", f"<= {TARGET_MS:.0f} ms", ms <= TARGET_MS)

    payload = json.dumps({"state": {"reported": {"temperature": 25}}}).encode()
    updates = 1000
    with Timer() as timer:
        for i in range(updates):
            update_document(lab, f"bulky{i}", None, payload)
    report("UpdateThingShadow while indexed (not a target)", timer.seconds / updates * 1000, "ms", "-", True)
    moto_patches.reset()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
