#!/usr/bin/env bash
# Throughput of tandem proxy with and without TLS, against redis-server directly with and
# without TLS (one redis-server with a plain port and a TLS port). Needs a release build,
# redis-server, redis-tools (redis-benchmark built with TLS, as Debian's is) and openssl.
#   Benchmarks/proxy-tls.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
tandem=.build/release/tandem
dir=$(mktemp -d /tmp/tandem-proxy-tls-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 -new "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -subj "/CN=bench ca" 2>/dev/null
openssl req -new "${ec[@]}" -keyout "$dir/r.key" -out "$dir/r.csr" -subj "/CN=redis" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n' > "$dir/ext"
openssl x509 -req -in "$dir/r.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/r.crt" -days 2 -extfile "$dir/ext" 2>/dev/null
redis-server --port 7401 --tls-port 7402 --bind 127.0.0.1 --tls-cert-file "$dir/r.crt" --tls-key-file "$dir/r.key" \
  --tls-ca-cert-file "$dir/ca.crt" --tls-auth-clients no --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
pids+=($!)
$tandem proxy --listen 127.0.0.1:7411 --backend 127.0.0.1:7401 >"$dir/plain.log" 2>&1 &
pids+=($!)
$tandem proxy --listen 127.0.0.1:7412 --backend 127.0.0.1:7402 --tls-cert "$dir/r.crt" --tls-key "$dir/r.key" \
  --tls-ca "$dir/ca.crt" --tls-auth-clients no --backend-tls >"$dir/tls.log" 2>&1 &
pids+=($!)
sleep 3
tls=(--tls --cacert "$dir/ca.crt")
run() {  # name port pipeline test [tls args]
  local name=$1 port=$2 p=$3 t=$4; shift 4
  local n=$(( p == 1 ? 200000 : 2000000 ))
  redis-benchmark -h 127.0.0.1 -p "$port" "$@" -c 50 -r 100000 -n $n -P "$p" -t "$t" --csv 2>/dev/null | tail -1 |
    awk -F'"' -v name="$name" -v t="$t" -v p="$p" '{ printf "%-14s %-4s -P %-3s %10s rps  p99 %s ms\n", name, t, p, $4, $14 }'
}
for r in $(seq 1 "$rounds"); do
  for p in 1 16; do
    for t in set get; do
      run direct 7401 $p $t
      run direct-tls 7402 $p $t "${tls[@]}"
      run proxy 7411 $p $t
      run proxy-tls 7412 $p $t "${tls[@]}"
    done
  done
done
