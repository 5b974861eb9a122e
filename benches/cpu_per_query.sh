#!/usr/bin/env bash
# CPU per query at a fixed offered rate: the figure that tells builds and peers apart where
# saturated QPS cannot (on a 2-core machine dnsperf saturates before the server does).
#
#   bash benches/cpu_per_query.sh RATE WORKLOAD ROUNDS SPECFILE
#
# Runs inside a private network namespace (root), on the data and configs a run of
# ../shared/bench/peers.sh prepared in $PEERBENCH_WORK (its NSD upstream on 127.0.0.53, its
# query files q-WORKLOAD.txt, its peers' configs). SPECFILE has one server a line,
# `NAME PORT COMMAND...`; each is started pinned to CPU 0, warmed for 2 s, then offered RATE
# queries a second for 5 s by dnsperf on CPU 1. Printed: the server's user + system time
# (every thread) over the queries answered. Servers run in turn, ROUNDS times, so that drift
# in the machine spreads over all of them. Example SPECFILE:
#
#   unbound 5301 unbound -d -p -c /tmp/peerbench/run/unbound/unbound.conf
#   familydns 5310 target/release/familydns serve --config /tmp/peerbench/run/familydns/familydns.toml
#   floor 5399 target/release/examples/floor 5399
set -euo pipefail
[ $# -eq 4 ] || { sed -n '2,17p' "$0"; exit 2; }
RATE=$1 WL=$2 ROUNDS=$3 SPEC=$(realpath "$4")
WORK=${PEERBENCH_WORK:-${TMPDIR:-/tmp}/peerbench}
[ -f "$WORK/run/nsd/nsd.conf" ] || { echo "no peers.sh data in $WORK" >&2; exit 2; }
export RATE WL ROUNDS SPEC WORK

exec unshare --net bash -c '
set -u
ip link set lo up
ip addr add 127.0.0.53/8 dev lo 2>/dev/null || true
rm -f "$WORK/run/nsd/nsd.pid"
taskset -c 1 nsd -d -c "$WORK/run/nsd/nsd.conf" >/dev/null 2>&1 &
NSD=$!
trap "kill $NSD 2>/dev/null" EXIT
sleep 1
cpu() { cat /proc/"$1"/task/*/stat 2>/dev/null | awk "{s += \$14 + \$15} END {print s}"; }
for round in $(seq "$ROUNDS"); do
  while read -r NAME PORT CMD; do
    [ -n "$NAME" ] || continue
    taskset -c 0 bash -c "exec $CMD" >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 50); do
      dig +time=1 +tries=1 -p "$PORT" @127.0.0.1 ready.test >/dev/null 2>&1 && break
      sleep 0.1
    done
    load() { taskset -c 1 timeout 30 dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q-$WL.txt" -c 10 -q 100 -Q "$RATE" -l "$1" 2>&1; }
    load 2 >/dev/null
    before=$(cpu "$PID")
    qps=$(load 5 | awk "/Queries per second/ {print \$4}")
    after=$(cpu "$PID")
    ticks=$((after - before))
    awk -v n="$NAME" -v w="$WL" -v r="$round" -v q="$qps" -v t="$ticks" -v hz="$(getconf CLK_TCK)" \
      "BEGIN {printf \"%s %s round %d: %.0f QPS, %.2f us CPU per query\n\", n, w, r, q, t * 1e6 / hz / (q * 5)}"
    kill "$PID"; wait "$PID" 2>/dev/null || true
    sleep 0.5
  done < "$SPEC"
done
'
