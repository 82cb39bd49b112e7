#!/usr/bin/env bash
# The whole test suite, with every service it needs started here: a data plane of its own
# (MariaDB, php-fpm, nginx under var/test on port 8081), PostgreSQL, and the browser bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
export CARGO_TARGET_DIR

scripts/setup.sh test
scripts/build-bundle.sh

export MYWP_STATE_DIR="$PWD/var/test" MYWP_SITES_PORT="${MYWP_TEST_SITES_PORT:-8081}" MYWP_PG_PORT="${MYWP_TEST_PG_PORT:-5434}"
scripts/dataplane.sh start
scripts/dataplane.sh start-postgres
trap 'scripts/dataplane.sh stop-postgres >/dev/null 2>&1 || true; scripts/dataplane.sh stop >/dev/null 2>&1 || true' EXIT

# shellcheck disable=SC1091
. "$MYWP_STATE_DIR/dataplane.env"
export MYWP_TEST_STATE_DIR="$MYWP_STATE_DIR" MYWP_TEST_POSTGRES_URL

cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
# The SIGKILL test runs `mywp worker` processes: build the binary and say where it is.
cargo build --locked -p mywp
export MYWP_BIN="$CARGO_TARGET_DIR/debug/mywp"
cargo test --locked --workspace
