#!/usr/bin/env bash
# Builds the browser bundle (wasm + JS glue + CSS) into target/site/pkg, without cargo-leptos:
# plain `cargo build --target wasm32-unknown-unknown`, then wasm-bindgen at the version in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
export CARGO_TARGET_DIR
out=target/site/pkg
mkdir -p "$out"
cargo build --locked -p mywp-frontend --target wasm32-unknown-unknown --profile wasm-release
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name mywp \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/mywp_frontend.wasm"
cp style/main.css "$out/mywp.css"
gzip -kf9 "$out/mywp_bg.wasm" "$out/mywp.js" "$out/mywp.css"
echo "bundle: $(du -h "$out/mywp_bg.wasm" | cut -f1) wasm ($(du -h "$out/mywp_bg.wasm.gz" | cut -f1) gzipped)"
