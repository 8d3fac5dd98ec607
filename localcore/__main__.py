"""`python -m localcore start | stop | status | reset | env | serve`"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from . import lifecycle
from .config import LabConfig

EPILOG = """what the lab keeps:
  Everything it holds (things, certificates, policies, groups, jobs, shadows, rules, buckets and their
  objects, roles, stacks, logs, settings, retained messages) is saved in $LOCALCORE_HOME/snapshot.bin
  (mode 0600) within a second of each change (AWS IoT's log entries in aws-iot-logs.tsv beside it),
  and comes back at the next start: after `stop`, a
  crash, `kill -9` or a reboot. Devices reconnect with their old key files. A saved file the lab
  cannot read (damaged, or written by another moto version) is moved aside with a message, and the
  lab starts empty. `reset` empties the registry on purpose; the lab's CA and keys (pki/) stay.

the limits the MQTT broker enforces, as AWS IoT Core does:
  A client id over 128 bytes gets CONNACK 2. A last will with QoS 2 or an over-limit topic gets no
  CONNACK. QoS 2, payloads over 128 KB, topics over 256 bytes or 7 slashes (a $aws/rules/<rule>/
  prefix not counted) and SUBSCRIBEs with more than 8 filters disconnect the client (CLIENT_ERROR);
  nothing is acknowledged or delivered. A client silent for 1.5 times its keep-alive (30-1200 s;
  0 means 1200) is disconnected (MQTT_KEEP_ALIVE_TIMEOUT) and its last will is published. Sockets
  that do not finish TLS or send CONNECT within 10 s are closed.

settings (environment): LOCALCORE_HOME (default work/lab), LOCALCORE_HTTP_PORT (4510),
  LOCALCORE_MQTT_PORT (8883), LOCALCORE_WS_PORT (4511, MQTT over WebSockets signed with SigV4 as
  on AWS's port 443; a free port when 4511 is taken and the variable is unset), LOCALCORE_REGION (us-east-1), LOCALCORE_LOG_LEVEL (INFO);
  LOCALCORE_MQTT_CONNECT_TIMEOUT_S, LOCALCORE_MQTT_TLS_TIMEOUT_S and LOCALCORE_MQTT_MIN_KEEP_ALIVE_S
  change the deadlines AWS does not fix.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcore",
        description="localcore: a local stand-in for AWS IoT Core (AWS APIs over HTTP, MQTT over mTLS).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start the lab in the background (reuses a running one)")
    commands.add_parser("stop", help="stop the lab (what it holds is saved)")
    commands.add_parser("status", help="endpoints, ports, uptime, resource counts, and when the state was saved")
    reset = commands.add_parser(
        "reset", help="empty the lab's registry and stores on purpose (its CA and keys stay)"
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
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
        elif args.command == "reset":
            return _reset(config, args.yes)
        elif args.command == "env":
            exports = lifecycle.env_exports(config)
            if args.json:  # for programs (the notebooks' helpers)
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
        from . import persistence

        print(f"No lab is running (home {config.home}). Start one with `python -m localcore start`.")
        saved = persistence.saved_header(config.home)
        if saved and saved.get("problem"):
            print(f"saved state   {saved['problem']}")
        elif saved:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved.get("savedAt") or 0))
            counts = ", ".join(f"{k} {v}" for k, v in (saved.get("counts") or {}).items() if v) or "empty"
            print(f"saved state   {saved['path']}, saved {when}: {counts}; the next start restores it")
        return 3
    print(f"lab           running, pid {status['pid']}, up {status['uptimeSeconds']:.0f} s")
    print(f"AWS APIs      {status['httpEndpoint']}  (region {status['region']}, account {status['accountId']})")
    print(f"MQTT (mTLS)   {status['mqttEndpoint']}  ({status['connectedClients']} clients connected)")
    if status.get("mqttWebSocketUrl"):
        print(f"MQTT (wss)    {status['mqttWebSocketUrl']}  (SigV4-signed with the lab's credentials)")
    print(f"root CA       {status['rootCa']}")
    print(f"home          {status['home']}")
    print("resources     " + ", ".join(f"{k} {v}" for k, v in status["resources"].items()))
    for line in _state_lines(status.get("persistence") or {}):
        print(line)
    return 0


def _state_lines(persistence: dict) -> list[str]:
    """What `status` says about saving: where, when, how big, and what the start found."""
    lines = []
    saving = persistence.get("saving") or {}
    if saving.get("savedAt"):
        ago = max(0.0, time.time() - saving["savedAt"])
        size = f", {_size(saving['bytes'])}" if saving.get("bytes") else ""
        pending = "; newer changes are being saved" if persistence.get("unsavedChanges") else ""
        lines.append(f"state         saved {ago:.1f} s ago in {saving['path']}{size}{pending}")
    elif saving:
        lines.append(f"state         nothing saved yet (it goes to {saving['path']})")
    if saving.get("error"):
        lines.append(f"              saving FAILED: {saving['error']}")
    restored = persistence.get("restored") or {}
    if restored.get("found"):
        counts = ", ".join(f"{k} {v}" for k, v in (restored.get("counts") or {}).items() if v)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(restored["savedAt"])) if restored.get("savedAt") else "?"
        lines.append(f"              restored at start from the state saved {when}" + (f" ({counts})" if counts else ""))
    if restored.get("problem"):
        lines.append(f"              {restored['problem']}")
    return lines


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.0f} kB"


def _reset(config: LabConfig, assume_yes: bool) -> int:
    """Stop the lab, set its saved state aside, start it again if it was running."""
    from . import persistence

    if not assume_yes:
        if not sys.stdin.isatty():
            print("localcore: reset deletes every thing, certificate, policy, job, bucket... of the lab; "
                  "run `python -m localcore reset --yes` to confirm.", file=sys.stderr)
            return 2
        answer = input(f"Empty the lab in {config.home} (everything but its CA and keys)? Type yes: ")
        if answer.strip().lower() != "yes":
            print("Nothing was changed.")
            return 1
    was_running = lifecycle.stop(config, quiet=True)
    aside = persistence.forget(config.home)
    if aside is None:
        print("The lab had no saved state; it is empty.")
    else:
        print(f"The lab is empty now (its CA and keys stay). The old state is kept once in {aside}.")
    if was_running:
        lifecycle.start(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
