#!/usr/bin/env bash
# Side-by-side throughput of a cairn-server cluster and a redis-server cluster of the same
# number of shards (primaries, no replicas), measured with `redis-benchmark --cluster`, in
# one run, rounds interleaved (cairn, redis, cairn, redis, ...). Both get the same durability
# (--fsync always|everysec|never as Redis's appendfsync always|everysec|no). The Cairn
# cluster gets its map with CLUSTER SETMAP; the Redis one is joined with CLUSTER MEET and
# ADDSLOTSRANGE and waited for until every node says cluster_state:ok.
#
# usage: scripts/vs-redis-cluster.sh [--server PATH] [--shards N] [--fsync MODE] [--tests set,get]
#                    [--n N] [--clients C] [--pipeline P] [--size BYTES] [--keyspace K] [--rounds R]
# prints one line per test: test, cairn rps, redis rps, ratio (median over rounds); the last
# line is "min ratio: X". Exit 0 when both clusters answered every round.
# needs: redis-server, redis-cli and redis-benchmark, python3
set -euo pipefail
server=target/release/cairn-server shards=3 fsync=everysec tests=set,get n=200000 clients=50
pipeline=1 size=100 keyspace=100000 rounds=3
while (($#)); do
  case $1 in
    --server) server=$2 ;; --shards) shards=$2 ;; --fsync) fsync=$2 ;; --tests) tests=$2 ;;
    --n) n=$2 ;; --clients) clients=$2 ;; --pipeline) pipeline=$2 ;; --size) size=$2 ;;
    --keyspace) keyspace=$2 ;; --rounds) rounds=$2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "vs-redis-cluster: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
for tool in redis-server redis-cli redis-benchmark python3; do
  command -v $tool >/dev/null || { echo "vs-redis-cluster: $tool not found" >&2; exit 2; }
done
[[ -x $server ]] || { echo "vs-redis-cluster: no server binary at $server (cargo build --release)" >&2; exit 2; }
case $fsync in always) aof=always ;; everysec) aof=everysec ;; never) aof=no ;;
  *) echo "vs-redis-cluster: --fsync takes always, everysec or never" >&2; exit 2 ;; esac

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "vs-redis-cluster: $*" >&2; tail -n 5 "$work"/*.log >&2 2>/dev/null; exit 1; }
# A free port under 50000: a Redis cluster node's bus listens 10000 ports higher, and the
# kernel's own picks can lie above 55535.
free_port() {
  python3 -c '
import random, socket
while True:
    p = random.randrange(20000, 50000)
    try:
        for q in (p, p + 10000):
            socket.socket().bind(("127.0.0.1", q))
        print(p); break
    except OSError:
        pass'
}
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "vs-redis-cluster: nothing listens on port $1" >&2; return 1; }
first_slot() { echo $(( $1 * 16384 / shards )); }
last_slot() { echo $(( ($1 + 1) * 16384 / shards - 1 )); }

# Cairn: one map for all nodes.
cports=() map="version 1"$'\n'
for i in $(seq 0 $((shards - 1))); do
  port=$(free_port); cports+=("$port"); mkdir -p "$work/cairn$i"
  map+="node $(printf '%040x' $((i + 1))) 127.0.0.1:$port $(first_slot "$i")-$(last_slot "$i")"$'\n'
done
for i in $(seq 0 $((shards - 1))); do
  printf '%s' "$map" >"$work/cairn$i/cluster.conf"
  "$server" --port "${cports[$i]}" --dir "$work/cairn$i" --fsync "$fsync" --cluster-enabled yes \
    >"$work/cairn$i.log" 2>&1 & pids+=($!)
done
# Redis: nodes met and given their slots.
rports=()
for i in $(seq 0 $((shards - 1))); do
  port=$(free_port); rports+=("$port"); mkdir -p "$work/redis$i"
  redis-server --port "$port" --dir "$work/redis$i" --save '' --appendonly yes --appendfsync $aof \
    --cluster-enabled yes --cluster-config-file "$work/redis$i/nodes.conf" \
    --logfile "$work/redis$i.log" & pids+=($!)
done
for p in "${cports[@]}" "${rports[@]}"; do wait_port "$p" || fail "a server did not start"; done
for i in $(seq 0 $((shards - 1))); do
  redis-cli -p "${rports[$i]}" CLUSTER ADDSLOTSRANGE "$(first_slot "$i")" "$(last_slot "$i")" >/dev/null
  ((i == 0)) || redis-cli -p "${rports[0]}" CLUSTER MEET 127.0.0.1 "${rports[$i]}" >/dev/null
done
for p in "${rports[@]}"; do
  for _ in $(seq 200); do
    redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' && break; sleep 0.1
  done
  redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' || { echo "vs-redis-cluster: redis cluster not ok" >&2; exit 1; }
done
# Every Redis node must know every other one before a client reads its slot map.
for p in "${rports[@]}"; do
  for _ in $(seq 200); do
    [[ $(redis-cli -p "$p" CLUSTER INFO | tr -d '\r' | awk -F: '/cluster_known_nodes/ {print $2}') == "$shards" ]] && break; sleep 0.1
  done
done

# redis-benchmark refuses a one-node cluster ("Invalid cluster"); one shard holds every
# slot, so it is driven as a plain server.
cluster_flag=(--cluster); ((shards > 1)) || cluster_flag=()
bench() { # port -> lines "TEST rps"
  redis-benchmark "${cluster_flag[@]}" -p "$1" -t "$tests" -n "$n" -c "$clients" -P "$pipeline" -d "$size" \
    -r "$keyspace" --csv 2>/dev/null | awk -F'"' '/^"[A-Z]/ && $2 != "test" {print $2" "$4}'
}
for r in $(seq "$rounds"); do
  bench "${cports[0]}" | sed 's/^/cairn /' >>"$work/results"
  bench "${rports[0]}" | sed 's/^/redis /' >>"$work/results"
done
python3 "$(dirname "$0")/ratios.py" "$work/results" "$rounds"
