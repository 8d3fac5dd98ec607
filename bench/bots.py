"""Provisioning 20 bots through the ProvisionBot state machine on a private lab. Target ≤ 60 s.

Chapter 11's stack (``cfn/iot-dm-bots.yaml``) is deployed, then ``--bots`` executions of
``ProvisionBot`` are started at once (as a class pressing *Create* together would) and polled until
each has ended; every one must succeed. The figure is the wall-clock time from the first
StartExecution to the last SUCCEEDED; the median execution's own duration (startDate → stopDate) is
printed too. RemoveBot then removes them all, timed the same way (target ≤ 60 s). Each execution
runs 8 tasks (9 for removal), every one an HTTP call from the lab's interpreter back into the lab.

Run: `.venv/bin/python bench/bots.py [--bots 20]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from common import ROOT, Timer, private_lab, report

TARGET_S = 60.0
DEADLINE_S = 300.0  # a bench that hangs fails instead


def clients():
    import boto3

    from localcore.config import LabConfig

    exports = LabConfig.from_env().env_exports()

    def client(service: str):
        return boto3.client(service, endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])

    return client("cloudformation"), client("stepfunctions")


def deploy(cfn) -> dict[str, str]:
    cfn.create_stack(StackName="bench-bots", TemplateBody=(ROOT / "cfn" / "iot-dm-bots.yaml").read_text(),
                     Parameters=[{"ParameterKey": "Prefix", "ParameterValue": "bench"}],
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    deadline = time.monotonic() + DEADLINE_S
    while True:
        stack = cfn.describe_stacks(StackName="bench-bots")["Stacks"][0]
        if stack["StackStatus"] == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            raise SystemExit(f"the bots stack ended {stack['StackStatus']}")
        time.sleep(0.2)


def run_all(sfn, machine_arn: str, names: list[str]) -> tuple[float, list[float]]:
    """Start one execution per name at once; wait for all. Wall-clock seconds, per-execution seconds."""
    with Timer() as timer:
        arns = [sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"thingName": name}))["executionArn"]
                for name in names]
        pending, durations = set(arns), []
        deadline = time.monotonic() + DEADLINE_S
        while pending:
            for arn in sorted(pending):
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] == "RUNNING":
                    continue
                if described["status"] != "SUCCEEDED":
                    raise SystemExit(f"{arn} ended {described['status']}: {described.get('error')} {described.get('cause')}")
                pending.discard(arn)
                durations.append((described["stopDate"] - described["startDate"]).total_seconds())
            if pending:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{len(pending)} executions still RUNNING after {DEADLINE_S:.0f} s")
                time.sleep(0.2)
    return timer.seconds, durations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=20)
    args = parser.parse_args()
    names = [f"bench-bot-{i:03d}" for i in range(args.bots)]
    with private_lab():
        cfn, sfn = clients()
        outputs = deploy(cfn)
        provisioned, durations = run_all(sfn, outputs["ProvisionBotArn"], names)
        removed, removal_durations = run_all(sfn, outputs["RemoveBotArn"], names)
    ok = report(f"provision {args.bots} bots (ProvisionBot, all at once)", provisioned, "s", f"<= {TARGET_S:.0f} s",
                provisioned <= TARGET_S)
    print(f"  {'  one ProvisionBot execution (median)':<52} {statistics.median(durations):>10.2f} s")
    ok &= report("remove them (RemoveBot, all at once)", removed, "s", f"<= {TARGET_S:.0f} s", removed <= TARGET_S)
    print(f"  {'  one RemoveBot execution (median)':<52} {statistics.median(removal_durations):>10.2f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
