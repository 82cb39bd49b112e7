#!/usr/bin/env bash
# Offline checks of deploy/: cfn-lint (from PyPI, pinned) over the CloudFormation template,
# which must pass with no error and no warning, then the config renderer's tests. Nothing is
# deployed: see deploy/README.md for what this cannot catch.
# cfn-lint goes into the same virtualenv as moto server ($MYWP_VENV, default
# ~/.cache/mywp-venv); the install is skipped when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
# shellcheck source=scripts/venv.sh
. scripts/venv.sh

say() { printf 'deploy-lint: %s\n' "$*" >&2; }

venv_install cfn-lint cfn-lint "$CFN_LINT_VERSION" cfn-lint
# Exit status 0 only without errors and warnings (informational findings are not run).
# The regions the stack is likely to go to: resource types, instance classes and node
# types are checked against each one's catalogue, which ships inside cfn-lint.
"$venv/bin/cfn-lint" --regions us-east-1 us-west-2 eu-west-1 eu-central-1 -- deploy/*.yaml
say "cfn-lint $CFN_LINT_VERSION: deploy/*.yaml clean"
python3 deploy/test_render_config.py
