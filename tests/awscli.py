"""The AWS CLI (from the venv) against a lab, for contract tests: exit status, JSON output, errors.

The calls a test is about go through the CLI; reading state back (stack status, events) uses boto3,
which answers the same API in a fraction of the CLI's start-up time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

AWS = Path(sys.executable).with_name("aws")


@dataclass
class CliError(Exception):
    """A command that failed: its exit status and stderr (where the CLI prints AWS's error code)."""

    returncode: int
    stderr: str

    def __str__(self) -> str:
        return f"aws exited {self.returncode}: {self.stderr.strip()}"


class Cli:
    def __init__(self, lab) -> None:
        self.lab = lab
        self._clients: dict = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.lab.client(service)
        return self._clients[service]

    def __call__(self, *args: str) -> dict:
        """Run ``aws <args> --output json``; the parsed output ({} for text), or ``CliError``."""
        result = subprocess.run([str(AWS), *args, "--output", "json"], env=self.lab.env, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise CliError(result.returncode, result.stderr)
        try:
            return json.loads(result.stdout) if result.stdout.strip() else {}
        except json.JSONDecodeError:  # `aws cloudformation deploy`, `aws s3 ...` print text
            return {"text": result.stdout}

    def error_code(self, call, **params) -> str:
        """The AWS error code a boto3 call answers (it must fail)."""
        from botocore.exceptions import ClientError

        try:
            call(**params)
        except ClientError as error:
            return error.response["Error"]["Code"]
        raise AssertionError(f"{call.__name__} succeeded")

    def fails(self, *args: str) -> CliError:
        """Run a command that must fail; its error."""
        try:
            self(*args)
        except CliError as error:
            return error
        raise AssertionError(f"aws {' '.join(args)} succeeded")

    def stack(self, name: str) -> dict:
        return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]

    def wait_stack(self, name: str, until: tuple[str, ...], timeout: float = 60) -> dict:
        """Poll DescribeStacks until the stack's status is one of ``until`` (fail on any other final one)."""
        deadline = time.monotonic() + timeout
        while True:
            stack = self.stack(name)
            if stack["StackStatus"] in until:
                return stack
            assert stack["StackStatus"].endswith("_IN_PROGRESS"), f"{name} ended {stack['StackStatus']}"
            assert time.monotonic() < deadline, f"{name} still {stack['StackStatus']} after {timeout} s"
            time.sleep(0.1)

    def events(self, name: str) -> list[dict]:
        """The stack's events, oldest first."""
        return list(reversed(self.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]))

    def assert_serving(self) -> None:
        """The lab still answers AWS calls (IoT, IAM and CloudFormation)."""
        assert self.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        assert "Roles" in self.client("iam").list_roles(MaxItems=1)
        assert "StackSummaries" in self.client("cloudformation").list_stacks()
