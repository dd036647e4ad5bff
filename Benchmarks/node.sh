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
#           HAProxy: here it is `kill -0` of this node's HAProxy. No notify scripts: the seed's
#           HAProxy variant has none ("there is no need to set anything here"); its SMTP alerts
#           are left out. Clients write to HAProxy at VIP:6379.
#   direct  redis-server + `tandem run` (down-after DOWN_AFTER, VRRPv3 100 ms adverts, VIP on the
#           master's node); clients write to Redis itself at VIP:6379 (as scripts/lab-node.sh)
#   proxy   the same with Tandem's proxy; clients write to VIP:6380
# Faults (FAULTS, default all four), always on h1, the master's node:
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
# Figures per trial (Benchmarks/node-driver.py): resume_s (fault to the end of the longest pause
# in acknowledged writes, 0 if none reached 0.2 s), pause_s (that pause), kept_s (fault until
# writes succeed and are no longer lost), lost (acknowledged writes missing on the final master),
# errors (failed writes, each followed by a 10 ms pause), broken (failures right after a success:
# outages the writers saw), and where the VIP was (vip_two_hosts_s: the longest time two nodes
# held it). Needs root, iproute2, python3, redis-server, redis-sentinel, haproxy, keepalived.
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
FAULTS=${FAULTS:-kill_redis partition partition_full kill_agent}
DOWN_AFTER=${DOWN_AFTER:-1000}
SETTLE=${SETTLE:-10}
RESULTS=${RESULTS:-$(mktemp /tmp/tandem-node-bench.XXXXXX)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

[ "$(id -u)" = 0 ] || { echo "node.sh: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-sentinel redis-cli "$HAPROXY" "$KEEPALIVED"; do
  command -v "$tool" >/dev/null || { echo "node.sh: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "node.sh: $TANDEM not built" >&2; exit 2; }

started() { LAB_PIDS+=("$!"); }

wait_replicas() {
  local i
  for i in 2 3; do
    wait_for 20 "h$i's Redis to replicate h1's" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_NET.$i INFO replication 2>/dev/null | grep -q master_link_status:up"
  done
}

wait_monitors() {
  local i
  for i in 1 2 3; do
    wait_for 20 "monitor $i to know 2 peers and 2 replicas" sh -c "
      out=\$(ip netns exec $(ns h9) redis-cli -h $LAB_NET.$i -p 26379 SENTINEL MASTER mymaster 2>/dev/null)
      echo \"\$out\" | grep -A1 -x num-other-sentinels | tail -1 | grep -qx 2 &&
      echo \"\$out\" | grep -A1 -x num-slaves | tail -1 | grep -qx 2"
  done
}

write_ok() { [ "$(ip netns exec "$(ns h9)" redis-cli -h $LAB_VIP -p "$1" SET probe 1 2>/dev/null)" = OK ]; }

seed_up() {
  local i j
  lab_setup 3
  add_cut_devices
  for i in 1 2 3; do
    # HAProxy binds the VIP on every node (it is on one at a time).
    inns h$i sh -c 'echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind'
    mkdir -p "$LAB_DIR/r$i" "$LAB_DIR/s$i"
    local replicaof=()
    [ $i = 1 ] || replicaof=(--replicaof $LAB_NET.1 6379)
    ip netns exec "$(ns h$i)" redis-server --bind $LAB_NET.$i --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --dir "$LAB_DIR/r$i" "${replicaof[@]}" \
      --daemonize no >> "$LAB_DIR/redis$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/redis$i.pid"
  done
  wait_replicas
  for i in 1 2 3; do
    cat > "$LAB_DIR/s$i/sentinel.conf" <<EOF
port 26379
bind $LAB_NET.$i
dir $LAB_DIR/s$i
sentinel monitor mymaster $LAB_NET.1 6379 2
sentinel down-after-milliseconds mymaster $DOWN_AFTER
sentinel parallel-syncs mymaster 1
sentinel failover-timeout mymaster 180000
EOF
    ip netns exec "$(ns h$i)" redis-sentinel "$LAB_DIR/s$i/sentinel.conf" --daemonize no >> "$LAB_DIR/sentinel$i.log" 2>&1 &
    started
  done
  for i in 1 2 3; do
    cat > "$LAB_DIR/haproxy$i.cfg" <<EOF
global
    maxconn 4096

defaults
    mode tcp
    retries 3
    option redispatch
    maxconn 2000
    timeout connect 2s
    timeout client 120s
    timeout server 120s

frontend redis
    bind $LAB_VIP:6379
    default_backend redis_backend

backend redis_backend
    option tcp-check
    tcp-check send PING\r\n
    tcp-check expect string +PONG
    tcp-check send INFO\ REPLICATION\r\n
    tcp-check expect string role:master
    tcp-check send QUIT\r\n
    tcp-check expect string +OK
    server redis1 $LAB_NET.1:6379 check inter 1s
    server redis2 $LAB_NET.2:6379 check inter 1s
    server redis3 $LAB_NET.3:6379 check inter 1s
EOF
    ip netns exec "$(ns h$i)" "$HAPROXY" -db -f "$LAB_DIR/haproxy$i.cfg" >> "$LAB_DIR/haproxy$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/haproxy$i.pid"
  done
  for i in 1 2 3; do
    {
      echo "global_defs {"
      echo "    router_id n$i"
      echo "}"
      echo "vrrp_script check_haproxy {"
      echo "    script \"/bin/kill -0 $(cat "$LAB_DIR/haproxy$i.pid")\""
      echo "    interval 1"
      echo "    fall 2"
      echo "    rise 2"
      echo "}"
      echo "vrrp_instance REDIS {"
      echo "    state BACKUP"
      echo "    interface eth0"
      echo "    virtual_router_id 51"
      echo "    priority $((102 - i))"
      echo "    advert_int 1"
      echo "    nopreempt"
      echo "    unicast_peer {"
      for j in 1 2 3; do [ $j = $i ] || echo "        $LAB_NET.$j"; done
      echo "    }"
      echo "    authentication {"
      echo "        auth_type PASS"
      echo "        auth_pass hogehoge"
      echo "    }"
      echo "    virtual_ipaddress {"
      echo "        $LAB_VIP"
      echo "    }"
      echo "    track_script {"
      echo "        check_haproxy"
      echo "    }"
      echo "}"
    } > "$LAB_DIR/ka$i.conf"
  done
  wait_monitors
  # h1 first, so that it (also the highest priority) is the first to become VRRP master.
  start_keepalived h1 "$LAB_DIR/ka1.conf"
  wait_for 20 "the VIP on h1" only_holder h1 h1 h2 h3
  start_keepalived h2 "$LAB_DIR/ka2.conf"
  start_keepalived h3 "$LAB_DIR/ka3.conf"
  wait_for 10 "a write through HAProxy at the VIP" write_ok 6379
  sleep 2  # h2 and h3 settle as VRRP backups
  only_holder h1 h1 h2 h3 || lab_fail "the VIP is on '$(holders h1 h2 h3)', not on h1 alone"
}

# As scripts/lab-node.sh's nodes_up, in this lab's addresses.
tandem_up() {  # tandem_up direct|proxy
  local mode=$1 i j
  lab_setup 3
  add_cut_devices
  for i in 1 2 3; do
    mkdir -p "$LAB_DIR/r$i"
    ip netns exec "$(ns h$i)" redis-server --bind 0.0.0.0 --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --replica-announce-ip $LAB_NET.$i --dir "$LAB_DIR/r$i" \
      --daemonize no >> "$LAB_DIR/redis$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/redis$i.pid"
  done
  for i in 1 2 3; do
    {
      echo "node: { name: n$i, state-dir: $LAB_DIR/state$i }"
      echo "group:"
      echo "  name: mymaster"
      echo "  down-after: ${DOWN_AFTER}ms"
      echo "  failover-timeout: 10s"
      echo "  nodes:"
      for j in 1 2 3; do echo "    - { name: n$j, address: $LAB_NET.$j }"; done
      [ "$mode" = proxy ] && echo "proxy: { listen: [0.0.0.0:6380] }"
      echo "vip:"
      echo "  address: $LAB_VIP/24"
      echo "  interface: eth0"
      echo "  mode: $mode"
      echo "  vrrp: { version: 3, router-id: 81, advert-interval: 100ms }"
    } > "$LAB_DIR/n$i.yaml"
    ip netns exec "$(ns h$i)" "$TANDEM" run "$LAB_DIR/n$i.yaml" --log-level info >> "$LAB_DIR/node$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/node$i.pid"
  done
  wait_replicas
  wait_monitors
  # direct: on the master's node; proxy: on one node (the master's, preferred at the first election).
  if [ "$mode" = direct ]; then
    wait_for 10 "the VIP on h1" only_holder h1 h1 h2 h3
  else
    # proxy: on one node, the master's preferred: wait for it there, else go on with where it is.
    wait_for 10 "the VIP on one node" sh -c "[ \"\$(ip -n $(ns h1) -4 -o addr; ip -n $(ns h2) -4 -o addr; ip -n $(ns h3) -4 -o addr)\" ] && [ \$( (ip -n $(ns h1) -4 -o addr; ip -n $(ns h2) -4 -o addr; ip -n $(ns h3) -4 -o addr) | grep -c 'inet $LAB_VIP/') = 1 ]"
    local k; for k in $(seq 1 100); do only_holder h1 h1 h2 h3 && break; sleep 0.1; done
  fi
  wait_for 10 "a write through the VIP" write_ok "$(port "$mode")"
}

port() { [ "$1" = proxy ] && echo 6380 || echo 6379; }

# cut0 on every node: a veth whose peer stays down; a route into it drops packets silently (a
# blackhole route would fail the sender's socket with EINVAL, which no real cut does and on
# which NIO traps: the first runs of this benchmark crashed Tandem's proxy that way).
add_cut_devices() {
  local i
  for i in 1 2 3; do
    ip -n "$(ns h$i)" link add cut0 type veth peer name cut1
    ip -n "$(ns h$i)" link set cut0 up
  done
}

write_fault() {  # write_fault STACK FAULT
  local stack=$1 fault=$2 i
  : > "$LAB_DIR/heal.sh"
  case $fault in
    kill_redis) echo "kill -9 $(cat "$LAB_DIR/redis1.pid")" > "$LAB_DIR/fault.sh" ;;
    partition)
      : > "$LAB_DIR/fault.sh"
      for i in 2 3; do
        echo "ip -n $(ns h1) route replace $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/fault.sh"
        echo "ip -n $(ns h$i) route replace $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/fault.sh"
        echo "ip -n $(ns h1) route del $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/heal.sh"
        echo "ip -n $(ns h$i) route del $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/heal.sh"
      done ;;
    partition_full)  # as partition, and h1 drops what comes from h2 and h3 and they what comes
      # from h1 (reverse-path filter: the way back is a blackhole), VRRP adverts included
      : > "$LAB_DIR/fault.sh"
      for i in 2 3; do
        echo "ip -n $(ns h1) route replace $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/fault.sh"
        echo "ip -n $(ns h$i) route replace $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/fault.sh"
        echo "ip -n $(ns h1) route del $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/heal.sh"
        echo "ip -n $(ns h$i) route del $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/heal.sh"
      done
      for i in 1 2 3; do
        echo "ip netns exec $(ns h$i) sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter'" >> "$LAB_DIR/fault.sh"
        echo "ip netns exec $(ns h$i) sh -c 'echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter'" >> "$LAB_DIR/heal.sh"
      done ;;
    kill_agent)  # the VIP holder's (h1 with the seed and in direct mode)
      local h; h=$(holders h1 h2 h3); h=${h%% *}; h=${h:-h1}
      if [ "$stack" = seed ]; then
        local pids="" p
        for p in $(ip netns pids "$(ns $h)"); do
          [ "$(cat /proc/$p/comm 2>/dev/null)" = keepalived ] && pids="$pids $p"
        done
        [ -n "$pids" ] || lab_fail "no keepalived on $h"
        echo "kill -STOP$pids; kill -KILL$pids" > "$LAB_DIR/fault.sh"
      else
        echo "kill -9 $(cat "$LAB_DIR/node${h#h}.pid")" > "$LAB_DIR/fault.sh"
      fi ;;
  esac
}

trial() {  # trial STACK FAULT N
  local stack=$1 fault=$2 n=$3 build=""
  # Which tandem binary the trial ran (it may be rebuilt between trials): its modification time.
  [ "$stack" = seed ] || build=" tandem_built=$(date -u -r "$TANDEM" +%FT%TZ)"
  if [ "$stack" = seed ]; then seed_up; else tandem_up "$stack"; fi
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
