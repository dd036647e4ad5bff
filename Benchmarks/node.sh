#!/usr/bin/env bash
# Issue 12's benchmark: the seed stack, as the first seed configures it, against Tandem's node
# agent (`tandem run`), in the same network namespaces, under the same faults. Not a test: prints
# one line per trial and a summary table (min–max and median per stack and fault).
#
#   Benchmarks/node.sh                         TRIALS=5, every stack and fault (~27 min)
#   TRIALS=3 STACKS="seed direct" FAULTS=kill_redis Benchmarks/node.sh
#   RESULTS=/tmp/tandem-node-bench.XXXXXX Benchmarks/node.sh --summary    the table again
#
# Three nodes h1..h3 (network namespaces, 10.81.0.N/24 on one bridge) and a client namespace h9
# (10.81.0.9) running Benchmarks/node-driver.py: 4 writers SET unique keys through the virtual
# IP 10.81.0.100 (one outstanding SET each, reconnect after an error), one fault 2 s in, SETTLE
# s more (default 10: long enough for Sentinel to demote a returning old master), then every
# acknowledged key is looked up on the final master the sentinels/monitors name.
#
# Stacks (STACKS, default "seed direct proxy"), every node the same:
#   seed    redis-server (h1 master, h2 and h3 `replicaof` h1) + redis-sentinel (seed 1's
#           sentinel.conf: quorum 2, parallel-syncs 1, failover-timeout 180 s; down-after
#           DOWN_AFTER, default 1000 ms instead of the seed's 30000 for a fair comparison; no
#           auth-pass, the lab's Redis has no password) + HAProxy 2.6 (seed 1's haproxy.cfg:
#           mode tcp, retries 3, redispatch, the tcp-check PING / INFO REPLICATION expecting
#           role:master / QUIT on every Redis, `check inter 1s` with HAProxy's default rise 2
#           fall 3; bound to VIP:6379; the AUTH step dropped with the password; no chroot, user,
#           syslog, daemon) + keepalived 2.2.7 (seed 1's vrrp_instance: state BACKUP, nopreempt,
#           priority 101/100/99, advert_int 1, VRRPv2 PASS auth, unicast peers, the VIP as a
#           /32, track_script check_haproxy every 1 s fall 2 rise 2). The seed's check is
#           `pkill -0 -x haproxy`; namespaces share one PID space, so it would see every node's
#           HAProxy: here it is `kill -0` of this node's HAProxy (its PID in proxyN.pid, which
#           scripts/migrate-stack.sh points at `tandem proxy`). No notify scripts: the seed's
#           HAProxy variant has none ("there is no need to set anything here"); its SMTP alerts
#           are left out. Clients write to HAProxy at VIP:6379.
#   direct  redis-server + `tandem run` (down-after DOWN_AFTER, VRRPv3 100 ms adverts, VIP on the
#           master's node); clients write to Redis itself at VIP:6379 (as scripts/lab-node.sh)
#   proxy   the same with Tandem's proxy; clients write to VIP:6380
# Faults (FAULTS, default all five), always on h1, the master's node:
#   kill_redis  kill -9 of the master's redis-server
#   partition   h1 cut from h2 and h3 for 4 s by routes into a down veth both ways (the client reaches
#               all three), then healed: scripts/lab-node.sh's partition. VRRP still crosses it
#               (keepalived's unicast adverts as well as Tandem's multicast ones: the lab shows no
#               takeover), so only the TCP paths between the nodes are cut
#   partition_full  the same, VRRP included: every node also drops what arrives from the other
#               side (rp_filter=1, the way back going into the down veth)
#   kill_agent  SIGSTOP + SIGKILL of every keepalived process on the VIP's node (seed) / kill -9
#               of its `tandem run` (direct, proxy); h1, except in proxy mode when the VIP was
#               elsewhere (vip_at_fault says where it was)
#   link_down   h1's only interface (eth0) down for 4 s, then up: VRRP, the clients and the
#               other nodes all lose it at once
# Figures per trial (Benchmarks/node-driver.py): resume_s (fault to the end of the longest pause
# in acknowledged writes, 0 if none reached 0.2 s), pause_s (that pause), kept_s (fault until
# writes succeed and are no longer lost), lost (acknowledged writes missing on the final master),
# errors (failed writes, each followed by a 10 ms pause), broken (failures right after a success:
# outages the writers saw), and where the VIP was (vip_two_hosts_s: the longest time two nodes
# held it); fault_script_s: how long the fault script took (times are from its start: on a busy
# machine its `ip` commands once took 0.6 s, and that trial's failover came that much late). Needs root, iproute2, python3, redis-server, redis-sentinel, haproxy, keepalived.
# VIP_AWAY=1 (proxy): the VIP moved to h2 or h3 before the fault (h1's agent frozen 0.6 s).
# Uses $TANDEM (default .build/debug/tandem). Addresses only inside the namespaces
# (10.81.0.0/24), named t12b-*; everything stopped after each trial (LAB_KEEP=1 keeps each
# trial's logs and configs in its /tmp/tandem-node-bench.* directory).
set -euo pipefail
source "$(dirname "$0")/../scripts/lab-vrrp-lib.sh"
LAB_NET=10.81.0
LAB_VIP=10.81.0.100
LAB_PREFIX=t12b-
DRIVER="$(cd "$(dirname "$0")" && pwd)/node-driver.py"
TRIALS=${TRIALS:-5}
STACKS=${STACKS:-seed direct proxy}
FAULTS=${FAULTS:-kill_redis partition partition_full kill_agent link_down}
DOWN_AFTER=${DOWN_AFTER:-1000}
SETTLE=${SETTLE:-10}
RESULTS=${RESULTS:-$(mktemp /tmp/tandem-node-bench.XXXXXX)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

[ "$(id -u)" = 0 ] || { echo "node.sh: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-sentinel redis-cli "$HAPROXY" "$KEEPALIVED"; do
  command -v "$tool" >/dev/null || { echo "node.sh: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "node.sh: $TANDEM not built" >&2; exit 2; }

source "$(dirname "$0")/../scripts/lab-stack-lib.sh"

trial() {  # trial STACK FAULT N
  local stack=$1 fault=$2 n=$3 build=""
  # Which tandem binary the trial ran (it may be rebuilt between trials): its modification time.
  [ "$stack" = seed ] || build=" tandem_built=$(date -u -r "$TANDEM" +%FT%TZ)"
  if [ "$stack" = seed ]; then seed_up; else tandem_up "$stack"; fi
  if [ "$stack" = proxy ] && [ -n "${VIP_AWAY:-}" ] && only_holder h1 h1 h2 h3; then
    # VIP_AWAY=1: the VIP on a node of the majority at the fault (as after a start race): h1's
    # agent frozen 0.6 s, its adverts stop, h2 or h3 takes the VIP and keeps it (no preemption).
    kill -STOP "$(cat "$LAB_DIR/node1.pid")"; sleep 0.6; kill -CONT "$(cat "$LAB_DIR/node1.pid")"
    wait_for 10 "the VIP on h2 or h3" sh -c "! ip -n $(ns h1) -4 -o addr | grep -q 'inet $LAB_VIP/'"
    wait_for 10 "a write through the VIP" write_ok "$(port "$stack")"
    sleep 3
  fi
  write_fault "$stack" "$fault"
  local heal=()
  [ -s "$LAB_DIR/heal.sh" ] && heal=(--heal "$LAB_DIR/heal.sh" --heal-after 4)
  local out
  out=$(inns h9 python3 "$DRIVER" --endpoint "$LAB_VIP:$([ "$stack" = seed ] && echo 6379 || port "$stack")" \
    --vip $LAB_VIP --label "$stack/$fault" \
    --monitors $LAB_NET.2:26379,$LAB_NET.3:26379,$LAB_NET.1:26379 \
    --hosts "h1=$(ns h1),h2=$(ns h2),h3=$(ns h3)" --fault "$LAB_DIR/fault.sh" --settle "$SETTLE" "${heal[@]}")
  # A Tandem agent that died by itself (not the one the fault killed): its log's last lines.
  local died="" i
  if [ "$stack" != seed ]; then
    for i in 1 2 3; do
      [ "$fault" = kill_agent ] && grep -q "kill -9 $(cat "$LAB_DIR/node$i.pid")\$" "$LAB_DIR/fault.sh" && continue
      kill -0 "$(cat "$LAB_DIR/node$i.pid")" 2>/dev/null || { died="$died,n$i"; tail -n 5 "$LAB_DIR/node$i.log" | sed "s/^/  n$i died: /" >&2; }
    done
  fi
  echo "$out" | grep '^RESULT' | sed "s/^RESULT /TRIAL stack=$stack fault=$fault n=$n /; s|\$| agent_died=${died#,}$build${LAB_KEEP:+ dir=$LAB_DIR}|" | tee -a "$RESULTS"
}

run_trial() {
  (
    LAB_ID="${LAB_PREFIX}$$$RANDOM"
    LAB_DIR=$(mktemp -d /tmp/tandem-node-bench.XXXXXX)
    trap 'rc=$?; if [ $rc != 0 ]; then for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2; fi; exec 2>/dev/null; lab_cleanup' EXIT
    trial "$@"
  ) 2> >(grep -v ' Killed ' >&2) || echo "TRIAL stack=$1 fault=$2 n=$3 failed" | tee -a "$RESULTS"
}

if [ "${1:-}" = --summary ]; then  # Benchmarks/node.sh --summary: the table of $RESULTS again
  SUMMARY_ONLY=1
else
echo "# Benchmarks/node.sh: TRIALS=$TRIALS STACKS=\"$STACKS\" FAULTS=\"$FAULTS\" DOWN_AFTER=$DOWN_AFTER SETTLE=$SETTLE ($(date -u +%FT%TZ))"
for fault in $FAULTS; do
  for n in $(seq 1 "$TRIALS"); do
    for stack in $STACKS; do
      run_trial "$stack" "$fault" "$n"
    done
  done
done
fi

summary() {
  python3 - "$RESULTS" "$DOWN_AFTER" <<'EOF'
import sys, statistics
rows, failed = {}, {}
for line in open(sys.argv[1]):
    if not line.startswith("TRIAL "):
        continue
    kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
    if line.rstrip().endswith(" failed"):
        failed[(kv["fault"], kv["stack"])] = failed.get((kv["fault"], kv["stack"]), 0) + 1
        rows.setdefault((kv["fault"], kv["stack"]), [])
        continue
    rows.setdefault((kv["fault"], kv["stack"]), []).append(kv)
def span(vals, fmt):
    never = sum(1 for v in vals if v is None)
    vals = [v for v in vals if v is not None]
    if not vals: return "never" if never else "-"
    lo, hi, med = min(vals), max(vals), statistics.median(vals)
    out = (fmt % lo if fmt % lo == fmt % hi else (fmt + "–" + fmt) % (lo, hi)) + (" (" + fmt + ")") % med
    return out + (", %d× never" % never if never else "")
num = lambda s: None if s in ("none", "None", "unknown") else float(s)  # noqa: E731
for kvs in rows.values():  # writes never stopped for 0.2 s (node-driver.py's PAUSE_MIN): no outage
    for k in kvs:
        if k["resume_s"] != "none" and float(k["pause_s"]) < 0.2:
            k["resume_s"] = "0"
            if k["lost_last_acked_s"] == "none": k["kept_s"] = "0"
print("\n| fault | stack | trials | resume s | pause s | kept s | lost | errors | broken |")
print("|---|---|---|---|---|---|---|---|---|")
order = lambda name, names: names.index(name) if name in names else len(names)  # noqa: E731
faults, stacks = ["kill_redis", "partition", "partition_full", "kill_agent"], ["seed", "direct", "proxy"]
for (fault, stack), kvs in sorted(rows.items(), key=lambda x: (order(x[0][0], faults), x[0][0], order(x[0][1], stacks))):
    n = "%d" % len(kvs) + (" (+%d failed)" % failed[(fault, stack)] if (fault, stack) in failed else "")
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (fault, stack, n,
        span([num(k["resume_s"]) for k in kvs], "%.2f"), span([num(k["pause_s"]) for k in kvs], "%.2f"), span([num(k["kept_s"]) for k in kvs], "%.2f"),
        span([int(k["lost"]) for k in kvs if k["lost"] != "unknown"], "%d"), span([int(k["errors"]) for k in kvs], "%d"),
        span([int(k["broken"]) for k in kvs], "%d")))
print("\nmin–max over trials (median); never: no write acknowledged after the fault (resume) / acknowledged writes still being lost when the run ended (kept); failed: the trial did not complete (see its log); target: Tandem resume <= %.2f s (down-after + 300 ms)" % (float(sys.argv[2]) / 1000 + 0.3))
EOF
}
summary
[ -n "${SUMMARY_ONLY:-}" ] || echo "# per-trial lines: $RESULTS"
