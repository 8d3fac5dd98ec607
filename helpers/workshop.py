"""`connect()`: the one object a notebook needs to reach its backend, local lab or AWS account.

    ws = workshop.connect()            # backend from WORKSHOP_BACKEND, else "local"
    ws.iot.create_thing(thingName=ws.name("my-first-thing"))

The only difference between the backends is where clients point (DESIGN principle 2): endpoint
URL, credentials, the MQTT endpoint and its root CA. For ``local`` this module starts the lab the
one way the design allows, as a subprocess (``python -m localcore start`` / ``env --json``); it
never imports `localcore`, and it never changes the kernel's ``os.environ``.

Its clients fail in plain words (`helpers.failures`): a stopped lab or an unreachable AWS is
`BackendUnreachable`, missing credentials `CredentialsMissing`, a missing region `RegionMissing`,
each a `WorkshopError` that a notebook shows in a few lines with what to run. AWS's own answers
(``ws.iot.exceptions.ResourceNotFoundException`` and friends) are unchanged.

Each `connect()` is a new *set-up*: waits are sized for its backend from then on (`helpers.waits`),
and MQTT consoles made earlier no longer report messages from before it as new (`helpers.console`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import boto3
from botocore.exceptions import NoRegionError

from . import endpoints, ledger, mqtt_alpn, root_ca as root_cas, waits
from .failures import REGION_MESSAGE, BackendUnreachable, CredentialsMissing, RegionMissing, WorkshopError, explain_errors
from .console import new_setup
from .secrets import private_folder
from .ui import Panel

BACKENDS = ("local", "aws")
DEFAULT_BACKEND = "local"
REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_TEMPLATE = REPO_ROOT / "cfn" / "iot-dm-workshop.yaml"
STACK_BASE_NAME = "iot-dm-workshop"
STACK_PREFIX_DEFAULT = "iotdm"  # the template's default Prefix
ROOT_CA_FILE = root_cas.ROOT_CA_FILE
MQTT_PORT_AWS = mqtt_alpn.MQTT_PORT  # 443 with WORKSHOP_MQTT_PORT=443 / WORKSHOP_MQTT_ALPN=1 (helpers.mqtt_alpn)
WS_PORT_AWS = 443  # MQTT over WebSockets (SigV4): the MQTT console (helpers.iam_mqtt)
MODES = ("solo", "class")
DEFAULT_MODE = "solo"
PREFIX_MAX = 20  # with its hyphen; the stack template's Prefix allows [a-z0-9-]{1,20}
CLASS_STACK_NAME = "iot-dm-class"  # the instructor's stack (helpers.classroom): the shared logging role
CLASS_STACK_TEMPLATE = REPO_ROOT / "cfn" / "iot-dm-class.yaml"
CLASS_SETUP_COMMAND = "python -m helpers.classroom setup"
LAB_START_TIMEOUT_S = 90
LAB_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "IOT_ENDPOINT", "IOT_PORT", "IOT_WS_PORT", "IOT_ROOT_CA")
STACK_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
CLIENT_NAMES = {"iot_data": "iot-data", "lambda_": "lambda"}


class StackDeployError(WorkshopError):
    """The CloudFormation stack did not reach a complete state; the message lists the failed events."""


class ClassSettingMissing(WorkshopError):
    """Class mode: an account-wide setting (or the class stack) the instructor owns is missing."""


def ask_instructor(missing: str) -> str:
    """The message of a `ClassSettingMissing`: what is missing, and who fixes it."""
    return (f"Class mode: {missing}. The instructor owns the account-wide settings: ask your instructor "
            f"to run `{CLASS_SETUP_COMMAND}`, then run this cell again.")


# ------------------------------------------------------------------------- pure choices


def choose_backend(backend: str | None, environ: Mapping[str, str]) -> str:
    """The argument, else ``WORKSHOP_BACKEND``, else ``local``."""
    chosen = (backend or environ.get("WORKSHOP_BACKEND") or DEFAULT_BACKEND).strip().lower()
    if chosen not in BACKENDS:
        raise WorkshopError(f"Unknown backend {chosen!r}: use 'local' (the lab on this machine) or 'aws'.")
    return chosen


def choose_mode(mode: str | None, environ: Mapping[str, str]) -> str:
    """The argument, else ``WORKSHOP_MODE``, else ``solo``: ``solo`` (the trainee owns the account-wide
    settings) or ``class`` (the instructor does, with `helpers.classroom`)."""
    chosen = (mode or environ.get("WORKSHOP_MODE") or DEFAULT_MODE).strip().lower()
    if chosen not in MODES:
        raise WorkshopError(f"Unknown mode {chosen!r}: use 'solo' (you alone in the account) or 'class'.")
    return chosen


def normalise_prefix(raw: str) -> str:
    """One spelling per trainee: ``anna``, ``Anna_``, ``ANNA-`` and `` anna `` all give ``anna-``.

    Lowercase letters, digits and hyphens, starting with a letter, ending with exactly one ``-``,
    at most `PREFIX_MAX` characters; ``""`` stays ``""`` (no prefix). Anything else is a WorkshopError."""
    text = raw.strip()
    if not text:
        return ""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")
    if not cleaned:
        raise WorkshopError(f"Prefix {raw!r} has no letters or digits: use your name, e.g. WORKSHOP_PREFIX=anna.")
    if not cleaned[0].isalpha():
        raise WorkshopError(f"Prefix {raw!r} must start with a letter (stack and role names do): e.g. anna.")
    if len(cleaned) + 1 > PREFIX_MAX:
        raise WorkshopError(f"Prefix {raw!r} is too long: at most {PREFIX_MAX - 1} letters, digits or hyphens.")
    return f"{cleaned}-"


def choose_prefix(prefix: str | None, environ: Mapping[str, str], mode: str = DEFAULT_MODE,
                  instructor: bool = False) -> str:
    """The per-trainee name prefix, normalised: the argument, else ``WORKSHOP_PREFIX``, else ``""``.

    Required in class mode (except for the instructor)."""
    chosen = normalise_prefix(prefix if prefix is not None else environ.get("WORKSHOP_PREFIX", ""))
    if mode == "class" and not chosen and not instructor:
        raise WorkshopError(
            "Class mode needs your own name prefix, so that your resources do not collide with the others': "
            "set WORKSHOP_PREFIX=<your name> before starting JupyterLab (then restart the kernel), "
            "or pass connect(prefix=\"<your name>\")."
        )
    return chosen


def where(backend: str, mode: str, prefix: str) -> str:
    """The status row "where": ``local lab · class mode · prefix anna-``."""
    place = "local lab" if backend == "local" else "AWS account"
    return f"{place} · {mode} mode · " + (f"prefix {prefix}" if prefix else "no prefix")


def default_work_dir(backend: str, environ: Mapping[str, str], repo_root: Path = REPO_ROOT) -> Path:
    """``WORKSHOP_WORK_DIR`` if set, else ``<repo>/work/<backend>`` (git-ignored via ``work/``)."""
    if environ.get("WORKSHOP_WORK_DIR"):
        return Path(environ["WORKSHOP_WORK_DIR"]).expanduser()
    root = repo_root if (repo_root / "pyproject.toml").is_file() else Path.cwd()
    return root / "work" / backend


def stack_prefix(prefix: str) -> str:
    """The template's ``Prefix`` parameter (``[a-z0-9-]{1,20}``) for a trainee prefix."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:20].strip("-")
    return cleaned or STACK_PREFIX_DEFAULT


