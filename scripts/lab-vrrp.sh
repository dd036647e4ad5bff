#!/usr/bin/env bash
# VRRP lab: tandem vrrp nodes (and keepalived 2.2.7) in network namespaces this script creates.
#
#   scripts/lab-vrrp.sh [SCENARIO...]      default: all; `quick` is the CI subset
#
# Needs root, iproute2, python3; keepalived for the interop scenarios. Builds nothing: uses
# $TANDEM (default .build/debug/tandem). Addresses only inside the lab's namespaces (10.77.0.0/24).
# Exit 0 when every scenario passed; each scenario prints "PASS name" or "FAIL name: why".
set -euo pipefail
source "$(dirname "$0")/lab-vrrp-lib.sh"

[ "$(id -u)" = 0 ] || { echo "lab-vrrp: needs root (network namespaces)" >&2; exit 77; }
command -v ip >/dev/null || { echo "lab-vrrp: needs iproute2 (ip)" >&2; exit 77; }
[ -x "$TANDEM" ] || { echo "lab-vrrp: $TANDEM not built" >&2; exit 2; }

two_tandems() {  # two_tandems [instance lines for h1] -- h1 prio 150, h2 prio 100
  lab_setup 2
  vrrp_conf "$LAB_DIR/h1.conf" 150 "$@"
  vrrp_conf "$LAB_DIR/h2.conf" 100 "$@"
  start_tandem h1 "$LAB_DIR/h1.conf"
  start_tandem h2 "$LAB_DIR/h2.conf"
}

scenario_sigkill() {  # SIGKILL of the master: its address guard sends the priority-0 advert and removes the VIP once the backup took over
  two_tandems
  wait_for 8 "h1 master" only_holder h1 h1 h2
  start_services h1 h2
  [ "$(who_answers)" = h1 ] || lab_fail "client does not reach h1 at the VIP"
  local t0; t0=$(now)
  kill -KILL "$PID_h1"
  # Within the backup's skew time (0.6 s), well before the address's 3 s lifetime (renewed
  # every second) could end: the guard did it.
  wait_for 1.5 "the killed tandem's VIP removed by its address guard" eval '! holds_vip h1'
  grep -q "tandem address-guard: tandem (pid $PID_h1) is gone: removed $LAB_VIP/24" "$LAB_DIR/h1.log" \
    || lab_fail "h1's log does not show its address guard removing $LAB_VIP"
  lab_log "killed node's VIP removed after $(elapsed "$t0" "$(now)")s"
  local took; took=$(time_until_answer "$t0" h2 8) || lab_fail "client never reached h2 at the VIP"
  lab_log "takeover after SIGKILL: ${took}s (client reaches h2)"
  wait_for 6 "stale VIP gone from the killed node" only_holder h2 h1 h2
  lab_log "stale VIP gone after $(elapsed "$t0" "$(now)")s"
}

scenario_sigterm() {  # graceful stop: priority 0, takeover within the skew time
  two_tandems
  wait_for 8 "h1 master" only_holder h1 h1 h2
  start_services h1 h2
  local t0; t0=$(now)
  kill -TERM "$PID_h1"
  local took; took=$(time_until_answer "$t0" h2 3) || lab_fail "client never reached h2 after SIGTERM"
  lab_log "takeover after SIGTERM: ${took}s"
  awk -v t="$took" 'BEGIN { exit !(t < 1.5) }' || lab_fail "graceful takeover took ${took}s (skew is 0.61 s)"
  wait_for 2 "h1 VIP removed" only_holder h2 h1 h2
  grep -q "Stopped" "$LAB_DIR/h1.log" || lab_fail "h1 did not log its stop"
}

scenario_sigstop() {  # a frozen master: backup takes over; the frozen one's VIP expires; on SIGCONT one master again
  two_tandems
  wait_for 8 "h1 master" only_holder h1 h1 h2
  kill -STOP "$PID_h1"
  wait_for 6 "h2 takes the VIP" holds_vip h2
  wait_for 5 "frozen h1's VIP expires" only_holder h2 h1 h2
  kill -CONT "$PID_h1"
  # h1 has the higher priority and preempts back.
  wait_for 8 "h1 preempts back after SIGCONT" only_holder h1 h1 h2
}

scenario_sigstop_clients() {  # a frozen master: once the backup is heard, its address guard resets the clients at the VIP and removes it; on SIGCONT it preempts back, re-announced
  VERSION=3 INTERVAL=0.1 two_tandems
  wait_for 5 "h1 master" only_holder h1 h1 h2
  start_services h1 h2
  # On h1 a server that accepts and never answers: from its client, what a frozen proxy is.
  inns h1 python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7001)); s.listen(8); c, _ = s.accept(); time.sleep(60)
' >/dev/null 2>&1 &
  LAB_PIDS+=("$!")
  sleep 0.3
  # The client sends a request and waits up to 8 s for its answer.
  inns h9 python3 -c '
import socket, sys, time
c = socket.create_connection((sys.argv[1], 7001), timeout=2); c.settimeout(8)
c.sendall(b"PING\r\n"); print("sent %.3f" % time.time(), flush=True)
try:
    data = c.recv(64); print("closed %.3f" % time.time() if not data else "answered")
except ConnectionResetError: print("reset %.3f" % time.time())
except socket.timeout: print("timeout %.3f" % time.time())
' "$LAB_VIP" > "$LAB_DIR/client.out" 2>&1 &
  local client=$!
  LAB_PIDS+=("$client")
  wait_for 5 "the client's request sent" grep -q '^sent' "$LAB_DIR/client.out"
  local t0; t0=$(now)
  kill -STOP "$PID_h1"
  wait_for 3 "h2 takes the VIP" holds_vip h2
  # The address's own lifetime (3 s, renewed every second) would take 2-3 s: the guard does it
  # once h2's advert is heard (MDI 0.36 s).
  wait_for 3 "frozen h1's VIP removed" only_holder h2 h1 h2
  local gone; gone=$(elapsed "$t0" "$(now)")
  grep -q "tandem address-guard: tandem (pid $PID_h1) has said nothing for .* removed $LAB_VIP/24" "$LAB_DIR/h1.log" \
    || lab_fail "h1's log does not show its guard taking the VIP away: $(grep address-guard "$LAB_DIR/h1.log" | tail -3)"
  wait "$client" || true
  local outcome; outcome=$(tail -1 "$LAB_DIR/client.out")
  case "$outcome" in
    reset*) ;;
    *) lab_fail "the frozen node's client was not reset: $outcome" ;;
  esac
  lab_log "frozen master: VIP removed after ${gone}s, client reset after $(elapsed "$t0" "${outcome#reset }")s"
  [ "$(who_answers)" = h2 ] || lab_fail "client does not reach h2 at the VIP while h1 is frozen"
  kill -CONT "$PID_h1"
  # h1 has the higher priority: h2's adverts make it re-add its VIP and announce it again.
  wait_for 5 "h1 preempts back after SIGCONT" only_holder h1 h1 h2
  local i answer=""
  for i in $(seq 1 20); do answer=$(who_answers); [ "$answer" = h1 ] && break; sleep 0.1; done
  [ "$answer" = h1 ] || lab_fail "after SIGCONT the client reaches '$answer' at the VIP, not h1 (not re-announced?)"
}

scenario_linkdown() {  # master's link down: FAULT there, backup takes over
  two_tandems
  wait_for 8 "h1 master" only_holder h1 h1 h2
  ip -n "$(ns h1)" link set eth0 down
  wait_for 6 "h2 takes the VIP" holds_vip h2
  wait_for 2 "FAULT on h1" grep -q "Entering FAULT STATE" "$LAB_DIR/h1.log"
  holds_vip h1 && lab_fail "h1 kept the VIP with its link down"
  ip -n "$(ns h1)" link set eth0 up
  wait_for 8 "h1 back as master" only_holder h1 h1 h2
}

scenario_nopreempt() {  # nopreempt: the recovered higher-priority node stays backup
  two_tandems nopreempt
  wait_for 8 "a master" bash -c "[ -n \"\$(source $REPO/scripts/lab-vrrp-lib.sh; LAB_ID=$LAB_ID holders h1 h2)\" ]"
  wait_for 8 "h1 master (higher priority, first election)" only_holder h1 h1 h2
  kill -TERM "$PID_h1"
  wait_for 3 "h2 master" only_holder h2 h1 h2
  vrrp_conf "$LAB_DIR/h1.conf" 150 nopreempt
  start_tandem h1 "$LAB_DIR/h1.conf"
  sleep 5
  only_holder h2 h1 h2 || lab_fail "h1 preempted despite nopreempt (holders: $(holders h1 h2))"
}

scenario_preemptdelay() {  # preempt_delay 3: the recovered node waits before preempting
  two_tandems "preempt_delay 3"
  wait_for 8 "h1 master" only_holder h1 h1 h2
  kill -TERM "$PID_h1"
  wait_for 3 "h2 master" only_holder h2 h1 h2
  start_tandem h1 "$LAB_DIR/h1.conf"
  local t0; t0=$(now)
  sleep 3.5
  only_holder h2 h1 h2 || lab_fail "h1 preempted before preempt_delay (holders: $(holders h1 h2))"
  wait_for 8 "h1 preempts after the delay" only_holder h1 h1 h2
  lab_log "h1 preempted $(elapsed "$t0" "$(now)")s after restart (delay 3 s + down interval)"
}

scenario_trackscript() {  # a failing track_script (weight 0) moves the VIP; notify scripts run
  lab_setup 2
  touch "$LAB_DIR/ok"
  chmod 755 "$LAB_DIR"
  cat > "$LAB_DIR/notify.sh" <<EOF
#!/bin/sh
echo "\$@" >> $LAB_DIR/notify.\$(hostname 2>/dev/null || echo x).log
echo "\$@" >> $LAB_DIR/notify.all
EOF
  chmod 755 "$LAB_DIR/notify.sh"
  TOP_EXTRA="vrrp_script chk { script \"/usr/bin/test -e $LAB_DIR/ok\"
  interval 0.2
  fall 2
  rise 2 }"
  vrrp_conf "$LAB_DIR/h1.conf" 150 "track_script {" "  chk" "}" "notify $LAB_DIR/notify.sh"
  vrrp_conf "$LAB_DIR/h2.conf" 100 "notify $LAB_DIR/notify.sh"
  start_tandem h1 "$LAB_DIR/h1.conf"
  start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h1 master" only_holder h1 h1 h2
  rm "$LAB_DIR/ok"
  wait_for 6 "h2 takes over when h1's check fails" only_holder h2 h1 h2
  grep -q "Entering FAULT STATE" "$LAB_DIR/h1.log" || lab_fail "h1 not in FAULT"
  wait_for 2 "notify args" grep -q "INSTANCE VI_LAB MASTER 100" "$LAB_DIR/notify.all"
  grep -q "INSTANCE VI_LAB FAULT 150" "$LAB_DIR/notify.all" || lab_fail "no FAULT notify: $(cat "$LAB_DIR/notify.all")"
  touch "$LAB_DIR/ok"
  wait_for 8 "h1 back after its check recovers" only_holder h1 h1 h2
}

