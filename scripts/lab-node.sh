#!/usr/bin/env bash
# Node agent lab (issue 12): three nodes, each a network namespace with a real redis-server and
# `tandem run node.yaml` (monitor, proxy in proxy mode, the virtual IP 10.79.0.100), and a client
# namespace writing through the VIP. Measures what a client loses.
#
#   scripts/lab-node.sh [SCENARIO...]      default: all; `quick` = the ones the test command runs
#
# Scenarios (down-after 1000 ms, VRRPv3 100 ms adverts):
#   kill_redis_direct  kill -9 of the master's redis-server; clients write to Redis at the VIP
#   kill_redis_proxy   the same, clients write to the proxies at the VIP (port 6380)
#   partition_direct   the master's node cut from the other two for 4 s (a silent cut); the
#                      client reaches every node. The old master must fence itself: writes it
#                      acknowledged after the cut are lost only within down-after/2 (+ slack)
#   partition_proxy    the same with the proxy at the VIP
#   kill_agent_direct  kill -9 of the master node's tandem (its Redis keeps running): the others
#                      switch the master away (zero-loss SENTINEL FAILOVER) once its port refuses
#                      their heartbeats (down-after for a frozen one)
#   supervised_kill_redis  redis.supervise: kill -9 of the master's server, which its agent
#                      restarts only as a replica of the promoted one
#   link_down_direct, link_down_proxy  the master node's eth0 down for 4 s, then up
#   witness_kill_redis, witness_partition, witness_partition_proxy  two data nodes and a witness
#                      (h3 runs a monitor only)
#   reboot_master      redis.supervise: the master's node "reboots" (agent and Redis killed, VIP
#                      gone), its agent starts again 3 s later: its Redis comes back as a replica
#   alerts_partition   partition_direct with each agent's alert webhook at a sink in the client's
#                      namespace: no critical vip-state at start; n1 sends fenced, a vip-state leaving
#                      MASTER and, after the heal, unfenced; the node taking the VIP sends vip-state MASTER
#   vmac_kill_redis_direct  kill_redis_direct with `vip.vrrp.vmac: true`: the VIP on the master
#                      node's macvlan vrrp.79 (00:00:5e:00:01:4f), never on an eth0, moving to the
#                      new master node's vrrp.79; the client's neighbour entry stays the virtual MAC
#   virtual_servers_kill_redis  kill_redis_direct with each data node's `virtual-servers` (a
#                      keepalived-syntax file: VIP:6390 → the three Redis servers, REDIS_CHECK
#                      role master, delay_loop 1, alpha); clients write to VIP:6390, so they reach
#                      the master through the virtual server of the node holding the VIP
# Each checks: the VIP never on two hosts at once, writes resume (RESUME_LIMIT s), and no
# acknowledged write lost except as above (kill -9: writes acknowledged before the kill that had
# not reached a replica; async replication). Needs root, iproute2, python3, redis-server. Uses
# $TANDEM (default .build/debug/tandem). Addresses only inside the lab's namespaces
# (10.79.0.0/24), named t12-*; everything stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lab-vrrp-lib.sh"
LAB_NET=10.79.0
LAB_VIP=10.79.0.100
LAB_PREFIX=t12-
DRIVER="$(cd "$(dirname "$0")" && pwd)/lab-node-driver.py"
DOWN_AFTER=${DOWN_AFTER:-1000}
RESUME_LIMIT=${RESUME_LIMIT:-3}
FENCE_SLACK=${FENCE_SLACK:-0.3}

[ "$(id -u)" = 0 ] || { echo "lab-node: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server redis-cli; do
  command -v $tool >/dev/null || { echo "lab-node: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "lab-node: $TANDEM not built" >&2; exit 2; }

started() { LAB_PIDS+=("$!"); }
# Where the VIP sits: eth0, or with VMAC=1 (`vip.vrrp.vmac: true`) the macvlan vrrp.79. (Replaces
# the library's holds_vip; ip's output read whole: `ip | grep -q` under pipefail fails when grep
# quits before ip's last write.)
VIP_DEV=eth0
holds_vip() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev "$VIP_DEV" 2>/dev/null) && [[ $out == *"inet $LAB_VIP/"* ]]; }
cli() { inns h9 redis-cli -h "$1" -p "$2" "${@:3}" 2>/dev/null; }

