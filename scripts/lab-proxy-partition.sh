#!/usr/bin/env bash
# Proxy partition lab (issue 20): whom does `tandem proxy --sentinel …` believe in a partition?
#
#   scripts/lab-proxy-partition.sh [SCENARIO...]    default: all four; `quick` = partition_tandem
#
# Three nodes h1..h3, each a network namespace with a redis-server (10.78.0.N:6379, h1 the
# master) and a sentinel (10.78.0.1N:26379, down-after 1000 ms), and a client namespace h9
# running `tandem proxy` (10.78.0.9:6390) with all three sentinels, h1's first, and 8 writers
# through it (scripts/lab-proxy-driver.py). Scenarios, each with tandem or redis sentinels:
#   partition_*  h1 (server and sentinel) cut from h2 and h3 for 6 s; the client reaches all
#                three. The proxy must switch to the majority's new master, within 300 ms of
#                the first majority sentinel naming it (and, with tandem sentinels, within
#                down-after + 300 ms of the cut, + LIMIT_SLACK); no write acknowledged after
#                the switch is lost. Prints the times and the acknowledged writes lost.
#   alone_*      only h1's sentinel cut from h2 and h3: no switch, no writer error, nothing lost.
# Cuts are blackhole routes (no netem here). Each node's cross-node traffic leaves from its
# sentinel address (route `src`), so h1's sentinel alone can be cut. Needs root, iproute2,
# python3, redis-server, redis-sentinel. Uses $TANDEM (default .build/debug/tandem). Addresses
# only inside the lab's namespaces (10.78.0.0/24), named t20-*; everything stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lab-vrrp-lib.sh"
LAB_NET=10.78.0
LAB_PREFIX=t20-
DRIVER="$(cd "$(dirname "$0")" && pwd)/lab-proxy-driver.py"
DOWN_AFTER=${DOWN_AFTER:-1000}
PARTITION_S=${PARTITION_S:-6}
LIMIT_SLACK=${LIMIT_SLACK:-0.2}

