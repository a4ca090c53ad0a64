#!/usr/bin/env bash
# End-to-end (issue 4): bulk QUIC transfer A -> B through the relay against the same transfer A -> B direct,
# interleaved in one run on loopback; prints the throughput ratio relayed/direct and the relay's CPU per packet.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/relay-e2e.sh [options]

Builds perf/QuicPipe.PeerBench and the relay (src/QuicPipe.Cli), makes a relay key, starts
  quicpipe relay --listen 127.0.0.1:PORT --key KEY --threads 1 --stats-interval 1s --stats-format json
and runs, alternating, on 127.0.0.1 only:
  direct:  QuicPipe.PeerBench --mode direct   (two plain QuicEndpoints, A connects to B)
  relayed: QuicPipe.PeerBench --mode relayed  (two PeerEndpoints registered with the relay, A dials B by NodeId)
Each run: A sends N bytes on one stream, B counts them (checked) and times first byte -> last byte.
One unmeasured relayed warm-up run (16 MiB at most) first, so the relay's JIT is not in round 1, then
a 1-byte relayed run whose relay CPU (two registrations, signalling, handshakes, closes) is subtracted
from each relayed run's relay CPU before dividing by the packets forwarded.
Around each relayed run the relay's utime+stime (/proc/PID/stat) and its "forwarded" counter (a fresh
JSON stats line before and after) are read: CPU us per forwarded packet (both directions: data and ACKs).
Prints median MB/s direct and relayed, the ratio relayed/direct, relay CPU us/packet; JSON in perf/results/.

Options (environment variable in brackets):
  --bytes N      bytes per transfer                [QP_PERF_BYTES, default 134217728 = 128 MiB]
  --rounds R     direct+relayed pairs              [QP_PERF_ROUNDS, default 3]
  --port P       relay UDP port                    [QP_PERF_PORT, default 47400]
  --timeout S    bound on each transfer, seconds   [QP_PERF_TIMEOUT, default 60]
  --no-build     use the existing Release builds
  -h, --help     this text

128 MiB (not 256) by default keeps a 3-round run under about a minute on this shared 2-core machine
(~40-50 MB/s per transfer under load). Exit status: 0 if every transfer delivered the right byte count,
1 otherwise. Everything started is stopped and the scratch directory removed on exit or Ctrl-C.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

bytes="${QP_PERF_BYTES:-134217728}"
rounds="${QP_PERF_ROUNDS:-3}"
port="${QP_PERF_PORT:-47400}"
limit="${QP_PERF_TIMEOUT:-60}"
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --bytes) need "$@"; bytes="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --port) need "$@"; port="$2"; shift 2 ;;
        --timeout) need "$@"; limit="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in bytes rounds port limit; do check_int "--$v" "${!v}"; done
((bytes >= 1)) || fail "--bytes must be at least 1"
((rounds >= 1 && rounds <= 20)) || fail "--rounds must be 1..20"
((port >= 1024 && port <= 65535)) || fail "--port must be 1024..65535"
((limit >= 1)) || fail "--timeout must be at least 1 s"
command -v python3 >/dev/null || fail "python3 is needed (apt-get install -y python3)"
command -v ss >/dev/null || fail "ss is needed (apt-get install -y iproute2)"
port_in_use "$port" && fail "UDP port $port is in use (use --port)"

work="$(mktemp -d /tmp/qp-relay-e2e.XXXXXX)"
trap 'cleanup_started; rm -rf "$work"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

bench_dll="$repo/perf/QuicPipe.PeerBench/bin/Release/net10.0/QuicPipe.PeerBench.dll"
relay_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
if ((build)); then
    # One after the other: the machine is shared, and the two share most projects anyway.
    for project in perf/QuicPipe.PeerBench src/QuicPipe.Cli; do
        log "building $project (Release)"
        dotnet build "$repo/$project" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
            || { tail -n 30 "$work/build.log" >&2; fail "dotnet build $project failed"; }
    done
fi
[[ -f "$bench_dll" && -f "$relay_dll" ]] || fail "missing build ($bench_dll, $relay_dll): drop --no-build"

