#!/usr/bin/env bash
# Builds the browser bundle (wasm + JS glue + CSS) into target/site/pkg, without cargo-leptos:
# plain `cargo build --target wasm32-unknown-unknown` (size settings: Cargo.toml's
# [profile.wasm-release]), wasm-bindgen at the version in Cargo.lock, wasm-opt -Oz (binaryen
# from npm, pinned in scripts/binaryen/, installed by scripts/setup.sh), then a brotli (.br) and
# a gzip (.gz, by zopfli) copy beside each file for the panel to serve to browsers that accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
export CARGO_TARGET_DIR
: "${MYWP_BINARYEN_DIR:=$HOME/.cache/mywp-binaryen}"
wasm_opt="$MYWP_BINARYEN_DIR/node_modules/.bin/wasm-opt"
for tool in wasm-bindgen "$wasm_opt" brotli zopfli; do
  if ! command -v "$tool" >/dev/null; then
    echo "build-bundle: $tool is missing: run scripts/setup.sh" >&2
    exit 1
  fi
done

out=target/site/pkg
mkdir -p "$out"
cargo build --locked -p mywp-frontend --target wasm32-unknown-unknown --profile wasm-release
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/mywp_frontend.wasm"
# wasm-opt and brotli take half a minute: skip them when nothing they read has changed.
built=target/site/.bundle-built
up_to_date() {
  [[ -f "$built" && -f "$out/mywp_bg.wasm.br" ]] || return 1
  local input
  for input in "$wasm" style/main.css scripts/build-bundle.sh scripts/binaryen/package-lock.json; do
    [[ "$built" -nt "$input" ]] || return 1
  done
}
if up_to_date; then
  echo "bundle: up to date in $out"
  exit 0
fi
rm -f "$built"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name mywp "$wasm"
# On wasm-bindgen's output, not before it (wasm-bindgen needs the sections wasm-opt drops).
# The features are the ones rustc enables by default for wasm32-unknown-unknown (binaryen
# also reads them from the module's target_features section; naming them keeps a missing
# section from failing validation). -Oz also drops the 1.6 MB name section (function names
# for stack traces; panics still print their message and location).
"$wasm_opt" -Oz \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
  "$out/mywp_bg.wasm" -o "$out/mywp_bg.wasm.opt"
mv -f "$out/mywp_bg.wasm.opt" "$out/mywp_bg.wasm"
cp style/main.css "$out/mywp.css"

# Precompressed copies, served by the panel (tower-http's ServeDir) to clients that accept
# them: brotli at its best (-q 11) for browsers over HTTPS, and gzip for the rest (browsers
# ask plain-HTTP sites for gzip only), written by zopfli: any gzip reader reads it, and it is
# 5% smaller than gzip -9 (381 against 401 KB for the wasm) for 5 s more.
files=("$out/mywp_bg.wasm" "$out/mywp.js" "$out/mywp.css")
brotli -f -k -q 11 "${files[@]}"
for f in "${files[@]}"; do
  zopfli -c "$f" >"$f.gz.tmp"
  mv -f "$f.gz.tmp" "$f.gz"
done
touch "$built"

size() { stat -c %s "$1"; }
w="$out/mywp_bg.wasm"
echo "bundle: wasm $(size "$w") bytes, $(size "$w.gz") gzip, $(size "$w.br") brotli" \
  "(js $(size "$out/mywp.js.br"), css $(size "$out/mywp.css.br") brotli)"
