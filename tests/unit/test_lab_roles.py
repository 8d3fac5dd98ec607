"""localcore.aws.roles: which role ARNs an operation names, and refusing a role too young to assume."""

import pytest

from localcore.aws import roles
from localcore.errors import InvalidRequestException


@pytest.mark.parametrize(
    ("payload", "arns"),
    [
        ({"sql": "SELECT * FROM 'a'", "actions": []}, []),
        ({"actions": [{"republish": {"roleArn": "r1", "topic": "t"}}]}, ["r1"]),
        ({"actions": [{"lambda": {"functionArn": "f"}}], "errorAction": {"cloudwatchLogs": {"roleArn": "r2"}}}, ["r2"]),
        ({"actions": [{"s3": {"roleArn": "r1"}}, {"dynamoDBv2": {"roleArn": "r3", "putItem": {}}}]}, ["r1", "r3"]),
    ],
)
def test_role_arns_in_finds_every_role_of_a_rule(payload, arns):
    assert list(roles.role_arns_in(payload)) == arns


class _Role:
    def __init__(self, created):
        self.create_date = created


class _Iam:
    def __init__(self, created):
        self.created = created

    def get_role(self, name):
        if name != "young":
            raise KeyError(name)
        return _Role(self.created)


class _Lab:
    def __init__(self, created):
        self.iam = _Iam(created)

    def backend(self, name):
        assert name == "iam"
        return self.iam


def _lab_with_role_made_at(epoch: float) -> _Lab:
    from datetime import datetime, timezone

    return _Lab(datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None))  # moto's naive UTC


ARN = "arn:aws:iam::123456789012:role/young"


@pytest.mark.parametrize(
    ("age", "refused"),
    [(0.0, True), (4.9, True), (5.0, False), (60.0, False)],
)
def test_a_role_younger_than_the_delay_is_refused_with_awss_words(monkeypatch, age, refused):
    monkeypatch.setenv("LOCALCORE_DELAY_ROLE_PROPAGATION", "5")
    lab = _lab_with_role_made_at(1_000_000.0)
    if refused:
        with pytest.raises(InvalidRequestException, match="unable to assume role .* try again in a few seconds"):
            roles.require_assumable(lab, [ARN], now=1_000_000.0 + age)
    else:
        roles.require_assumable(lab, [ARN], now=1_000_000.0 + age)


def test_without_the_delay_or_without_the_role_nothing_is_refused(monkeypatch):
    lab = _lab_with_role_made_at(1_000_000.0)
    monkeypatch.delenv("LOCALCORE_REALISM", raising=False)
    monkeypatch.delenv("LOCALCORE_DELAY_ROLE_PROPAGATION", raising=False)
    roles.require_assumable(lab, [ARN], now=1_000_000.0)
    monkeypatch.setenv("LOCALCORE_DELAY_ROLE_PROPAGATION", "5")
    roles.require_assumable(lab, ["arn:aws:iam::123456789012:role/missing", "not-a-role"], now=1_000_000.0)
