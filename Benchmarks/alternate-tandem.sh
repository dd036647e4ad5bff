#!/bin/sh
# Runs two tandem binaries interleaved in one sentinel-scale.py run, so that the machine's load
# falls on both alike: give this script as --tandem; the sentinels it starts are, three at a time
# (the script starts three per kind), $TANDEM_FIRST's, then $TANDEM_SECOND's, and so on.
#   rm -rf /tmp/alt && mkdir /tmp/alt
#   TANDEM_FIRST=/tmp/main-tandem TANDEM_SECOND=.build/release/tandem TANDEM_ALT_DIR=/tmp/alt \
#     python3 Benchmarks/sentinel-scale.py --masters 200 --seconds 10 --failover \
#     --kinds tandem-redis70,tandem-redis70,tandem,tandem --tandem Benchmarks/alternate-tandem.sh
# $TANDEM_ALT_DIR/log says which binary each sentinel ran.
set -eu
dir=${TANDEM_ALT_DIR:?set TANDEM_ALT_DIR to an empty directory}
exec 9>"$dir/lock"
flock 9  # sentinels of one kind start together: the count must not race
n=$(cat "$dir/count" 2>/dev/null || echo 0)
echo $((n + 1)) > "$dir/count"
if [ $(( (n / 3) % 2 )) -eq 0 ]; then bin=$TANDEM_FIRST; else bin=$TANDEM_SECOND; fi
echo "$n $bin $*" >> "$dir/log"
exec 9>&-
exec "$bin" "$@"