def stack_name(prefix: str) -> str:
    """The CloudFormation stack name (letters, digits, hyphens; starts with a letter)."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", prefix).strip("-")
    name = f"{cleaned}-{STACK_BASE_NAME}" if cleaned else STACK_BASE_NAME
    return name if name[0].isalpha() else f"ws-{name}"


def parse_lab_env(text: str) -> dict[str, str]:
    """The JSON `python -m localcore env --json` prints, checked for what the workshop needs."""
    try:
        data = json.loads(text)
    except ValueError:
        raise WorkshopError(f"`localcore env --json` printed something that is not JSON: {text[:200]!r}") from None
    missing = [key for key in LAB_ENV_KEYS if not data.get(key)]
    if missing:
        raise WorkshopError(f"`localcore env --json` lacks {', '.join(missing)}; is localcore up to date?")
    return {key: str(value) for key, value in data.items()}


def find_root_ca(work_dir: Path, environ: Mapping[str, str]) -> Path:
    """Amazon Root CA 1 for the aws backend: the file ``IOT_ROOT_CA`` (or ``WORKSHOP_ROOT_CA``) names, else
    the certificate taken from certifi's trust store and written to ``<work_dir>/AmazonRootCA1.pem``
    (`helpers.root_ca`)."""
    return root_cas.find_root_ca(work_dir, environ)


def format_stack_failure(name: str, status: str, events: list[dict], limit: int = 10) -> str:
    """A readable account of a failed stack: its status and the failed resource events, oldest first."""
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("FAILED")]
    lines = [
        f"  {e.get('LogicalResourceId', '?')} ({e.get('ResourceType', '?')}) {e.get('ResourceStatus')}: "
        f"{e.get('ResourceStatusReason', '')}"
        for e in reversed(failed[:limit])
    ]
    detail = "\n".join(lines) if lines else "  (no failed resource events were reported)"
    return f"The stack {name} ended in {status}. Failed resources:\n{detail}"


# ------------------------------------------------------------------------------ the lab


def start_lab(python: str = sys.executable, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Start the local lab (reusing a running one) in a subprocess and return its `env --json`.

    The subprocess sees the kernel's environment, so LOCALCORE_HOME, LOCALCORE_HTTP_PORT and
    LOCALCORE_MQTT_PORT choose which lab. What `start` prints (where the lab runs) is shown.
    """
    env = dict(os.environ if environ is None else environ)
    started = _run_localcore(python, ["start"], env)
    if started.strip():
        print(started.strip())
    return parse_lab_env(_run_localcore(python, ["env", "--json"], env))


