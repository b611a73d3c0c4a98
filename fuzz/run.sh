#!/usr/bin/env bash
# Build a fuzz target with libFuzzer's coverage instrumentation on the stable toolchain and
# run it for a while: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# cargo-fuzz needs nightly only for its sanitizer flags; libfuzzer-sys itself builds on stable,
# so this passes the SanitizerCoverage flags cargo-fuzz would pass, without a sanitizer.
# The working corpus grows in fuzz/corpus-work/TARGET (not committed), seeded from the small
# committed fuzz/corpus/TARGET; crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
secs=${2:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
shift 2

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
# Its own target directory: these flags would otherwise rebuild the workspace's artifacts.
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does):
# they run on the host and would not link without libFuzzer's hooks.
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --locked --release --target "$triple" --bin "$target"

mkdir -p "corpus-work/$target" "artifacts/$target"
exec "$CARGO_TARGET_DIR/$triple/release/$target" \
  -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="artifacts/$target/" "$@" \
  "corpus-work/$target" "corpus/$target"
