"""GetPolicy answers creationDate and lastModifiedDate, as AWS IoT does (moto answered neither)."""

from __future__ import annotations

import json
import uuid

from moto.iot.models import iot_backends

from labfixture import in_process_lab

DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                                                              "Resource": "*"}]})


def backend(lab):
    return iot_backends[lab.config.account_id][lab.config.region]


def test_get_policy_answers_when_the_policy_was_made_and_last_changed(tmp_path):
    with in_process_lab(tmp_path) as lab:
        iot, name = backend(lab), f"p-{uuid.uuid4().hex[:8]}"  # moto's backends outlive a lab
        iot.create_policy(name, DOCUMENT)
        first = iot.get_policy(name).to_get_dict()
        iot.create_policy_version(name, DOCUMENT, set_as_default=True)
        second = iot.get_policy(name).to_get_dict()

    assert first["creationDate"] == first["lastModifiedDate"]
    assert second["creationDate"] == first["creationDate"]
    assert second["lastModifiedDate"] > first["lastModifiedDate"]


def test_a_policy_made_again_under_the_same_name_has_another_creation_date(tmp_path):
    with in_process_lab(tmp_path) as lab:
        iot, name = backend(lab), f"p-{uuid.uuid4().hex[:8]}"
        iot.create_policy(name, DOCUMENT)
        before = iot.get_policy(name).to_get_dict()["creationDate"]
        iot.delete_policy(name)
        iot.create_policy(name, DOCUMENT)
        after = iot.get_policy(name).to_get_dict()["creationDate"]

    assert after > before