def _run_localcore(python: str, args: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [python, "-m", "localcore", *args], env=env, capture_output=True, text=True,
            timeout=LAB_START_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkshopError(f"`python -m localcore {' '.join(args)}` did not finish in {LAB_START_TIMEOUT_S} s.") from None
    if done.returncode != 0:
        if "No module named localcore" in done.stderr:
            raise WorkshopError(
                f"The local lab (localcore) is not installed for {python}. Run `make workshop` in the "
                f"kit's folder, or use the aws backend."
            )
        raise WorkshopError(
            f"`python -m localcore {' '.join(args)}` failed (exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


# ------------------------------------------------------------------------------ workshop


class Workshop:
    """Clients, endpoints and folders for one backend (build it with `connect`)."""

    def __init__(
        self,
        backend: str,
        session: boto3.Session,
        *,
        endpoint: str,
        port: int,
        root_ca: Path,
        work_dir: Path,
        prefix: str = "",
        http_url: str | None = None,
        ws_port: int = WS_PORT_AWS,
        mode: str = DEFAULT_MODE,
        instructor: bool = False,
    ) -> None:
        self.backend = backend
        self.mode, self.instructor = mode, instructor
        self.session = session
        self.endpoint, self.port, self.root_ca = endpoint, int(port), Path(root_ca)
        self.ws_port = int(ws_port)  # MQTT over WebSockets signed with the session's credentials (the console)
        self.work_dir = Path(work_dir)
        self.prefix = prefix
        self.http_url = http_url
        self.stack_outputs: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._account_id: str | None = None

    # -- clients

    @property
    def region(self) -> str:
        return self.session.region_name

    def client(self, name: str) -> Any:
        """A boto3 client for service ``name`` pointing at this backend (cached)."""
        name = CLIENT_NAMES.get(name, name)
        if name not in self._clients:
            endpoint_url = self.http_url
            if endpoint_url is None and name == "iot-data" and not getattr(self, "rehearsal", False):
                endpoint_url = f"https://{self.endpoint}"  # a rehearsal's is the lab's AWS_ENDPOINT_URL
            try:
                client = self.session.client(name, endpoint_url=endpoint_url)
            except NoRegionError:
                raise RegionMissing(REGION_MESSAGE) from None
            # Every client records what its calls create (helpers.ledger), for the clean-up chapter.
            client = ledger.watch(client, self)
            # ... and fails in a few plain lines when the backend cannot be reached (helpers.failures).
            self._clients[name] = explain_errors(client, self.backend)
        return self._clients[name]

    iot = property(lambda self: self.client("iot"))
    iot_data = property(lambda self: self.client("iot-data"))
    s3 = property(lambda self: self.client("s3"))
    iam = property(lambda self: self.client("iam"))
    sts = property(lambda self: self.client("sts"))
    cloudformation = property(lambda self: self.client("cloudformation"))
    logs = property(lambda self: self.client("logs"))
    lambda_ = property(lambda self: self.client("lambda"))

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.sts.get_caller_identity()["Account"]
        return self._account_id

    def name(self, base: str) -> str:
        """``base`` with this trainee's prefix, e.g. ``ws.name("bulky")`` → ``"anna-bulky"``."""
        return f"{self.prefix}{base}"

    # -- solo or class mode

    @property
    def owns_account_settings(self) -> bool:
        """May this workshop change account-wide settings (events, logging, indexing)? In solo mode
        yes; in class mode only the instructor's (`helpers.classroom`)."""
        return self.mode == "solo" or self.instructor

    def class_logging_role(self) -> str:
        """The class stack's logging role ARN (class mode); `ClassSettingMissing` without the stack."""
        stack = self._stack(CLASS_STACK_NAME)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
        if stack is None or stack["StackStatus"] not in STACK_DONE or "ArnIoTLoggingRole" not in outputs:
            raise ClassSettingMissing(ask_instructor(f"the class stack {CLASS_STACK_NAME} with the shared "
                                                     f"logging role is not there"))
        return outputs["ArnIoTLoggingRole"]

    def stack_parameters(self) -> dict[str, str]:
        """The workshop stack's parameters: the Prefix and, in class mode, the class's logging role
        (so a trainee's stack makes no logging role of its own)."""
        role = "" if self.owns_account_settings else self.class_logging_role()
        return {"Prefix": stack_prefix(self.prefix), "LoggingRoleArn": role}

    # -- the workshop stack

    @property
    def stack_name(self) -> str:
        return stack_name(self.prefix)

    def deploy_stack(self, template: str | Path | None = None, timeout: float = 900, *, name: str | None = None,
                     parameters: Mapping[str, str] | None = None) -> dict[str, str]:
        """Create or update a stack (the workshop stack unless ``name``) and return its outputs (idempotent).

        A complete stack with the same template and parameters is only read. A stack whose creation
        rolled back is deleted and created again. Failure raises `StackDeployError` with the events.
        Only the workshop stack's outputs go into ``ws.stack_outputs``.
        """
        cfn = self.cloudformation
        own = name is None
        name = name or self.stack_name
        body = Path(template or STACK_TEMPLATE).read_text()
        chosen = self.stack_parameters() if parameters is None else dict(parameters)
        parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in chosen.items()]
        request = dict(StackName=name, TemplateBody=body, Parameters=parameters,
                       Capabilities=["CAPABILITY_NAMED_IAM"])
        stack = self._stack(name)
        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            cfn.delete_stack(StackName=name)
            stack = self._wait_stack(timeout, until=("DELETE_COMPLETE",), name=name)
        usable = STACK_DONE + ("UPDATE_ROLLBACK_COMPLETE",)  # a failed update leaves the old stack working
        if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
            cfn.create_stack(**request)
            usable = STACK_DONE
        elif stack["StackStatus"] in usable and self._differs(stack, body, parameters, name):
            try:
                cfn.update_stack(**request)
                usable = STACK_DONE
            except Exception as error:  # noqa: BLE001 - botocore ClientError
                if "No updates are to be performed" not in str(error):
                    raise
        stack = self._wait_stack(timeout, until=usable, name=name)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if own:
            self.stack_outputs = outputs
        return dict(outputs)

    def delete_stack(self, name: str, timeout: float = 900) -> bool:
        """Delete the stack ``name`` and wait until it is gone; False when there was none."""
        if self._stack(name) is None:
            return False
        self.cloudformation.delete_stack(StackName=name)
        self._wait_stack(timeout, until=("DELETE_COMPLETE",), name=name)
        return True

    def _stack(self, name: str | None = None) -> dict | None:
        try:
            return self.cloudformation.describe_stacks(StackName=name or self.stack_name)["Stacks"][0]
        except Exception as error:  # noqa: BLE001 - ValidationError "does not exist"
            if "does not exist" in str(error):
                return None
            raise

    def _differs(self, stack: dict, body: str, parameters: list[dict], name: str | None = None) -> bool:
        current = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        if current != {p["ParameterKey"]: p["ParameterValue"] for p in parameters}:
            return True
        deployed = self.cloudformation.get_template(StackName=name or self.stack_name)["TemplateBody"]
        return (deployed if isinstance(deployed, str) else json.dumps(deployed)).strip() != body.strip()

    def _wait_stack(self, timeout: float, until: tuple[str, ...], name: str | None = None) -> dict:
        name = name or self.stack_name
        interval = 0.2 if self.backend == "local" else 3.0  # never faster than 5 polls a second
        deadline = time.monotonic() + timeout
        while True:
            stack = self._stack(name)
            status = stack["StackStatus"] if stack is not None else "DELETE_COMPLETE"
            if status in until:
                return stack or {"StackStatus": status}
            if not status.endswith("_IN_PROGRESS"):
                events = self.cloudformation.describe_stack_events(StackName=name)["StackEvents"] if stack else []
                raise StackDeployError(format_stack_failure(name, status, events))
            if time.monotonic() > deadline:
                raise StackDeployError(f"The stack {name} is still {status} after {timeout:.0f} s.")
            time.sleep(interval)

    # -- status

    def counts(self) -> dict[str, int | str]:
        """How many things, certificates, policies and thing groups the backend holds: with a prefix,
        only the things, policies and groups named with it (a shared account holds classmates' too;
        certificates have no name, so they are counted account-wide)."""
        listings = {"things": ("list_things", "things", "thingName"),
                    "certificates": ("list_certificates", "certificates", None),
                    "policies": ("list_policies", "policies", "policyName"),
                    "thing groups": ("list_thing_groups", "thingGroups", "groupName")}
        counts: dict[str, int | str] = {}
        for label, (operation, key, name_key) in listings.items():
            try:
                items = [item for page in self.iot.get_paginator(operation).paginate() for item in page.get(key, [])]
                mine = [i for i in items if name_key is None or str(i.get(name_key, "")).startswith(self.prefix)]
                counts[label] = len(mine)
            except Exception as error:  # noqa: BLE001 - a panel shows what it can
                counts[label] = f"? ({type(error).__name__})"
        return counts

    def _summary(self) -> dict[str, Any]:
        return {
            "where": where(self.backend, self.mode, self.prefix) + (" · instructor" if self.instructor else ""),
            "backend": endpoints.REHEARSAL_LABEL if getattr(self, "rehearsal", False) else self.backend,
            "mode": self.mode,
            "region": self.region,
            "AWS APIs": self.http_url or f"AWS ({self.region})",
            "MQTT": f"{self.endpoint}:{self.port}" + (f" (ALPN {mqtt_alpn.ALPN_PROTOCOL})" if mqtt_alpn.alpn_wanted(os.environ) else ""),
            "root CA": str(self.root_ca),
            "work folder": str(self.work_dir),
            "name prefix": self.prefix or "(none)",
        }

    def status_panel(self) -> Panel:
        """Backend, account, endpoints, root CA and registry counts, as HTML or text."""
        items = self._summary()
        items["account"] = self.account_id
        if self.prefix:
            items["counted"] = f"names starting {self.prefix} (certificates: the whole account)"
        items.update(self.counts())
        return Panel("Workshop status", items)

    def _repr_html_(self) -> str:
        return Panel("Workshop", self._summary())._repr_html_()

    def __repr__(self) -> str:
        return f"Workshop(backend={self.backend!r}, region={self.region!r}, mqtt={self.endpoint}:{self.port})"


def local_session(lab: Mapping[str, str]) -> boto3.Session:
    """A boto3 session with the lab's dummy credentials and region (endpoints are set per client)."""
    return boto3.Session(
        aws_access_key_id=lab["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=lab["AWS_SECRET_ACCESS_KEY"],
        region_name=lab["AWS_DEFAULT_REGION"],
    )


def connect(backend: str | None = None, *, prefix: str | None = None, work_dir: str | Path | None = None,
            mode: str | None = None, instructor: bool = False) -> Workshop:
    """Connect to the backend: ``local`` starts (or reuses) the lab; ``aws`` uses your AWS credentials.

    ``mode`` (else ``WORKSHOP_MODE``): ``solo`` or ``class``; in class mode a prefix is required and
    only the instructor (``instructor=True``, `helpers.classroom`) changes account-wide settings."""
    environ = os.environ
    backend = choose_backend(backend, environ)
    mode = choose_mode(mode, environ)
    prefix = choose_prefix(prefix, environ, mode, instructor)
    folder = private_folder(Path(work_dir) if work_dir is not None else default_work_dir(backend, environ))
    waits.set_backend(backend)
    new_setup()
    if backend == "local":
        lab = start_lab()
        return Workshop(
            "local", local_session(lab), endpoint=lab["IOT_ENDPOINT"], port=int(lab["IOT_PORT"]),
            root_ca=Path(lab["IOT_ROOT_CA"]), work_dir=folder, prefix=prefix,
            http_url=lab["AWS_ENDPOINT_URL"], ws_port=int(lab["IOT_WS_PORT"]), mode=mode, instructor=instructor,
        )
    # aws: boto3's default session; a leftover lab endpoint is a loud error unless rehearsing (helpers.endpoints).
    endpoints.check_configured(environ)
    rehearsal = endpoints.rehearsal(environ)
    session = boto3.Session()
    if not session.region_name:
        raise RegionMissing(REGION_MESSAGE)
    if session.get_credentials() is None:
        raise CredentialsMissing(
            "No AWS credentials were found. Configure them: `aws configure`, or `export AWS_PROFILE=<profile>` "
            "before starting JupyterLab (`aws sso login` first for an SSO profile); then run this cell again."
        )
    # A rehearsal still takes Amazon Root CA 1 from certifi (that code runs), but trusts the lab's root CA.
    amazon_root_ca = root_cas.amazon_root_ca_file(folder) if rehearsal else find_root_ca(folder, environ)
    iot_client = session.client("iot")
    endpoints.check_endpoint("the AWS IoT API endpoint", iot_client.meta.endpoint_url, environ)
    iot = explain_errors(iot_client, "aws")
    endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    endpoints.check_endpoint("the MQTT endpoint DescribeEndpoint answered", endpoint, environ)
    port, root_ca, ws_port = mqtt_alpn.aws_port(environ), amazon_root_ca, WS_PORT_AWS
    if rehearsal:  # the lab's MQTT port and root CA (and iot-data via AWS_ENDPOINT_URL): helpers.endpoints
        port, root_ca = endpoints.rehearsal_mqtt(environ)
        ws_port = int(environ.get("IOT_WS_PORT") or WS_PORT_AWS)  # the lab's wss port, for the console
    ws = Workshop("aws", session, endpoint=endpoint, port=port, root_ca=root_ca, work_dir=folder, prefix=prefix,
                  ws_port=ws_port, mode=mode, instructor=instructor)
    ws.amazon_root_ca, ws.rehearsal = amazon_root_ca, rehearsal
    return ws
