#!/usr/bin/env bash
# Throughput through a virtual_server served by `tandem vrrp` against HAProxy in TCP mode and a
# direct connection: one redis-server, redis-benchmark SET/GET with 50 clients at -P 1 and -P 16.
# Everything on 127.0.0.1 (free ports from 17400), stopped by PID at the end.
#   Benchmarks/lvs.sh [REQUESTS [ROUNDS]]   (default 200000 requests, 1 round; needs a release build:
#                                           swift build -c release --static-swift-stdlib --product tandem)
# Each round runs every case direct, HAProxy, tandem in turn; with several rounds each round's
# line is printed and then the median, lowest and highest tandem/HAProxy ratio of every case.
# TANDEM=path picks another binary (e.g. an older build, to compare); TANDEM_ARGS adds options
# to `tandem vrrp` (e.g. "--lvs-threads 2").
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-1}
TANDEM=${TANDEM:-.build/release/tandem}
[ -x "$TANDEM" ] || { echo "no $TANDEM: swift build -c release --static-swift-stdlib --product tandem" >&2; exit 2; }
DIR=$(mktemp -d /tmp/tandem-lvs-bench.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

REDIS=17400 LVS=17401 HAP=17402
redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
PIDS+=($!)
cat >"$DIR/keepalived.conf" <<EOF
virtual_server 127.0.0.1 $LVS {
    delay_loop 1
    lb_algo rr
    real_server 127.0.0.1 $REDIS {
        TCP_CHECK { connect_timeout 1 }
    }
}
EOF
"$TANDEM" vrrp ${TANDEM_ARGS:-} "$DIR/keepalived.conf" >"$DIR/tandem.log" 2>&1 &
PIDS+=($!)
cat >"$DIR/haproxy.cfg" <<EOF
defaults
    mode tcp
    timeout connect 3s
    timeout client 1h
    timeout server 1h
listen redis
    bind 127.0.0.1:$HAP
    server r1 127.0.0.1:$REDIS check inter 1s
EOF
haproxy -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 &
PIDS+=($!)
for port in $REDIS $LVS $HAP; do
    for _ in $(seq 100); do redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.05; done
done

rps() { redis-benchmark -p "$1" -c 50 -n "$N" -P "$2" -t "$3" --csv 2>/dev/null | awk -F'"' 'NR==2 {print $4}'; }
printf '%-6s %-8s %-6s %12s %12s %12s %8s\n' round test pipe direct haproxy tandem tandem/haproxy
for round in $(seq "$ROUNDS"); do
    for test in set get; do
        for pipe in 1 16; do
            d=$(rps $REDIS $pipe $test); h=$(rps $HAP $pipe $test); t=$(rps $LVS $pipe $test)
            ratio=$(echo "$t / $h" | bc -l)
            printf '%-6s %-8s %-6s %12s %12s %12s %8.2f\n' "$round" "$test" "-P $pipe" "$d" "$h" "$t" "$ratio"
            echo "$test -P$pipe $ratio" >>"$DIR/ratios"
        done
    done
done
if [ "$ROUNDS" -gt 1 ]; then
    echo "tandem/haproxy over $ROUNDS rounds: median (lowest-highest)"
    for key in "set -P1" "set -P16" "get -P1" "get -P16"; do
        grep "^$key " "$DIR/ratios" | awk '{print $3}' | sort -n | awk -v k="$key" '
            { v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "  %-9s %.2f (%.2f-%.2f)\n", k, m, v[1], v[NR] }'
    done
fi
