#!/usr/bin/env bash
# VRRP takeover time, tandem vs keepalived 2.2.7, in the namespace lab of scripts/lab-vrrp-lib.sh.
# Not a test: prints a Markdown table for docs/benchmarks.md.
#
#   Benchmarks/vrrp-takeover.sh [TRIALS]        (default 7; needs root, iproute2, python3, keepalived)
#   CASES="v2-sigterm v3-crash" Benchmarks/vrrp-takeover.sh   (a subset of v2-crash v2-sigterm v3-crash v3-sigterm)
#
# Two nodes (h1 priority 150 master, h2 priority 100 backup, both `state BACKUP`) and a client
# h9 that connects to a TCP service at the VIP every 5 ms. Takeover = time from the fault to
# the first answer at the VIP that comes from h2. The fault lands at a random point of the
# advert interval. Crash = SIGSTOP then SIGKILL of every process of the daemon (keepalived's
# VRRP child has PDEATHSIG, so killing the parent alone is a graceful stop); graceful = SIGTERM.
# Stale VIP = time from SIGKILL until the dead node no longer holds the VIP (checked for 10 s).
set -euo pipefail
TRIALS=${1:-7}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TANDEM=${TANDEM:-$REPO/.build/release/tandem}  # debug works too: takeover is timer-bound
[ -x "$TANDEM" ] || TANDEM=$REPO/.build/debug/tandem
source "$REPO/scripts/lab-vrrp-lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }

trial() {  # trial IMPL VERSION INTERVAL FAULT -> prints "takeover stale"
  local impl=$1 version=$2 interval=$3 fault=$4
  (
    LAB_ID="tb$$$RANDOM"
    LAB_DIR=$(mktemp -d /tmp/tandem-vrrp-bench.XXXXXX)
    trap 'lab_cleanup' EXIT
    lab_setup 2
    VERSION=$version INTERVAL=$interval vrrp_conf "$LAB_DIR/h1.conf" 150
    VERSION=$version INTERVAL=$interval vrrp_conf "$LAB_DIR/h2.conf" 100
    if [ "$impl" = tandem ]; then
      start_tandem h1 "$LAB_DIR/h1.conf"; start_tandem h2 "$LAB_DIR/h2.conf"
    else
      start_keepalived h1 "$LAB_DIR/h1.conf"; start_keepalived h2 "$LAB_DIR/h2.conf"
    fi
    wait_for 10 "h1 master" only_holder h1 h1 h2
    start_services h1 h2
    sleep 1
    [ "$(who_answers)" = h1 ] || lab_fail "client does not reach h1"
    # Random phase within the advert interval.
    sleep "$(awk -v i="$interval" -v r="$RANDOM" 'BEGIN { printf "%.3f", i * r / 32768 }')"
    local t0; t0=$(now)
    local pids="$PID_h1"
    [ "$impl" = keepalived ] && pids="$PID_h1 $KA_CHILD_h1"
    if [ "$fault" = crash ]; then
      kill -STOP $pids; kill -KILL $pids
    else
      kill -TERM $pids
    fi
    local took; took=$(time_until_answer "$t0" h2 10) || took=NA
    local stale=-
    if [ "$fault" = crash ]; then
      stale=">10"
      local i
      for i in $(seq 1 500); do
        if ! holds_vip h1; then stale=$(elapsed "$t0" "$(now)"); break; fi
        sleep 0.02
      done
    fi
    echo "$took $stale"
  )
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "NA"; exit } if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

echo "| implementation | case | takeover median [min–max] (s) | stale VIP after SIGKILL, median [min–max] (s) |"
echo "|---|---|---|---|"
for cfg in "2 1" "3 0.1"; do
  set -- $cfg
  version=$1 interval=$2
  for fault in crash sigterm; do
    case " ${CASES:-v2-crash v2-sigterm v3-crash v3-sigterm} " in *" v$version-$fault "*) ;; *) continue ;; esac
    for impl in tandem keepalived; do
      results=()
      for n in $(seq 1 "$TRIALS"); do results+=("$(trial "$impl" "$version" "$interval" "$fault" 2>>/tmp/vrrp-bench.err)"); done
      takeovers=$(printf '%s\n' "${results[@]}" | awk '$1 != "NA" { print $1 }')
      stales=$(printf '%s\n' "${results[@]}" | awk '{ print $2 }')
      t="$(echo "$takeovers" | median) [$(echo "$takeovers" | range)]"
      s="-"
      if [ "$fault" = crash ]; then
        if echo "$stales" | grep -q '>10'; then s="still held after 10 s in $(echo "$stales" | grep -c '>10')/$TRIALS trials"
        else s="$(echo "$stales" | median) [$(echo "$stales" | range)]"; fi
      fi
      echo "| $impl | v$version advert_int $interval, $fault | $t | $s |"
    done
  done
done
