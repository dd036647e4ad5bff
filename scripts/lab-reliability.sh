#!/usr/bin/env bash
# Issue 14's fault lab: the same fault schedules against the seed stack and against Tandem's node
# agent in both placements, with three workloads through the VIP, and a checker that says what a
# user lost. Not a test: one line per trial and a table (min–max and median per fault and stack).
#
#   scripts/lab-reliability.sh                      TRIALS=3, every fault and stack
#   TRIALS=1 STACKS="seed proxy" FAULTS="switchover blackhole" scripts/lab-reliability.sh
#   RESULTS=/tmp/tandem-reliability.XXXXXX scripts/lab-reliability.sh --summary   the table again
#   LAB_LOCK=/tmp/tandem-build.lock scripts/lab-reliability.sh    each trial under that lock
#   FIRST=4 TRIALS=2 ...               trials numbered 4 and 5 (more trials into the same RESULTS)
#
# The nodes and stacks are Benchmarks/node.sh's (scripts/lab-stack-lib.sh): h1..h3 on 10.83.0.N/24
# and a client h9, each node a redis-server 7.0.15 (h1 the master) and either the seed stack as
# the first seed configures it (redis-sentinel, HAProxy with its tcp-check role:master, keepalived
# VRRPv2 unicast, advert_int 1, nopreempt; clients at VIP:6379 = HAProxy) or `tandem run`
# (`direct`: clients at VIP:6379 = Redis itself; `proxy`: VIP:6380 = Tandem's proxy), down-after
# DOWN_AFTER (1000 ms) for both. The workloads and the checker: scripts/lab-reliability-driver.py
# (SET unique keys, INCR counters, RPUSH lists, WRITERS connections each; every acknowledgement
# tagged with the run_id of the server that executed it).
#
# Faults (FAULTS), on h1 (the master's node) 2 s into the writes, healed HOLD s later (4), then
# SETTLE s (10) more writes before the check:
#   kill_redis        kill -9 of the master's redis-server (not restarted)
#   kill_agent        the VIP holder's agent: keepalived frozen with SIGSTOP then SIGKILLed (both
#                     its processes, as the developers' notes say: a bare SIGKILL of the parent
#                     lets the VRRP child send its priority-0 advert); `tandem run` kill -9
#   stop_agent        the VIP holder's agent frozen: keepalived's two processes or `tandem run`
#                     SIGSTOPped, SIGCONT after HOLD s
#   stop_redis        SIGSTOP of the master's redis-server, SIGCONT after HOLD s
#   link_down         h1's eth0 down, up after HOLD s
#   blackhole         blackhole routes both ways between h1 and h2, h3 (unicast only: Tandem's
#                     multicast VRRP adverts still cross, keepalived's unicast ones do not)
#   blackhole_oneway  h2 and h3 cannot send to h1; h1's packets still reach them
#   switchover        planned: SENTINEL FAILOVER (seed) / `tandem switchover` (Tandem), via h2
#   restart_empty     kill -9 of the master's redis-server, started again HOLD s later, empty
#   restart_data      the same with the append-only file on (every node: --appendonly yes), so
#                     it comes back with its data
# Needs root, iproute2, python3, redis-server, redis-sentinel, haproxy, keepalived. Uses $TANDEM
# (default .build/debug/tandem; measure with a release build). Addresses only inside the
# namespaces it creates (10.83.0.0/24), named t14r-*; every process in them stopped and the
# namespaces removed after each trial (LAB_KEEP=1 keeps each trial's logs in its /tmp directory).
set -euo pipefail
source "$(dirname "$0")/lab-vrrp-lib.sh"
LAB_NET=10.83.0
LAB_VIP=10.83.0.100
LAB_PREFIX=t14r-
DRIVER="$(cd "$(dirname "$0")" && pwd)/lab-reliability-driver.py"
TRIALS_GIVEN=${TRIALS:-}
TRIALS=${TRIALS:-3}
STACKS=${STACKS:-seed direct proxy}
ALL_FAULTS="kill_redis kill_agent stop_agent stop_redis link_down blackhole blackhole_oneway switchover restart_empty restart_data"
FAULTS=${FAULTS:-$ALL_FAULTS}
DOWN_AFTER=${DOWN_AFTER:-1000}
HOLD=${HOLD:-4}
SETTLE_GIVEN=${SETTLE:-}
SETTLE=${SETTLE:-10}
WRITERS=${WRITERS:-2}
RESULTS=${RESULTS:-$(mktemp /tmp/tandem-reliability.XXXXXX)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

summary() {
  python3 - "$RESULTS" <<'EOF'
import re, sys, statistics
rows, failed = {}, {}
for line in open(sys.argv[1]):
    if not line.startswith("TRIAL "):
        continue
    kv = dict(re.findall(r"(\w+)=(\S*)", line))
    key = (kv["fault"], kv["stack"])
    rows.setdefault(key, [])
    if line.rstrip().endswith(" failed"):
        failed[key] = failed.get(key, 0) + 1
    else:
        rows[key].append(kv)
def span(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals: return "-"
    lo, hi, med = min(vals), max(vals), statistics.median(vals)
    return fmt % lo if fmt % lo == fmt % hi else (fmt + "–" + fmt + " (" + fmt + ")") % (lo, hi, med)
def num(v, f=float):
    try: return f(v)
    except (TypeError, ValueError): return None
faults = "kill_redis kill_agent stop_agent stop_redis link_down blackhole blackhole_oneway switchover restart_empty restart_data".split()
stacks = ["seed", "direct", "proxy"]
order = lambda x, xs: xs.index(x) if x in xs else len(xs)  # noqa: E731
print("\n| fault | stack | trials | lost SET | lost INCR | lost RPUSH | acked (all) | two masters s | acks in another's span | longest outage s | conn errors | error replies | VIP on two hosts s | masters at end |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (fault, stack), kvs in sorted(rows.items(), key=lambda x: (order(x[0][0], faults), x[0][0], order(x[0][1], stacks))):
    n = "%d" % len(kvs) + (" (+%d failed)" % failed[(fault, stack)] if (fault, stack) in failed else "")
    acked = [sum(num(k.get("acked_" + w), int) or 0 for w in ("set", "incr", "rpush")) for k in kvs]
    print("| %s | %s | %s | %s |" % (fault, stack, n, " | ".join([
        span([num(k.get("lost_set"), int) for k in kvs], "%d"),
        span([num(k.get("lost_incr"), int) for k in kvs], "%d"),
        span([num(k.get("lost_rpush"), int) for k in kvs], "%d"),
        span(acked, "%d"),
        span([num(k.get("two_masters_s")) for k in kvs], "%.2f"),
        span([num(k.get("two_masters_acks"), int) for k in kvs], "%d"),
        span([num(k.get("outage_s")) for k in kvs], "%.2f"),
        span([num(k.get("conn_errors"), int) for k in kvs], "%d"),
        span([num(k.get("err_replies"), int) for k in kvs], "%d"),
        span([num(k.get("vip_two_hosts_s")) for k in kvs], "%.2f"),
        span([num(k.get("end_masters"), int) for k in kvs], "%d")])))
print("\nmin–max over trials (median); failed: the trial did not complete (see its line and log)")
EOF
}

# --check [FAULT ...]: the promises Tandem makes under these faults, checked on this run's trials
# (one trial of each and SETTLE=4 unless given; the test command runs `--check switchover`,
# ReliabilityLabTests): every trial of every stack completed; for `direct` and
# `proxy`, writes back before the end, one master at the end, no two masters acknowledging in
# the same period, the VIP on two hosts at most 20 ms (a handover's advert trip, as lab-node.sh
# allows), no agent died by itself, and no acknowledged write lost in the faults that touch no
# Redis data (switchover, kill_agent, stop_agent). The seed stack's losses are printed, not
# checked. Exit 1 when a check fails.
check() {
  python3 - "$RESULTS" <<'EOF'
import re, sys
zero_loss = {"switchover", "kill_agent", "stop_agent"}
bad, n = [], 0
for line in open(sys.argv[1]):
    if not line.startswith("TRIAL "):
        continue
    n += 1
    kv = dict(re.findall(r"(\w+)=(\S*)", line))
    what = "%s/%s n=%s" % (kv.get("stack"), kv.get("fault"), kv.get("n"))
    if line.rstrip().endswith(" failed"):
        bad.append(what + ": the trial did not complete")
        continue
    lost = sum(int(kv.get(k) or 0) for k in ("lost_set", "lost_incr", "lost_rpush"))
    if kv["stack"] == "seed":
        print("CHECK %s: %d acknowledged writes lost (the seed stack: printed, not checked)" % (what, lost))
        continue
    why = []
    if kv.get("end_masters") != "1": why.append("%s masters at the end" % kv.get("end_masters"))
    if float(kv.get("two_masters_s") or 0) > 0: why.append("two masters acknowledged for %s s" % kv["two_masters_s"])
    if float(kv.get("vip_two_hosts_s") or 0) > 0.02: why.append("the VIP on two hosts for %s s" % kv["vip_two_hosts_s"])
    if kv.get("agent_died"): why.append("agent died: %s" % kv["agent_died"])
    if kv.get("resume_s") == "none": why.append("writes stopped %s s before the end and did not come back" % kv.get("outage_s"))
    if kv["fault"] in zero_loss and lost: why.append("%d acknowledged writes lost" % lost)
    print("CHECK %s: %s" % (what, "; ".join(why) or "ok (%d lost)" % lost))
    if why: bad.append(what + ": " + "; ".join(why))
if n == 0: bad.append("no trial ran")
for b in bad: print("CHECK FAILED " + b)
print("CHECK %s: %d trials" % ("failed" if bad else "passed", n))
sys.exit(1 if bad else 0)
EOF
}

if [ "${1:-}" = --summary ]; then summary; exit 0; fi
CHECK=0
if [ "${1:-}" = --check ]; then
  CHECK=1; shift
  [ $# -gt 0 ] && FAULTS="$*"
  [ -n "$TRIALS_GIVEN" ] || TRIALS=1
  [ -n "$SETTLE_GIVEN" ] || SETTLE=4
fi

[ "$(id -u)" = 0 ] || { echo "lab-reliability: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-sentinel redis-cli "$HAPROXY" "$KEEPALIVED"; do
  command -v "$tool" >/dev/null || { echo "lab-reliability: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "lab-reliability: $TANDEM not built" >&2; exit 2; }
for fault in $FAULTS; do
  [[ " $ALL_FAULTS " = *" $fault "* ]] || { echo "lab-reliability: unknown fault '$fault' (one of: $ALL_FAULTS)" >&2; exit 2; }
done

source "$(dirname "$0")/lab-stack-lib.sh"

trial() {  # trial STACK FAULT N
  local stack=$1 fault=$2 n=$3 build=""
  [ "$stack" = seed ] || build=" tandem_built=$(date -u -r "$TANDEM" +%FT%TZ)"
  REDIS_EXTRA=""
  [ "$fault" = restart_data ] && REDIS_EXTRA="--appendonly yes"
  if [ "$stack" = seed ]; then seed_up; else tandem_up "$stack"; fi
  write_fault "$stack" "$fault"
  local heal=()
  [ -s "$LAB_DIR/heal.sh" ] && heal=(--heal "$LAB_DIR/heal.sh" --heal-after "$HOLD")
  local out
  out=$(inns h9 python3 "$DRIVER" --endpoint "$LAB_VIP:$(port "$stack")" --vip $LAB_VIP --label "$stack/$fault" \
    --monitors $LAB_NET.2:26379,$LAB_NET.3:26379,$LAB_NET.1:26379 \
    --servers "h1=$LAB_NET.1:6379,h2=$LAB_NET.2:6379,h3=$LAB_NET.3:6379" \
    --hosts "h1=$(ns h1),h2=$(ns h2),h3=$(ns h3)" --fault "$LAB_DIR/fault.sh" --settle "$SETTLE" \
    --writers "$WRITERS" "${heal[@]}")
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
    LAB_DIR=$(mktemp -d /tmp/tandem-reliability-trial.XXXXXX)
    trap 'rc=$?; if [ $rc != 0 ]; then for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2; fi; exec 2>/dev/null; lab_cleanup' EXIT
    trial "$@"
  ) 2> >(grep -v ' Killed ' >&2) || echo "TRIAL stack=$1 fault=$2 n=$3 failed" | tee -a "$RESULTS"
}

echo "# scripts/lab-reliability.sh: TRIALS=$TRIALS STACKS=\"$STACKS\" FAULTS=\"$FAULTS\" DOWN_AFTER=$DOWN_AFTER HOLD=$HOLD SETTLE=$SETTLE WRITERS=$WRITERS ($(date -u +%FT%TZ))" | tee -a "$RESULTS"
# LAB_LOCK=/tmp/tandem-build.lock: each trial holds that lock (builds on a shared machine wait
# for a trial, not for the whole run).
[ -n "${LAB_LOCK:-}" ] && exec {lock_fd}>>"$LAB_LOCK"
for n in $(seq "${FIRST:-1}" $((${FIRST:-1} + TRIALS - 1))); do
  for fault in $FAULTS; do
    for stack in $STACKS; do
      [ -n "${LAB_LOCK:-}" ] && flock "$lock_fd"
      run_trial "$stack" "$fault" "$n"
      [ -n "${LAB_LOCK:-}" ] && flock -u "$lock_fd"
    done
  done
done
summary
echo "# per-trial lines: $RESULTS"
if [ "$CHECK" = 1 ]; then check; fi
