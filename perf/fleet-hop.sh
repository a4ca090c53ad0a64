#!/usr/bin/env bash
# Relay fleet (issue 20): the cost of the hop between two relays. Peers A and B on one relay, against A on relay 1
# and B on relay 2 of one etcd directory (relay 1 forwards B's CIDs to relay 2 and back), interleaved in one run on
# loopback; prints median throughput and handshake RTT of each and the ratios two-relays/one-relay.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/fleet-hop.sh [--bytes N] [--rounds R] [--no-build]

Starts Debian's etcd on 127.0.0.1 (a scratch data directory) and two relays
  quicpipe relay --listen 127.0.0.1:PORT --directory etcd://127.0.0.1:EPORT --threads 1
then alternates, R rounds each:
  one-relay:  quicpipe accept --relay R1 ... ; quicpipe dial B --relay R1 --relay-only < N bytes
  two-relays: quicpipe accept --relay R2 ... ; quicpipe dial B --relay R1 --relay-only < N bytes
Throughput: N / the dial command's wall time (start to exit: includes the dial's signalling and handshake, the same
in both but for the directory round trip). RTT: the 'path: relayed ... rtt' line of the dial (handshake RTT, idle
path) and the smoothed RTT at the end of the transfer (the 'stats:' line: RTT under load). Checks the byte count on the accepting side. Options: --bytes (default 134217728), --rounds (default 3).
USAGE
}

bytes=134217728
rounds=3
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bytes) bytes="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fleet-hop.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v etcd >/dev/null || { echo "fleet-hop.sh: etcd is not installed (Debian etcd-server; scripts/setup.sh)" >&2; exit 2; }
if [ "$build" = 1 ]; then
    dotnet build "$repo/src/QuicPipe.Cli" -c Release -nologo -v q >/dev/null
fi
quicpipe=(dotnet "$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll")

scratch="$(mktemp -d /tmp/quicpipe-fleet-hop.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.'"$1"'); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
eport=$(free_port SOCK_STREAM); pport=$(free_port SOCK_STREAM)
etcd --data-dir "$scratch/etcd" --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "default=http://127.0.0.1:$pport" >"$scratch/etcd.log" 2>&1 &
pids+=($!)

for i in 1 2; do
    "${quicpipe[@]}" keygen --out "$scratch/relay$i.key" >/dev/null
    port=$(free_port SOCK_DGRAM)
    eval "r$i=127.0.0.1:$port"
    "${quicpipe[@]}" relay --listen "127.0.0.1:$port" --key "$scratch/relay$i.key" --threads 1 --stats-interval 0 \
        --directory "etcd://127.0.0.1:$eport" >"$scratch/relay$i.log" 2>&1 &
    pids+=($!)
done
for i in 1 2; do
    for _ in $(seq 60); do grep -q "serving," "$scratch/relay$i.log" && break; sleep 0.5; done
    grep -q "serving," "$scratch/relay$i.log" || { echo "relay $i did not join the directory:" >&2; cat "$scratch/relay$i.log" >&2; exit 1; }
done
a_id=$("${quicpipe[@]}" keygen --out "$scratch/a.key")
b_id=$("${quicpipe[@]}" keygen --out "$scratch/b.key")
head -c "$bytes" /dev/urandom >"$scratch/data"

# One transfer: B accepts at $1, A dials from relay 1. Prints "start end handshake_rtt_ms loaded_rtt_ms" (times in
# seconds since the epoch; the loaded RTT is the smoothed RTT at the end of the transfer, from the dial's stats line).
transfer() {
    "${quicpipe[@]}" accept --relay "$1" --key "$scratch/b.key" --allow "$a_id" --relay-only </dev/null >"$scratch/out" 2>"$scratch/accept.log" &
    local accept=$!
    for _ in $(seq 100); do grep -q "^accepting as" "$scratch/accept.log" && break; sleep 0.1; done
    sleep 0.5 # the relay publishes B in the directory
    local start end
    start=$(date +%s.%N)
    "${quicpipe[@]}" dial "$b_id" --relay "$r1" --key "$scratch/a.key" --relay-only --stats-interval 1000s <"$scratch/data" >/dev/null 2>"$scratch/dial.log"
    end=$(date +%s.%N)
    wait "$accept"
    local got; got=$(stat -c %s "$scratch/out")
    [ "$got" = "$bytes" ] || { echo "transfer via $1 delivered $got of $bytes bytes" >&2; cat "$scratch/dial.log" "$scratch/accept.log" >&2; exit 1; }
    local rtt loaded
    rtt=$(grep '^path: relayed' "$scratch/dial.log" | grep -o 'rtt [0-9.]*ms' | head -1 | grep -o '[0-9.]*' | head -1)
    loaded=$(grep '^stats:' "$scratch/dial.log" | grep -o 'rtt [0-9.]*ms' | tail -1 | grep -o '[0-9.]*' | head -1)
    echo "$start $end $rtt $loaded"
}

: >"$scratch/one"; : >"$scratch/two"
transfer "$r1" >/dev/null # warm-up (JIT)
for round in $(seq "$rounds"); do
    transfer "$r1" >>"$scratch/one"
    transfer "$r2" >>"$scratch/two"
    echo "round $round done" >&2
done

python3 - "$bytes" "$scratch/one" "$scratch/two" <<'PY'
import statistics, sys
n = int(sys.argv[1])
def load(path):
    rows = [line.split() for line in open(path) if line.strip()]
    return (statistics.median(n / (float(r[1]) - float(r[0])) / 1e6 for r in rows),
            statistics.median(float(r[2]) for r in rows), statistics.median(float(r[3]) for r in rows))
one, two = load(sys.argv[2]), load(sys.argv[3])
for name, m in (("one-relay: ", one), ("two-relays:", two)):
    print(f"{name} {m[0]:.1f} MB/s  handshake rtt {m[1]:.3f} ms  rtt under load {m[2]:.3f} ms")
print(f"ratio two/one: throughput {two[0] / one[0]:.2f}  handshake rtt {two[1] / one[1]:.2f}  rtt under load {two[2] / one[2]:.2f}")
PY
