"""helpers.provisioning without a lab: devices, bulk input, reports, certificate files, charts."""

from __future__ import annotations

import datetime
import json
import stat
from types import SimpleNamespace

import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from helpers import provisioning as prov
from helpers.certs import DeviceFiles

CERT_ARN = "arn:aws:iot:us-east-1:123456789012:cert/"
THING_ARN = "arn:aws:iot:us-east-1:123456789012:thing/"


def issue(csr_pem: str) -> str:
    """A certificate for the CSR's key (self-signed by a throwaway key: enough for file tests)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    csr = x509.load_pem_x509_csr(csr_pem.encode())
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(csr.subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def result_line(offset: int, thing: str | None, cert_id: str, pem: str = "PEM") -> str:
    arns = {"certificate": CERT_ARN + cert_id, "policy": "arn:aws:iot:us-east-1:123456789012:policy/P"}
    if thing:
        arns["thing"] = THING_ARN + thing
    return json.dumps({"offset": offset, "response": {"CertificatePem": pem, "ResourceArns": arns}})


# -- make_devices ------------------------------------------------------------------------------


def test_make_devices_names_and_numbers_devices_like_the_workshop():
    devices = prov.make_devices("bulky", 3, key_kind="ec")

    assert [(d.name, d.serial) for d in devices] == [("bulky1", "1"), ("bulky2", "2"), ("bulky3", "3")]
    assert [x509.load_pem_x509_csr(d.csr_pem.encode()).subject.rfc4514_string() for d in devices] == [
        "CN=bulky1", "CN=bulky2", "CN=bulky3"]


def test_each_device_gets_its_own_key_unless_the_certificate_is_shared():
    own = prov.make_devices("own", 3, key_kind="ec")
    shared = prov.make_devices("sh", 3, key_kind="ec", shared_certificate=True)

    assert len({d.key_pem for d in own}) == 3 and len({d.csr_pem for d in own}) == 3
    assert len({d.key_pem for d in shared}) == 1 and len({d.csr_pem for d in shared}) == 1


def test_a_csr_belongs_to_its_key():
    device = prov.make_devices("k", 1, key_kind="ec")[0]
    key = serialization.load_pem_private_key(device.key_pem.encode(), None)
    csr = x509.load_pem_x509_csr(device.csr_pem.encode())

    assert csr.public_key().public_numbers() == key.public_key().public_numbers()


def test_a_process_pool_makes_the_same_kind_of_devices_as_one_process():
    pooled = prov.make_devices("pool", 4, key_kind="rsa", workers=2)

    for device in pooled:
        key = serialization.load_pem_private_key(device.key_pem.encode(), None)
        assert key.key_size == 2048
        assert x509.load_pem_x509_csr(device.csr_pem.encode()).public_key().public_numbers() == \
            key.public_key().public_numbers()
    assert [d.name for d in pooled] == ["pool1", "pool2", "pool3", "pool4"]


@pytest.mark.parametrize(
    ("kind", "jobs", "cpus", "expected"),
    [("rsa", 1000, 2, 2), ("rsa", 10, 2, 1), ("ec", 1000, 2, 1), ("rsa", 1000, 1, 1)],
    ids=["many-rsa-uses-all-cpus", "few-rsa-stays-serial", "ec-stays-serial", "one-cpu-stays-serial"],
)
def test_auto_workers_uses_a_pool_only_where_it_helps(kind, jobs, cpus, expected):
    assert prov.auto_workers(kind, jobs, cpus) == expected


@pytest.mark.parametrize(
    ("prefix", "count", "message"),
    [("bulky", 0, "between 1 and"), ("bulky", 10_001, "between 1 and"), ("bad name ", 2, "not a valid thing name")],
    ids=["zero", "too-many", "bad-prefix"],
)
def test_make_devices_refuses_bad_requests(prefix, count, message):
    with pytest.raises(ValueError, match=message):
        prov.make_devices(prefix, count, key_kind="ec")


def test_extra_parameters_and_start_number_reach_the_input_lines():
    devices = prov.make_devices("dev", 2, key_kind="ec", start=10, extra_parameters={"Location": "WA"})

    assert [(d.parameters["ThingName"], d.parameters["SerialNumber"], d.parameters["Location"]) for d in devices] == [
        ("dev10", "10", "WA"), ("dev11", "11", "WA")]


# -- bulk_input --------------------------------------------------------------------------------


def test_bulk_input_is_one_json_object_per_line_with_a_final_newline():
    text = prov.bulk_input([{"ThingName": "a", "SerialNumber": "1"}, {"ThingName": "b", "SerialNumber": "2"}])

    assert text.endswith("\n") and text.count("\n") == 2
    assert [json.loads(line) for line in text.splitlines()] == [
        {"ThingName": "a", "SerialNumber": "1"}, {"ThingName": "b", "SerialNumber": "2"}]


def test_bulk_input_keeps_csr_newlines_escaped_inside_one_line():
    device = prov.make_devices("csr", 1, key_kind="ec")[0]
    text = prov.bulk_input([device])

    assert text.count("\n") == 1
    assert json.loads(text)["CSR"] == device.csr_pem


@pytest.mark.parametrize(
    ("devices", "expected"),
    [([{"ThingName": "a", "SerialNumber": 7}], {"ThingName": "a", "SerialNumber": "7"}),
     ([{"ThingName": "a", "Active": True}], {"ThingName": "a", "Active": "True"})],
    ids=["number-becomes-string", "bool-becomes-string"],
)
def test_bulk_input_turns_scalar_values_into_strings(devices, expected):
    assert json.loads(prov.bulk_input(devices)) == expected


@pytest.mark.parametrize(
    ("devices", "message"),
    [([], "at least one device"), ([{}], "non-empty dict"), (["bulky1"], "non-empty dict"),
     ([{"ThingName": ["a"]}], "must map a name to a string")],
    ids=["no-devices", "empty-dict", "not-a-dict", "list-value"],
)
def test_bulk_input_refuses_what_a_template_cannot_use(devices, message):
    with pytest.raises(ValueError, match=message):
        prov.bulk_input(devices)


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"Parameters": {}}, '{"Parameters": {}}'), ('{"a": 1}', '{"a": 1}')],
    ids=["dict-is-serialised", "string-is-kept"],
)
def test_template_text(body, expected):
    assert prov.template_text(body) == expected


# -- reports -----------------------------------------------------------------------------------


def test_parse_report_skips_blank_lines_and_names_a_bad_one():
    assert prov.parse_report('{"offset": 0}\n\n{"offset": 1}\n') == [{"offset": 0}, {"offset": 1}]
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        prov.parse_report('{"offset": 0}\nnot json\n')


def test_result_rows_take_thing_name_and_certificate_id_from_the_arns():
    lines = prov.parse_report(result_line(4, "bulky5", "ab" * 32, "CERT5"))

    assert prov.result_rows(lines) == [{
        "offset": 4, "thing_name": "bulky5", "certificate_id": "ab" * 32,
        "certificate_arn": CERT_ARN + "ab" * 32, "certificate_pem": "CERT5"}]


@pytest.mark.parametrize(
    "line",
    [{"offset": 3, "errorCode": "ResourceRegistrationFailureException", "errorMessage": "Thing type not found: x"},
     {"offset": 3, "ErrorCode": "ResourceRegistrationFailureException", "ErrorMessage": "Thing type not found: x"},
     {"offset": 3, "code": "ResourceRegistrationFailureException", "message": "Thing type not found: x"}],
    ids=["camelCase", "PascalCase", "short"],
)
def test_error_rows_read_every_known_spelling(line):
    assert prov.error_rows([line]) == [
        {"offset": 3, "error_code": "ResourceRegistrationFailureException", "message": "Thing type not found: x"}]


def test_fetch_report_downloads_and_parses_a_url(tmp_path):
    report = tmp_path / "RESULTS"
    report.write_text(result_line(0, "t0", "0" * 64) + "\n" + result_line(1, "t1", "1" * 64) + "\n")

    assert [line["offset"] for line in prov.fetch_report(report.as_uri())] == [0, 1]


class FakeIot:
    """list_thing_registration_task_reports with two pages of RESULTS links and one ERRORS link."""

    def __init__(self, links: dict[str, list[list[str]]]) -> None:
        self.links = links

    def list_thing_registration_task_reports(self, taskId, reportType, nextToken=None):
        pages = self.links[reportType]
        index = int(nextToken or 0)
        page = {"resourceLinks": pages[index] if pages else [], "reportType": reportType}
        if index + 1 < len(pages):
            page["nextToken"] = str(index + 1)
        return page


def test_task_reports_read_every_link_of_every_page_into_two_tables(tmp_path):
    files = {}
    for name, text in {"r1": result_line(1, "t1", "1" * 64), "r2": result_line(0, "t0", "0" * 64),
                       "e1": json.dumps({"offset": 2, "errorCode": "InvalidRequestException", "errorMessage": "bad"})}.items():
        files[name] = tmp_path / name
        files[name].write_text(text + "\n")
    ws = SimpleNamespace(iot=FakeIot({"RESULTS": [[files["r1"].as_uri()], [files["r2"].as_uri()]],
                                      "ERRORS": [[files["e1"].as_uri()]]}))

    results, errors = prov.task_reports(ws, "task-1")

    assert list(results["thing_name"]) == ["t0", "t1"]  # sorted by offset
    assert list(results.columns) == prov.RESULT_COLUMNS
    assert errors.to_dict("records") == [{"offset": 2, "error_code": "InvalidRequestException", "message": "bad"}]


def test_task_reports_of_a_clean_task_give_an_empty_errors_table_with_columns():
    ws = SimpleNamespace(iot=FakeIot({"RESULTS": [], "ERRORS": []}))

    results, errors = prov.task_reports(ws, "task-2")

    assert (len(results), len(errors), list(errors.columns)) == (0, 0, prov.ERROR_COLUMNS)


class SequenceIot:
    def __init__(self, answers: list[dict]) -> None:
        self.answers = answers
        self.calls = 0

    def describe_thing_registration_task(self, taskId):
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return answer


def test_follow_task_polls_until_the_task_ends_and_returns_the_last_answer(capsys):
    iot = SequenceIot([
        {"status": "InProgress", "percentageProgress": 50, "successCount": 1, "failureCount": 0},
        {"status": "Completed", "percentageProgress": 100, "successCount": 2, "failureCount": 0},
    ])
    ws = SimpleNamespace(iot=iot, backend="local")

    final = prov.follow_task(ws, "t", interval=0)

    assert (final["status"], iot.calls) == ("Completed", 2)
    assert "Completed: 2 ok, 0 failed" in capsys.readouterr().out


def test_follow_task_gives_up_with_the_last_status():
    ws = SimpleNamespace(iot=SequenceIot([{"status": "InProgress", "percentageProgress": 5}]), backend="local")

    with pytest.raises(TimeoutError, match="still InProgress"):
        prov.follow_task(ws, "t", progress=False, timeout=0)


# -- certificates on disk ----------------------------------------------------------------------


def test_write_certificates_puts_each_certificate_next_to_its_key(tmp_path):
    devices = prov.make_devices("w", 3, key_kind="ec")
    rows = [{"offset": i, "thing_name": d.name, "certificate_id": f"{i}" * 64, "certificate_pem": issue(d.csr_pem)}
            for i, d in enumerate(devices) if d.name != "w2"]

    table = prov.write_certificates(tmp_path, pd.DataFrame(rows), devices)

    assert list(table["written"]) == [True, False, True]
    assert "ERRORS report" in table.loc[1, "problem"]
    for device in (devices[0], devices[2]):
        assert device.files == DeviceFiles(tmp_path / f"{device.name}.crt", tmp_path / f"{device.name}.key")
        assert stat.S_IMODE(device.files.key.stat().st_mode) == 0o600
        assert device.files.key.read_text() == device.key_pem
    assert devices[1].files is None


def test_write_certificates_matches_by_offset_when_no_thing_is_named(tmp_path):
    devices = prov.make_devices("o", 2, key_kind="ec")
    rows = [{"offset": 1, "thing_name": None, "certificate_id": "c" * 64, "certificate_pem": issue(devices[1].csr_pem)}]

    table = prov.write_certificates(tmp_path, rows, devices)

    assert list(table["written"]) == [False, True]


def test_device_files_accepts_plans_tables_pairs_and_dicts(tmp_path):
    files = DeviceFiles(tmp_path / "a.crt", tmp_path / "a.key")
    plan = prov.DevicePlan("a", "1", csr_pem="", key_pem="", files=files)
    unwritten = prov.DevicePlan("b", "2", csr_pem="", key_pem="")
    table = pd.DataFrame([{"device": "a", "cert": files.cert, "key": files.key},
                          {"device": "b", "cert": None, "key": None}])

    assert prov.device_files([plan, unwritten]) == [("a", files)]
    assert prov.device_files(table) == [("a", files)]
    assert prov.device_files([("a", files)]) == [("a", files)]
    assert prov.device_files({"a": files}) == [("a", files)]


def test_connect_time_chart_draws_one_bar_per_device_coloured_by_outcome():
    df = pd.DataFrame([
        {"device": "a", "connected": True, "connect_ms": 12.5, "published": True, "received": True, "error": ""},
        {"device": "b", "connected": True, "connect_ms": 20.0, "published": True, "received": False, "error": ""},
        {"device": "c", "connected": False, "connect_ms": None, "published": False, "received": False, "error": "x"},
    ])

    figure = prov.connect_time_chart(df)
    bars = figure.axes[0].patches

    assert [round(b.get_height(), 1) for b in bars] == [12.5, 20.0, 0.0]
    assert [b.get_facecolor()[:3] for b in bars] == [
        pytest.approx((0x2e / 255, 0x7d / 255, 0x32 / 255)), pytest.approx((0xef / 255, 0x6c / 255, 0)),
        pytest.approx((0xc6 / 255, 0x28 / 255, 0x28 / 255))]
