#!/usr/bin/env bash
# Name resolution never holds the sentinel up (issue 13, hardening): a network namespace whose
# resolv.conf names a DNS server on its own loopback that reads queries and never answers
# (getaddrinfo waits 10 s: `options timeout:10 attempts:1`). Inside it, redis-servers and
# `tandem sentinel` with resolve-hostnames yes monitor m1 by address (a master and a replica)
# and m2 by a name that hangs; while a SENTINEL MONITOR of another hanging name waits for its
# lookup, kill -9 (or SIGSTOP) of m1's master must be detected and failed over on time. See
# scripts/lab-resolver-driver.py for the checks.
#
#   scripts/lab-resolver.sh [kill|stop ...]   default both; needs root, iproute2, python3 (redis-py), redis-server
#
# kill: kill -9 of m1's master (crash detection sees it at once); stop: SIGSTOP (down-after).
#
# Uses $TANDEM (default .build/debug/tandem). Namespace t13-dns and /etc/netns/t13-dns are
# created here and removed on exit; processes are stopped by PID.
set -euo pipefail
TANDEM=${TANDEM:-.build/debug/tandem}
NS=t13-dns
DRIVER="$(cd "$(dirname "$0")" && pwd)/lab-resolver-driver.py"
[ "$(id -u)" = 0 ] || { echo "lab-resolver: needs root (network namespaces)" >&2; exit 77; }
for tool in ip python3 redis-server getent; do
  command -v $tool >/dev/null || { echo "lab-resolver: needs $tool" >&2; exit 77; }
done
[ -x "$TANDEM" ] || { echo "lab-resolver: $TANDEM not built" >&2; exit 2; }
TANDEM=$(cd "$(dirname "$TANDEM")" && pwd)/$(basename "$TANDEM")

DIR=$(mktemp -d /tmp/tandem-lab-resolver.XXXXXX)
DNS_PID=
CREATED_NETNS_DIR=
[ -d /etc/netns ] || CREATED_NETNS_DIR=1
cleanup() {
  # SIGKILL: a test runner may start us with SIGTERM blocked, and children inherit the mask.
  if [ -n "$DNS_PID" ]; then kill -9 "$DNS_PID" 2>/dev/null || true; wait "$DNS_PID" 2>/dev/null || true; fi
  ip netns del $NS 2>/dev/null || true
  rm -rf /etc/netns/$NS "$DIR"
  if [ -n "$CREATED_NETNS_DIR" ]; then rmdir /etc/netns 2>/dev/null || true; fi
}
trap cleanup EXIT
ip netns del $NS 2>/dev/null || true
mkdir -p /etc/netns/$NS
printf '%s\n' "nameserver 127.0.0.1" "options timeout:10 attempts:1" > /etc/netns/$NS/resolv.conf
ip netns add $NS
ip -n $NS link set lo up
# The DNS server that never answers: reads every query and drops it.
ip netns exec $NS python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    s.recvfrom(4096)
' &
DNS_PID=$!
sleep 0.3
# The resolver really hangs there: getent gives up only at our 2 s limit.
start=$(date +%s.%N)
if ip netns exec $NS timeout -s KILL 2 getent ahosts hang.example >/dev/null; then
  echo "FAIL resolver: hang.example resolved in the namespace"; exit 1
fi
echo "check: getent ahosts hang.example in $NS still waiting after $(python3 -c "print(round($(date +%s.%N)-$start,1))") s (limit 2 s)"
for fault in "${@:-kill stop}"; do
  for f in $fault; do
    mkdir -p "$DIR/$f"
    ip netns exec $NS env TANDEM="$TANDEM" LAB_DIR="$DIR/$f" START_LIMIT="${START_LIMIT:-3}" python3 "$DRIVER" "$f"
  done
done
