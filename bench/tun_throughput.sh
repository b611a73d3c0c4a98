#!/usr/bin/env bash
# Bulk throughput between oxtcp (on a TUN) and the Linux kernel's TCP, both directions, with
# and without TUN offloads, inside a network namespace this script creates and removes.
#
#   sudo bench/tun_throughput.sh [SIZE_MIB] [REPS]
#
# Directions:
#   oxtcp->kernel  `oxtcp serve --mode http` sends SIZE MiB; curl in the namespace receives it.
#   kernel->oxtcp  a Python client in the namespace sends SIZE MiB to `oxtcp serve --mode
#                  discard`, and the clock stops when oxtcp's FIN arrives (all data read).
# Each cell is the median of REPS runs, in MB/s (10^6 bytes per second), timed by the kernel-
# side client. Output: one CSV line per run on stderr, a Markdown table on stdout.
#
# Reusable: set OXTCP_BIN to another build, or call run_pair with your own server command.
set -euo pipefail

SIZE_MIB=${1:-200}
REPS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${OXTCP_BIN:-$ROOT/target/release/oxtcp}
NS=oxbench-$$
PORT=5001
KADDR=198.18.0.1
OADDR=198.18.0.2

if [[ $(id -u) != 0 ]]; then echo "run as root (network namespaces and TUN)" >&2; exit 1; fi
if [[ -z ${OXTCP_BIN:-} ]]; then (cd "$ROOT" && cargo build --release -q -p oxtcp-cli); fi

SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill -INT "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up

start_server() { # mode offload_flag
  ip netns exec "$NS" "$BIN" serve --tun oxb0 --tun-addr $KADDR/24 --port $PORT \
    --mode "$1" --http-size $((SIZE_MIB * 1048576)) $2 --control "/tmp/$NS.sock" 2>/tmp/$NS.log &
  SERVER_PID=$!
  for _ in $(seq 100); do
    ip netns exec "$NS" python3 -c "import socket; socket.create_connection(('$OADDR', $PORT), 0.2).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server did not start:" >&2; cat /tmp/$NS.log >&2; exit 1
}

stop_server() {
  kill -INT "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=
}

download() { # prints MB/s
  ip netns exec "$NS" curl -s -o /dev/null -w '%{size_download} %{time_total}\n' "http://$OADDR:$PORT/" |
    awk -v want=$((SIZE_MIB * 1048576)) '{ if ($1 != want) { print "short download " $1 > "/dev/stderr"; exit 1 } printf "%.1f\n", $1 / $2 / 1e6 }'
}

upload() { # prints MB/s
  ip netns exec "$NS" python3 - "$OADDR" "$PORT" "$SIZE_MIB" <<'PY'
import socket, sys, time
host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = bytes(range(256)) * 4096  # 1 MiB
s = socket.create_connection((host, port), timeout=60)
t = time.monotonic()
for _ in range(mib):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
dt = time.monotonic() - t
print(f"{mib * 1048576 / dt / 1e6:.1f}")
PY
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A RESULT
for offload in plain offload; do
  flag=""; [[ $offload == offload ]] && flag="--offload"
  start_server http "$flag"
  for _ in $(seq "$REPS"); do r=$(download); echo "oxtcp->kernel,$offload,$SIZE_MIB,$r" >&2; echo "$r"; done | median > /tmp/$NS.med
  RESULT[down,$offload]=$(cat /tmp/$NS.med)
  stop_server
  start_server discard "$flag"
  for _ in $(seq "$REPS"); do r=$(upload); echo "kernel->oxtcp,$offload,$SIZE_MIB,$r" >&2; echo "$r"; done | median > /tmp/$NS.med
  RESULT[up,$offload]=$(cat /tmp/$NS.med)
  stop_server
done
rm -f /tmp/$NS.med /tmp/$NS.log

echo "| direction | plain TUN (MB/s) | TUN with offloads (MB/s) |"
echo "|---|---|---|"
echo "| oxtcp → kernel (curl downloads from \`serve --mode http\`) | ${RESULT[down,plain]} | ${RESULT[down,offload]} |"
echo "| kernel → oxtcp (Python uploads to \`serve --mode discard\`) | ${RESULT[up,plain]} | ${RESULT[up,offload]} |"
echo
echo "$SIZE_MIB MiB per run, median of $REPS runs, $(nproc) cores, $(uname -r)."