# WITNESS=1: h3 is a witness (a monitor only: no Redis, proxy or VIP), the seeds' two-machine
# layout made safe.
nodes_up() {  # nodes_up direct|proxy [supervised]
  local mode=$1 supervised=${2:-} i data=3 role
  [ -n "${WITNESS:-}" ] && data=2
  [ -n "${VMAC:-}" ] && VIP_DEV=vrrp.79
  lab_setup 3
  for i in 1 2 3; do
    # cut0: where write_partition sends the other side's traffic (its peer stays down).
    ip -n "$(ns h$i)" link add cut0 type veth peer name cut1
    ip -n "$(ns h$i)" link set cut0 up
  done
  for i in $(seq 1 $data); do
    mkdir -p "$LAB_DIR/r$i"
    if [ -n "$supervised" ]; then
      # redis.supervise: the agent starts the server from this file (and restarts it).
      printf '%s\n' "bind 0.0.0.0" "port 6379" "protected-mode no" 'save ""' "appendonly no" \
        "repl-diskless-sync-delay 0" "replica-announce-ip $LAB_NET.$i" "dir $LAB_DIR/r$i" > "$LAB_DIR/r$i.conf"
      continue
    fi
    ip netns exec "$(ns h$i)" redis-server --bind 0.0.0.0 --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --replica-announce-ip $LAB_NET.$i --dir "$LAB_DIR/r$i" \
      --daemonize no >> "$LAB_DIR/redis$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/redis$i.pid"
  done
  for i in 1 2 3; do
    role=data; [ "$i" -gt "$data" ] && role=witness
    {
      echo "node: { name: n$i, role: $role, state-dir: $LAB_DIR/state$i }"
      echo "group:"
      echo "  name: mymaster"
      echo "  down-after: ${DOWN_AFTER}ms"
      echo "  failover-timeout: 10s"
      [ -n "${DURABLE:-}" ] && echo "  durability: replicated"
      echo "  nodes:"
      for j in 1 2 3; do
        if [ "$j" -gt "$data" ]; then echo "    - { name: n$j, address: $LAB_NET.$j, role: witness }"
        else echo "    - { name: n$j, address: $LAB_NET.$j }"; fi
      done
      [ -n "${ALERT_SINK:-}" ] && echo "alerts: { webhook: \"http://$LAB_NET.9:8099/n$i\", timeout: 2s, attempts: 4 }"
      if [ $role = data ]; then
        [ "$mode" = proxy ] && echo "proxy: { listen: [0.0.0.0:6380] }"
        [ -n "${VS:-}" ] && echo "virtual-servers: { config: $LAB_DIR/vs$i.conf }"
        [ -n "$supervised" ] && echo "redis: { supervise: true, server: $(command -v redis-server), config: $LAB_DIR/r$i.conf }"
        echo "vip:"
        echo "  address: $LAB_VIP/24"
        echo "  interface: eth0"
        echo "  mode: $mode"
        echo "  vrrp: { version: 3, router-id: 79, advert-interval: 100ms${VMAC:+, vmac: true} }"
      fi
    } > "$LAB_DIR/n$i.yaml"
    if [ -n "${VS:-}" ] && [ $role = data ]; then
      {
        echo "virtual_server $LAB_VIP 6390 {"
        echo "  delay_loop 1"
        echo "  alpha"  # a real server is down until its first check passes (else all start up)
        echo "  lb_algo rr"
        echo "  lb_kind NAT"
        echo "  protocol TCP"
        for j in $(seq 1 $data); do echo "  real_server $LAB_NET.$j 6379 { REDIS_CHECK { connect_timeout 1 } }"; done
        echo "}"
      } > "$LAB_DIR/vs$i.conf"
    fi
    ip netns exec "$(ns h$i)" "$TANDEM" run "$LAB_DIR/n$i.yaml" --log-level info >> "$LAB_DIR/node$i.log" 2>&1 &
    started
    echo $! > "$LAB_DIR/node$i.pid"
  done
  for i in $(seq 2 $data); do
    wait_for 20 "h$i's Redis to replicate h1's" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_NET.$i INFO replication 2>/dev/null | grep -q master_link_status:up"
  done
  for i in 1 2 3; do
    wait_for 20 "monitor $i to know 2 peers and $((data - 1)) replicas" sh -c "
      out=\$(ip netns exec $(ns h9) redis-cli -h $LAB_NET.$i -p 26379 SENTINEL MASTER mymaster 2>/dev/null)
      echo \"\$out\" | grep -A1 -x num-other-sentinels | tail -1 | grep -qx 2 &&
      echo \"\$out\" | grep -A1 -x num-slaves | tail -1 | grep -qx $((data - 1))"
  done
  # direct: on the master's node; proxy: on one node (the master's preferred at the first election).
  if [ "$mode" = direct ]; then
    wait_for 10 "the VIP on h1" only_holder h1 h1 h2 h3
  else
    wait_for 10 "the VIP on one node" one_holder
  fi
  # Supervised: the PIDs of the servers the agents started.
  if [ -n "$supervised" ]; then
    for i in $(seq 1 $data); do redis_pid $i > "$LAB_DIR/redis$i.pid"; done
  fi
}