scenario_three() {  # three nodes: exactly one holder through two failures
  lab_setup 3
  vrrp_conf "$LAB_DIR/h1.conf" 150
  vrrp_conf "$LAB_DIR/h2.conf" 120
  vrrp_conf "$LAB_DIR/h3.conf" 100
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"; start_tandem h3 "$LAB_DIR/h3.conf"
  wait_for 8 "h1 master" only_holder h1 h1 h2 h3
  kill -KILL "$PID_h1"
  wait_for 8 "h2 master after h1 killed" only_holder h2 h1 h2 h3
  kill -TERM "$PID_h2"
  wait_for 4 "h3 master after h2 stopped" only_holder h3 h1 h2 h3
}

scenario_v3() {  # VRRPv3 at 0.1 s, multicast: crash takeover in ~0.3 s
  VERSION=3 INTERVAL=0.1 two_tandems
  wait_for 5 "h1 master" only_holder h1 h1 h2
  start_services h1 h2
  local t0; t0=$(now)
  kill -KILL "$PID_h1"
  lab_log "killed h1"
  local took; took=$(time_until_answer "$t0" h2 3) || lab_fail "no takeover"
  lab_log "v3 takeover after SIGKILL: ${took}s"
  awk -v t="$took" 'BEGIN { exit !(t < 1.0) }' || lab_fail "v3 crash takeover took ${took}s (MDI is 0.36 s)"
}

scenario_v3unicast() {  # VRRPv3 unicast peers (pseudo-header with the peer's address)
  lab_setup 2
  VERSION=3 INTERVAL=0.1 UNICAST=$LAB_NET.2 vrrp_conf "$LAB_DIR/h1.conf" 150
  VERSION=3 INTERVAL=0.1 UNICAST=$LAB_NET.1 vrrp_conf "$LAB_DIR/h2.conf" 100
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 5 "h1 master" only_holder h1 h1 h2
  sleep 1
  only_holder h1 h1 h2 || lab_fail "h2 took over although h1 advertises (unicast)"
  kill -TERM "$PID_h1"
  wait_for 2 "h2 master" only_holder h2 h1 h2
}

# keepalived interop: KA_VERSION, KA_UNICAST; $1 = which host runs keepalived (h1 master or h2 backup)
interop() {
  local ka_host=$1
  [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed (apt-get install keepalived)"
  lab_setup 2
  local u1="" u2=""
  if [ -n "${KA_UNICAST:-}" ]; then u1=$LAB_NET.2; u2=$LAB_NET.1; fi
  VERSION=${KA_VERSION:-2} INTERVAL=${KA_INTERVAL:-1} UNICAST=$u1 vrrp_conf "$LAB_DIR/h1.conf" 150
  VERSION=${KA_VERSION:-2} INTERVAL=${KA_INTERVAL:-1} UNICAST=$u2 vrrp_conf "$LAB_DIR/h2.conf" 100
  if [ "$ka_host" = h1 ]; then
    start_keepalived h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  else
    start_tandem h1 "$LAB_DIR/h1.conf"; start_keepalived h2 "$LAB_DIR/h2.conf"
  fi
  wait_for 8 "h1 master" only_holder h1 h1 h2
  sleep 2
  only_holder h1 h1 h2 || lab_fail "split or lost VIP while h1 advertises: holders $(holders h1 h2)"
  grep -qi "invalid\|rejected\|bogus" "$LAB_DIR/h2.log" && lab_fail "h2 rejected h1's adverts: $(grep -i 'invalid\|rejected\|bogus' "$LAB_DIR/h2.log" | head -3)"
  # graceful stop of h1 -> h2 within the skew time
  kill -TERM "$PID_h1"
  wait_for 3 "h2 master after h1 SIGTERM" only_holder h2 h1 h2
  # h1 back: preempts (higher priority)
  if [ "$ka_host" = h1 ]; then start_keepalived h1 "$LAB_DIR/h1.conf"; else start_tandem h1 "$LAB_DIR/h1.conf"; fi
  wait_for 10 "h1 preempts back" only_holder h1 h1 h2
  # crash of h1 -> h2 takes over after the down interval
  if [ "$ka_host" = h1 ]; then
    kill -STOP "$PID_h1" "$KA_CHILD_h1"; kill -KILL "$PID_h1" "$KA_CHILD_h1"
  else
    kill -KILL "$PID_h1"
  fi
  wait_for 8 "h2 takes the VIP after h1 crashed" holds_vip h2
}

scenario_interop_v2_ka_master() { KA_VERSION=2 interop h1; }
scenario_interop_v2_ka_backup() { KA_VERSION=2 interop h2; }
scenario_interop_v3_ka_master() { KA_VERSION=3 KA_INTERVAL=0.1 interop h1; }
scenario_interop_v3_ka_backup() { KA_VERSION=3 KA_INTERVAL=0.1 interop h2; }
scenario_interop_v3_unicast_ka_master() { KA_VERSION=3 KA_INTERVAL=0.1 KA_UNICAST=1 interop h1; }
scenario_interop_v3_unicast_ka_backup() { KA_VERSION=3 KA_INTERVAL=0.1 KA_UNICAST=1 interop h2; }
scenario_interop_v2_unicast_ka_backup() { KA_VERSION=2 KA_UNICAST=1 interop h2; }

# use_vmac: each node's VIP on its macvlan vrrp.77 with the virtual MAC 00:00:5e:00:01:4d, tandem
# (h1, priority 150) and keepalived (h2) side by side. The client's neighbour entry for the VIP is
# that MAC whoever holds it, so a takeover changes no ARP cache.
VMAC=00:00:5e:00:01:4d
vmac_holds() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev vrrp.77 2>/dev/null) || true; [[ $out == *"inet $LAB_VIP/"* ]]; }
vmac_holders() { local h out=""; for h in h1 h2; do vmac_holds "$h" && out="$out $h"; done; echo "${out# }"; }
vmac_only() { [ "$(vmac_holders)" = "$1" ] && ! holds_vip h1 && ! holds_vip h2; }
vmac_link_ok() {  # vmac_link_ok HOST: vrrp.77 is a private macvlan on eth0 with the virtual MAC, up
  local out; out=$(ip -n "$(ns "$1")" -d link show vrrp.77 2>/dev/null) || return 1
  [[ $out == *"vrrp.77@eth0"* && $out == *"link/ether $VMAC"* && $out == *"macvlan mode private"* && $out == *",UP"* ]]
}
client_mac_for_vip() { ip -n "$(ns h9)" neigh show "$LAB_VIP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
answers() { [ "$(who_answers)" = "$1" ]; }
advert_origin() {  # advert_origin PRIORITY: "SOURCE-MAC SOURCE-IP" of the first VRID 77 advert at PRIORITY the client sees (2 s)
  inns h9 timeout 2 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind(("eth0", 0))
while True:
    p = s.recv(2048)
    if struct.unpack("!H", p[12:14])[0] == 0x0800 and p[23] == 112:
        v = p[14 + (p[14] & 15) * 4:]
        if v[1] == 77 and v[2] == int(sys.argv[1]):
            print(":".join("%02x" % b for b in p[6:12]), socket.inet_ntoa(p[26:30])); break
' "$1" || true
}

interop_vmac() {  # KA_UNICAST=1: unicast peers (adverts then go through eth0, as keepalived's)
  [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"
  lab_setup 2
  local u1="" u2="" extra="" reach=3
  # Unicast adverts go out eth0 (keepalived: "unicast with use_vmac requires vmac_xmit_base"), so
  # the switch learns the VMAC's port from gratuitous ARPs only. keepalived sends them as
  # requests, which the old master (tandem), holding the VIP for an advert's trip more, answers
  # from its own VMAC: the switch points at it until keepalived's second burst,
  # garp_master_delay later (here 1 s). tandem sends unsolicited replies with a VMAC (answered
  # by nobody), so its takeovers do not wait for that.
  if [ -n "${KA_UNICAST:-}" ]; then u1=$LAB_NET.2; u2=$LAB_NET.1; extra="garp_master_delay 1"; reach=4; fi
  VERSION=3 INTERVAL=0.1 UNICAST=$u1 vrrp_conf "$LAB_DIR/h1.conf" 150 "use_vmac" ${extra:+"$extra"}
  VERSION=3 INTERVAL=0.1 UNICAST=$u2 vrrp_conf "$LAB_DIR/h2.conf" 100 "use_vmac" ${extra:+"$extra"}
  start_services h1 h2
  start_tandem h1 "$LAB_DIR/h1.conf"; start_keepalived h2 "$LAB_DIR/h2.conf"
  wait_for 5 "tandem h1 holds the VIP on vrrp.77" vmac_only h1
  vmac_link_ok h1 || lab_fail "h1's vrrp.77 is not the VMAC: $(ip -n "$(ns h1)" -d link show vrrp.77)"
  wait_for 3 "keepalived's vrrp.77 on h2" vmac_link_ok h2
  if [ -z "${KA_UNICAST:-}" ]; then
    [ "$(advert_origin 150)" = "$VMAC $LAB_NET.1" ] || lab_fail "tandem's adverts come from '$(advert_origin 150)', not the VMAC and eth0's address"
  fi
  [ "$(inns h1 cat /proc/sys/net/ipv4/conf/vrrp.77/arp_ignore)/$(inns h1 cat /proc/sys/net/ipv4/conf/eth0/arp_filter)" = 1/1 ] \
    || lab_fail "tandem did not set arp_ignore on vrrp.77 / arp_filter on eth0 as keepalived does"
  wait_for $reach "the client reaches h1 at the VIP" answers h1
  [ "$(client_mac_for_vip)" = "$VMAC" ] || lab_fail "the client's neighbour entry for the VIP is '$(client_mac_for_vip)', not $VMAC"
  sleep 0.5
  vmac_only h1 || lab_fail "split or lost VIP while tandem h1 advertises: $(vmac_holders)"
  # tandem stops (SIGTERM): keepalived takes over; tandem's vrrp.77 is gone
  kill -TERM "$PID_h1"
  wait_for 3 "keepalived h2 takes the VIP on its vrrp.77" vmac_only h2
  wait_for 3 "tandem h1 deletes vrrp.77" sh -c "! ip -n $(ns h1) link show vrrp.77 >/dev/null 2>&1"
  wait_for $reach "the client reaches h2 at the VIP" answers h2
  if [ -z "${KA_UNICAST:-}" ]; then
    [ "$(advert_origin 100)" = "$VMAC $LAB_NET.2" ] || lab_fail "keepalived's adverts come from '$(advert_origin 100)'"
  fi
  [ "$(client_mac_for_vip)" = "$VMAC" ] || lab_fail "after the takeover the client's entry is '$(client_mac_for_vip)', not $VMAC"
  # tandem back: it recreates vrrp.77 and preempts keepalived
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 5 "tandem h1 preempts keepalived" vmac_only h1
  vmac_link_ok h1 || lab_fail "h1's vrrp.77 after restart: $(ip -n "$(ns h1)" -d link show vrrp.77)"
  wait_for $reach "the client reaches h1 again" answers h1
  # tandem SIGKILLed: its address guard hands over; the VMAC stays, the next run adopts it
  kill -KILL "$PID_h1"
  wait_for 3 "keepalived h2 takes over from the killed tandem" vmac_only h2
  vmac_link_ok h1 || lab_fail "the killed tandem's vrrp.77 should be left as keepalived leaves its own"
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 5 "the restarted tandem preempts again" vmac_only h1
  grep -q "using the VMAC interface vrrp.77 a previous run left" "$LAB_DIR/h1.log" || lab_fail "the stale vrrp.77 was not adopted"
  wait_for $reach "the client reaches h1 after the restart" answers h1
  [ "$(client_mac_for_vip)" = "$VMAC" ] || lab_fail "the client's entry is '$(client_mac_for_vip)', not $VMAC"
  grep -qi "rejected" "$LAB_DIR/h1.log" && lab_fail "tandem rejected keepalived's adverts: $(grep -i rejected "$LAB_DIR/h1.log" | head -2)"
  true
}
scenario_interop_vmac_ka() { interop_vmac; }  # use_vmac: tandem and keepalived each on their vrrp.77 macvlan; the VIP moves both ways behind one MAC
scenario_interop_vmac_unicast_ka() { KA_UNICAST=1 interop_vmac; }  # the same with unicast peers

on_dev() { local out; out=$(ip -n "$(ns h1)" -4 addr show dev "$1" 2>/dev/null) || true; [[ $out == *"inet $LAB_VIP/"* ]]; }
no_link() { ! ip -n "$(ns h1)" link show "$1" >/dev/null 2>&1; }
scenario_reload_vmac() {  # SIGHUP adding, renaming and dropping use_vmac: the instance leaves and starts on the new interface; unused VMACs are deleted
  lab_setup 1
  VERSION=3 INTERVAL=0.1 vrrp_conf "$LAB_DIR/h1.conf" 150
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 5 "the VIP on eth0" on_dev eth0
  VERSION=3 INTERVAL=0.1 vrrp_conf "$LAB_DIR/h1.conf" 150 "use_vmac"
  kill -HUP "$PID_h1"
  wait_for 3 "the VIP on vrrp.77 after adding use_vmac" on_dev vrrp.77
  on_dev eth0 && lab_fail "the VIP stayed on eth0"
  VERSION=3 INTERVAL=0.1 vrrp_conf "$LAB_DIR/h1.conf" 150 "use_vmac vm1"
  kill -HUP "$PID_h1"
  wait_for 3 "the VIP on vm1 after renaming the VMAC" on_dev vm1
  wait_for 3 "vrrp.77 deleted" no_link vrrp.77
  ip -n "$(ns h1)" link show vm1 | grep -q ",UP" || lab_fail "vm1 is not up: $(ip -n "$(ns h1)" link show vm1)"
  VERSION=3 INTERVAL=0.1 vrrp_conf "$LAB_DIR/h1.conf" 150
  kill -HUP "$PID_h1"
  wait_for 3 "the VIP back on eth0 after dropping use_vmac" on_dev eth0
  wait_for 3 "vm1 deleted" no_link vm1
  grep -q "reload: VRRP instances: 0 unchanged, 0 changed, 1 added, 1 removed" "$LAB_DIR/h1.log" || lab_fail "a changed use_vmac was not a removal and an addition"
}

# Two address owners (priority 255) for one VRID: keepalived 2.2.7's rule. The master that hears
# the other owner's advert logs "CONFIGURATION ERROR … both configured as address owner" and
# drops to 254 for good: the newcomer (state MASTER: master at once, as an owner with state
# BACKUP would wait Master_Down_Interval and defer to the owner it hears) keeps the VIP.
# $1/$2: what runs on h1 (first, state BACKUP: master after ~3 s) and h2.
owners() {
  local first=$1 second=$2
  lab_setup 2
  vrrp_conf "$LAB_DIR/h1.conf" 255
  STATE=MASTER vrrp_conf "$LAB_DIR/h2.conf" 255
  "start_$first" h1 "$LAB_DIR/h1.conf"
  wait_for 5 "h1 (the first owner) master" only_holder h1 h1 h2
  "start_$second" h2 "$LAB_DIR/h2.conf"
  wait_for 5 "h1 reports two address owners" grep -q "CONFIGURATION ERROR: local instance and a remote instance .*both configured as address owner" "$LAB_DIR/h1.log"
  wait_for 5 "h2 (the newcomer, still 255) holds the VIP alone" only_holder h2 h1 h2
  sleep 4  # more than Master_Down_Interval at 254: h1 must stay backup under the 255 adverts
  only_holder h2 h1 h2 || lab_fail "after the owners' conflict: holders $(holders h1 h2)"
  grep -q "CONFIGURATION ERROR" "$LAB_DIR/h2.log" && lab_fail "h2 reported the conflict too (it never heard h1 as master)"
  # h2 leaves: h1, now 254, takes over after its skew time.
  kill -TERM "$PID_h2"
  wait_for 3 "h1 (254) takes over" only_holder h1 h1 h2
}
scenario_owners() { owners tandem tandem; }
scenario_interop_owners_ka_first() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; owners keepalived tandem; }
scenario_interop_owners_ka_second() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; owners tandem keepalived; }

