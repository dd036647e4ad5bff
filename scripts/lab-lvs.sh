#!/usr/bin/env bash
# The second seed's two keepalived.conf files, as written, run by `tandem vrrp` in network
# namespaces this script creates: VRRP and the `virtual_server 192.168.72.115 6379` together.
#
#   scripts/lab-lvs.sh [SCENARIO...]      default: seed2 (the only one)
#
# The lab: node n1 (192.168.72.11, seed2-keepalived-master.conf) and node n2 (192.168.72.128,
# seed2-keepalived-backup.conf), each with the configs' interface name eno16777736 (a veth into
# a bridge namespace), a real redis-server on 127.0.0.1 and its own address port 6379, and a
# sorry server on 127.0.0.1:80; a client namespace on 192.168.72.9 and .21-.23 (four client
# addresses: persistence_timeout keeps an address on one real server). The configs' addresses
# and interface name are used as they are: they exist only inside the lab's namespaces.
#
# The configs' scripts (/usr/local/redis/sh/*.sh) are not in the seed article, only their
# command lines; the lab writes small ones that do what the article says (redis_check.sh:
# PING; notify_master: SLAVEOF NO ONE, the master node first syncing from its peer;
# notify_backup: SLAVEOF the peer) and log their arguments. Each tandem sees them at that path
# through an overlay mount on /usr/local in a mount namespace of its own (or, where overlayfs
# cannot stack, a tmpfs there with the scripts' directory bound in; LAB_LVS_NO_OVERLAY=1
# forces that): nothing on the host changes.
#
# One difference from the seed's hosts: Redis binds 127.0.0.1 and the node's address, not
# every address. With IPVS the kernel takes VIP:6379 before any socket; in user space tandem
# listens on it, and a Redis bound to 0.0.0.0:6379 would hold that port.
#
# Needs root, iproute2, python3, redis-server/redis-cli. Builds nothing: uses $TANDEM (default
# .build/debug/tandem). Every process is started here and stopped by PID (lab_cleanup on EXIT
# kills what runs in the lab's namespaces and removes them). Prints "PASS seed2" or "FAIL seed2".
set -euo pipefail
source "$(dirname "$0")/lab-vrrp-lib.sh"

[ "$(id -u)" = 0 ] || { echo "lab-lvs: needs root (network namespaces)" >&2; exit 77; }
command -v ip >/dev/null || { echo "lab-lvs: needs iproute2 (ip)" >&2; exit 77; }
command -v redis-server >/dev/null || { echo "lab-lvs: needs redis-server" >&2; exit 77; }
[ -x "$TANDEM" ] || { echo "lab-lvs: $TANDEM not built" >&2; exit 2; }

SEED_CONFIGS=${SEED_CONFIGS:-$REPO/Tests/KeepalivedConfigTests/Fixtures}  # = ../shared/seeds/configs
IFACE=eno16777736
VIP=192.168.72.115
ADDR_n1=192.168.72.11
ADDR_n2=192.168.72.128
CLIENTS="192.168.72.9 192.168.72.21 192.168.72.22 192.168.72.23"
# The configs' timing: delay_loop 6, nb_get_retry 3, delay_before_retry 3, connect_timeout 3.
DELAY_LOOP=6
RETRIES=3
DELAY_BEFORE_RETRY=3

seed_setup() {
  ip netns add "$(ns sw)"
  ip -n "$(ns sw)" link add br0 type bridge
  ip -n "$(ns sw)" link set br0 up
  local h addr
  for h in n1 n2 c; do
    ip netns add "$(ns $h)"
    local dev=$IFACE; [ $h = c ] && dev=eth0
    ip link add $dev netns "$(ns $h)" type veth peer name p$h netns "$(ns sw)"
    ip -n "$(ns sw)" link set p$h master br0
    ip -n "$(ns sw)" link set p$h up
    if [ $h = c ]; then
      for addr in $CLIENTS; do ip -n "$(ns c)" addr add $addr/24 dev eth0; done
    else
      eval "addr=\$ADDR_$h"
      ip -n "$(ns $h)" addr add $addr/24 dev $dev
    fi
    ip -n "$(ns $h)" link set $dev up
    ip -n "$(ns $h)" link set lo up
    inns $h sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce'
  done
  sleep 0.2
}