[ "$(id -u)" = 0 ] || { echo "lab-proxy-partition: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-sentinel redis-cli; do
  command -v $tool >/dev/null || { echo "lab-proxy-partition: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "lab-proxy-partition: $TANDEM not built" >&2; exit 2; }

started() { LAB_PIDS+=("$!"); }

# redis-cli from the client namespace
cli() { inns h9 redis-cli -h "$1" -p "$2" "${@:3}" 2>/dev/null; }

nodes_up() {  # nodes_up tandem|redis
  local kind=$1 i j
  lab_setup 3
  for i in 1 2 3; do
    ip -n "$(ns h$i)" addr add $LAB_NET.1$i/24 dev eth0
    for j in 1 2 3; do
      [ $i = $j ] && continue
      ip -n "$(ns h$i)" route add $LAB_NET.$j/32 dev eth0 src $LAB_NET.1$i
      ip -n "$(ns h$i)" route add $LAB_NET.1$j/32 dev eth0 src $LAB_NET.1$i
    done
  done
  for i in 1 2 3; do
    mkdir -p "$LAB_DIR/r$i" "$LAB_DIR/s$i"
    local replicaof=()
    [ $i = 1 ] || replicaof=(--replicaof $LAB_NET.1 6379)
    ip netns exec "$(ns h$i)" redis-server --bind $LAB_NET.$i --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --replica-announce-ip $LAB_NET.$i --dir "$LAB_DIR/r$i" \
      "${replicaof[@]}" --daemonize no >> "$LAB_DIR/redis$i.log" 2>&1 &
    started
  done
  for i in 2 3; do
    wait_for 15 "replica h$i linked" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_NET.$i INFO replication 2>/dev/null | grep -q master_link_status:up"
  done
  for i in 1 2 3; do
    cat > "$LAB_DIR/s$i/sentinel.conf" <<EOF
port 26379
bind $LAB_NET.1$i
sentinel announce-ip $LAB_NET.1$i
dir $LAB_DIR/s$i
sentinel monitor mymaster $LAB_NET.1 6379 2
sentinel down-after-milliseconds mymaster $DOWN_AFTER
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
    if [ "$kind" = tandem ]; then
      ip netns exec "$(ns h$i)" "$TANDEM" sentinel "$LAB_DIR/s$i/sentinel.conf" >> "$LAB_DIR/sentinel$i.log" 2>&1 &
    else
      ip netns exec "$(ns h$i)" redis-sentinel "$LAB_DIR/s$i/sentinel.conf" --daemonize no >> "$LAB_DIR/sentinel$i.log" 2>&1 &
    fi
    started
  done
  for i in 1 2 3; do
    wait_for 20 "sentinel $i to know 2 peers and 2 replicas" sh -c "
      out=\$(ip netns exec $(ns h9) redis-cli -h $LAB_NET.1$i -p 26379 SENTINEL MASTER mymaster 2>/dev/null)
      echo \"\$out\" | grep -A1 -x num-other-sentinels | tail -1 | grep -qx 2 &&
      echo \"\$out\" | grep -A1 -x num-slaves | tail -1 | grep -qx 2"
  done
  ip netns exec "$(ns h9)" "$TANDEM" proxy --listen $LAB_NET.9:6390 --master-name mymaster \
    --sentinel $LAB_NET.11:26379 --sentinel $LAB_NET.12:26379 --sentinel $LAB_NET.13:26379 \
    --log-level info >> "$LAB_DIR/proxy.log" 2>&1 &
  started
  wait_for 10 "the proxy to route to h1" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_NET.9 -p 6390 INFO proxy 2>/dev/null | grep -q '^master:$LAB_NET.1:6379'"
}

# Blackhole routes: h1 (server and sentinel) from h2 and h3, both ways.
write_partition() {
  local op=$1 i
  {
    for a in $LAB_NET.2 $LAB_NET.3 $LAB_NET.12 $LAB_NET.13; do
      if [ "$op" = cut ]; then echo "ip -n $(ns h1) route replace blackhole $a/32"
      else echo "ip -n $(ns h1) route replace $a/32 dev eth0 src $LAB_NET.11"; fi
    done
    for i in 2 3; do
      for a in $LAB_NET.1 $LAB_NET.11; do
        if [ "$op" = cut ]; then echo "ip -n $(ns h$i) route replace blackhole $a/32"
        else echo "ip -n $(ns h$i) route replace $a/32 dev eth0 src $LAB_NET.1$i"; fi
      done
    done
  } > "$LAB_DIR/$op.sh"
}

# Only h1's sentinel: h2 and h3 drop what goes to 10.78.0.11 (h1's sentinel sends from there).
write_sentinel_cut() {
  local i
  : > "$LAB_DIR/cut.sh"; : > "$LAB_DIR/heal.sh"
  for i in 2 3; do
    echo "ip -n $(ns h$i) route replace blackhole $LAB_NET.11/32" >> "$LAB_DIR/cut.sh"
    echo "ip -n $(ns h$i) route replace $LAB_NET.11/32 dev eth0 src $LAB_NET.1$i" >> "$LAB_DIR/heal.sh"
  done
}

drive() {  # drive LABEL EXPECT [driver options]
  local label=$1 expect=$2; shift 2
  local rc
  set +e
  inns h9 python3 "$DRIVER" --proxy $LAB_NET.9:6390 --label "$label" --expect "$expect" \
    --servers $LAB_NET.1:6379,$LAB_NET.2:6379,$LAB_NET.3:6379 --sentinels $LAB_NET.12:26379,$LAB_NET.13:26379 \
    --cut "$LAB_DIR/cut.sh" --heal "$LAB_DIR/heal.sh" --partition "$PARTITION_S" --cut-off-sentinel $LAB_NET.11:26379 "$@" | tee "$LAB_DIR/driver.out"
  rc=${PIPESTATUS[0]}
  set -e
  grep "believ\|switch-master" "$LAB_DIR/proxy.log" | tail -n 8 >&2 || true
  return "$rc"
}

limit() { awk -v d="$DOWN_AFTER" -v s="$LIMIT_SLACK" 'BEGIN { printf "%.3f", d / 1000 + 0.3 + s }'; }

scenario_partition_tandem() { nodes_up tandem; write_partition cut; write_partition heal; drive partition_tandem switch --limit "$(limit)"; }
# redis-sentinel 7.0 itself promotes ~1.35 s and names the new master ~2.3 s after a failure
# (docs/benchmarks.md): only the proxy's own delay after the sentinels is checked.
scenario_partition_redis() { nodes_up redis; write_partition cut; write_partition heal; drive partition_redis switch; }
scenario_alone_tandem() { nodes_up tandem; write_sentinel_cut; drive alone_tandem stay; }
scenario_alone_redis() { nodes_up redis; write_sentinel_cut; drive alone_redis stay; }

scenarios=("$@")
[ ${#scenarios[@]} = 0 ] && scenarios=(partition_tandem partition_redis alone_tandem alone_redis)
[ "${scenarios[*]}" = quick ] && scenarios=(partition_tandem)
failed=0
for s in "${scenarios[@]}"; do
  out=$(mktemp)
  if ! run_scenario "$s" | tee "$out"; then
    # A split vote between the majority's two sentinels delays their election past the heal
    # (Sentinel's own behaviour, seen about 1 run in 5 here): that run tests nothing about the
    # proxy, so the scenario runs once more, and says so.
    if grep -q '^NO-ELECTION' "$out"; then
      echo "RETRY $s: the majority did not elect a leader during the partition"
      run_scenario "$s" || failed=1
    else
      failed=1
    fi
  fi
  rm -f "$out"
done
exit $failed