# track_file side by side with keepalived: the node whose file moves its priority (tandem or
# keepalived, $1) against the other at a fixed 120: value 3 × weight 10 lifts 100 to 130 (it
# preempts), −100 × 10 puts it in FAULT, 0 brings it back as backup. The same holders either way.
trackfile() {
  local filer=$1 other=$2
  lab_setup 2
  TOP_EXTRA=$(printf 'track_file tf {\n  file "%s"\n  weight 10\n  init_file 0 overwrite\n}' "$LAB_DIR/tf.value") \
    vrrp_conf "$LAB_DIR/h1.conf" 100 "track_file {" "  tf" "}"
  vrrp_conf "$LAB_DIR/h2.conf" 120
  echo 7 > "$LAB_DIR/tf.value"   # overwritten by init_file at start
  "start_$filer" h1 "$LAB_DIR/h1.conf"
  "start_$other" h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h2 (120 against 100) master" only_holder h2 h1 h2
  [ "$(cat "$LAB_DIR/tf.value")" = 0 ] || lab_fail "init_file 0 overwrite left $(cat "$LAB_DIR/tf.value")"
  echo 3 > "$LAB_DIR/tf.value"
  wait_for 6 "h1 (100 + 3 x 10) preempts" only_holder h1 h1 h2
  echo -100 > "$LAB_DIR/tf.value"
  wait_for 4 "h1 in FAULT by its file, h2 master" only_holder h2 h1 h2
  wait_for 2 "h1 logs FAULT" grep -q "Entering FAULT STATE" "$LAB_DIR/h1.log"
  echo 0 > "$LAB_DIR/tf.value"
  wait_for 3 "h1 leaves FAULT" grep -q "Entering BACKUP STATE" "$LAB_DIR/h1.log"
  sleep 4
  only_holder h2 h1 h2 || lab_fail "h1 at 100 took the VIP from h2 at 120: holders $(holders h1 h2)"
}
scenario_trackfile() { trackfile tandem tandem; }
scenario_interop_trackfile_ka() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; trackfile keepalived tandem; }

scenario_trackprocess() {  # track_process weight 0, terminate_delay: a process gone past the delay is FAULT, back in time is nothing
  lab_setup 2
  local prog="tp${LAB_ID: -10}"   # a name of our own (comm: 15 characters at most)
  cp "$(command -v sleep)" "$LAB_DIR/$prog"
  TOP_EXTRA=$(printf 'vrrp_track_process svc {\n  process %s\n  weight 0\n  terminate_delay 1.5\n}' "$prog") \
    vrrp_conf "$LAB_DIR/h1.conf" 150 "track_process {" "  svc" "}"
  vrrp_conf "$LAB_DIR/h2.conf" 100
  ip netns exec "$(ns h1)" "$LAB_DIR/$prog" 600 & local svc=$!; LAB_PIDS+=("$svc")
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h1 master while $prog runs" only_holder h1 h1 h2
  # Restarted within terminate_delay: no FAULT.
  kill "$svc"; wait "$svc" 2>/dev/null || true
  ip netns exec "$(ns h1)" "$LAB_DIR/$prog" 600 & svc=$!; LAB_PIDS+=("$svc")
  sleep 2.5
  grep -q "Entering FAULT STATE" "$LAB_DIR/h1.log" && lab_fail "h1 went FAULT although $prog came back within terminate_delay"
  only_holder h1 h1 h2 || lab_fail "holders $(holders h1 h2) after a quick restart"
  kill "$svc"; wait "$svc" 2>/dev/null || true
  local t0; t0=$(now)
  wait_for 4 "h1 FAULT, h2 master" only_holder h2 h1 h2
  lab_log "takeover $(elapsed "$t0" "$(now)")s after $prog stopped (terminate_delay 1.5 s, /proc read every 0.2 s)"
  ip netns exec "$(ns h1)" "$LAB_DIR/$prog" 600 & svc=$!; LAB_PIDS+=("$svc")
  wait_for 8 "h1 back as master" only_holder h1 h1 h2
}