# The scripts the configs name, in DIR/redis/sh (the overlay's upper directory), logging to
# /usr/local/redis/log/notify.log (DIR/redis/log/notify.log from outside).
write_seed_scripts() {  # write_seed_scripts DIR
  local d=$1/redis/sh
  mkdir -p "$d" "$1/redis/log"
  local head='#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "$(date +%H:%M:%S.%N) $(basename "$0") $*" >> /usr/local/redis/log/notify.log'
  cat > "$d/redis_check.sh" <<'EOF'
#!/bin/sh
# chk_redis: the local Redis answers PING.
[ "$(/usr/bin/redis-cli -h "$1" -p "$2" PING 2>/dev/null)" = PONG ]
EOF
  # notify_master on the master node: take what the backup wrote meanwhile, then be master.
  printf '%s\n%s\n' "$head" 'redis-cli -h "$1" -p "$3" SLAVEOF "$2" "$3"
i=0; while [ $i -lt 15 ] && ! redis-cli -h "$1" -p "$3" INFO replication | grep -q master_link_status:up; do sleep 0.2; i=$((i + 1)); done
redis-cli -h "$1" -p "$3" SLAVEOF NO ONE' > "$d/redis_master_master.sh"
  printf '%s\n%s\n' "$head" 'redis-cli -h "$1" -p "$3" SLAVEOF "$2" "$3"' > "$d/redis_master_slave.sh"
  printf '%s\n%s\n' "$head" 'redis-cli -h "$1" -p "$3" SLAVEOF NO ONE' > "$d/redis_backup_master.sh"
  printf '%s\n%s\n' "$head" 'redis-cli -h "$1" -p "$3" SLAVEOF "$2" "$3"' > "$d/redis_backup_slave.sh"
  printf '%s\n' "$head" > "$d/redis_fault.sh"
  chmod 755 "$d"/*.sh
}

start_redis() {  # start_redis HOST
  local h=$1 addr; eval "addr=\$ADDR_$h"
  mkdir -p "$LAB_DIR/$h-data"
  ip netns exec "$(ns $h)" redis-server --bind "127.0.0.1 $addr" --port 6379 --save "" --appendonly no \
    --dir "$LAB_DIR/$h-data" --dbfilename "$h.rdb" --protected-mode no --daemonize no \
    >> "$LAB_DIR/$h-redis.log" 2>&1 &
  LAB_PIDS+=("$!")
  eval "REDIS_$h=$!"
  wait_for 5 "$h's redis-server" inns $h sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6379 PING 2>/dev/null)" = PONG ]'
}

start_sorry_server() {  # start_sorry_server HOST: 127.0.0.1:80 answers "-SORRY HOST"
  ip netns exec "$(ns $1)" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 80)); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall(("-SORRY " + sys.argv[1] + "\r\n").encode()); c.close()
' "$1" >/dev/null 2>&1 &
  LAB_PIDS+=("$!")
}

START_COUNT=0
start_node() {  # start_node HOST CONF: tandem vrrp CONF with the seed's scripts at /usr/local/redis/sh
  local h=$1 conf=$2
  START_COUNT=$((START_COUNT + 1))
  local upper="$LAB_DIR/$h-local-$START_COUNT" work="$LAB_DIR/$h-work-$START_COUNT"
  mkdir -p "$upper" "$work"
  write_seed_scripts "$upper"
  # ip netns exec → unshare → sh → exec tandem: $! is tandem's own PID.
  # Where overlayfs cannot stack (an overlay /tmp), a tmpfs on /usr/local with the scripts'
  # directory bound into it (the lab needs nothing else under /usr/local).
  ip netns exec "$(ns $h)" unshare -m --propagation private sh -c '
    { [ -z "$5" ] && mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$1,workdir=$2" /usr/local 2>/dev/null; } ||
      { mount -t tmpfs tmpfs /usr/local && mkdir /usr/local/redis && mount --bind "$1/redis" /usr/local/redis; } || exit 1
    exec "$3" vrrp "$4"' \
    sh "$upper" "$work" "$TANDEM" "$conf" "${LAB_LVS_NO_OVERLAY:-}" >> "$LAB_DIR/$h.log" 2>&1 &
  LAB_PIDS+=("$!")
  eval "PID_$h=$!"
}

notify_log() { cat "$LAB_DIR/$1"-local-*/redis/log/notify.log 2>/dev/null || true; }