redis_pid() { cli $LAB_NET.$1 6379 INFO server | tr -d '\r' | sed -n 's/^process_id://p'; }

one_holder() { [ "$(holders h1 h2 h3 | wc -w)" = 1 ]; }

endpoint() { case $1 in direct) echo $LAB_VIP:6379 ;; vs) echo $LAB_VIP:6390 ;; *) echo $LAB_VIP:6380 ;; esac; }

drive() {  # drive LABEL MODE [driver options]
  local label=$1 mode=$2; shift 2
  inns h9 python3 "$DRIVER" --endpoint "$(endpoint "$mode")" --vip $LAB_VIP --label "$label" \
    --monitors $LAB_NET.2:26379,$LAB_NET.3:26379,$LAB_NET.1:26379 \
    --hosts "h1=$(ns h1),h2=$(ns h2),h3=$(ns h3)" --fault "$LAB_DIR/fault.sh" --max-resume "$RESUME_LIMIT" "$@" | tee "$LAB_DIR/driver.out"
  return "${PIPESTATUS[0]}"
}

write_kill_redis() { echo "kill -9 $(cat "$LAB_DIR/redis1.pid")" > "$LAB_DIR/fault.sh"; }
# The master node's agent: `ip netns exec` execs tandem, so the PID is tandem's.
write_kill_agent() { echo "kill -9 $(cat "$LAB_DIR/node1.pid")" > "$LAB_DIR/fault.sh"; }

# A silent cut between h1 and h2, h3, both ways: each side routes the other's address into a veth
# whose peer is down, where packets vanish with no error (a blackhole route instead makes the
# sender's socket fail with EINVAL, which NIO treats as a programming error and traps on; no
# network does that). The VRRP multicast still crosses, as adverts would over a separate path.
write_partition() {
  local i
  : > "$LAB_DIR/fault.sh"; : > "$LAB_DIR/heal.sh"
  for i in 2 3; do
    echo "ip -n $(ns h1) route replace $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/fault.sh"
    echo "ip -n $(ns h$i) route replace $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/fault.sh"
    echo "ip -n $(ns h1) route del $LAB_NET.$i/32 dev cut0" >> "$LAB_DIR/heal.sh"
    echo "ip -n $(ns h$i) route del $LAB_NET.1/32 dev cut0" >> "$LAB_DIR/heal.sh"
  done
}

fence_window() { awk -v d="$DOWN_AFTER" -v s="$FENCE_SLACK" 'BEGIN { printf "%.3f", d / 2000 + s }'; }

# After the heal the old master must follow the new one.
check_rejoined() {
  wait_for 15 "h1's Redis to replicate the new master" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_NET.1 ROLE 2>/dev/null | head -1 | grep -qx slave"
  lab_log "h1 rejoined as a replica"
}