# A sync group's own notify scripts and the notify FIFOs, tandem (h1) and keepalived 2.2.7 (h2)
# side by side on the same configuration (their own VRIDs): notify_fifo (read by a cat the lab
# starts) must carry the same lines in the same order, and the scripts get the same arguments.
# vrrp_notify_fifo's script: keepalived's is SIGTERMed at exit before it reads the STOP lines
# (seen here); tandem's gets them (it waits for the FIFO to drain first).
scenario_interop_notify_ka() {
  [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"
  lab_setup 2
  printf '#!/bin/sh\nf=$1; shift; echo "$*" >> "$f"\n' > "$LAB_DIR/n.sh"
  printf '#!/bin/sh\nexec cat "$2" >> "$1"\n' > "$LAB_DIR/fiforeader.sh"
  chmod 755 "$LAB_DIR/n.sh" "$LAB_DIR/fiforeader.sh"
  local h vrid
  for h in h1 h2; do
    vrid=$([ $h = h1 ] && echo 71 || echo 72)
    local n="$LAB_DIR/n.sh $LAB_DIR/$h.notify"
    cat > "$LAB_DIR/$h.conf" <<EOF
global_defs {
  router_id $h
  notify_fifo $LAB_DIR/$h.fifo
  vrrp_notify_fifo $LAB_DIR/$h.vfifo nobody nogroup
  vrrp_notify_fifo_script "$LAB_DIR/fiforeader.sh $LAB_DIR/$h.vfifo.out"
}
vrrp_sync_group G {
  group {
    A
  }
  notify_master "$n gmaster"
  notify_backup "$n gbackup"
  notify_fault "$n gfault"
  notify_stop "$n gstop"
  notify "$n gnotify"
}
vrrp_instance A {
  state MASTER
  interface eth0
  virtual_router_id $vrid
  priority 150
  advert_int 1
  notify "$n inotify"
  virtual_ipaddress {
    10.77.0.$vrid/24
  }
}
EOF
  done
  local readers=()
  for h in h1 h2; do
    mkfifo -m 600 "$LAB_DIR/$h.fifo"
    ip netns exec "$(ns $h)" cat "$LAB_DIR/$h.fifo" > "$LAB_DIR/$h.fifo.out" & readers+=("$!"); LAB_PIDS+=("$!")
  done
  start_tandem h1 "$LAB_DIR/h1.conf"
  start_keepalived h2 "$LAB_DIR/h2.conf"
  wait_for 8 "both masters (FIFO lines)" sh -c "grep -q 'GROUP \"G\" MASTER' '$LAB_DIR/h1.fifo.out' && grep -q 'GROUP \"G\" MASTER' '$LAB_DIR/h2.fifo.out'"
  # The FIFO each created for `vrrp_notify_fifo PATH nobody nogroup`: the same owner and mode.
  local o1 o2; o1=$(stat -c %U:%G:%a "$LAB_DIR/h1.vfifo"); o2=$(stat -c %U:%G:%a "$LAB_DIR/h2.vfifo")
  [ "$o1" = "$o2" ] && [ "$o1" = nobody:nogroup:600 ] || lab_fail "vrrp_notify_fifo's owner: tandem $o1, keepalived $o2 (want nobody:nogroup:600)"
  lab_log "vrrp_notify_fifo created by both as $o1"
  kill -TERM "$PID_h1" "$PID_h2"
  wait "$PID_h1" 2>/dev/null || true; wait "$PID_h2" 2>/dev/null || true
  wait "${readers[@]}" 2>/dev/null || true   # cat ends when the last writer has closed the FIFO
  lab_log "keepalived's notify_fifo: $(tr '\n' '|' < "$LAB_DIR/h2.fifo.out")"
  diff "$LAB_DIR/h1.fifo.out" "$LAB_DIR/h2.fifo.out" >&2 || lab_fail "notify_fifo lines differ (< tandem, > keepalived)"
  grep -qx 'GROUP "G" STOP 0' "$LAB_DIR/h1.fifo.out" || lab_fail "no STOP line: $(cat "$LAB_DIR/h1.fifo.out")"
  sleep 0.3
  lab_log "keepalived's vrrp_notify_fifo_script read: $(tr '\n' '|' < "$LAB_DIR/h2.vfifo.out")"
  diff <(head -n 4 "$LAB_DIR/h1.vfifo.out") <(head -n 4 "$LAB_DIR/h2.vfifo.out") >&2 || lab_fail "vrrp_notify_fifo lines differ"
  diff "$LAB_DIR/h1.vfifo.out" "$LAB_DIR/h1.fifo.out" >&2 || lab_fail "tandem's vrrp_notify_fifo_script missed lines"
  diff <(sort "$LAB_DIR/h1.notify") <(sort "$LAB_DIR/h2.notify") >&2 || lab_fail "notify arguments differ (< tandem, > keepalived)"
  grep -qx "gnotify GROUP G MASTER 0" "$LAB_DIR/h1.notify" || lab_fail "no group notify: $(cat "$LAB_DIR/h1.notify")"
}

# SIGHUP reload of the VRRP instances, the reloaded node (h1) being tandem or keepalived 2.2.7
# ($1), a tandem backup on h2 (VRRPv3 at 0.2 s). h1 masters VI_A (VRID 77: .100) and VI_B (78:
# .101) at 150, h2 backs both up at 100. Seven reloads, each checked the same way for both:
# (a) the file unchanged: the VIPs never leave h1, no priority-0 advert, no gratuitous ARP, no
#     notify; (c) .102 added to VI_A (on both nodes): h1 adds and announces it, .100 never
#     leaves; (d) VI_B removed from h1: priority-0 advert for VRID 78, h2 takes .101 in about
#     Skew_Time, notify "INSTANCE VI_B FAULT 150" (keepalived's default without notify_deleted;
#     VI_B's notify_fault does not run);
# (e, tandem only) a file that does not load: the error with its file:line, the VIP stays;
# (b) VI_A's priority 150 -> 50: h1 stays master until h2 preempts (Master_Down_Interval), then
#     notify "INSTANCE VI_A BACKUP 50"; (f) VI_C added (VRID 79, h1 only): it starts as at
#     startup, BACKUP then MASTER; (g) VI_C's VRID changed: a removal (priority 0, DELETED as
#     VI_C has notify_deleted) and an addition (BACKUP, MASTER), its address gone meanwhile.
# h2's sniffer records adverts and gratuitous ARPs.
# Both pass the same checks (about 8 s each).
reload_conf() {  # reload_conf FILE PRIORITY_A EXTRA_VIP WITH_B PRIORITY_B
  cat > "$1" <<EOF
global_defs {
  router_id $(basename "$1" .conf)
}
vrrp_instance VI_A {
  state BACKUP
  interface eth0
  virtual_router_id 77
  version 3
  priority $2
  advert_int 0.2
  notify "$LAB_DIR/n.sh $(basename "$1" .conf)"
  virtual_ipaddress {
    10.77.0.100/24
    $3
  }
}
EOF
  [ -n "${RELOAD_VI_C:-}" ] && cat >> "$1" <<EOF
vrrp_instance VI_C {
  state BACKUP
  interface eth0
  virtual_router_id ${RELOAD_VI_C_VRID:-79}
  version 3
  priority 150
  advert_int 0.2
  notify "$LAB_DIR/n.sh $(basename "$1" .conf)"
  notify_deleted
  virtual_ipaddress {
    10.77.0.103/24
  }
}
EOF
  [ "$4" = 1 ] && cat >> "$1" <<EOF
vrrp_instance VI_B {
  state BACKUP
  interface eth0
  virtual_router_id 78
  version 3
  priority $5
  advert_int 0.2
  notify "$LAB_DIR/n.sh $(basename "$1" .conf)"
  notify_fault "$LAB_DIR/n.sh $(basename "$1" .conf) notify_fault ran"
  virtual_ipaddress {
    10.77.0.101/24
  }
}
EOF
  return 0
}
# (the output is read whole: with pipefail, `ip … | grep -q` fails when grep quits before ip's last write)
has_addr() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev eth0 2>/dev/null) || true; [[ $out == *"inet $2/"* ]]; }
# never_loses SECONDS HOST ADDR: HOST holds ADDR at every 20 ms sample for SECONDS
never_loses() {
  local end; end=$(awk -v n="$(now)" -v t="$1" 'BEGIN { printf "%.3f", n + t }')
  while awk -v n="$(now)" -v d="$end" 'BEGIN { exit !(n < d) }'; do
    has_addr "$2" "$3" || lab_fail "$2 lost $3"
    sleep 0.02
  done
}
reload_sniffer() {  # on h2: "TIME vrrp SRC VRID PRIO" and "TIME garp ADDR" lines into $LAB_DIR/sniff
  inns h2 python3 -u -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind(("eth0", 0))
out = open(sys.argv[1], "w")
while True:
    p = s.recv(2048); t = struct.unpack("!H", p[12:14])[0]
    if t == 0x0800 and p[23] == 112:
        ihl = (p[14] & 15) * 4; v = p[14 + ihl:]
        out.write("%.3f vrrp %s %d %d\n" % (time.time(), socket.inet_ntoa(p[26:30]), v[1], v[2]))
    elif t == 0x0806 and p[28:32] == p[38:42]:
        out.write("%.3f garp %s\n" % (time.time(), socket.inet_ntoa(p[28:32])))
    out.flush()
' "$LAB_DIR/sniff" &
  LAB_PIDS+=("$!")
}
since() { awk -v t="$1" '$1 >= t' "$LAB_DIR/sniff"; }
reload() {  # reload tandem|keepalived
  local impl=$1
  lab_setup 2
  printf '#!/bin/sh\nh=$1; shift; echo "$*" >> "%s/$h.notify"\n' "$LAB_DIR" > "$LAB_DIR/n.sh"
  chmod 755 "$LAB_DIR/n.sh"
  reload_conf "$LAB_DIR/h1.conf" 150 "" 1 150
  reload_conf "$LAB_DIR/h2.conf" 100 "" 1 100
  reload_sniffer
  if [ "$impl" = keepalived ]; then start_keepalived h1 "$LAB_DIR/h1.conf"; else start_tandem h1 "$LAB_DIR/h1.conf"; fi
  local hup1; hup1=$([ "$impl" = keepalived ] && cat "$LAB_DIR/h1.ka.pid" || echo "$PID_h1")
  start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 6 "h1 master of both" eval "has_addr h1 10.77.0.100 && has_addr h1 10.77.0.101"
  sleep 0.5
  : > "$LAB_DIR/h1.notify"
  [ -n "${RELOAD_DEBUG:-}" ] && { inns h1 ip monitor address > "$LAB_DIR/h1.mon.log" 2>&1 & LAB_PIDS+=("$!"); }
  # (a) unchanged
  local t0; t0=$(now)
  kill -HUP "$hup1"
  never_loses 1.5 h1 10.77.0.100
  has_addr h1 10.77.0.101 || lab_fail "(a) h1 lost 10.77.0.101"
  [ -z "$(holders h2)" ] || lab_fail "(a) h2 took the VIP"
  ! since "$t0" | grep -q "vrrp 10.77.0.1 7[78] 0$" || lab_fail "(a) priority-0 advert after an unchanged reload"
  ! since "$t0" | grep -q garp || lab_fail "(a) gratuitous ARP after an unchanged reload: $(since "$t0" | grep garp | head -3)"
  [ ! -s "$LAB_DIR/h1.notify" ] || lab_fail "(a) notify after an unchanged reload: $(cat "$LAB_DIR/h1.notify")"
  lab_log "(a) unchanged: VIPs kept, no priority 0, no GARP, no notify"
  # (c) an address added to VI_A, on both nodes
  reload_conf "$LAB_DIR/h1.conf" 150 "10.77.0.102/24" 1 150
  reload_conf "$LAB_DIR/h2.conf" 100 "10.77.0.102/24" 1 100
  t0=$(now)
  kill -HUP "$hup1" "$PID_h2"
  wait_for 2 "h1 adds 10.77.0.102" has_addr h1 10.77.0.102
  never_loses 1 h1 10.77.0.100
  since "$t0" | grep -q "garp 10.77.0.102" || lab_fail "(c) no gratuitous ARP for the added address"
  ! since "$t0" | grep -q "vrrp 10.77.0.1 77 0$" || lab_fail "(c) priority-0 advert for VI_A"
  [ -z "$(holders h2)" ] || lab_fail "(c) h2 took the VIP"
  lab_log "(c) address added: $(since "$t0" | grep -c garp) gratuitous ARPs, .100 kept"
  # (d) VI_B removed from h1
  reload_conf "$LAB_DIR/h1.conf" 150 "10.77.0.102/24" 0 150
  t0=$(now)
  kill -HUP "$hup1"
  wait_for 2 "h2 takes 10.77.0.101" has_addr h2 10.77.0.101
  local took; took=$(elapsed "$t0" "$(now)")
  ! has_addr h1 10.77.0.101 || lab_fail "(d) h1 still holds 10.77.0.101"
  since "$t0" | grep -q "vrrp 10.77.0.1 78 0$" || lab_fail "(d) no priority-0 advert for VRID 78"
  has_addr h1 10.77.0.100 || lab_fail "(d) h1 lost VI_A's 10.77.0.100"
  lab_log "(d) VI_B removed: priority 0 sent, h2 took .101 in ${took}s"
  if [ "$impl" = tandem ]; then
    # a file that does not load: logged with its file:line, the running instances stay
    cp "$LAB_DIR/h1.conf" "$LAB_DIR/h1.good"
    sed -i 's/priority 150/priority high/' "$LAB_DIR/h1.conf"
    kill -HUP "$hup1"
    wait_for 2 "the reload error" grep -q "reload failed: $LAB_DIR/h1.conf:[0-9]" "$LAB_DIR/h1.log"
    never_loses 0.5 h1 10.77.0.100
    lab_log "(e) bad file: $(grep -o 'reload failed: .*' "$LAB_DIR/h1.log" | head -1)"
  fi
  # (b) VI_A's priority lowered below h2's
  reload_conf "$LAB_DIR/h1.conf" 50 "10.77.0.102/24" 0 150
  t0=$(now)
  kill -HUP "$hup1"
  wait_for 3 "h2 preempts VI_A" has_addr h2 10.77.0.100
  took=$(elapsed "$t0" "$(now)")
  wait_for 1 "h1 leaves VI_A" eval "! has_addr h1 10.77.0.100"
  lab_log "(b) priority 150 -> 50: h2 preempted after ${took}s"
  # (f) an instance added (VRID 79, only on h1): it starts as at startup, backup then master
  RELOAD_VI_C=1 reload_conf "$LAB_DIR/h1.conf" 50 "10.77.0.102/24" 0 150
  t0=$(now)
  kill -HUP "$hup1"
  wait_for 3 "h1 takes VI_C's 10.77.0.103" has_addr h1 10.77.0.103
  lab_log "(f) VI_C added: master after $(elapsed "$t0" "$(now)")s"
  has_addr h2 10.77.0.100 || lab_fail "(f) h2 lost VI_A"
  # (g) VI_C's VRID changed (79 -> 80): the old instance leaves (priority 0, DELETED), a new one
  # starts and takes the address again after Master_Down_Interval
  sleep 0.3
  RELOAD_VI_C=1 RELOAD_VI_C_VRID=80 reload_conf "$LAB_DIR/h1.conf" 50 "10.77.0.102/24" 0 150
  t0=$(now)
  kill -HUP "$hup1"
  wait_for 2 "h1 drops 10.77.0.103" eval "! has_addr h1 10.77.0.103"
  wait_for 3 "h1 takes 10.77.0.103 again" has_addr h1 10.77.0.103
  lab_log "(g) VI_C's VRID 79 -> 80: address back after $(elapsed "$t0" "$(now)")s"
  since "$t0" | grep -q "vrrp 10.77.0.1 79 0$" || lab_fail "(g) no priority-0 advert for VRID 79"
  since "$t0" | grep -q "vrrp 10.77.0.1 80 150$" || lab_fail "(g) no advert for VRID 80"
  sleep 0.3
  local want='INSTANCE VI_B FAULT 150
INSTANCE VI_A BACKUP 50
INSTANCE VI_C BACKUP 150
INSTANCE VI_C MASTER 150
INSTANCE VI_C DELETED 150
INSTANCE VI_C BACKUP 150
INSTANCE VI_C MASTER 150'
  # (the scripts run concurrently: (g)'s DELETED and BACKUP may land in either order)
  local got; got=$(head -n 4 "$LAB_DIR/h1.notify"; tail -n +5 "$LAB_DIR/h1.notify" | sort)
  want=$(head -n 4 <<<"$want"; tail -n +5 <<<"$want" | sort)
  [ "$got" = "$want" ] || lab_fail "h1's notify lines: $(tr '\n' '|' < "$LAB_DIR/h1.notify"), want $(echo "$want" | tr '\n' '|')"
  lab_log "$impl h1 notify: $(tr '\n' '|' < "$LAB_DIR/h1.notify")"
}
scenario_reload() { reload tandem; }
scenario_interop_reload_ka() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; reload keepalived; }