holds_seed_vip() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev $IFACE 2>/dev/null) || true; [[ $out == *"inet $VIP/32"* ]]; }
seed_holders() { local h out=""; for h in n1 n2; do holds_seed_vip $h && out="$out $h"; done; echo "${out# }"; }
only_seed_holder() { [ "$(seed_holders)" = "$1" ]; }

# One connection from each client address to VIP:6379: "ADDRESS WHO" lines, WHO the Redis
# that answered PING and CONFIG GET dbfilename (n1, n2), "sorry-n1"/"sorry-n2", or an error.
probe() {
  inns c python3 -c '
import socket, sys
vip = sys.argv[1]
for src in sys.argv[2:]:
    who = "?"
    try:
        c = socket.socket(); c.settimeout(3); c.bind((src, 0)); c.connect((vip, 6379))
        c.sendall(b"PING\r\nCONFIG GET dbfilename\r\n")
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk: break
            data += chunk
            if data.startswith(b"-SORRY") and data.endswith(b"\r\n"): break
            if b".rdb\r\n" in data: break
        c.close()
        text = data.decode(errors="replace")
        if text.startswith("-SORRY "): who = "sorry-" + text.split()[1]
        elif text.startswith("+PONG") and "n1.rdb" in text: who = "n1"
        elif text.startswith("+PONG") and "n2.rdb" in text: who = "n2"
        else: who = "unexpected:" + repr(text)
    except Exception as e:
        who = "error:" + type(e).__name__
    print(src, who)
' "$VIP" $CLIENTS
}

expect_probe() {  # expect_probe DESCRIPTION PATTERN: every client's answer matches PATTERN (ERE)
  local out; out=$(probe)
  lab_log "clients at $VIP:6379: $(echo $out)"
  if echo "$out" | awk '{print $2}' | grep -Evq "^($2)\$"; then lab_fail "$1: $out"; fi
  PROBED=$out
}

# When a line matching PATTERN first appears in HOST's log after line FROM, as seconds since T0.
wait_log() {  # wait_log HOST FROM PATTERN T0 TIMEOUT DESCRIPTION
  local h=$1 from=$2 pattern=$3 t0=$4 timeout=$5
  wait_for "$timeout" "$6" sh -c 'tail -n +"$1" "$2" | grep -Eq "$3"' sh "$((from + 1))" "$LAB_DIR/$h.log" "$pattern"
  elapsed "$t0" "$(now)"
}
log_lines() { wc -l < "$LAB_DIR/$1.log"; }

