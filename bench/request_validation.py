"""What validating every request costs (issue 8, item 2).

1. In-process: the work the HTTP front adds to each json/rest-json request (parse, validate against
   botocore's model, re-serialise the body for moto), for CreateThing with two attributes and for
   DescribeThing, as botocore's own client serialises them. Target: ≤ 0.2 ms per request.
2. End to end: N CreateThing + DescribeThing pairs through boto3 against a private lab. Target: the
   work of (1) is at most 2 % of a pair's round trip, i.e. validation is not measurably slower.

Run: `make bench` or `.venv/bin/python bench/request_validation.py [--pairs 1000]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from common import Timer, private_lab, report


def front_cost(repeat: int) -> float:
    """Seconds the front adds per request (mean over CreateThing and DescribeThing)."""
    from botocore.awsrequest import prepare_request_dict
    from botocore.serialize import create_serializer

    from localcore.aws import codec, validation

    model = codec.load_service_model("iot")
    router = codec.OperationRouter("iot")
    requests = []
    for name, params in (
        ("CreateThing", {"thingName": "bench-1", "attributePayload": {"attributes": {"serial": "1", "model": "m1"}}}),
        ("DescribeThing", {"thingName": "bench-1"}),
    ):
        request = create_serializer("rest-json").serialize_to_request(params, model.operation_model(name))
        prepare_request_dict(request, "http://127.0.0.1:4510")
        url = urlsplit(request["url"])
        requests.append((request["method"], url.path, parse_qs(url.query), request["headers"], request["body"]))

    def once() -> None:
        for method, path, query, headers, body in requests:
            operation, labels = router.match(method, path, query, headers)
            params = codec.parse_request(operation, labels, query, headers, body)
            assert not validation.validate(operation, params)
            codec.botocore_body(operation, params)

    once()  # compile and cache
    with Timer() as timer:
        for _ in range(repeat):
            once()
    return timer.seconds / (repeat * len(requests))


def round_trips(pairs: int) -> float:
    """Seconds per CreateThing + DescribeThing pair against a private lab."""
    import boto3

    with private_lab():
        iot = boto3.client(
            "iot", endpoint_url=f"http://127.0.0.1:{os.environ['LOCALCORE_HTTP_PORT']}", region_name="us-east-1",
            aws_access_key_id="localcore", aws_secret_access_key="localcore",
        )
        iot.list_things()
        prefix = uuid.uuid4().hex[:6]
        start = time.perf_counter()
        for number in range(pairs):
            name = f"bench-{prefix}-{number}"
            iot.create_thing(thingName=name, attributePayload={"attributes": {"serial": str(number), "model": "m1"}})
            iot.describe_thing(thingName=name)
        return (time.perf_counter() - start) / pairs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5000)
    args = parser.parse_args()

    print("Request validation")
    per_request = front_cost(args.repeat)
    ok = report("front per request (route+parse+validate+body)", per_request * 1000, "ms", "<= 0.2 ms",
                per_request <= 0.0002)
    per_pair = round_trips(args.pairs)
    report(f"{args.pairs} CreateThing + DescribeThing, per pair", per_pair * 1000, "ms", "-", True)
    share = 2 * per_request / per_pair * 100
    ok &= report("validation's share of a pair's round trip", share, "%", "<= 2 %", share <= 2)
    print("request validation benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
