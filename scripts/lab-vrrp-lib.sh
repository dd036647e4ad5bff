# Shared functions for the namespace labs, VRRP and proxy partition (sourced, not run).
#
# A lab is network namespaces this script creates itself: a switch namespace holding a bridge,
# hosts h1..hN on 10.77.0.N/24 (eth0 is a veth into the bridge) and a client h9 (10.77.0.9).
# Addresses exist only inside those namespaces; nothing is sent anywhere else. Every process
# is started by this script and stopped by PID; `lab_cleanup` (on EXIT) removes everything.

LAB_ID=${LAB_ID:-tv$$}
LAB_DIR=${LAB_DIR:-}  # each scenario or trial makes its own (mktemp) and lab_cleanup removes it
LAB_NET=10.77.0
LAB_VIP=10.77.0.100
LAB_PIDS=()
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TANDEM=${TANDEM:-$REPO/.build/debug/tandem}
KEEPALIVED=${KEEPALIVED:-$(command -v keepalived || echo /usr/sbin/keepalived)}

ns() { echo "${LAB_ID}-$1"; }
inns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

lab_log() { echo "[$(date +%H:%M:%S.%3N)] $*" >&2; }
lab_fail() { lab_log "FAIL: $*"; exit 1; }

# now in seconds with nanoseconds
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

lab_setup() {  # lab_setup N   -> hosts h1..hN plus client h9
  local n=$1 i
  ip netns add "$(ns sw)"
  ip -n "$(ns sw)" link add br0 type bridge
  ip -n "$(ns sw)" link set br0 up
  for i in $(seq 1 "$n") 9; do
    ip netns add "$(ns h$i)"
    ip link add eth0 netns "$(ns h$i)" type veth peer name p$i netns "$(ns sw)"
    ip -n "$(ns sw)" link set p$i master br0
    ip -n "$(ns sw)" link set p$i up
    ip -n "$(ns h$i)" addr add $LAB_NET.$i/24 dev eth0
    ip -n "$(ns h$i)" link set eth0 up
    ip -n "$(ns h$i)" link set lo up
    # Like a real host: only answer ARP for addresses on the asking interface.
    # (/proc rather than sysctl(8): procps is not on every CI image.)
    inns h$i sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce'
  done
  sleep 0.2
}

# Runs scenario_NAME in a subshell with its own lab (namespaces named LAB_PREFIX…, default tv),
# so a failure cleans up (showing the lab's logs) and the next scenario runs.
run_scenario() {
  local name=$1
  (
    LAB_ID="${LAB_PREFIX:-tv}$$$RANDOM"
    LAB_DIR=$(mktemp -d /tmp/tandem-lab.XXXXXX)
    trap 'rc=$?; if [ $rc != 0 ]; then for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done >&2; fi; lab_cleanup' EXIT
    "scenario_$name"
  ) && { echo "PASS $name"; return 0; } || { echo "FAIL $name"; return 1; }
}

lab_cleanup() {
  local pid
  set +e
  local n p
  # Every process this lab started runs inside one of its namespaces, so that is where they
  # are found and stopped (SIGKILL also ends a stopped one). The PIDs in LAB_PIDS are not
  # signalled: one that already exited may by now belong to somebody else's process (PIDs
  # wrap around quickly while a test suite runs).
  for n in $(ip netns list | awk '{print $1}' | grep "^${LAB_ID}-"); do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  for pid in "${LAB_PIDS[@]}"; do { wait "$pid"; } 2>/dev/null; done
  for n in $(ip netns list | awk '{print $1}' | grep "^${LAB_ID}-"); do
    ip netns del "$n"
  done
  [ -n "${LAB_KEEP:-}" ] || rm -rf "$LAB_DIR"
}

# vrrp_conf FILE PRIORITY [extra instance lines...] — env: VERSION (2|3), INTERVAL, UNICAST (peer list), STATE
vrrp_conf() {
  local file=$1 prio=$2; shift 2
  {
    echo "global_defs {"
    echo "  router_id $(basename "$file" .conf)"
    echo "  vrrp_version ${VERSION:-2}"
    [ -n "${GLOBAL_EXTRA:-}" ] && echo "$GLOBAL_EXTRA"
    echo "}"
    [ -n "${TOP_EXTRA:-}" ] && echo "$TOP_EXTRA"
    echo "vrrp_instance VI_LAB {"
    echo "  state ${STATE:-BACKUP}"
    echo "  interface eth0"
    echo "  virtual_router_id 77"
    echo "  priority $prio"
    echo "  advert_int ${INTERVAL:-1}"
    if [ "${VERSION:-2}" = 2 ]; then
      echo "  authentication {"; echo "    auth_type PASS"; echo "    auth_pass labpass"; echo "  }"
    fi
    if [ -n "${UNICAST:-}" ]; then
      echo "  unicast_peer {"; for p in $UNICAST; do echo "    $p"; done; echo "  }"
    fi
    echo "  virtual_ipaddress {"; echo "    $LAB_VIP/24"; echo "  }"
    for line in "$@"; do echo "  $line"; done
    echo "}"
  } > "$file"
}

start_tandem() {  # start_tandem HOST CONF [OPTION...] -> sets STARTED_PID
  # `ip netns exec` execs tandem, so $! is tandem's own PID (a shell function would fork).
  ip netns exec "$(ns "$1")" "$TANDEM" vrrp "$2" "${@:3}" >> "$LAB_DIR/$1.log" 2>&1 &
  STARTED_PID=$!
  LAB_PIDS+=("$STARTED_PID")
  eval "PID_$1=$STARTED_PID"
}

