#!/usr/bin/env bash
# Offline checks of deploy/: cfn-lint (from PyPI, pinned) over the CloudFormation template,
# which must pass with no error and no warning, then the config renderer's tests. Nothing is
# deployed: see deploy/README.md for what this cannot catch.
# cfn-lint goes into the same virtualenv as moto server ($MYWP_VENV, default
# ~/.cache/mywp-venv); the install is skipped when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
venv="${MYWP_VENV:-$HOME/.cache/mywp-venv}"

say() { printf 'deploy-lint: %s\n' "$*" >&2; }

installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true
}

install() {
  [ "$(installed_version)" = "$CFN_LINT_VERSION" ] && [ -x "$venv/bin/cfn-lint" ] && return 0
  # Debian 12 ships python3 without ensurepip: venvs need python3-venv.
  if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3 and python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  say "installing cfn-lint==$CFN_LINT_VERSION into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
}

install
# Exit status 0 only without errors and warnings (informational findings are not run).
# The regions the stack is likely to go to: resource types, instance classes and node
# types are checked against each one's catalogue, which ships inside cfn-lint.
"$venv/bin/cfn-lint" --regions us-east-1 us-west-2 eu-west-1 eu-central-1 -- deploy/*.yaml
say "cfn-lint $CFN_LINT_VERSION: deploy/*.yaml clean"
python3 deploy/test_render_config.py
