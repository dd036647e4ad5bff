#!/usr/bin/env bash
# Throughput through a virtual_server served by `tandem vrrp` against HAProxy in TCP mode and a
# direct connection: one redis-server, redis-benchmark SET/GET with 50 clients at -P 1 and -P 16.
# Everything on 127.0.0.1 (free ports from 17400), stopped by PID at the end.
#   Benchmarks/lvs.sh [REQUESTS [ROUNDS]]   (default 200000 requests, 1 round; needs a release build:
#                                           swift build -c release --static-swift-stdlib --product tandem)
# Each round runs every case direct, HAProxy, tandem in turn; with several rounds each round's
# line is printed and then the median, lowest and highest tandem/HAProxy ratio of every case.
# TANDEM=path picks another binary; TANDEM_ARGS adds options to `tandem vrrp` (e.g.
# "--lvs-threads 2"). BEFORE=path runs a second `tandem vrrp` (an older build; BEFORE_ARGS its
# options) in the same rounds (the two take turns going first), with its own columns and medians.
# Besides requests per second, each case prints the CPU time each proxy spent on it (the sum
# over its threads of /proc/PID/task/*/schedstat, in ms) and tandem's CPU per request against
# HAProxy's (the same request count: the ratio of the CPU times). That ratio is far less
# disturbed by other work on the machine than throughput, which on a shared 2-core machine also
# measures how much CPU the kernel gives each side.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-1}
TANDEM=${TANDEM:-.build/release/tandem}
BEFORE=${BEFORE:-}
[ -x "$TANDEM" ] || { echo "no $TANDEM: swift build -c release --static-swift-stdlib --product tandem" >&2; exit 2; }
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || { echo "no $BEFORE" >&2; exit 2; }
DIR=$(mktemp -d /tmp/tandem-lvs-bench.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

REDIS=17400 LVS=17401 HAP=17402 OLD=17403
redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
PIDS+=($!)
vs_config() {
    cat <<EOF
virtual_server 127.0.0.1 $1 {
    delay_loop 1
    lb_algo rr
    real_server 127.0.0.1 $REDIS {
        TCP_CHECK { connect_timeout 1 }
    }
}
EOF
}
vs_config $LVS >"$DIR/keepalived.conf"
"$TANDEM" vrrp ${TANDEM_ARGS:-} "$DIR/keepalived.conf" >"$DIR/tandem.log" 2>&1 &
TANDEM_PID=$!
PIDS+=($TANDEM_PID)
if [ -n "$BEFORE" ]; then
    vs_config $OLD >"$DIR/keepalived-before.conf"
    "$BEFORE" vrrp ${BEFORE_ARGS:-} "$DIR/keepalived-before.conf" >"$DIR/before.log" 2>&1 &
    BEFORE_PID=$!
    PIDS+=($BEFORE_PID)
fi
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
HAPROXY_PID=$!
PIDS+=($HAPROXY_PID)
for port in $REDIS $LVS $HAP ${BEFORE:+$OLD}; do
    for _ in $(seq 100); do redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.05; done
done

rps() { redis-benchmark -p "$1" -c 50 -n "$N" -P "$2" -t "$3" --csv 2>/dev/null | awk -F'"' 'NR==2 {print $4}'; }
# CPU nanoseconds a process has run so far, all its threads.
cpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
# Requests per second and the CPU ms process $4 spent while redis-benchmark ran against port $1.
measure() { local before after r; before=$(cpu "$4"); r=$(rps "$1" "$2" "$3"); after=$(cpu "$4"); echo "$r $(( (after - before) / 1000000 ))"; }
ratio() { echo "$1 / ($2 + 0.001)" | bc -l; }

printf '%-5s %-4s %-5s %10s %10s %10s %6s %6s %6s %6s' round test pipe direct haproxy tandem t/h hapCPU tanCPU cpu/h
[ -z "$BEFORE" ] || printf ' %10s %6s %6s %6s' before b/h befCPU cpu/h
printf '\n'
for round in $(seq "$ROUNDS"); do
    for test in set get; do
        for pipe in 1 16; do
            d=$(rps $REDIS $pipe $test)
            read -r h hc <<<"$(measure $HAP $pipe $test $HAPROXY_PID)"
            # With BEFORE, the two tandems take turns going first (odd rounds: the old one).
            if [ -n "$BEFORE" ] && [ $((round % 2)) = 1 ]; then read -r b bc <<<"$(measure $OLD $pipe $test $BEFORE_PID)"; fi
            read -r t tc <<<"$(measure $LVS $pipe $test $TANDEM_PID)"
            if [ -n "$BEFORE" ] && [ $((round % 2)) = 0 ]; then read -r b bc <<<"$(measure $OLD $pipe $test $BEFORE_PID)"; fi
            r=$(ratio "$t" "$h") c=$(ratio "$tc" "$hc")
            printf '%-5s %-4s %-5s %10s %10s %10s %6.2f %6s %6s %6.2f' "$round" "$test" "-P $pipe" "$d" "$h" "$t" "$r" "$hc" "$tc" "$c"
            echo "$test -P$pipe $r" >>"$DIR/tandem.rps"
            echo "$test -P$pipe $c" >>"$DIR/tandem.cpu"
            if [ -n "$BEFORE" ]; then
                r=$(ratio "$b" "$h") c=$(ratio "$bc" "$hc")
                printf ' %10s %6.2f %6s %6.2f' "$b" "$r" "$bc" "$c"
                echo "$test -P$pipe $r" >>"$DIR/before.rps"
                echo "$test -P$pipe $c" >>"$DIR/before.cpu"
            fi
            printf '\n'
        done
    done
done
if [ "$ROUNDS" -gt 1 ]; then
    for who in tandem ${BEFORE:+before}; do
        for what in rps cpu; do
            if [ $what = rps ]; then echo "$who/haproxy throughput over $ROUNDS rounds: median (lowest-highest)"
            else echo "$who/haproxy CPU per request over $ROUNDS rounds: median (lowest-highest)"; fi
            for key in "set -P1" "set -P16" "get -P1" "get -P16"; do
                grep "^$key " "$DIR/$who.$what" | awk '{print $3}' | sort -n | awk -v k="$key" '
                    { v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "  %-9s %.2f (%.2f-%.2f)\n", k, m, v[1], v[NR] }'
            done
        done
    done
fi
