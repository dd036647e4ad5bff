#!/usr/bin/env bash
# Issue 15's rolling migration, the whole stack, in network namespaces: the seed stack as the
# first seed configures it (scripts/lab-stack-lib.sh's seed_up: on each of h1..h3 a redis-server,
# redis-sentinel, HAProxy with the seed's tcp-check for role:master at the VIP, and keepalived
# VRRPv2 unicast, nopreempt, priorities 101/100/99, track_script on the node's proxy), a writer in
# h9 writing through the VIP (scripts/migrate-stack-writer.py: one connection, SET one key at a
# time, reconnecting after any error), then every daemon replaced in turn by Tandem's, each from
# the file the old one used:
#
#   1. redis-sentinel -> `tandem sentinel` on h1, h2, h3 (same sentinel.conf, as redis-sentinel
#      rewrote it): joins the redis-sentinel group; waits until every monitor knows 2 replicas
#      and 2 peers, none down. No reconnect expected.
#   2. keepalived -> `tandem vrrp` (same keepalived.conf) on the backups h3, h2: joins
#      keepalived's VRRP instance as a backup; the VIP stays on h1. No reconnect expected.
#   3. keepalived -> `tandem vrrp` on the VIP holder h1: keepalived's priority-0 advert hands the
#      VIP to h2 (now `tandem vrrp`); h1's tandem vrrp starts as a backup (nopreempt). The writer's
#      connection was to h1's HAProxy: it must reconnect (to h2's HAProxy). Each tandem vrrp
#      has --alert-webhook at a sink in h9: h2's must post vip-state MASTER, h1's BACKUP.
#   4. HAProxy -> `tandem proxy` (same VIP:6379, following the sentinels) on h1, h3 (not holding
#      the VIP), the check script pointed at the new proxy. No reconnect expected.
#   5. HAProxy -> `tandem proxy` on the VIP holder h2: the writer's connection was to that
#      HAProxy: it must reconnect (to h2's tandem proxy).
#   6. Tandem only: a planned failover (SENTINEL FAILOVER asked of h2's tandem sentinel) with the
#      writer at the VIP through `tandem proxy`.
#
# Prints one RESULT line per step (acked, errors, lost, longest gap between two
# acknowledgements, whether the step was one that must reconnect) and a table, then PASS or
# FAIL: FAIL if an acknowledged write was lost, a step saw no acknowledged write, a step that
# need not reconnect saw an error, or at the end any seed daemon is left or the VIP is not on
# exactly one node.
#
#   scripts/migrate-stack.sh            (root; TANDEM=.build/debug/tandem by default)
#
# Needs root, iproute2, python3, redis-server, redis-sentinel, redis-cli, haproxy, keepalived.
# Addresses only inside the namespaces it creates (10.85.0.0/24, named t15m-*); every process in
# them is stopped and the namespaces removed at exit (LAB_KEEP=1 keeps the logs' directory).
set -euo pipefail

# Started by `swift test` (a thread of the cooperative pool blocks every asynchronous signal) the
# mask is inherited by every process started from here, and redis-sentinel and HAProxy would
# not see the SIGTERM that replaces them: start again with an empty mask and default handlers.
if [ -z "${MIGRATE_STACK_SIGNALS:-}" ] && grep -q '^SigBlk:.*[1-9a-f]' /proc/$$/status; then
  export MIGRATE_STACK_SIGNALS=1
  exec python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, set())
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' bash "$0" "$@"
fi

source "$(dirname "$0")/lab-vrrp-lib.sh"
LAB_NET=10.85.0
LAB_VIP=10.85.0.100
LAB_PREFIX=t15m-
DOWN_AFTER=${DOWN_AFTER:-1000}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
WRITER="$(cd "$(dirname "$0")" && pwd)/migrate-stack-writer.py"