scenario_seed2() {
  seed_setup
  start_redis n1
  start_redis n2
  start_sorry_server n1
  start_sorry_server n2
  # Byte-for-byte copies (the reload step edits n1's).
  cp "$SEED_CONFIGS/seed2-keepalived-master.conf" "$LAB_DIR/master.conf"
  cp "$SEED_CONFIGS/seed2-keepalived-backup.conf" "$LAB_DIR/backup.conf"
  start_node n1 "$LAB_DIR/master.conf"
  start_node n2 "$LAB_DIR/backup.conf"
  wait_for 15 "n1 (state MASTER, priority 100) holds the VIP" only_seed_holder n1
  wait_for 5 "both virtual servers listening" sh -c 'grep -q "VS .*listening" "$1" && grep -q "VS .*listening" "$2"' sh "$LAB_DIR/n1.log" "$LAB_DIR/n2.log"
  grep -q "master.conf:48: warning: 'lb_kind NAT'" "$LAB_DIR/n1.log" || lab_fail "n1 did not warn that lb_kind NAT is served as a proxy"
  lab_log "n1 holds $VIP"

  # Round robin over the two real servers; persistence_timeout 50 keeps each client address on its own.
  expect_probe "clients through n1's virtual server" "n1|n2"
  local first=$PROBED
  grep -q " n1$" <<<"$first" && grep -q " n2$" <<<"$first" || lab_fail "rr did not spread four client addresses over both real servers: $first"
  expect_probe "clients again" "n1|n2"
  [ "$PROBED" = "$first" ] || lab_fail "persistence: a client address changed real server within 50 s: $first / $PROBED"

  # The holder stopped: the VIP moves to n2, whose virtual server serves the clients.
  local t0; t0=$(now)
  kill -TERM "$PID_n1"
  wait_for 8 "n2 takes the VIP after n1's tandem stops" only_seed_holder n2
  lab_log "VIP on n2 $(elapsed "$t0" "$(now)")s after SIGTERM to n1's tandem"
  wait "$PID_n1" || lab_fail "n1's tandem exited $? on SIGTERM"
  expect_probe "clients through n2's virtual server" "n1|n2"
  wait_for 5 "n2's notify_master" sh -c 'cat "$1"-local-*/redis/log/notify.log 2>/dev/null | grep -q "redis_backup_master.sh 127.0.0.1 192.168.72.11 6379"' sh "$LAB_DIR/n2"
  [ "$(inns n2 redis-cli -h 127.0.0.1 -p 6379 ROLE | head -1)" = master ] || lab_fail "n2's Redis is not master after its notify_master"

  # n1 back (state MASTER, priority 100, preempt): the VIP returns.
  t0=$(now)
  start_node n1 "$LAB_DIR/master.conf"
  wait_for 15 "n1 takes the VIP back" only_seed_holder n1
  lab_log "VIP back on n1 $(elapsed "$t0" "$(now)")s after its tandem started"
  wait_for 5 "n1's virtual server listening again" sh -c '[ "$(grep -c "VS .*listening" "$1")" -ge 2 ]' sh "$LAB_DIR/n1.log"
  expect_probe "clients through n1's restarted virtual server" "n1|n2"

  # SIGHUP with 192.168.72.128 drained (weight 0) and the instance's priority changed: the
  # virtual server applies the weight, the instance takes its new priority in place (still
  # above n2's: it stays master), the VIP never leaves n1.
  sed -i '/real_server 192.168.72.128 6379/,/}/ s/weight 1/weight 0/; s/priority 100/priority 101/' "$LAB_DIR/master.conf"
  local from; from=$(log_lines n1)
  kill -HUP "$PID_n1"
  wait_log n1 "$from" "reload: virtual servers: 0 unchanged, 1 changed, 0 added, 0 removed" "$(now)" 3 "n1's reload" >/dev/null
  grep -q "real server $ADDR_n2:6379 weight 0" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") || lab_fail "n1's reload did not set $ADDR_n2's weight 0"
  grep -q "reload: VRRP instances: 0 unchanged, 1 changed, 0 added, 0 removed" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") \
    || lab_fail "n1's reload did not apply the instance change"
  grep -q "(VI_1) reload: priority 100 -> 101" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") \
    || lab_fail "n1's reload did not take the new priority"
  expect_probe "clients with $ADDR_n2 drained" "n1"
  local i; for i in $(seq 1 20); do only_seed_holder n1 || lab_fail "the VIP left n1 after SIGHUP"; sleep 0.1; done
  cp "$SEED_CONFIGS/seed2-keepalived-master.conf" "$LAB_DIR/master.conf"
  from=$(log_lines n1)
  kill -HUP "$PID_n1"
  wait_log n1 "$from" "reload: virtual servers: 0 unchanged, 1 changed" "$(now)" 3 "n1's second reload" >/dev/null
  grep -q "real server $ADDR_n2:6379 weight 1" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") || lab_fail "n1's second reload did not give $ADDR_n2 weight 1"
  # (The four client addresses persist on n1 for persistence_timeout 50 s: they stay there.)
  expect_probe "clients with $ADDR_n2 back to weight 1" "n1"
  lab_log "SIGHUP: weight 0 drained $ADDR_n2 and back, VIP kept on n1"

  # A real server killed: out within delay_loop + nb_get_retry × delay_before_retry (+2 s slack).
  local bound=$((DELAY_LOOP + RETRIES * DELAY_BEFORE_RETRY + 2)) took
  from=$(log_lines n1); t0=$(now)
  kill -KILL "$REDIS_n2"
  took=$(wait_log n1 "$from" "real server $ADDR_n2:6379 down" "$t0" "$bound" "n1's virtual server to take out $ADDR_n2:6379 (killed)")
  lab_log "killed real server $ADDR_n2:6379 taken out after ${took}s (bound ${bound}s)"
  grep -q "TCP_CHECK of $ADDR_n2:6379 failed .*retry $RETRIES of $RETRIES" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") \
    || lab_fail "n1 did not retry $RETRIES times before taking $ADDR_n2:6379 out"
  expect_probe "clients after $ADDR_n2 is out" "n1"
  holds_seed_vip n1 || lab_fail "n1 lost the VIP"
  # n2's own chk_redis (fall 3, interval 2) puts n2 in FAULT meanwhile: notify_fault ran.
  wait_for 8 "n2's notify_fault" sh -c 'cat "$1"-local-*/redis/log/notify.log 2>/dev/null | grep -q "redis_fault.sh"' sh "$LAB_DIR/n2"

  # Both real servers down: the sorry server answers. n1's Redis stops listening on its address
  # (still on 127.0.0.1): n1's checker sees it down while chk_redis (127.0.0.1) keeps n1 master.
  # Both Redis killed would put both nodes in FAULT (chk_redis), and no node would hold the VIP
  # for the sorry server: that is the seed's configuration, in keepalived as here.
  from=$(log_lines n1); t0=$(now)
  inns n1 redis-cli -h 127.0.0.1 -p 6379 CONFIG SET bind 127.0.0.1 >/dev/null
  took=$(wait_log n1 "$from" "real server $ADDR_n1:6379 down" "$t0" "$bound" "n1's virtual server to take out $ADDR_n1:6379")
  lab_log "unreachable real server $ADDR_n1:6379 taken out after ${took}s (bound ${bound}s)"
  grep -q "lost quorum .*sorry server 127.0.0.1:80 in use" <(tail -n +"$((from + 1))" "$LAB_DIR/n1.log") || lab_fail "n1 did not log the sorry server in use"
  expect_probe "clients with both real servers down" "sorry-n1"
  holds_seed_vip n1 || lab_fail "n1 lost the VIP"
  lab_log "notify scripts: n1: $(notify_log n1 | awk '{print $2}' | tr '\n' ' ')/ n2: $(notify_log n2 | awk '{print $2}' | tr '\n' ' ')"
}

scenarios=${*:-seed2}
failed=0
for s in $scenarios; do LAB_PREFIX=tl run_scenario "$s" || failed=$((failed + 1)); done
[ $failed = 0 ] || { echo "lab-lvs: $failed scenario(s) failed" >&2; exit 1; }