# A failing track_script across a reload, tandem or keepalived 2.2.7 ($1) on h1 (VI_A at 150,
# track_script weight -60 failing: 90) against a tandem at 100 on h2, which holds the VIP.
# keepalived keeps a vrrp_script's result over a reload ("considered unsuccessful on reload"):
# reloading the same file must not lift h1 back to 150 (no flap, h2 keeps the VIP); then the
# priority raised to 170 (170 - 60 = 110 > 100): h1 preempts. (fall 2: a result not carried
# over would count as up for two intervals, long enough for h1 to preempt.)
reload_script_conf() {  # FILE PRIORITY
  cat > "$1" <<EOF
global_defs {
  router_id $(basename "$1" .conf)
}
vrrp_script chk {
  script "/usr/bin/test -e $LAB_DIR/ok"
  interval 1
  fall 2
  rise 2
  weight -60
}
vrrp_instance VI_A {
  state BACKUP
  interface eth0
  virtual_router_id 77
  version 3
  priority $2
  advert_int 0.2
  track_script {
    chk
  }
  virtual_ipaddress {
    10.77.0.100/24
  }
}
EOF
}
reload_script() {
  local impl=$1
  lab_setup 2
  reload_script_conf "$LAB_DIR/h1.conf" 150
  vrrp_conf "$LAB_DIR/h2.conf" 100
  VERSION=3 INTERVAL=0.2 vrrp_conf "$LAB_DIR/h2.conf" 100
  if [ "$impl" = keepalived ]; then start_keepalived h1 "$LAB_DIR/h1.conf"; else start_tandem h1 "$LAB_DIR/h1.conf"; fi
  local hup1; hup1=$([ "$impl" = keepalived ] && cat "$LAB_DIR/h1.ka.pid" || echo "$PID_h1")
  start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h2 alone holds the VIP (h1's script failing: 90)" only_holder h2 h1 h2
  sleep 1.5
  only_holder h2 h1 h2 || lab_fail "h1 took the VIP back before the reload"
  kill -HUP "$hup1"
  local end; end=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 3 }')
  while awk -v n="$(now)" -v d="$end" 'BEGIN { exit !(n < d) }'; do
    only_holder h2 h1 h2 || lab_fail "the VIP moved after reloading the same file: holders '$(holders h1 h2)'"
    sleep 0.02
  done
  lab_log "same file reloaded: h2 kept the VIP for 3 s (the script's failure kept)"
  reload_script_conf "$LAB_DIR/h1.conf" 170
  local t0; t0=$(now)
  kill -HUP "$hup1"
  wait_for 3 "h1 preempts at 170 - 60 = 110" only_holder h1 h1 h2
  lab_log "priority 170 with the script still failing: h1 preempted after $(elapsed "$t0" "$(now)")s"
}
scenario_reload_trackscript() { reload_script tandem; }
scenario_interop_reload_trackscript_ka() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; reload_script keepalived; }

# notify_fifo moved by a reload, tandem or keepalived 2.2.7 ($1) alone on h1: the lines before
# the reload go to the first FIFO; the FAULT of VI_X, which the reload removes, and the STOP
# line at exit to the second.
reload_fifo_conf() {  # FILE FIFO [WITH_VI_X]
  cat > "$1" <<EOF
global_defs {
  notify_fifo $2
}
EOF
  [ -n "${3:-}" ] && cat >> "$1" <<EOF
vrrp_instance VI_X {
  state MASTER
  interface eth0
  virtual_router_id 90
  version 3
  priority 150
  advert_int 0.2
  virtual_ipaddress {
    10.77.0.190/24
  }
}
EOF
  cat >> "$1" <<EOF
vrrp_instance VI_A {
  state MASTER
  interface eth0
  virtual_router_id 77
  version 3
  priority 150
  advert_int 0.2
  virtual_ipaddress {
    10.77.0.100/24
  }
}
EOF
}
reload_fifo() {
  local impl=$1 f
  lab_setup 1
  for f in f1 f2; do
    mkfifo -m 600 "$LAB_DIR/$f"
    # keepalived closes its FIFOs at every reload: a reader that reopens
    inns h1 sh -c 'while :; do cat "$1"; done' sh "$LAB_DIR/$f" > "$LAB_DIR/$f.out" &
    LAB_PIDS+=("$!")
  done
  reload_fifo_conf "$LAB_DIR/h1.conf" "$LAB_DIR/f1" with_x
  if [ "$impl" = keepalived ]; then start_keepalived h1 "$LAB_DIR/h1.conf"; else start_tandem h1 "$LAB_DIR/h1.conf"; fi
  local hup1; hup1=$([ "$impl" = keepalived ] && cat "$LAB_DIR/h1.ka.pid" || echo "$PID_h1")
  wait_for 5 "MASTER on f1" grep -q 'INSTANCE "VI_A" MASTER 150' "$LAB_DIR/f1.out"
  wait_for 5 "VI_X's MASTER on f1" grep -q 'INSTANCE "VI_X" MASTER 150' "$LAB_DIR/f1.out"
  reload_fifo_conf "$LAB_DIR/h1.conf" "$LAB_DIR/f2"
  kill -HUP "$hup1"
  sleep 1
  kill -TERM "$hup1"
  wait_for 5 "STOP on f2" grep -q 'INSTANCE "VI_A" STOP 150' "$LAB_DIR/f2.out"
  ! grep -q STOP "$LAB_DIR/f1.out" || lab_fail "STOP written to the old FIFO"
  grep -q 'INSTANCE "VI_X" FAULT 150' "$LAB_DIR/f2.out" || lab_fail "the removed VI_X's FAULT is not on the new FIFO"
  lab_log "$impl: f1: $(tr '\n' '|' < "$LAB_DIR/f1.out") f2: $(tr '\n' '|' < "$LAB_DIR/f2.out")"
}
scenario_reload_fifo() { reload_fifo tandem; }
scenario_interop_reload_fifo_ka() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; reload_fifo keepalived; }