relay_id="$(dotnet "$relay_dll" keygen --out "$work/relay-key.pem" 2>"$work/keygen.err")" \
    || fail "quicpipe keygen failed: $(cat "$work/keygen.err")"
log "relay NodeId $relay_id, listening on 127.0.0.1:$port"
start_bg "$work/relay.out" "$work/relay.err" dotnet "$relay_dll" relay --listen "127.0.0.1:$port" --key "$work/relay-key.pem" \
    --threads 1 --stats-interval 1s --stats-format json
relay_pid=$QP_LAST_PID
wait_udp_listening "$port" "$relay_pid" 30 || fail "the relay did not start: $(tail -n 5 "$work/relay.err")"

stats_lines() { grep -c '^{' "$work/relay.err" || true; }
# fresh_stats: waits for the relay's next JSON stats line (printed every second) and prints it, so the
# counters read are not older than the moment of the call.
fresh_stats() {
    local before i
    before="$(stats_lines)"
    for ((i = 0; i < 50; i++)); do
        (("$(stats_lines)" > before)) && break
        is_alive "$relay_pid" || fail "the relay exited: $(tail -n 5 "$work/relay.err")"
        nap 0.1
    done
    grep '^{' "$work/relay.err" | tail -n 1
}

# bench MODE BYTES: one PeerBench run; prints its JSON line (a failure line if it died or timed out).
bench() {
    local mode="$1" n="$2"
    timeout "$((limit + 15))" dotnet "$bench_dll" --mode "$mode" --relay "127.0.0.1:$port" --relay-id "$relay_id" \
        --bytes "$n" --timeout "$limit" 2>>"$work/bench.err" \
        || echo "{\"mode\":\"$mode\",\"ok\":false,\"bytes\":0,\"expected\":$n,\"seconds\":0,\"mb_per_s\":0}"
}

# relayed_run BYTES: one relayed run with the relay's stats, CPU ticks and wall time around it; prints one JSON line.
relayed_run() {
    local s0 c0 t0 line t1 c1 s1
    s0="$(fresh_stats)"
    c0="$(cpu_ticks "$relay_pid")"
    t0="$(date +%s.%N)"
    line="$(bench relayed "$1")"
    t1="$(date +%s.%N)"
    c1="$(cpu_ticks "$relay_pid")"
    s1="$(fresh_stats)"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["relay"]={"before":json.loads(sys.argv[2]),"after":json.loads(sys.argv[3]),"cpu_ticks":int(sys.argv[5])-int(sys.argv[4]),"wall_s":float(sys.argv[7])-float(sys.argv[6])}; print(json.dumps(r))' \
        "$line" "$s0" "$s1" "$c0" "$c1" "$t0" "$t1"
    echo "$line" >&2
}

warm=$((bytes < 16777216 ? bytes : 16777216))
log "warm-up: relayed, $warm bytes (not measured)"
bench relayed "$warm" >"$work/warmup.json"
# The relay's CPU around a relayed run also pays for two registrations, the signalling and the handshakes:
# a 1-byte relayed run measures that fixed cost, which the summary subtracts to give the per-packet cost.
log "setup cost: relayed, 1 byte"
relayed_run 1 | sed 's/"mode": "relayed"/"mode": "setup"/' >"$work/setup.jsonl"

: >"$work/runs.jsonl"
for ((r = 1; r <= rounds; r++)); do
    log "round $r/$rounds: direct, $bytes bytes"
    bench direct "$bytes" | tee -a "$work/runs.jsonl" >&2
    log "round $r/$rounds: relayed, $bytes bytes"
    relayed_run "$bytes" >>"$work/runs.jsonl"
done
cat "$work/setup.jsonl" >>"$work/runs.jsonl"

mkdir -p "$here/results"
out="$here/results/relay-e2e-$(date +%Y%m%d-%H%M%S).json"
status=0
python3 "$here/tools/summarize-e2e.py" "$work/runs.jsonl" "$out" "$(getconf CLK_TCK)" "$bytes" || status=1
cp "$out" "$here/results/relay-e2e-latest.json"
exit "$status"
