#!/usr/bin/env bash
# Compare two builds of oxtcp-bench on the in-memory bulk transfer, alternated run by run on
# one pinned CPU, with smoltcp (from the new build) as the third system; prints each one's
# median and least thread CPU time of the transfer, in ms, and its runs.
#
#   bench/ab.sh OLD_BIN NEW_BIN RUNS MTU BUFFER BYTES
#   e.g. bench/ab.sh /tmp/bench-old target/release/oxtcp-bench 7 65535 1048576 2147483648
#
# SYSTEM=oxtcp+gso+gro compares that system instead of plain oxtcp; READS=in-place reads in place.
# Build the old binary from the commit before the change (a worktree, or a copy of
# target/release/oxtcp-bench saved before rebuilding). Run on an otherwise idle machine:
# single runs here move by up to 20%, so compare medians, and only of one invocation.
# The time is what the transfer itself took (`__bulk` prints it), the handshake left out.
# Needs taskset (util-linux).
set -euo pipefail
if [ $# -ne 6 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
old=$1 new=$2 runs=$3 mtu=$4 buf=$5 bytes=$6
system=${SYSTEM:-oxtcp} reads=${READS:-copy}
case $system in oxtcp|oxtcp+gso+gro) ;; *) echo "ab.sh: SYSTEM is oxtcp or oxtcp+gso+gro" >&2; exit 2;; esac
case $reads in copy|in-place) ;; *) echo "ab.sh: READS is copy or in-place" >&2; exit 2;; esac
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }
done
cpu=$(( $(nproc) > 1 ? 1 : 0 ))
declare -A times=([old]="" [new]="" [smoltcp]="")
for _ in $(seq "$runs"); do
  for who in old new smoltcp; do
    case $who in
      old) cmd=("$old" __bulk "$system");;
      new) cmd=("$new" __bulk "$system");;
      smoltcp) cmd=("$new" __bulk smoltcp);;
    esac
    out=$(taskset -c "$cpu" "${cmd[@]}" "$mtu" "$buf" "$bytes" "$reads")
    s=$(sed -n 's/^cpu //p' <<<"$out")
    [ -n "$s" ] || { echo "ab.sh: ${cmd[0]} printed no CPU time (a build before 'cpu S')" >&2; exit 1; }
    times[$who]+="$(awk -v s="$s" 'BEGIN {printf "%.0f", s * 1000}') "
  done
done
for who in old new smoltcp; do
  stats=$(tr ' ' '\n' <<<"${times[$who]}" | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)], v[1]}')
  echo "$who: median ${stats% *} ms, least ${stats#* } ms; runs ${times[$who]}"
done
