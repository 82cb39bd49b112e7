#!/usr/bin/env bash
# The AWS API emulator the tests run the AWS shape against: moto server from PyPI (pinned),
# in its own virtualenv, on loopback.
#   scripts/moto.sh install   ~/.cache/mywp-venv with moto[server]==$MOTO_VERSION (skipped when there)
#   scripts/moto.sh start     moto on 127.0.0.1:$MYWP_TEST_AWS_PORT (default 5000); pid and log in
#                             $MYWP_STATE_DIR (default var/test); prints the endpoint URL
#   scripts/moto.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
# shellcheck source=scripts/venv.sh
. scripts/venv.sh
state="${MYWP_STATE_DIR:-$PWD/var/test}"
port="${MYWP_TEST_AWS_PORT:-5000}"
pidfile="$state/moto.pid"

say() { printf 'moto: %s\n' "$*" >&2; }

install() {
  venv_install moto "moto[server]" "$MOTO_VERSION" moto_server
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  mkdir -p "$state"
  if ! running; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "port $port is taken by another process: set MYWP_TEST_AWS_PORT"
      exit 1
    fi
    # ACM certificates are ISSUED at once (no DNS check in moto).
    MOTO_ACM_VALIDATION_WAIT=0 nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" \
      >"$state/moto.log" 2>&1 &
    echo $! >"$pidfile"
  fi
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    running || { say "moto server exited; see $state/moto.log"; tail -5 "$state/moto.log" >&2; exit 1; }
    sleep 0.1
  done
  say "moto server did not listen on port $port within 10 s; see $state/moto.log"
  exit 1
}

stop() {
  if running; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
