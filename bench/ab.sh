#!/usr/bin/env bash
# Compare two builds of oxtcp-bench on the in-memory bulk transfer, alternated run by run on
# one pinned CPU, with smoltcp (from the new build) as the third system; prints each one's
# median user CPU seconds and its runs.
#
#   bench/ab.sh OLD_BIN NEW_BIN RUNS MTU BUFFER BYTES
#   e.g. bench/ab.sh /tmp/bench-old target/release/oxtcp-bench 7 65535 1048576 2147483648
#
# Build the old binary from the commit before the change (a worktree, or a copy of
# target/release/oxtcp-bench saved before rebuilding). Run on an otherwise idle machine:
# single runs here move by up to 20%, so compare medians, and only of one invocation.
# Needs GNU time (/usr/bin/time, apt package `time`) and taskset (util-linux).
set -euo pipefail
if [ $# -ne 6 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
old=$1 new=$2 runs=$3 mtu=$4 buf=$5 bytes=$6
[ -x /usr/bin/time ] || { echo "ab.sh: needs GNU time at /usr/bin/time" >&2; exit 2; }
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }
done
cpu=$(( $(nproc) > 1 ? 1 : 0 ))
declare -A times=([old]="" [new]="" [smoltcp]="")
for _ in $(seq "$runs"); do
  for who in old new smoltcp; do
    case $who in
      old) cmd=("$old" __bulk oxtcp);;
      new) cmd=("$new" __bulk oxtcp);;
      smoltcp) cmd=("$new" __bulk smoltcp);;
    esac
    t=$( { /usr/bin/time -f "%U" taskset -c "$cpu" "${cmd[@]}" "$mtu" "$buf" "$bytes" >/dev/null; } 2>&1 | tail -1)
    times[$who]+="$t "
  done
done
for who in old new smoltcp; do
  med=$(tr ' ' '\n' <<<"${times[$who]}" | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  echo "$who: median $med s user; runs ${times[$who]}"
done
