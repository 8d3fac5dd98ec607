"""Cost of having AWS's managed IAM policies in the lab (moto ships ~1,600 of them).

They load when an account's IAM backend (partition ``aws``) is first built: on the lab's first
request to any moto service, since moto looks the caller's access key up in IAM. Lab start
(``lab_start.py``) does not change. Measured: the lab's first request (S3) and first IAM request,
the lab's memory growth over both, and, in this process, one IAM backend built with and without
them: time, memory it keeps, and its pickled size (what saving the lab's state will pay).
Targets: first request <= 3 s and first IAM request <= 1 s on a quiet machine; backend build
<= 0.5 s; memory kept <= 20 MB; pickle <= 8 MB.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tracemalloc
import urllib.request

from common import Timer, private_lab, report


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def iam_backend_cost(partition: str) -> tuple[float, float, float]:
    """(seconds to build one IAM backend, MB of memory it keeps, MB it pickles to) with the lab's patch:
    partition ``aws`` gets the managed policies, the others do not."""
    from moto.iam.models import IAMBackend

    from localcore.aws.moto_patches import iam

    iam.install(None)
    IAMBackend(region_name=partition, account_id="000000000000")  # parse moto's data once, as the lab does
    tracemalloc.start()
    backend = IAMBackend(region_name=partition, account_id="123456789012")
    kept = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    with Timer() as timer:  # again, untraced: tracing slows the build down
        backend = IAMBackend(region_name=partition, account_id="123456789012")
    return timer.seconds, kept, len(pickle.dumps(backend)) / 1e6


def main() -> int:
    import boto3

    ok = True
    with private_lab():
        port = os.environ["LOCALCORE_HTTP_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localcore/health", timeout=10) as answer:  # noqa: S310
            pid = json.load(answer)["pid"]
        iam, s3 = (boto3.client(name, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing") for name in ("iam", "s3"))
        before = rss_mb(pid)
        with Timer() as first:
            s3.list_buckets()
        with Timer() as first_iam:
            iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSIoTLogging")
        grown = rss_mb(pid) - before
        with Timer() as next_iam:
            iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSIoTLogging")
    ok &= report("lab: first request (S3; builds the IAM backend)", first.seconds, "s", "<= 3 s", first.seconds <= 3)
    ok &= report("lab: first IAM request", first_iam.seconds, "s", "<= 1 s", first_iam.seconds <= 1)
    report("lab: next IAM request", next_iam.seconds, "s", "(for comparison)", True)
    report("lab: memory growth over these requests", grown, "MB", "(for comparison)", True)
    without = iam_backend_cost("aws-cn")
    with_policies = iam_backend_cost("aws")
    report("IAM backend build, without managed policies", without[0], "s", "(for comparison)", True)
    ok &= report("IAM backend build, with managed policies", with_policies[0], "s", "<= 0.5 s", with_policies[0] <= 0.5)
    report("memory an IAM backend keeps, without managed policies", without[1], "MB", "(for comparison)", True)
    ok &= report("memory an IAM backend keeps, with managed policies", with_policies[1], "MB", "<= 20 MB",
                 with_policies[1] <= 20)
    report("pickled IAM backend, without managed policies", without[2], "MB", "(for comparison)", True)
    ok &= report("pickled IAM backend, with managed policies", with_policies[2], "MB", "<= 8 MB", with_policies[2] <= 8)
    print("managed policies benchmark:", "all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