# The new holder tickled the old holder's clients (VIPClientTickle): with the old holder's link
# down nothing else resets them before their next retransmission (1.4 s and later).
check_tickled() {
  grep -hE "tickled [1-9][0-9]* client connection" "$LAB_DIR/node2.log" "$LAB_DIR/node3.log" >&2 \
    || { lab_log "the new holder tickled none of the old holder's clients"; return 1; }
}

# `tandem status` from the client's namespace names the node now holding the VIP.
check_status_vip() {
  local out
  out=$(inns h9 "$TANDEM" status --monitor $LAB_NET.1:26379)
  echo "$out" | sed 's/^/  status: /' >&2
  echo "$out" | head -1 | grep -Eq "VIP on n[23]$" || { lab_log "tandem status does not show the VIP on the new master's node"; return 1; }
}
# The VIP's handover allows 30 ms on two hosts (the driver's default is 10, an advert's trip):
# in direct placement the old holder removes the address only after the new holder's first
# advert and after resetting its Redis clients there (SOCK_DESTROY, so they learn at once), and
# after a guard's priority-0 advert two backups' skew timers fire 7.8 ms apart; fresh-clone CI
# runs measured 10.2 and 11.4 ms on a quiet machine (2026-12-06). A cut-off master's node hands
# the address over the same way since 2026-12-07 (it keeps it, fenced, until the new master's
# node preempts it): the partition scenarios in direct placement allow the same, and so does
# kill_agent_direct, whose dead agent's guard hands it over. The overlap is the new holder's
# first advert crossing the link plus the old holder's reset of its clients and removal: 3-7 ms
# with a release build (Benchmarks/node.sh), 4-23 ms with the debug build the test command uses
# on a loaded machine (the old holder's own processing 4-12 ms by its log; each namespace's
# `ip -ts monitor` stamps events when it prints them). 20 ms was exceeded once at 20.5 ms.
HANDOVER_OVERLAP=0.03
scenario_kill_redis_direct() { nodes_up direct; write_kill_redis; drive kill_redis_direct direct --max-lost-window 0.05 --max-overlap "$HANDOVER_OVERLAP" || return 1; check_status_vip; }
scenario_kill_redis_proxy() { nodes_up proxy; write_kill_redis; drive kill_redis_proxy proxy --max-lost-window 0.05 || return 1; }
# The master's node agent SIGKILLed, its Redis running on: nobody else may claim the VIP while
# that Redis is the master, so after 3 s of silence (the dead agent's address has expired) the
# first other node asks for a switchover (zero-loss) and its node takes the VIP.
scenario_kill_agent_direct() { nodes_up direct; write_kill_agent; drive kill_agent_direct direct --max-resume 2 --settle 5 --max-overlap "$HANDOVER_OVERLAP" || return 1; }
scenario_partition_direct() {
  nodes_up direct; write_partition
  drive partition_direct direct --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" --max-overlap "$HANDOVER_OVERLAP" || return 1
  check_rejoined
}
scenario_partition_proxy() {
  nodes_up proxy; write_partition
  drive partition_proxy proxy --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" || return 1
  check_rejoined
}

