"""`python -m localcore start | stop | status | env | serve`"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from . import lifecycle
from .config import LabConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcore",
        description="localcore: a local stand-in for AWS IoT Core (AWS APIs over HTTP, MQTT over mTLS).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start the lab in the background (reuses a running one)")
    commands.add_parser("stop", help="stop the lab")
    commands.add_parser("status", help="endpoints, ports, uptime and resource counts")
    env = commands.add_parser("env", help="shell exports so the AWS CLI and MQTT clients reach the lab")
    env.add_argument("--json", action="store_true", help="print a JSON object instead of exports")
    commands.add_parser("serve", help="run the lab in the foreground (what `start` runs)")
    args = parser.parse_args(argv)
    config = LabConfig.from_env()

    try:
        if args.command == "start":
            lifecycle.start(config)
        elif args.command == "stop":
            lifecycle.stop(config)
        elif args.command == "status":
            return _print_status(config)
        elif args.command == "env":
            exports = config.env_exports()
            if args.json:  # for programs (the notebooks' helpers): includes the console identity
                exports.update(IOT_CONSOLE_CERT=str(config.console_cert_path), IOT_CONSOLE_KEY=str(config.console_key_path))
                print(json.dumps(exports, indent=2))
            else:
                for key, value in exports.items():
                    print(f"export {key}={shlex.quote(value)}")
        elif args.command == "serve":
            from .server import serve

            serve(config)
    except lifecycle.LabError as error:
        print(f"localcore: {error}", file=sys.stderr)
        return 1
    return 0


def _print_status(config: LabConfig) -> int:
    status = lifecycle.status(config)
    if status is None:
        print(f"No lab is running (home {config.home}). Start one with `python -m localcore start`.")
        return 3
    print(f"lab           running, pid {status['pid']}, up {status['uptimeSeconds']:.0f} s")
    print(f"AWS APIs      {status['httpEndpoint']}  (region {status['region']}, account {status['accountId']})")
    print(f"MQTT (mTLS)   {status['mqttEndpoint']}  ({status['connectedClients']} clients connected)")
    print(f"root CA       {status['rootCa']}")
    print(f"home          {status['home']}")
    print("resources     " + ", ".join(f"{k} {v}" for k, v in status["resources"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
