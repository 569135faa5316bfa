#!/usr/bin/env bash
# Run each cargo-fuzz target briefly (default 60 s each; FUZZ_SECS overrides).
# Crashes land in fuzz/artifacts/TARGET/; copy each into fuzz/regressions/TARGET/ so
# tests/fuzz_regressions.rs keeps checking it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECS:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# libFuzzer needs nightly flags: use a nightly toolchain when there is one, else let
# stable accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
export SQLX_OFFLINE=true

for target in feed_parser article_extract price_csv query_params; do
  echo "== $target (${secs}s)"
  mkdir -p "fuzz/corpus/$target" "fuzz/regressions/$target"
  # Work on a copy of the corpus so the committed seeds stay small.
  work="fuzz/target/corpus-$target"
  mkdir -p "$work"
  "${fuzz[@]}" run "$target" "$work" "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
    -max_total_time="$secs" -max_len=65536 -timeout=10
done