start_smtp_sink() {  # an SMTP sink on h1's 127.0.0.1:2525 writing each session to $LAB_DIR/mail.log
  ip netns exec "$(ns h1)" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2525)); s.listen(8)
out = open(sys.argv[1], "a")
while True:
    c, _ = s.accept(); f = c.makefile("rwb")
    def say(t): f.write(t.encode() + b"\r\n"); f.flush()
    say("220 sink")
    data = False
    for line in f:
        t = line.decode().rstrip("\r\n")
        if data:
            if t == ".": data = False; say("250 queued"); out.flush(); continue
            out.write(t + "\n"); continue
        out.write("> " + t + "\n")
        cmd = t.split(" ")[0].upper()
        if cmd == "DATA": data = True; say("354 go ahead")
        elif cmd == "QUIT": say("221 bye"); break
        else: say("250 ok")
    c.close()
' "$LAB_DIR/mail.log" >/dev/null 2>&1 &
  LAB_PIDS+=("$!")
  sleep 0.3
}

# Mail settings changed by a reload, tandem or keepalived 2.2.7 ($1) alone on h1: the MASTER
# mails go to the first recipient with the first router_id; the reload also removes VI_X,
# whose FAULT mail goes to the new recipient with the new router_id (global_defs are read
# first), as does VI_LAB's FAULT mail after the reload (its link taken down).
reload_smtp() {
  local impl=$1
  lab_setup 1
  start_smtp_sink
  local mail='  notification_email_from tandem@example.com
  smtp_server 127.0.0.1 2525
  smtp_connect_timeout 5'
  # VI_X (VRID 90, alone) is removed by the reload: its mail says FAULT
  TOP_EXTRA='vrrp_instance VI_X {
  interface eth0
  virtual_router_id 90
  priority 150
  advert_int 1
  smtp_alert
  virtual_ipaddress {
    10.77.0.190/24
  }
}' GLOBAL_EXTRA="  notification_email {
    first@example.com
  }
$mail" vrrp_conf "$LAB_DIR/h1.conf" 150 smtp_alert
  local before; before=$(cat "$LAB_DIR/h1.conf")
  if [ "$impl" = keepalived ]; then start_keepalived h1 "$LAB_DIR/h1.conf"; else start_tandem h1 "$LAB_DIR/h1.conf"; fi
  local hup1; hup1=$([ "$impl" = keepalived ] && cat "$LAB_DIR/h1.ka.pid" || echo "$PID_h1")
  wait_for 8 "MASTER email" grep -q "Subject: \[h1\] VRRP Instance VI_LAB - Entering MASTER state" "$LAB_DIR/mail.log"
  wait_for 8 "VI_X's MASTER email" grep -q "Subject: \[h1\] VRRP Instance VI_X - Entering MASTER state" "$LAB_DIR/mail.log"
  GLOBAL_EXTRA="  notification_email {
    second@example.com
  }
