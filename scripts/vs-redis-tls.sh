#!/usr/bin/env bash
# Side-by-side throughput of cairn-server and redis-server over TLS, measured with Redis's own
# redis-benchmark --tls, in one run, rounds interleaved (cairn, redis, cairn, redis, ...). The
# TLS sibling of ../shared/bench/vs-redis.sh (same options, same output): both servers get a
# certificate from a CA made for the run (openssl), no client certificates, and the same
# durability (--fsync always|everysec|never as Redis's appendfsync always|everysec|no).
#
# usage: scripts/vs-redis-tls.sh [--server PATH] [--fsync MODE] [--tests set,get] [--n N]
#                    [--clients C] [--pipeline P] [--size BYTES] [--keyspace K] [--rounds R]
# prints one line per test: test, cairn rps, redis rps, ratio (median over rounds); the last
# line is "min ratio: X". Exit 0 when both servers answered every round.
# needs: redis-server and redis-benchmark built with TLS (Debian's are), openssl, python3
set -euo pipefail
server=target/release/cairn-server fsync=everysec tests=set,get n=200000 clients=50 pipeline=1
size=100 keyspace=100000 rounds=3
while (($#)); do
  case $1 in
    --server) server=$2 ;; --fsync) fsync=$2 ;; --tests) tests=$2 ;; --n) n=$2 ;;
    --clients) clients=$2 ;; --pipeline) pipeline=$2 ;; --size) size=$2 ;;
    --keyspace) keyspace=$2 ;; --rounds) rounds=$2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "vs-redis-tls: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
for tool in redis-server redis-benchmark openssl python3; do
  command -v $tool >/dev/null || { echo "vs-redis-tls: $tool not found" >&2; exit 2; }
done
[[ -x $server ]] || { echo "vs-redis-tls: no server binary at $server (cargo build --release)" >&2; exit 2; }
case $fsync in always) aof=always ;; everysec) aof=everysec ;; never) aof=no ;;
  *) echo "vs-redis-tls: --fsync takes always, everysec or never" >&2; exit 2 ;; esac

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "vs-redis-tls: nothing listens on port $1" >&2; return 1; }

# A CA and a server certificate for 127.0.0.1, for both servers.
openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -subj "/CN=bench CA" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -new -nodes -newkey rsa:2048 -subj "/CN=127.0.0.1" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" > "$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
tls=(--tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key" --tls-auth-clients no)

cport=$(free_port); mkdir -p "$work/cairn"
"$server" --port 0 --tls-port "$cport" "${tls[@]}" --dir "$work/cairn" --fsync "$fsync" \
  >"$work/cairn.log" 2>&1 & pids+=($!)
rport=$(free_port); mkdir -p "$work/redis"
redis-server --port 0 --tls-port "$rport" "${tls[@]}" --dir "$work/redis" --save '' \
  --appendonly yes --appendfsync $aof --logfile "$work/redis.log" & pids+=($!)
wait_port "$cport" || { cat "$work/cairn.log" >&2; exit 1; }
wait_port "$rport"

bench() { # port -> csv lines "TEST",rps
  redis-benchmark -p "$1" --tls --cacert "$work/ca.crt" -t "$tests" -n "$n" -c "$clients" \
    -P "$pipeline" -d "$size" -r "$keyspace" --csv 2>/dev/null | awk -F'"' 'NR>1 {print $2" "$4}'
}
for r in $(seq "$rounds"); do
  bench "$cport" | sed 's/^/cairn /' >>"$work/results"
  bench "$rport" | sed 's/^/redis /' >>"$work/results"
done
python3 "$(dirname "$0")/ratios.py" "$work/results" "$rounds"
