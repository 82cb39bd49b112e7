#!/usr/bin/env bash
# The benchmark (`make bench`): builds mywp-bench in release, starts a data plane of its own
# (MariaDB, php-fpm, nginx under var/bench, sites on port 8082), runs the bench against it
# and prints the result table (markdown), also written to target/bench/results.md.
# The data plane is stopped on exit, whatever happens. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
export CARGO_TARGET_DIR

scripts/dataplane.sh install
# The panel serves /pkg from the browser bundle, and part 6 measures it: bring it up to date
# (seconds when nothing changed).
scripts/setup.sh run
scripts/build-bundle.sh
# Part 7 measures the `mywp` binary itself (its allocator is the binary's own).
cargo build --locked --release -p mywp-tests --bin mywp-bench -p mywp --bin mywp

export MYWP_STATE_DIR="$PWD/var/bench" MYWP_SITES_PORT="${MYWP_BENCH_SITES_PORT:-8082}"
trap 'scripts/dataplane.sh stop >/dev/null 2>&1 || true' EXIT
scripts/dataplane.sh start
export MYWP_TEST_STATE_DIR="$MYWP_STATE_DIR"

mkdir -p target/bench
start=$SECONDS
rc=0
"$CARGO_TARGET_DIR/release/mywp-bench" >target/bench/results.md.new || rc=$?
mv -f target/bench/results.md.new target/bench/results.md
cat target/bench/results.md
echo "bench: done in $((SECONDS - start)) s (exit $rc); results in target/bench/results.md" >&2
exit "$rc"