# redis.supervise: h1's server, started by its agent, killed -9 as the master. The agent keeps it
# down until the monitors have promoted a replica (crash-down), then starts it as that replica's
# replica (--replicaof on its command line: it never serves as a master, not for an instant).
h1_restarted() { local p; p=$(redis_pid 1); [ -n "$p" ] && [ "$p" != "$1" ]; }
# (redis-server rewrites its /proc cmdline, so the agent's log says how it was started.)
check_restarted_as_replica() {
  local old=$1 how
  wait_for 15 "h1's agent to start its redis-server again" h1_restarted "$old"
  how=$(grep -o "redis-server started as .*" "$LAB_DIR/node1.log" | tail -n +1)
  lab_log "h1's agent: $how"
  echo "$how" | grep -Eq "^redis-server started as a replica of $LAB_NET\.[23]:6379$" ||
    { lab_log "h1's redis-server was not restarted only as a replica of the new master"; return 1; }
  check_rejoined
}
scenario_supervised_kill_redis() {
  nodes_up direct supervised; write_kill_redis
  drive supervised_kill_redis direct --max-lost-window 0.05 || return 1
  check_restarted_as_replica "$(cat "$LAB_DIR/redis1.pid")"
}
# The master's node reboots: its agent and its Redis killed -9 and the VIP gone from its interface
# (a reboot clears addresses), then the agent started again 3 s later with the same node.yaml.
# It must bring its Redis back as a replica of the master the group promoted meanwhile.
scenario_reboot_master() {
  nodes_up direct supervised
  echo "kill -9 $(cat "$LAB_DIR/node1.pid") $(cat "$LAB_DIR/redis1.pid"); ip -n $(ns h1) addr flush dev eth0 to $LAB_VIP/32" > "$LAB_DIR/fault.sh"
  echo "ip netns exec $(ns h1) $TANDEM run $LAB_DIR/n1.yaml --log-level info >> $LAB_DIR/node1.log 2>&1 &" > "$LAB_DIR/heal.sh"
  drive reboot_master direct --heal "$LAB_DIR/heal.sh" --heal-after 3 --max-lost-window 0.05 || return 1
  check_restarted_as_replica "$(cat "$LAB_DIR/redis1.pid")"
}

# Link down: the master node's interface goes down for 4 s (VRRP adverts stop too, unlike the
# silent cut). It fences itself and leaves the VIP; the others promote; the new master's node
# takes the VIP and, in direct placement, tickles the old holder's clients (they reconnect at
# once instead of at their next retransmission); after the link comes back h1 follows the new
# master.
scenario_link_down_direct() {
  nodes_up direct
  echo "ip -n $(ns h1) link set eth0 down" > "$LAB_DIR/fault.sh"
  echo "ip -n $(ns h1) link set eth0 up" > "$LAB_DIR/heal.sh"
  drive link_down_direct direct --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" || return 1
  check_tickled || return 1
  check_rejoined
}
scenario_link_down_proxy() {
  nodes_up proxy
  echo "ip -n $(ns h1) link set eth0 down" > "$LAB_DIR/fault.sh"
  echo "ip -n $(ns h1) link set eth0 up" > "$LAB_DIR/heal.sh"
  drive link_down_proxy proxy --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" || return 1
  check_rejoined
}
# The two-machine layout made safe: two data nodes and a witness (h3: a monitor only).
scenario_witness_kill_redis() { WITNESS=1; nodes_up direct; write_kill_redis; drive witness_kill_redis direct --max-lost-window 0.05 || return 1; }
scenario_witness_partition() {
  WITNESS=1; nodes_up direct; write_partition
  drive witness_partition direct --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" --max-overlap "$HANDOVER_OVERLAP" || return 1
  check_rejoined
}

scenario_witness_partition_proxy() {
  WITNESS=1; nodes_up proxy; write_partition
  drive witness_partition_proxy proxy --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" || return 1
  check_rejoined
}

# The same two faults in proxy placement: the VIP stays on a node with a healthy proxy, and the
# proxies follow the master the group promotes (for the killed agent, the other nodes' switchover).
scenario_kill_agent_proxy() { nodes_up proxy; write_kill_agent; drive kill_agent_proxy proxy --max-resume 6 --settle 5 --max-overlap 0.02 || return 1; }
scenario_supervised_kill_redis_proxy() {
  nodes_up proxy supervised; write_kill_redis
  drive supervised_kill_redis_proxy proxy --max-lost-window 0.05 || return 1
  check_restarted_as_replica "$(cat "$LAB_DIR/redis1.pid")"
}

