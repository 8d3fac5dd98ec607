"""Where the lab lives and which ports it serves: one place, read from the environment.

Every setting has a default so that `python -m localcore start` just works, and an environment
variable so that tests, CI and trainees with a busy port can move it:

    LOCALCORE_HOME        folder for the lab's state, CA keys and log  (default: <repo>/work/lab)
    LOCALCORE_HTTP_PORT   AWS APIs over HTTP                            (default: 4510)
    LOCALCORE_MQTT_PORT   MQTT over mutual TLS                          (default: 8883)
    LOCALCORE_WS_PORT     MQTT over WebSockets (wss), signed with SigV4 (default: 4511, or a free
                          port when 4511 is taken and the variable is unset)
    LOCALCORE_REGION      the one region the lab serves                 (default: us-east-1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HTTP_PORT = 4510
DEFAULT_MQTT_PORT = 8883
DEFAULT_WS_PORT = 4511
WS_PATH = "/mqtt"  # AWS IoT serves MQTT over WebSockets on wss://<endpoint>/mqtt
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; STS get-caller-identity returns it
HOST = "127.0.0.1"  # the lab never listens on anything but loopback
ENDPOINT_HOST = "localhost"  # what DescribeEndpoint returns; the server certificate names it
# The lab's one set of AWS credentials (admin of its account). The HTTP side accepts any; the
# WebSocket listener checks SigV4 signatures against these.
ACCESS_KEY_ID = "localcore"
SECRET_ACCESS_KEY = "localcore"


def _repo_root() -> Path | None:
    """The checkout this package was installed from (editable install), if any."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def default_home() -> Path:
    root = _repo_root()
    return root / "work" / "lab" if root else Path.home() / ".localcore"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"{name}={port} is outside 1..65535")
    return port


@dataclass(frozen=True)
class LabConfig:
    home: Path = field(default_factory=default_home)
    http_port: int = DEFAULT_HTTP_PORT
    mqtt_port: int = DEFAULT_MQTT_PORT
    ws_port: int | None = None  # None: DEFAULT_WS_PORT, or a free port if it is taken (`lifecycle.start`)
    region: str = DEFAULT_REGION
    account_id: str = ACCOUNT_ID
    host: str = HOST
    endpoint_host: str = ENDPOINT_HOST

    @classmethod
    def from_env(cls) -> "LabConfig":
        home = os.environ.get("LOCALCORE_HOME")
        return cls(
            home=Path(home).expanduser().resolve() if home else default_home(),
            http_port=_port("LOCALCORE_HTTP_PORT", DEFAULT_HTTP_PORT),
            mqtt_port=_port("LOCALCORE_MQTT_PORT", DEFAULT_MQTT_PORT),
            ws_port=_port("LOCALCORE_WS_PORT", 0) or None,
            region=os.environ.get("LOCALCORE_REGION") or DEFAULT_REGION,
        )

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def ws_port_or_default(self) -> int:
        return self.ws_port or DEFAULT_WS_PORT

    @property
    def credentials(self) -> dict[str, str]:
        """Access key id → secret access key of every identity the lab knows."""
        return {ACCESS_KEY_ID: SECRET_ACCESS_KEY}

    @property
    def state_file(self) -> Path:
        """Written by the running lab once both listeners answer; removed when it stops."""
        return self.home / "lab.json"

    @property
    def log_file(self) -> Path:
        return self.home / "lab.log"

    @property
    def out_file(self) -> Path:
        """What a background lab prints outside its log (a crash's traceback before logging starts)."""
        return self.home / "lab.out"

    @property
    def root_ca_path(self) -> Path:
        return self.home / "pki" / "root-ca.pem"

    @property
    def console_cert_path(self) -> Path:
        """The lab's privileged observer identity (tests and tools; not registered, no policies)."""
        return self.home / "pki" / "console-cert.pem"

    @property
    def console_key_path(self) -> Path:
        return self.home / "pki" / "console-key.pem"

    def env_exports(self) -> dict[str, str]:
        """What AWS's own tools need to reach the lab unmodified."""
        return {
            "AWS_ENDPOINT_URL": self.http_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "IOT_ENDPOINT": self.endpoint_host,
            "IOT_PORT": str(self.mqtt_port),
            "IOT_WS_PORT": str(self.ws_port_or_default),
            "IOT_ROOT_CA": str(self.root_ca_path),
        }
