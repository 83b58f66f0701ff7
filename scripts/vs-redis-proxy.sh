#!/usr/bin/env bash
# Side-by-side throughput of cairn-server and redis-server behind twemproxy (nutcracker),
# measured with redis-benchmark against the proxy, in one run, rounds interleaved (cairn,
# redis, cairn, redis, ...). The proxy sibling of vs-redis-tls.sh (same options, same
# output): three cairn-server behind one nutcracker, three redis-server behind another, both
# pools as docs/nutcracker.yml (murmur, ketama, no ejection), the same durability (--fsync
# always|everysec|never as Redis's appendfsync always|everysec|no). --direct adds, in the same
# rounds, redis-benchmark straight at the first server of each set: the proxy's overhead.
#
# usage: scripts/vs-redis-proxy.sh [--server PATH] [--fsync MODE] [--tests set,get] [--n N]
#                    [--clients C] [--pipeline P] [--size BYTES] [--keyspace K] [--rounds R]
#                    [--servers S] [--direct]
# prints one line per test: test, cairn rps, redis rps, ratio (median over rounds, through the
# proxies); with --direct then the same straight at one server, and proxy/direct per side; the
# last line is "min ratio: X" (through the proxies). Exit 0 when every run answered.
# needs: nutcracker, redis-server, redis-benchmark, redis-cli, python3
set -euo pipefail
server=target/release/cairn-server fsync=everysec tests=set,get n=200000 clients=50 pipeline=1
size=100 keyspace=100000 rounds=3 nservers=3 direct=0
while (($#)); do
  case $1 in
    --server) server=$2 ;; --fsync) fsync=$2 ;; --tests) tests=$2 ;; --n) n=$2 ;;
    --clients) clients=$2 ;; --pipeline) pipeline=$2 ;; --size) size=$2 ;;
    --keyspace) keyspace=$2 ;; --rounds) rounds=$2 ;; --servers) nservers=$2 ;;
    --direct) direct=1; shift; continue ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "vs-redis-proxy: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
for tool in nutcracker redis-server redis-benchmark redis-cli python3; do
  command -v $tool >/dev/null || { echo "vs-redis-proxy: $tool not found" >&2; exit 2; }
done
[[ -x $server ]] || { echo "vs-redis-proxy: no server binary at $server (cargo build --release)" >&2; exit 2; }
case $fsync in always) aof=always ;; everysec) aof=everysec ;; never) aof=no ;;
  *) echo "vs-redis-proxy: --fsync takes always, everysec or never" >&2; exit 2 ;; esac

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "vs-redis-proxy: nothing listens on port $1" >&2; return 1; }

# proxy NAME PORT SERVER_PORT... : a nutcracker pool as docs/nutcracker.yml, servers by name.
proxy() {
  local name=$1 listen=$2; shift 2
  {
    printf '%s:\n  listen: 127.0.0.1:%s\n  redis: true\n  hash: murmur\n' "$name" "$listen"
    printf '  distribution: ketama\n  auto_eject_hosts: false\n  timeout: 5000\n  preconnect: true\n  servers:\n'
    local i=0; for p in "$@"; do printf '    - 127.0.0.1:%s:1 %s-%s\n' "$p" "$name" $((i++)); done
  } >"$work/$name.yml"
  nutcracker -c "$work/$name.yml" -s "$(free_port)" -a 127.0.0.1 -o "$work/$name-proxy.log" &
  pids+=($!)
}

cports=() rports=()
for i in $(seq "$nservers"); do
  p=$(free_port); cports+=("$p"); mkdir -p "$work/cairn$i"
  "$server" --port "$p" --dir "$work/cairn$i" --fsync "$fsync" >"$work/cairn$i.log" 2>&1 & pids+=($!)
  p=$(free_port); rports+=("$p"); mkdir -p "$work/redis$i"
  redis-server --port "$p" --dir "$work/redis$i" --save '' --appendonly yes --appendfsync $aof \
    --logfile "$work/redis$i.log" & pids+=($!)
done
for i in $(seq "$nservers"); do
  wait_port "${cports[i-1]}" || { cat "$work/cairn$i.log" >&2; exit 1; }
  wait_port "${rports[i-1]}"
done
cproxy=$(free_port); proxy cairn "$cproxy" "${cports[@]}"
rproxy=$(free_port); proxy redis "$rproxy" "${rports[@]}"
for p in "$cproxy" "$rproxy"; do
  wait_port "$p" || { cat "$work"/*-proxy.log >&2; exit 1; }
  [[ $(redis-cli -p "$p" SET vs-redis-proxy-probe 1) == OK ]] ||
    { echo "vs-redis-proxy: the proxy on port $p does not route" >&2; cat "$work"/*-proxy.log >&2; exit 1; }
done

bench() { # port -> csv lines "TEST",rps (redis-benchmark warns that CONFIG GET is refused)
  redis-benchmark -p "$1" -t "$tests" -n "$n" -c "$clients" -P "$pipeline" -d "$size" \
    -r "$keyspace" --csv 2>/dev/null | awk -F'"' 'NR>1 {print $2" "$4}'
}
for r in $(seq "$rounds"); do
  bench "$cproxy" | sed 's/^/cairn /' >>"$work/results"
  bench "$rproxy" | sed 's/^/redis /' >>"$work/results"
  if ((direct)); then
    bench "${cports[0]}" | sed 's/^/cairn-direct /' >>"$work/results"
    bench "${rports[0]}" | sed 's/^/redis-direct /' >>"$work/results"
  fi
done
python3 "$(dirname "$0")/ratios.py" "$work/results" "$rounds" "$direct"
