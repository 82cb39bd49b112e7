#!/usr/bin/env bash
# Installs what building and running MyWP needs, skipping what is already there:
#   scripts/setup.sh run    the data plane's Debian packages, the wasm target, wasm-bindgen-cli,
#                           and the bundle's size tools: wasm-opt (binaryen from npm, in
#                           ~/.cache/mywp-binaryen), brotli and zopfli
#   scripts/setup.sh test   the same, plus PostgreSQL, Chromium and ChromeDriver for the tests,
#                           dnsmasq (dnsmasq-base: the binary alone, no system service) as the
#                           tests' own DNS server, and moto server (the AWS API emulator, in
#                           ~/.cache/mywp-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

say() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages (run as root on Debian 12).
scripts/dataplane.sh install
missing=()
# The bundle's compressors, and npm for binaryen (below) unless a Node.js with its npm is there.
for p in brotli zopfli; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)
if [ "$mode" = test ]; then
  for p in chromium chromium-driver postgresql dnsmasq-base; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$mode" = test ]; then
  scripts/moto.sh install
fi

# The browser bundle's toolchain: the wasm target, and wasm-bindgen-cli at exactly the
# version of wasm-bindgen in Cargo.lock (the two must match).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# wasm-opt from binaryen's npm package (Debian 12's binaryen, version 108, cannot read what
# rustc and wasm-bindgen emit now), at exactly the version and checksum of
# scripts/binaryen/package-lock.json, installed (again) when that lock changes.
binaryen="${MYWP_BINARYEN_DIR:-$HOME/.cache/mywp-binaryen}"
if ! cmp -s scripts/binaryen/package-lock.json "$binaryen/package-lock.json" \
  || ! "$binaryen/node_modules/.bin/wasm-opt" --version >/dev/null 2>&1; then
  say "installing binaryen (wasm-opt) into $binaryen"
  mkdir -p "$binaryen"
  cp scripts/binaryen/package.json scripts/binaryen/package-lock.json "$binaryen/"
  (cd "$binaryen" && npm ci --no-audit --no-fund --loglevel=error)
fi
