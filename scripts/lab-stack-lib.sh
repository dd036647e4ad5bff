# The node labs' stacks (sourced by Benchmarks/node.sh and scripts/lab-reliability.sh, not run):
# three nodes h1..h3 and a client h9 in network namespaces (scripts/lab-vrrp-lib.sh), each node
# running either the seed stack (redis-server + redis-sentinel + HAProxy + keepalived, as the
# first seed configures them) or Redis + Tandem's node agent (`tandem run`, `direct` or `proxy`
# placement), and the faults both labs inject on the master's node h1.
#
# The sourcing script sets LAB_NET, LAB_VIP, LAB_PREFIX, DOWN_AFTER and HAPROXY, and sources
# scripts/lab-vrrp-lib.sh first. REDIS_EXTRA (optional): more redis-server options for every
# node (e.g. "--appendonly yes"). Each redis-server's command line is kept in
# $LAB_DIR/redisN.start (a script that starts it again in its namespace, as the restart faults do)
# and its PID in $LAB_DIR/redisN.pid.

started() { LAB_PIDS+=("$!"); }

# start_redis N OPTION...: node N's redis-server (REDIS_EXTRA appended: later options win), in
# the background; writes $LAB_DIR/redisN.start, which starts it again the same way (with
# whatever its --dir holds) and records the new PID.
start_redis() {
  local i=$1; shift
  local args; args=$(printf ' %q' "$@" ${REDIS_EXTRA:-} --daemonize no)
  printf '%s\n' "ip netns exec $(ns h$i) redis-server$args >> $LAB_DIR/redis$i.log 2>&1 &" \
    "echo \$! > $LAB_DIR/redis$i.pid" > "$LAB_DIR/redis$i.start"
  source "$LAB_DIR/redis$i.start"
  started
}

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
    start_redis $i --bind $LAB_NET.$i --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --dir "$LAB_DIR/r$i" "${replicaof[@]}"
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
    # The seed's check_haproxy is `pkill -0 -x haproxy`; here: the node's proxy process, by the
    # PID in proxyN.pid (scripts/migrate-stack.sh writes `tandem proxy`'s there when it
    # replaces HAProxy, as an operator points the check at the new proxy).
    cp "$LAB_DIR/haproxy$i.pid" "$LAB_DIR/proxy$i.pid"
    printf '#!/bin/sh\nkill -0 "$(cat %s)"\n' "$LAB_DIR/proxy$i.pid" > "$LAB_DIR/check$i.sh"
    chmod 755 "$LAB_DIR/check$i.sh"
  done
  for i in 1 2 3; do
    {
      echo "global_defs {"
      echo "    router_id n$i"
      echo "}"
      echo "vrrp_script check_haproxy {"
      echo "    script \"$LAB_DIR/check$i.sh\""
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
    start_redis $i --bind 0.0.0.0 --port 6379 --protected-mode no --save '' \
      --appendonly no --repl-diskless-sync-delay 0 --replica-announce-ip $LAB_NET.$i --dir "$LAB_DIR/r$i"
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

keepalived_pids() {  # keepalived_pids HOST: " PID PID" of keepalived's processes in HOST's namespace
  local pids="" p
  for p in $(ip netns pids "$(ns "$1")"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = keepalived ] && pids="$pids $p"
  done
  [ -n "$pids" ] || { echo "no keepalived on $1" >&2; return 1; }
  echo "$pids"
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
        local pids; pids=$(keepalived_pids "$h")
        echo "kill -STOP$pids; kill -KILL$pids" > "$LAB_DIR/fault.sh"
      else
        echo "kill -9 $(cat "$LAB_DIR/node${h#h}.pid")" > "$LAB_DIR/fault.sh"
      fi ;;
    stop_agent)  # the VIP holder's agent frozen (SIGSTOP: keepalived's two processes, or `tandem
      # run` — its address guard, a process of its own, runs on), then let go (SIGCONT)
      local h; h=$(holders h1 h2 h3); h=${h%% *}; h=${h:-h1}
      if [ "$stack" = seed ]; then
        local pids; pids=$(keepalived_pids "$h")
        echo "kill -STOP$pids" > "$LAB_DIR/fault.sh"
        echo "kill -CONT$pids" > "$LAB_DIR/heal.sh"
      else
        echo "kill -STOP $(cat "$LAB_DIR/node${h#h}.pid")" > "$LAB_DIR/fault.sh"
        echo "kill -CONT $(cat "$LAB_DIR/node${h#h}.pid")" > "$LAB_DIR/heal.sh"
      fi ;;
    # scripts/lab-reliability.sh's faults (the heal runs when the driver's --heal-after is up):
    stop_redis)  # the master's redis-server frozen (SIGSTOP), then let go (SIGCONT)
      echo "kill -STOP $(cat "$LAB_DIR/redis1.pid")" > "$LAB_DIR/fault.sh"
      echo "kill -CONT $(cat "$LAB_DIR/redis1.pid")" > "$LAB_DIR/heal.sh" ;;
    link_down)  # the master node's only interface down, then up
      echo "ip -n $(ns h1) link set eth0 down" > "$LAB_DIR/fault.sh"
      echo "ip -n $(ns h1) link set eth0 up" > "$LAB_DIR/heal.sh" ;;
    blackhole|blackhole_oneway)  # blackhole routes: h2 and h3 cannot send to h1; with blackhole,
      # h1 cannot send to them either. Only unicast is cut (keepalived's unicast adverts too);
      # multicast (Tandem's VRRP adverts) goes by the interface's route and still crosses.
      : > "$LAB_DIR/fault.sh"
      for i in 2 3; do
        echo "ip -n $(ns h$i) route replace blackhole $LAB_NET.1/32" >> "$LAB_DIR/fault.sh"
        echo "ip -n $(ns h$i) route del blackhole $LAB_NET.1/32" >> "$LAB_DIR/heal.sh"
        if [ "$fault" = blackhole ]; then
          echo "ip -n $(ns h1) route replace blackhole $LAB_NET.$i/32" >> "$LAB_DIR/fault.sh"
          echo "ip -n $(ns h1) route del blackhole $LAB_NET.$i/32" >> "$LAB_DIR/heal.sh"
        fi
      done ;;
    switchover)  # planned: SENTINEL FAILOVER (seed), `tandem switchover` (Tandem), through h2's monitor
      if [ "$stack" = seed ]; then
        echo "redis-cli -h $LAB_NET.2 -p 26379 SENTINEL FAILOVER mymaster >> $LAB_DIR/switchover.log 2>&1" > "$LAB_DIR/fault.sh"
      else
        echo "$TANDEM switchover --monitor $LAB_NET.2:26379 --group mymaster >> $LAB_DIR/switchover.log 2>&1" > "$LAB_DIR/fault.sh"
      fi ;;
    restart_empty|restart_data)  # kill -9 of the master's redis-server, started again later with
      # the same command line: empty (no persistence), or with its data (REDIS_EXTRA must turn
      # on the append-only file: the caller's job, as every node is started with it)
      echo "kill -9 $(cat "$LAB_DIR/redis1.pid")" > "$LAB_DIR/fault.sh"
      cp "$LAB_DIR/redis1.start" "$LAB_DIR/heal.sh" ;;
    *) lab_fail "unknown fault '$fault'" ;;
  esac
}
