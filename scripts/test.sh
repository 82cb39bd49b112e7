#!/usr/bin/env bash
# The whole test suite, with every service it needs started here: a data plane of its own
# (MariaDB, php-fpm, nginx under var/test on port 8081), PostgreSQL, the AWS API emulator
# (moto server on 127.0.0.1:5000) for the AWS shape's drivers, and the browser bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
export CARGO_TARGET_DIR

scripts/setup.sh test
scripts/prune-target.sh
scripts/build-bundle.sh

export MYWP_STATE_DIR="$PWD/var/test" MYWP_SITES_PORT="${MYWP_TEST_SITES_PORT:-8081}" MYWP_PG_PORT="${MYWP_TEST_PG_PORT:-5434}" \
  MYWP_MARIADB_PORT="${MYWP_TEST_MARIADB_PORT:-3308}"
scripts/dataplane.sh start
scripts/dataplane.sh start-postgres
trap 'scripts/moto.sh stop >/dev/null 2>&1 || true; scripts/dataplane.sh stop-postgres >/dev/null 2>&1 || true; scripts/dataplane.sh stop >/dev/null 2>&1 || true' EXIT
MYWP_TEST_AWS_ENDPOINT=$(scripts/moto.sh start)
# moto accepts any credentials; these keep the SDK's default chain off the network.
export MYWP_TEST_AWS_ENDPOINT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1

# shellcheck disable=SC1091
. "$MYWP_STATE_DIR/dataplane.env"
export MYWP_TEST_STATE_DIR="$MYWP_STATE_DIR" MYWP_TEST_POSTGRES_URL MYWP_TEST_MYSQL_ENDPOINT \
  MYWP_TEST_MYSQL_ADMIN_USER MYWP_TEST_MYSQL_ADMIN_PASSWORD_FILE

# deploy/: cfn-lint over the CloudFormation template and the config renderer's tests (offline).
scripts/deploy-lint.sh
cargo fmt --all --check
# The AWS shape is behind the `aws` features: lint and test it too.
features="mywp-jobs/aws,mywp/aws,mywp-tests/aws"
cargo clippy --locked --workspace --all-targets --features "$features" -- -D warnings
# The SIGKILL and agent tests run the `mywp` binary: build it and say where it is.
cargo build --locked -p mywp --features aws
export MYWP_BIN="$CARGO_TARGET_DIR/debug/mywp"
cargo test --locked --workspace --features "$features"