# durability: replicated (DURABLE=1; proxy placement, as it needs): the proxy answers a write
# once a replica has it, so no acknowledged write may be lost at all — not even in the moments
# before a crash or a fence that the async scenarios allow (--max-lost 0, no window).
scenario_durable_kill_redis() { DURABLE=1; nodes_up proxy; write_kill_redis; drive durable_kill_redis proxy || return 1; }
scenario_durable_partition() {
  DURABLE=1; nodes_up proxy; write_partition
  drive durable_partition proxy --heal "$LAB_DIR/heal.sh" --heal-after 4 || return 1
  check_rejoined
}
scenario_durable_link_down() {
  DURABLE=1; nodes_up proxy
  echo "ip -n $(ns h1) link set eth0 down" > "$LAB_DIR/fault.sh"
  echo "ip -n $(ns h1) link set eth0 up" > "$LAB_DIR/heal.sh"
  drive durable_link_down proxy --heal "$LAB_DIR/heal.sh" --heal-after 4 || return 1
  check_rejoined
}
# Two data nodes: once h1's Redis is dead, h2 has no replica to confirm a write, so writes are
# refused (-NOREPLICAS, none acknowledged) until the supervised h1 is back as its replica.
scenario_durable_witness_kill_redis() {
  DURABLE=1; WITNESS=1; nodes_up proxy supervised; write_kill_redis
  drive durable_witness_kill_redis proxy --max-resume 10 --settle 5 || return 1
  check_restarted_as_replica "$(cat "$LAB_DIR/redis1.pid")"
}

