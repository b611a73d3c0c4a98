#!/usr/bin/env bash
# CI's fuzz smoke: each target for SECONDS (default 60) from the committed seed corpus, on the
# stable toolchain (fuzz/run.sh). Prints one line per target; exits non-zero if any target
# crashed, timed out or failed to build, after showing the end of its log and the reproducer.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
rc=0
for t in wire stack; do
  log=$(mktemp)
  start=$SECONDS
  if ./run.sh "$t" "$secs" -max_len=2048 -timeout=20 >"$log" 2>&1; then
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    echo "fuzz smoke $t: ok in $((SECONDS - start)) s (build included): ${done_line:-no DONE line}"
  else
    rc=1
    echo "fuzz smoke $t: FAILED after $((SECONDS - start)) s; end of its log:"
    tail -60 "$log"
    ls -l "artifacts/$t/" 2>/dev/null
  fi
  rm -f "$log"
done
exit $rc
