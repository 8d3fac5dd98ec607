#!/usr/bin/env bash
# What the benches compare against and measure with, installed when this machine allows it, otherwise
# said plainly: Debian's mosquitto broker and C clients (bench/broker.py runs the lab beside it),
# and py-spy (bench/broker_profile.py). Called by `make bench`; never fails the bench by itself.
set -uo pipefail
VENV_BIN="${1:-.venv/bin}"

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bench: installing ${missing[*]} with apt-get (for the comparison with mosquitto)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      >/tmp/bench-apt.log 2>&1 || echo "bench: could not install ${missing[*]} (see /tmp/bench-apt.log)"
  else
    echo "bench: ${missing[*]} missing and cannot be installed here (needs apt-get as root):"
    echo "       run 'sudo apt-get install ${missing[*]}'; until then the mosquitto comparison is NOT MEASURED"
  fi
fi
# systemd may start the packaged broker on 1883; the bench runs its own on a free loopback port.
"$VENV_BIN/python" -c "import shutil, sys; sys.exit(0 if shutil.which('py-spy', path='$VENV_BIN') else 1)" 2>/dev/null \
  || "$VENV_BIN/pip" install -q py-spy >/tmp/bench-pip.log 2>&1 \
  || echo "bench: py-spy could not be installed (see /tmp/bench-pip.log): the broker profile is skipped"
exit 0