# vip.vrrp.vmac: true (keepalived's use_vmac): each data node's agent makes the macvlan vrrp.79
# with 00:00:5e:00:01:4f on eth0; the VIP sits on the master node's vrrp.79 and on no eth0, and a
# failover moves it to the new master node's vrrp.79. The client's neighbour entry for the VIP is
# the virtual MAC before and after, so the handover changes no ARP cache.
NODE_VMAC=00:00:5e:00:01:4f
vmac_link_ok() {  # vmac_link_ok HOST: vrrp.79 is a private macvlan on eth0 with the virtual MAC, up
  local out; out=$(ip -n "$(ns "$1")" -d link show vrrp.79 2>/dev/null) || return 1
  [[ $out == *"vrrp.79@eth0"* && $out == *"link/ether $NODE_VMAC"* && $out == *"macvlan mode private"* && $out == *",UP"* ]]
}
on_any_eth0() { local h out; for h in h1 h2 h3; do out=$(ip -n "$(ns $h)" -4 addr show dev eth0 2>/dev/null); [[ $out == *"inet $LAB_VIP/"* ]] && return 0; done; return 1; }
client_vip_mac() { ip -n "$(ns h9)" neigh show "$LAB_VIP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
check_vmac_holder() {  # check_vmac_holder HOST: the VIP on HOST's vrrp.79 only, the client's entry the virtual MAC
  only_holder "$1" h1 h2 h3 || { lab_log "the VIP is on vrrp.79 of '$(holders h1 h2 h3)', not $1"; return 1; }
  ! on_any_eth0 || { lab_log "the VIP is on an eth0"; return 1; }
  vmac_link_ok "$1" || { lab_log "$1's vrrp.79: $(ip -n "$(ns "$1")" -d link show vrrp.79 2>&1)"; return 1; }
  cli $LAB_VIP 6379 PING > /dev/null || { lab_log "the client cannot reach Redis at the VIP"; return 1; }
  [ "$(client_vip_mac)" = "$NODE_VMAC" ] || { lab_log "the client's neighbour entry for the VIP is '$(client_vip_mac)', not $NODE_VMAC"; return 1; }
}
scenario_vmac_kill_redis_direct() {
  VMAC=1; nodes_up direct
  local i
  for i in 1 2 3; do vmac_link_ok h$i || { lab_log "h$i has no vrrp.79: $(ip -n "$(ns h$i)" -d link show vrrp.79 2>&1)"; return 1; }; done
  check_vmac_holder h1 || return 1
  lab_log "the VIP on h1's vrrp.79, the client's entry $(client_vip_mac)"
  write_kill_redis
  drive vmac_kill_redis_direct direct --max-lost-window 0.05 --max-overlap "$HANDOVER_OVERLAP" --max-resume 1 || return 1
  local holder; holder=$(holders h1 h2 h3)
  [ "$holder" = h2 ] || [ "$holder" = h3 ] || { lab_log "the VIP is on '$holder' after the failover"; return 1; }
  check_vmac_holder "$holder" || return 1
  lab_log "the VIP on $holder's vrrp.79, the client's entry $(client_vip_mac)"
  check_status_vip
}

# Alerts from real node agents: each agent's webhook is a sink in the client's namespace
# (10.79.0.9:8099, path /nN; lab-vrrp-lib.sh's start_alert_sink). The master's node h1 is
# cut off as in partition_direct: its agent must send `fenced` (and `unfenced` after the heal) and
# a vip-state that is not MASTER as it lets the VIP go, and the agent of the node that takes the
# VIP a vip-state MASTER.
scenario_alerts_partition() {
  ALERT_SINK=1
  nodes_up direct
  start_alert_sink h9 8099
  # Before the fault: h1 took the VIP at start, and said so.
  wait_for 10 "n1's vip-state MASTER alert (VIP taken at start)" alert_seen node /n1 vip-state MASTER
  # The start sent no critical vip-state: each agent's VRRP instance was held out (FAULT) until
  # its agent let it bid, and that FAULT is no trouble (AlertCore's VRRPAlertFilter). (A node
  # that loses the majority for a moment at start and lets the VIP go says so as a warning.)
  if python3 - "$LAB_DIR/alerts.jsonl" <<'PY'
import json, sys
sys.exit(0 if any(json.loads(l)["alert"].get("event") == "vip-state" and json.loads(l)["alert"].get("severity") == "critical"
                  for l in open(sys.argv[1])) else 1)
PY
  then
    show_alerts; lab_log "a critical vip-state alert at start"; return 1
  fi
  # From here on only the alerts the cut and the heal cause count.
  ALERTS_FROM=$(wc -l < "$LAB_DIR/alerts.jsonl")
  write_partition
  drive alerts_partition direct --heal "$LAB_DIR/heal.sh" --heal-after 4 --max-lost-window "$(fence_window)" --max-overlap "$HANDOVER_OVERLAP" || return 1
  local holder; holder=$(holders h1 h2 h3)
  [ "$holder" = h2 ] || [ "$holder" = h3 ] || { lab_log "the VIP is on '$holder' after the partition"; return 1; }
  wait_for 10 "n1's fenced alert" alert_seen node /n1 fenced
  wait_for 10 "n1's vip-state alert leaving MASTER" alert_seen node /n1 vip-state '!MASTER'
  wait_for 10 "n${holder#h}'s vip-state MASTER alert (the VIP moved there)" alert_seen node "/n${holder#h}" vip-state MASTER
  check_rejoined
  wait_for 10 "n1's unfenced alert after the heal" alert_seen node /n1 unfenced
  show_alerts
}

# Clients at the virtual server on VIP:6390: after the kill, the VIP moves to the promoted
# replica's node; every node's virtual server checks at once when its monitor reports the master
# changed, so its REDIS_CHECK finds the new master without waiting for delay_loop (1 s); a
# client that reaches a node before its check has passed is refused.
scenario_virtual_servers_kill_redis() {
  VS=1; nodes_up direct; write_kill_redis
  wait_for 10 "h1's virtual server to forward to the master" sh -c "ip netns exec $(ns h9) redis-cli -h $LAB_VIP -p 6390 ROLE 2>/dev/null | head -1 | grep -qx master"
  drive virtual_servers_kill_redis vs --max-lost-window 0.05 --max-resume 4 --max-overlap "$HANDOVER_OVERLAP" || return 1
  local holder; holder=$(holders h1 h2 h3)
  [ "$(cli $LAB_VIP 6390 ROLE | head -1)" = master ] || { lab_log "VIP:6390 does not reach a master after the failover (VIP on '$holder')"; return 1; }
}

scenarios=("$@")
[ ${#scenarios[@]} = 0 ] && scenarios=(kill_redis_direct kill_redis_proxy partition_direct partition_proxy kill_agent_direct supervised_kill_redis reboot_master link_down_direct link_down_proxy witness_kill_redis witness_partition witness_partition_proxy kill_agent_proxy supervised_kill_redis_proxy durable_kill_redis durable_partition durable_link_down durable_witness_kill_redis alerts_partition vmac_kill_redis_direct virtual_servers_kill_redis)
[ "${scenarios[*]}" = quick ] && scenarios=(kill_redis_direct partition_direct)
failed=0
for s in "${scenarios[@]}"; do
  run_scenario "$s" || failed=1
done
exit $failed