$mail" vrrp_conf "$LAB_DIR/h1.conf" 150 smtp_alert
  sed -i 's/router_id h1/router_id h1b/' "$LAB_DIR/h1.conf"
  kill -HUP "$hup1"
  sleep 1
  # a transition after the reload: the link down (FAULT); keepalived mails no STOP at exit
  ip -n "$(ns h1)" link set eth0 down
  wait_for 5 "FAULT email" grep -q "Subject: \[h1b\] VRRP Instance VI_LAB - Entering FAULT state" "$LAB_DIR/mail.log"
  # VI_X's FAULT (removed) and VI_LAB's FAULT (link down), both after the reload: new recipient
  [ "$(grep -c "> RCPT TO:<second@example.com>" "$LAB_DIR/mail.log")" = 2 ] || lab_fail "the mails after the reload did not go to the new recipient: $(grep -E '^> RCPT|^Subject' "$LAB_DIR/mail.log" | tr '\n' '|')"
  grep -q "Subject: \[h1b\] VRRP Instance VI_X - Entering FAULT state" "$LAB_DIR/mail.log" || lab_fail "no FAULT mail for the removed VI_X: $(grep -E '^> RCPT|^Subject' "$LAB_DIR/mail.log" | tr '\n' '|')"
  ! grep -q "Subject: \[h1\] VRRP Instance VI_LAB - Entering FAULT" "$LAB_DIR/mail.log" || lab_fail "FAULT mail with the old router_id"
  lab_log "$impl: $(grep -E '^> RCPT|^Subject' "$LAB_DIR/mail.log" | tr '\n' '|')"
}
scenario_reload_smtp() { reload_smtp tandem; }
scenario_interop_reload_smtp_ka() { [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"; reload_smtp keepalived; }

scenario_smtp() {  # smtp_alert: one email per transition through smtp_server (a local sink)
  lab_setup 1
  start_smtp_sink
  GLOBAL_EXTRA="  notification_email {
    ops@example.com
  }
  notification_email_from tandem@example.com
  smtp_server 127.0.0.1 2525
  smtp_connect_timeout 5" vrrp_conf "$LAB_DIR/h1.conf" 150 smtp_alert
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 8 "h1 master" holds_vip h1
  wait_for 3 "MASTER email" grep -q "Subject: \[h1\] VRRP Instance VI_LAB - Entering MASTER state" "$LAB_DIR/mail.log"
  grep -q "> RCPT TO:<ops@example.com>" "$LAB_DIR/mail.log" || lab_fail "no RCPT: $(cat "$LAB_DIR/mail.log")"
  grep -q "> MAIL FROM:<tandem@example.com>" "$LAB_DIR/mail.log" || lab_fail "no MAIL FROM"
  grep -q "Entering BACKUP state" "$LAB_DIR/mail.log" || lab_fail "no BACKUP email at start"
  kill -TERM "$PID_h1"
  wait_for 3 "STOP email" grep -q "Entering STOP state" "$LAB_DIR/mail.log"
}

v6_conf() {  # v6_conf FILE PRIORITY [extra instance lines...]
  local file=$1 prio=$2 line; shift 2
  {
    cat <<EOF
vrrp_instance VI_V6 {
  state BACKUP
  interface eth0
  virtual_router_id 66
  priority $prio
  advert_int 0.1
  vrrp_version 3
  virtual_ipaddress {
    fd77::100/64
  }
EOF
    for line in "$@"; do echo "  $line"; done
    echo "}"
  } > "$file"
}

holds_vip6() { local out; out=$(ip -n "$(ns "$1")" -6 addr show dev eth0 2>/dev/null) && [[ $out == *"inet6 fd77::100/64"* ]]; }
only_holder6() { local want=$1 h out=""; shift; for h in "$@"; do holds_vip6 "$h" && out="$out $h"; done; [ "${out# }" = "$want" ]; }
has_linklocal() {
  local link all
  link=$(ip -n "$(ns "$1")" -6 addr show dev eth0 scope link 2>/dev/null) || true
  all=$(ip -n "$(ns "$1")" -6 addr show dev eth0 2>/dev/null) || true
  [[ $link == *"inet6 fe80"* && $all != *tentative* ]]
}

v6_setup() {
  lab_setup 2
  wait_for 5 "h1 link-local address" has_linklocal h1
  wait_for 5 "h2 link-local address" has_linklocal h2
  v6_conf "$LAB_DIR/h1.conf" 150
  v6_conf "$LAB_DIR/h2.conf" 100
}

scenario_ipv6() {  # VRRPv3 over IPv6 (ff02::12, kernel-computed pseudo-header checksum), tandem both sides
  v6_setup
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 5 "h1 holds the IPv6 VIP" only_holder6 h1 h1 h2
  sleep 1
  only_holder6 h1 h1 h2 || lab_fail "h2 took the IPv6 VIP while h1 advertises"
  kill -KILL "$PID_h1"
  wait_for 3 "h2 takes the IPv6 VIP" holds_vip6 h2
  wait_for 5 "the killed node's IPv6 VIP expires" only_holder6 h2 h1 h2
  grep -q "rejected" "$LAB_DIR/h2.log" && lab_fail "h2 rejected adverts: $(grep rejected "$LAB_DIR/h2.log" | head -2)"
  true
}

scenario_interop_ipv6() {  # keepalived master over IPv6, tandem backup, and back
  [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"
  v6_setup
  start_keepalived h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "keepalived h1 holds the IPv6 VIP" only_holder6 h1 h1 h2
  sleep 1
  only_holder6 h1 h1 h2 || lab_fail "tandem h2 took the VIP while keepalived h1 advertises: $(tail -3 "$LAB_DIR/h2.log")"
  kill -TERM "$PID_h1"
  wait_for 3 "tandem h2 takes the IPv6 VIP" only_holder6 h2 h1 h2
  start_keepalived h1 "$LAB_DIR/h1.conf"
  wait_for 8 "keepalived h1 preempts tandem" only_holder6 h1 h1 h2
}

# use_vmac over IPv6: tandem (h1, priority 150) and keepalived (h2), VRRPv3 VRID 66, each on its
# macvlan vrrp.66 with 00:00:5e:00:02:42 and a copy of eth0's link-local address (the adverts'
# source). The client (fd77::9) reaches the master at fd77::100 through the virtual MAC.
VMAC6=00:00:5e:00:02:42
# (Output captured, not piped into grep -q: with pipefail, ip killed by SIGPIPE for the
# addresses it lists after the match would read as "not there".)
vmac6_holds() { local out; out=$(ip -n "$(ns "$1")" -6 addr show dev vrrp.66 2>/dev/null) && [[ $out == *"inet6 fd77::100/64"* ]]; }
vmac6_holders() { local h out=""; for h in h1 h2; do vmac6_holds "$h" && out="$out $h"; done; echo "${out# }"; }
vmac6_only() { [ "$(vmac6_holders)" = "$1" ] && ! holds_vip6 h1 && ! holds_vip6 h2; }
vmac6_stays() {  # vmac6_stays HOST SECONDS: HOST alone holds the VIP, on its vrrp.66, sampled every 20 ms
  local end; end=$(awk -v n="$(now)" -v t="$2" 'BEGIN { printf "%.3f", n + t }')
  while awk -v n="$(now)" -v d="$end" 'BEGIN { exit !(n < d) }'; do
    vmac6_only "$1" || lab_fail "split or lost VIP while $1 advertises: $(vmac6_where)"
    sleep 0.02
  done
}
vmac6_where() { echo "on vrrp.66: '$(vmac6_holders)'; h1: $(ip -n "$(ns h1)" -6 -o addr 2>&1 | awk '{print $2, $4}' | tr '\n' ' ')h2: $(ip -n "$(ns h2)" -6 -o addr 2>&1 | awk '{print $2, $4}' | tr '\n' ' ')"; }
linklocal() { ip -n "$(ns "$1")" -6 addr show dev "$2" scope link 2>/dev/null | awk '$1 == "inet6" {sub("/.*", "", $2); print $2; exit}'; }
vmac6_link_ok() {  # vmac6_link_ok HOST: vrrp.66 is a private macvlan on eth0 with the IPv6 virtual MAC, up, with eth0's link-local address
  local out; out=$(ip -n "$(ns "$1")" -d link show vrrp.66 2>/dev/null) || return 1
  [[ $out == *"vrrp.66@eth0"* && $out == *"link/ether $VMAC6"* && $out == *"macvlan mode private"* && $out == *",UP"* ]] || return 1
  [ -n "$(linklocal "$1" eth0)" ] && [ "$(linklocal "$1" vrrp.66)" = "$(linklocal "$1" eth0)" ]
}
client_mac_for_vip6() { ip -n "$(ns h9)" -6 neigh show fd77::100 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
answers6() {  # answers6 HOST: HOST answers the client at [fd77::100]:7000 (0.2 s)
  [ "$(inns h9 python3 -c '
import socket
try:
    c = socket.create_connection(("fd77::100", 7000), timeout=0.2); print(c.recv(64).decode())
except Exception:
    pass
')" = "$1" ]
}
advert6_origin() {  # advert6_origin PRIORITY: "SOURCE-MAC SOURCE-IP" of the first VRID 66 IPv6 advert at PRIORITY the client sees (4 s with python's start: 2 s missed one at load 150)
  inns h9 timeout 4 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind(("eth0", 0))
while True:
    p = s.recv(2048)
    if struct.unpack("!H", p[12:14])[0] == 0x86dd and p[20] == 112:
        v = p[54:]
        if v[1] == 66 and v[2] == int(sys.argv[1]):
            print(":".join("%02x" % b for b in p[6:12]), socket.inet_ntop(socket.AF_INET6, p[22:38])); break
' "$1" || true
}

scenario_interop_vmac_ipv6_ka() {  # use_vmac over IPv6: tandem and keepalived each on vrrp.66 (00:00:5e:00:02:42, eth0's link-local copied); the VIP moves both ways behind one MAC
  [ -x "$KEEPALIVED" ] || lab_fail "keepalived not installed"
  lab_setup 2
  ip -n "$(ns h9)" addr add fd77::9/64 dev eth0 nodad
  wait_for 5 "h1 link-local address" has_linklocal h1
  wait_for 5 "h2 link-local address" has_linklocal h2
  v6_conf "$LAB_DIR/h1.conf" 150 use_vmac
  v6_conf "$LAB_DIR/h2.conf" 100 use_vmac
  SERVICE_FAMILY=6 start_services h1 h2
  start_tandem h1 "$LAB_DIR/h1.conf"; start_keepalived h2 "$LAB_DIR/h2.conf"
  wait_for 5 "tandem h1 holds the IPv6 VIP on vrrp.66" vmac6_only h1
  vmac6_link_ok h1 || lab_fail "h1's vrrp.66 is not the VMAC with eth0's link-local: $(ip -n "$(ns h1)" -d addr show vrrp.66)"
  wait_for 3 "keepalived's vrrp.66 on h2" vmac6_link_ok h2
  local o; o=$(advert6_origin 150)
  [ "$o" = "$VMAC6 $(linklocal h1 eth0)" ] || lab_fail "tandem's adverts come from '$o', not the VMAC and eth0's link-local $(linklocal h1 eth0)"
  lab_log "tandem's adverts from $o"
  wait_for 3 "the client reaches h1 at the VIP" answers6 h1
  [ "$(client_mac_for_vip6)" = "$VMAC6" ] || lab_fail "the client's neighbour entry for the VIP is '$(client_mac_for_vip6)', not $VMAC6"
  vmac6_stays h1 0.5
  # tandem stops (SIGTERM): keepalived takes over; tandem's vrrp.66 is gone
  kill -TERM "$PID_h1"
  wait_for 3 "keepalived h2 takes the VIP on its vrrp.66" vmac6_only h2
  wait_for 3 "tandem h1 deletes vrrp.66" sh -c "! ip -n $(ns h1) link show vrrp.66 >/dev/null 2>&1"
  wait_for 3 "the client reaches h2 at the VIP" answers6 h2
  o=$(advert6_origin 100)
  [ "$o" = "$VMAC6 $(linklocal h2 eth0)" ] || lab_fail "keepalived's adverts come from '$o', not the VMAC and $(linklocal h2 eth0)"
  lab_log "keepalived's adverts from $o"
  [ "$(client_mac_for_vip6)" = "$VMAC6" ] || lab_fail "after the takeover the client's entry is '$(client_mac_for_vip6)', not $VMAC6"
  # tandem back: it recreates vrrp.66 and preempts keepalived
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 5 "tandem h1 preempts keepalived" vmac6_only h1
  vmac6_link_ok h1 || lab_fail "h1's vrrp.66 after restart: $(ip -n "$(ns h1)" -d addr show vrrp.66)"
  wait_for 3 "the client reaches h1 again" answers6 h1
  # tandem SIGKILLed: its address guard hands over; the VMAC stays, the next run adopts it
  kill -KILL "$PID_h1"
  wait_for 3 "keepalived h2 takes over from the killed tandem" vmac6_only h2
  vmac6_link_ok h1 || lab_fail "the killed tandem's vrrp.66 should be left as keepalived leaves its own"
  wait_for 3 "the client reaches h2 after the kill" answers6 h2
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 5 "the restarted tandem preempts again" vmac6_only h1
  grep -q "using the VMAC interface vrrp.66 a previous run left" "$LAB_DIR/h1.log" || lab_fail "the stale vrrp.66 was not adopted"
  vmac6_link_ok h1 || lab_fail "the adopted vrrp.66: $(ip -n "$(ns h1)" -d addr show vrrp.66)"
  wait_for 3 "the client reaches h1 after the restart" answers6 h1
  [ "$(client_mac_for_vip6)" = "$VMAC6" ] || lab_fail "the client's entry is '$(client_mac_for_vip6)', not $VMAC6"
  grep -qi "rejected" "$LAB_DIR/h1.log" && lab_fail "tandem rejected keepalived's adverts: $(grep -i rejected "$LAB_DIR/h1.log" | head -2)"
  grep -qi "invalid\|bogus" "$LAB_DIR/h2.log" && lab_fail "keepalived rejected tandem's adverts: $(grep -i 'invalid\|bogus' "$LAB_DIR/h2.log" | head -2)"
  true
}

scenario_badpackets() {  # a peer flooding invalid adverts (wrong password) neither silences the master nor resets timers
  lab_setup 3
  vrrp_conf "$LAB_DIR/h1.conf" 150
  vrrp_conf "$LAB_DIR/h2.conf" 100
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h1 master" only_holder h1 h1 h2
  # h3 sends a v2 advert for VRID 77 with a wrong password every 50 ms (TTL 255, multicast).
  ip netns exec "$(ns h3)" python3 -c '
import socket, struct, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
body = bytes([0x21, 77, 200, 1, 1, 1, 0, 0, 10, 77, 0, 100]) + b"badpass\0"
body = body[:6] + struct.pack("!H", csum(body)) + body[8:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.77.0.3"))
while True:
    s.sendto(body, ("224.0.0.18", 0)); time.sleep(0.05)
' >/dev/null 2>&1 &
  LAB_PIDS+=("$!")
  sleep 6
  only_holder h1 h1 h2 || lab_fail "the bad-packet flood moved the VIP: holders $(holders h1 h2)"
  grep -q "rejected advert from $LAB_NET.3: invalid password" "$LAB_DIR/h2.log" || lab_fail "h2 did not report the bad adverts"
  grep -q "rejected advert from $LAB_NET.3: invalid password" "$LAB_DIR/h1.log" || lab_fail "h1 did not report the bad adverts"
  # And the backup still takes over on time when the master dies during the flood.
  kill -KILL "$PID_h1"
  wait_for 5 "h2 takes over despite the flood" holds_vip h2
}

sync_conf() {  # sync_conf FILE PRIORITY CHECKFILE
  cat > "$1" <<EOF
vrrp_script chk {
  script "/usr/bin/test -e $3"
  interval 0.2
}
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 81
  priority $2
  advert_int 1
  virtual_ipaddress {
    $LAB_VIP/24
  }
  track_script {
    chk
  }
}
vrrp_instance VI_B {
  interface eth0
  virtual_router_id 82
  priority $2
  advert_int 1
  virtual_ipaddress {
    $LAB_NET.101/24
  }
}
EOF
}

holds_b() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev eth0 2>/dev/null) || true; [[ $out == *"inet $LAB_NET.101/"* ]]; }

scenario_syncgroup() {  # a sync group moves together: VI_A's check fails on h1, VI_B follows it to h2
  lab_setup 2
  touch "$LAB_DIR/ok1" "$LAB_DIR/ok2"
  sync_conf "$LAB_DIR/h1.conf" 150 "$LAB_DIR/ok1"
  sync_conf "$LAB_DIR/h2.conf" 100 "$LAB_DIR/ok2"
  start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h1 holds both VIPs" bash -c "ip -n $(ns h1) -4 addr show dev eth0 | grep -q '$LAB_VIP/' && ip -n $(ns h1) -4 addr show dev eth0 | grep -q '$LAB_NET.101/'"
  rm "$LAB_DIR/ok1"
  wait_for 6 "h2 holds VI_A's VIP" holds_vip h2
  wait_for 2 "h2 holds VI_B's VIP too" holds_b h2
  holds_b h1 && lab_fail "h1 kept VI_B's VIP although its group is in FAULT"
  touch "$LAB_DIR/ok1"
  wait_for 8 "h1 takes both back" bash -c "ip -n $(ns h1) -4 addr show dev eth0 | grep -q '$LAB_VIP/' && ip -n $(ns h1) -4 addr show dev eth0 | grep -q '$LAB_NET.101/'"
}

scenario_stalevip() {  # a VIP left by a crashed daemon is removed when tandem starts
  lab_setup 2
  vrrp_conf "$LAB_DIR/h1.conf" 150
  vrrp_conf "$LAB_DIR/h2.conf" 100
  start_tandem h2 "$LAB_DIR/h2.conf"
  wait_for 8 "h2 master" only_holder h2 h1 h2
  ip -n "$(ns h1)" addr add $LAB_VIP/24 dev eth0   # as keepalived leaves it after SIGKILL
  [ "$(holders h1 h2)" = "h1 h2" ] || lab_fail "setup: stale VIP not in place"
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 2 "stale VIP removed from h1 at start" only_holder h2 h1 h2
  grep -q "removed stale virtual address $LAB_VIP" "$LAB_DIR/h1.log" || lab_fail "no log of the removal"
  wait_for 8 "h1 preempts (priority 150)" only_holder h1 h1 h2
}

scenario_scriptuser() {  # notify scripts run as script_user; an insecure one is refused with enable_script_security
  lab_setup 1
  chmod 755 "$LAB_DIR"
  : > "$LAB_DIR/uid.out"; chmod 666 "$LAB_DIR/uid.out"
  printf '#!/bin/sh\nid -u >> %s\necho "$@" >> %s\n' "$LAB_DIR/uid.out" "$LAB_DIR/uid.out" > "$LAB_DIR/safe.sh"
  chmod 755 "$LAB_DIR/safe.sh"
  printf '#!/bin/sh\necho unsafe-ran >> %s\n' "$LAB_DIR/uid.out" > "$LAB_DIR/unsafe.sh"
  chmod 777 "$LAB_DIR/unsafe.sh"
  GLOBAL_EXTRA="  script_user nobody
  enable_script_security" vrrp_conf "$LAB_DIR/h1.conf" 150 "notify_master $LAB_DIR/unsafe.sh" "notify \"$LAB_DIR/safe.sh extra\""
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait_for 8 "h1 master" holds_vip h1
  wait_for 3 "notify ran as nobody" grep -q "^$(id -u nobody)\$" "$LAB_DIR/uid.out"
  wait_for 2 "notify arguments" grep -q "^extra INSTANCE VI_LAB MASTER 150\$" "$LAB_DIR/uid.out"
  grep -q unsafe-ran "$LAB_DIR/uid.out" && lab_fail "the world-writable notify_master script ran"
  grep -q "SECURITY VIOLATION" "$LAB_DIR/h1.log" || lab_fail "no SECURITY VIOLATION logged"
  true
}

scenario_garp() {  # on takeover: 5 gratuitous ARPs at once, 5 more after garp_master_delay (here 2 s)
  lab_setup 1
  ip netns exec "$(ns h9)" python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.settimeout(0.2)
vip = socket.inet_aton(sys.argv[1]); end = time.time() + float(sys.argv[2])
out = open(sys.argv[3], "w")
while time.time() < end:
    try: f = s.recv(100)
    except socket.timeout: continue
    arp = f[14:42]
    op = struct.unpack("!H", arp[6:8])[0]
    if op == 1 and arp[14:18] == vip and arp[24:28] == vip and arp[18:24] == b"\xff" * 6 and f[0:6] == b"\xff" * 6:
        out.write("%.3f\n" % time.time()); out.flush()
' "$LAB_VIP" 9 "$LAB_DIR/garp.times" &
  local sniffer=$!
  LAB_PIDS+=("$sniffer")
  sleep 0.3
  vrrp_conf "$LAB_DIR/h1.conf" 150 "garp_master_delay 2"
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait "$sniffer" || true
  local n; n=$(wc -l < "$LAB_DIR/garp.times")
  [ "$n" = 10 ] || lab_fail "expected 10 gratuitous ARPs, saw $n: $(cat "$LAB_DIR/garp.times")"
  awk 'NR == 1 { a = $1 } NR == 5 { b = $1 } NR == 6 { c = $1 }
       END { if (b - a > 0.1 || c - a < 1.8 || c - a > 2.3) { print "bursts at", a, b, c; exit 1 } }' "$LAB_DIR/garp.times" \
    || lab_fail "GARP bursts not 5 at once + 5 after 2 s: $(tr '\n' ' ' < "$LAB_DIR/garp.times")"
}

scenario_na() {  # IPv6 takeover: 5 unsolicited neighbour advertisements (override, target = VIP) at once
  lab_setup 1
  wait_for 5 "h1 link-local address" has_linklocal h1
  wait_for 5 "h9 link-local address" has_linklocal h9
  ip netns exec "$(ns h9)" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(0.2)
vip = socket.inet_pton(socket.AF_INET6, sys.argv[1]); end = time.time() + float(sys.argv[2])
out = open(sys.argv[3], "w")
while time.time() < end:
    try: p, a = s.recvfrom(200)
    except socket.timeout: continue
    if p[0] == 136 and p[4] & 0x20 and p[8:24] == vip:
        out.write("%.3f %s\n" % (time.time(), a[0])); out.flush()
' fd77::100 6 "$LAB_DIR/na.times" &
  local sniffer=$!
  LAB_PIDS+=("$sniffer")
  sleep 0.3
  v6_conf "$LAB_DIR/h1.conf" 150
  start_tandem h1 "$LAB_DIR/h1.conf"
  wait "$sniffer" || true
  local n; n=$(wc -l < "$LAB_DIR/na.times")
  [ "$n" -ge 5 ] || lab_fail "expected 5 unsolicited NAs, saw $n"
}

metrics_scrape() { inns "$1" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9123/metrics", timeout=5).read().decode())'; }
metrics_has() { metrics_scrape "$1" | grep -qxF "$2"; }
status_json() { inns "$1" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9123/status.json", timeout=5).read().decode())'; }

scenario_metrics() {  # --http on both: /metrics shows MASTER/BACKUP and the transitions, before and after a graceful stop
  lab_setup 2
  vrrp_conf "$LAB_DIR/h1.conf" 150
  vrrp_conf "$LAB_DIR/h2.conf" 100
  start_tandem h1 "$LAB_DIR/h1.conf" --http 127.0.0.1:9123
  start_tandem h2 "$LAB_DIR/h2.conf" --http 127.0.0.1:9123
  wait_for 8 "h1 master" only_holder h1 h1 h2
  wait_for 3 "h1's /metrics: MASTER" metrics_has h1 'tandem_vrrp_state{instance="VI_LAB",state="MASTER"} 1.0'
  local m1 m2; m1=$(metrics_scrape h1); m2=$(metrics_scrape h2)
  grep -qxF 'tandem_vrrp_master{instance="VI_LAB"} 1.0' <<<"$m1" || lab_fail "h1 /metrics: not master: $m1"
  grep -qxF 'tandem_vrrp_state{instance="VI_LAB",state="BACKUP"} 1.0' <<<"$m2" || lab_fail "h2 /metrics: not backup: $m2"
  grep -qxF '# TYPE tandem_vrrp_transitions_total counter' <<<"$m1" || lab_fail "h1 /metrics: no transitions counter: $m1"
  grep -q '^tandem_process_resident_memory_bytes [1-9]' <<<"$m1" || lab_fail "h1 /metrics: no process metrics: $m1"
  # The status page's document: the instance, its state and its address.
  local s1; s1=$(status_json h1)
  python3 -c 'import json, sys
d = json.loads(sys.argv[1]); v = d["vrrp"][0]
assert d["daemon"] == "vrrp" and v["name"] == "VI_LAB" and v["state"] == "MASTER" and v["addresses"], d' "$s1" \
    || lab_fail "h1 /status.json: $s1"
  local before; before=$(grep -F 'tandem_vrrp_transitions_total{instance="VI_LAB"}' <<<"$m2" | awk '{print $2}')
  kill -TERM "$PID_h1"
  wait_for 4 "h2 takes the VIP" holds_vip h2
  wait_for 3 "h2's /metrics: MASTER" metrics_has h2 'tandem_vrrp_master{instance="VI_LAB"} 1.0'
  local after; after=$(metrics_scrape h2 | grep -F 'tandem_vrrp_transitions_total{instance="VI_LAB"}' | awk '{print $2}')
  [ "${after:-0}" -gt "${before:-0}" ] || lab_fail "h2's transitions did not grow: $before -> $after"
  lab_log "metrics: h2 transitions $before -> $after"
}

ALL="sigkill sigterm sigstop sigstop_clients linkdown nopreempt preemptdelay trackscript three v3 v3unicast
  interop_v2_ka_master interop_v2_ka_backup interop_v2_unicast_ka_backup interop_v3_ka_master interop_v3_ka_backup
  interop_v3_unicast_ka_master interop_v3_unicast_ka_backup smtp ipv6 interop_ipv6 badpackets syncgroup stalevip scriptuser garp na metrics
  owners interop_owners_ka_first interop_owners_ka_second trackfile interop_trackfile_ka trackprocess
  interop_notify_ka reload interop_reload_ka reload_trackscript interop_reload_trackscript_ka reload_fifo interop_reload_fifo_ka reload_smtp interop_reload_smtp_ka interop_vmac_ka interop_vmac_unicast_ka interop_vmac_ipv6_ka reload_vmac"
QUICK="sigterm v3 sigstop_clients trackscript smtp badpackets stalevip scriptuser garp interop_v3_ka_master interop_v3_unicast_ka_backup interop_v2_ka_backup metrics interop_notify_ka reload interop_vmac_ka"

scenarios=${*:-$ALL}
[ "$scenarios" = quick ] && scenarios=$QUICK
failed=0
for s in $scenarios; do run_scenario "$s" || failed=$((failed + 1)); done
[ $failed = 0 ] || { echo "lab-vrrp: $failed scenario(s) failed" >&2; exit 1; }