[ "$(id -u)" = 0 ] || { echo "migrate-stack: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-sentinel redis-cli "$HAPROXY" "$KEEPALIVED"; do
  command -v "$tool" >/dev/null || { echo "migrate-stack: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "migrate-stack: $TANDEM not built" >&2; exit 2; }

source "$(dirname "$0")/lab-stack-lib.sh"

# PIDs of the processes named COMM in HOST's namespace.
pids_in() {  # pids_in HOST COMM
  local p
  for p in $(ip netns pids "$(ns "$1")"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ] && echo "$p"
  done
  return 0
}

# SIGTERM to those PIDs, wait up to 5 s for them to exit, then SIGKILL.
stop_pids() {  # stop_pids WHAT PID...
  local what=$1 p i alive; shift
  [ $# -gt 0 ] || lab_fail "no $what to stop"
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 1 250); do
    alive=""
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.02
  done
  lab_log "$what did not exit within 5 s of SIGTERM: SIGKILL"
  kill -KILL $alive 2>/dev/null || true
}

# Every monitor knows the master, 2 replicas and 2 peers, none of them down or disconnected.
monitors_settled() {
  local i out
  for i in 1 2 3; do
    out=$(inns h9 redis-cli -h $LAB_NET.$i -p 26379 SENTINEL MASTER mymaster 2>/dev/null) || return 1
    echo "$out" | grep -A1 -x flags | tail -1 | grep -qx master || return 1
    echo "$out" | grep -A1 -x num-other-sentinels | tail -1 | grep -qx 2 || return 1
    echo "$out" | grep -A1 -x num-slaves | tail -1 | grep -qx 2 || return 1
    out=$(inns h9 redis-cli -h $LAB_NET.$i -p 26379 SENTINEL SENTINELS mymaster 2>/dev/null) || return 1
    echo "$out" | grep -A1 -x flags | grep -Eq 's_down|disconnected' && return 1
  done
  return 0
}

master_addr() { inns h9 redis-cli -h $LAB_NET.$1 -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME mymaster 2>/dev/null | head -1; }

STEPS=()     # step names, in order
RECONNECT=() # "yes" for the steps that must reconnect
step() {  # step NAME yes|no: the writer files what follows under NAME
  STEPS+=("$1"); RECONNECT+=("$2")
  echo "$1" > "$LAB_DIR/step"
  lab_log "step: $1"
  # The writer reads the step every 20 ms: an error the step's action causes at once (stopping
  # keepalived removes the VIP from its node immediately) is filed under this step, not the last.
  sleep 0.2
}

replace_sentinel() {  # on host N
  local i=$1
  stop_pids "redis-sentinel on h$i" $(pids_in h$i redis-sentinel)
  ip netns exec "$(ns h$i)" "$TANDEM" sentinel "$LAB_DIR/s$i/sentinel.conf" >> "$LAB_DIR/tsentinel$i.log" 2>&1 &
  started
  wait_for 30 "h$i's tandem sentinel to settle in the mixed group" monitors_settled
}

replace_keepalived() {  # on host N
  local i=$1
  stop_pids "keepalived on h$i" $(pids_in h$i keepalived)
  ip netns exec "$(ns h$i)" "$TANDEM" vrrp "$LAB_DIR/ka$i.conf" --alert-webhook "http://$LAB_NET.9:8099/h$i" \
    >> "$LAB_DIR/tvrrp$i.log" 2>&1 &
  started
}

replace_haproxy() {  # on host N
  local i=$1 old
  old=$(pids_in h$i haproxy)
  # Soft stop first (SIGUSR1): HAProxy closes its listener and keeps serving the connections it
  # has, so the new proxy listens before any client must reconnect; then stopped (SIGTERM), its
  # clients reconnect once, to `tandem proxy`.
  kill -USR1 $old
  wait_for 5 "h$i's HAProxy to close its listener" sh -c "! ip netns exec $(ns h$i) ss -Hltn 'sport = :6379' | grep -q '$LAB_VIP:6379'"
  ip netns exec "$(ns h$i)" "$TANDEM" proxy --listen $LAB_VIP:6379 --master-name mymaster \
    --sentinel $LAB_NET.1:26379 --sentinel $LAB_NET.2:26379 --sentinel $LAB_NET.3:26379 \
    >> "$LAB_DIR/tproxy$i.log" 2>&1 &
  started
  echo $! > "$LAB_DIR/proxy$i.pid"  # the node's check_haproxy now watches this proxy
  wait_for 10 "h$i's tandem proxy to listen" sh -c "ip netns exec $(ns h$i) ss -Hltn 'sport = :6379' | grep -q '$LAB_VIP:6379'"
  stop_pids "HAProxy on h$i" $old
}

walk() {
  seed_up
  wait_for 30 "the redis-sentinels to settle" monitors_settled
  start_alert_sink h9 8099  # where each tandem vrrp posts its alerts (/hN)
  step "seed stack" no
  rm -f "$LAB_DIR/stop"
  inns h9 python3 "$WRITER" --endpoint $LAB_VIP:6379 --step-file "$LAB_DIR/step" --stop-file "$LAB_DIR/stop" \
    --monitors $LAB_NET.1:26379,$LAB_NET.2:26379,$LAB_NET.3:26379 > "$LAB_DIR/writer.json" 2> "$LAB_DIR/writer.log" &
  local writer=$!
  LAB_PIDS+=("$writer")
  sleep 2

  local i
  for i in 1 2 3; do
    step "redis-sentinel -> tandem sentinel on h$i" no
    replace_sentinel $i
    sleep 1
  done
  [ "$(master_addr 1)" = $LAB_NET.1 ] || lab_fail "the master moved during the sentinel steps: $(master_addr 1)"

  for i in 3 2; do
    step "keepalived -> tandem vrrp on h$i (backup)" no
    replace_keepalived $i
    sleep 3  # three advert intervals: the new backup does not claim the VIP
    only_holder h1 h1 h2 h3 || lab_fail "the VIP is on '$(holders h1 h2 h3)', not on h1 alone"
  done
  step "keepalived -> tandem vrrp on h1 (VIP holder)" yes
  replace_keepalived 1
  wait_for 10 "the VIP on h2 (the highest priority left)" only_holder h2 h1 h2 h3
  sleep 3  # h1's tandem vrrp, nopreempt, stays a backup
  only_holder h2 h1 h2 h3 || lab_fail "the VIP is on '$(holders h1 h2 h3)', not on h2 alone"
  # tandem vrrp --alert-webhook: h2's said it took the VIP; h1's that it started as a backup.
  wait_for 10 "h2's tandem vrrp vip-state MASTER alert" alert_seen vrrp /h2 vip-state MASTER
  wait_for 10 "h1's tandem vrrp vip-state BACKUP alert" alert_seen vrrp /h1 vip-state BACKUP
  show_alerts

  for i in 1 3; do
    step "HAProxy -> tandem proxy on h$i (not the VIP holder)" no
    replace_haproxy $i
    sleep 2
  done
  step "HAProxy -> tandem proxy on h2 (VIP holder)" yes
  replace_haproxy 2
  sleep 3
  only_holder h2 h1 h2 h3 || lab_fail "the VIP is on '$(holders h1 h2 h3)', not on h2 alone (a check failed during the swap?)"

  step "Tandem only: failover asked of h2's tandem sentinel" no
  inns h9 redis-cli -h $LAB_NET.2 -p 26379 SENTINEL FAILOVER mymaster >> "$LAB_DIR/failover.log" 2>&1
  wait_for 20 "every monitor to name a new master" sh -c "
    for i in 1 2 3; do
      m=\$(ip netns exec $(ns h9) redis-cli -h $LAB_NET.\$i -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME mymaster 2>/dev/null | head -1)
      [ -n \"\$m\" ] && [ \"\$m\" != $LAB_NET.1 ] || exit 1
    done"
  wait_for 30 "the group to settle after the failover" monitors_settled
  sleep 2
  local new_master; new_master=$(master_addr 2)

  step "end" no
  sleep 0.5
  touch "$LAB_DIR/stop"
  wait "$writer" || lab_fail "the writer failed: $(tail -n 5 "$LAB_DIR/writer.log")"

  # Tandem only: no seed daemon left, and Tandem's three on every node.
  local h comm
  for h in h1 h2 h3; do
    for comm in redis-sentinel haproxy keepalived; do
      [ -z "$(pids_in $h $comm)" ] || lab_fail "$comm still runs on $h"
    done
  done
  only_holder h2 h1 h2 h3 || lab_fail "at the end the VIP is on '$(holders h1 h2 h3)'"

  python3 - "$LAB_DIR/writer.json" "$new_master" "${#STEPS[@]}" "${STEPS[@]}" "${RECONNECT[@]}" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
new_master, n = sys.argv[2], int(sys.argv[3])
names, reconnect = sys.argv[4:4 + n], sys.argv[4 + n:4 + 2 * n]
ok = "error" not in result
print(f"{'step':<54}{'acked':>7}{'errors':>7}{'lost':>5}{'gap ms':>8}  reconnect  first error")
for name, must in zip(names, reconnect):
    if name == "end":
        continue
    s = result["steps"].get(name, {"acked": 0, "errors": 0, "lost": 0, "longest_gap_ms": 0, "first_error": ""})
    bad = s.get("lost", 0) > 0 or s["acked"] == 0 or (must == "no" and s["errors"] > 0)
    ok = ok and not bad
    print(f"{name:<54}{s['acked']:>7}{s['errors']:>7}{s.get('lost', 0):>5}{s['longest_gap_ms']:>8}  {must:<9}  {s['first_error']}")
    print(f"RESULT step=\"{name}\" acked={s['acked']} errors={s['errors']} lost={s.get('lost', 0)} "
          f"gap_ms={s['longest_gap_ms']} reconnect={must}" + (" BAD" if bad else ""))
total = {k: sum(s.get(k, 0) for s in result["steps"].values()) for k in ("acked", "errors", "lost")}
print(f"{'total':<54}{total['acked']:>7}{total['errors']:>7}{total['lost']:>5}  final master {result.get('master')} "
      f"(sentinels said {new_master})")
sys.exit(0 if ok and result.get("master", "").startswith(new_master + ":") else 1)
EOF
}

LAB_ID="${LAB_PREFIX}$$$RANDOM"
LAB_DIR=$(mktemp -d /tmp/tandem-migrate-stack.XXXXXX)
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2; fi; exec 2>/dev/null; lab_cleanup' EXIT
trap 'exit 130' INT TERM
if walk; then echo "PASS migrate-stack"; else echo "FAIL migrate-stack"; exit 1; fi