start_keepalived() {  # start_keepalived HOST CONF -> sets STARTED_PID (parent) and KA_CHILD_<host>
  local h=$1
  rm -f "$LAB_DIR/$h.ka.pid" "$LAB_DIR/$h.vrrp.pid" "$LAB_DIR/$h.chk.pid"
  ip netns exec "$(ns "$h")" "$KEEPALIVED" -n -l -D -P -f "$2" -p "$LAB_DIR/$h.ka.pid" -r "$LAB_DIR/$h.vrrp.pid" -c "$LAB_DIR/$h.chk.pid" \
    >> "$LAB_DIR/$h.log" 2>&1 &
  STARTED_PID=$!
  LAB_PIDS+=("$STARTED_PID")
  eval "PID_$h=$STARTED_PID"
  local i
  for i in $(seq 1 100); do [ -s "$LAB_DIR/$h.vrrp.pid" ] && break; sleep 0.05; done
  local child; child=$(cat "$LAB_DIR/$h.vrrp.pid" 2>/dev/null || true)
  [ -n "$child" ] && LAB_PIDS+=("$child")
  eval "KA_CHILD_$h=$child"
}

# ip's output read whole: with pipefail, `ip … | grep -q` fails when grep quits before ip's last
# write (ip killed by SIGPIPE), so a held address would read as absent.
holds_vip() { local out; out=$(ip -n "$(ns "$1")" -4 addr show dev eth0 2>/dev/null) || true; [[ $out == *"inet $LAB_VIP/"* ]]; }

holders() {  # prints the hosts holding the VIP
  local h out=""
  for h in "$@"; do holds_vip "$h" && out="$out $h"; done
  echo "${out# }"
}

wait_for() {  # wait_for TIMEOUT_S DESCRIPTION COMMAND...
  local timeout=$1 what=$2; shift 2
  local deadline; deadline=$(awk -v n="$(now)" -v t="$timeout" 'BEGIN { printf "%.3f", n + t }')
  while ! "$@"; do
    if awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
      lab_fail "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.02
  done
}

only_holder() {  # only_holder HOST HOSTS...: HOST holds the VIP and no other does
  local want=$1; shift
  [ "$(holders "$@")" = "$want" ]
}

# A TCP service on every host: answers each connection with the host's name. On port 7000 of
# 0.0.0.0, or with SERVICE_FAMILY=6 of :: (IPv6 only).
start_services() {
  local h
  for h in "$@"; do
    ip netns exec "$(ns "$h")" python3 -c '
import socket, sys
v6 = sys.argv[2] == "6"
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if v6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::" if v6 else "0.0.0.0", 7000)); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[1].encode()); c.close()
' "$h" "${SERVICE_FAMILY:-4}" >/dev/null 2>&1 &
    LAB_PIDS+=("$!")
  done
  sleep 0.3
}

# Which host answers at the VIP from the client namespace (empty if none within 0.2 s).
who_answers() {
  inns h9 python3 -c '
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], 7000), timeout=0.2); print(c.recv(64).decode())
except Exception:
    pass
' "$LAB_VIP"
}

# Seconds from T0 until the client gets an answer from HOST at the VIP (polls every 5 ms).
time_until_answer() {  # time_until_answer T0 HOST TIMEOUT
  local t0=$1 host=$2 timeout=$3
  inns h9 python3 -c '
import socket, sys, time
t0, host, timeout, vip = float(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
while time.time() - t0 < timeout:
    try:
        c = socket.create_connection((vip, 7000), timeout=0.05)
        if c.recv(64).decode() == host:
            print("%.3f" % (time.time() - t0)); sys.exit(0)
    except Exception:
        pass
    time.sleep(0.005)
sys.exit(1)
' "$t0" "$host" "$timeout" "$LAB_VIP"
}

# An alert webhook sink in HOST's namespace on 0.0.0.0:PORT: every POST one JSON line
# ({"path", "alert"}) in $LAB_DIR/alerts.jsonl.
start_alert_sink() {  # start_alert_sink HOST PORT
  : > "$LAB_DIR/alerts.jsonl"
  inns "$1" python3 -c '
import http.server, json, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "alert": json.loads(body)}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), H).serve_forever()
' "$LAB_DIR/alerts.jsonl" "$2" >> "$LAB_DIR/sink.log" 2>&1 &
  LAB_PIDS+=("$!")
  wait_for 5 "the alert sink" sh -c "ip netns exec $(ns "$1") ss -Hltn 'sport = :$2' | grep -q ':$2'"
}

# alert_seen DAEMON PATH EVENT [STATE]: the sink got EVENT from a DAEMON (node, vrrp, sentinel)
# at PATH (for vip-state: in STATE, or with STATE prefixed by ! in any other state), after the
# first ALERTS_FROM alerts (default 0).
alert_seen() {
  python3 - "$LAB_DIR/alerts.jsonl" "${ALERTS_FROM:-0}" "$@" <<'PY'
import json, sys
path, skip, daemon, where, event = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
state = sys.argv[6] if len(sys.argv) > 6 else None
for line in open(path).readlines()[skip:]:
    r = json.loads(line)
    a = r["alert"]
    if r["path"] != where or a.get("event") != event or a.get("daemon") != daemon:
        continue
    s = a.get("fields", {}).get("state")
    if state is None or (state.startswith("!") and s != state[1:]) or s == state:
        sys.exit(0)
sys.exit(1)
PY
}

# The alerts received, one line each (-> marks those after the first ALERTS_FROM), to stderr.
show_alerts() {
  python3 -c '
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    r = json.loads(line); a = r["alert"]
    print("  alert %s %s %-9s %-8s %s" % ("  " if i < int(sys.argv[2]) else "->", r["path"], a["event"], a["severity"], a["summary"]))
' "$LAB_DIR/alerts.jsonl" "${ALERTS_FROM:-0}" >&2
}
