#!/usr/bin/env bash
# Issue 15: bulk transfer A -> D through a 3-hop circuit (A-B-C-D, mesh nodes, every link through the relay) against
# A -> D on the relay alone (and the circuit with direct links, and with encrypted hops), interleaved in one run on
# loopback; prints median MB/s of each and the ratios.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/circuit-vs-relay.sh [options]

Builds perf/QuicPipe.PeerBench and src/QuicPipe.Cli, starts
  quicpipe relay --listen 127.0.0.1:PORT --key KEY --stats-interval 0 (its defaults: a receive loop per core)
and runs, alternating, on 127.0.0.1 only:
  relayed: QuicPipe.PeerBench --mode relayed  (A dials D by NodeId; one relayed hop)
  circuit: QuicPipe.PeerBench --mode circuit  (A, B, C, D linked in a line as mesh neighbours; A reaches D through
           the circuit A-B-C-D: three links, each through the relay, and end-to-end QUIC inside)
  circuit-direct: the same with each link on its direct (hole-punched) path, as links are once the NATs allow
  circuit-encrypted: as circuit, with every node sending cells inside its links' encryption (--encrypted-hops)
Cells cross each link unprotected, switched by label, in the first two (the default).
Each run: A sends the warm-up bytes on one stream, then N bytes on another; D counts them (checked) and times the
second's first byte -> last byte. One unmeasured run of each kind first. Prints the medians, each circuit kind over
relayed, and where the CPU went (ms per MiB: each node's endpoint loops, the other threads, the relay), with the
ratio it implies with a machine per node (the busiest node's CPU per MiB); JSON in perf/results/.

Options (environment variable in brackets):
  --bytes N      bytes per transfer                [QP_PERF_BYTES, default 67108864 = 64 MiB]
  --rounds R     relayed+circuit pairs             [QP_PERF_ROUNDS, default 3]
  --port P       relay UDP port                    [QP_PERF_PORT, default 47450]
  --timeout S    bound on each transfer, seconds   [QP_PERF_TIMEOUT, default 90]
  --warmup N     bytes each process sends first, unmeasured, so JIT compilation is done before the measured
                 transfer                          [QP_PERF_WARMUP, default 67108864 = 64 MiB]
  --no-build     use the existing Release builds
  -h, --help     this text

Both kinds run in one process per transfer; the circuit's four nodes (eight QUIC loop threads) share this machine's
cores with the relay, as the relayed mode's two do. Exit status: 0 if every transfer delivered the right byte count.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

bytes="${QP_PERF_BYTES:-67108864}"
rounds="${QP_PERF_ROUNDS:-3}"
port="${QP_PERF_PORT:-47450}"
limit="${QP_PERF_TIMEOUT:-90}"
warmup="${QP_PERF_WARMUP:-67108864}"
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --bytes) need "$@"; bytes="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --port) need "$@"; port="$2"; shift 2 ;;
        --timeout) need "$@"; limit="$2"; shift 2 ;;
        --warmup) need "$@"; warmup="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in bytes rounds port limit warmup; do check_int "--$v" "${!v}"; done
((bytes >= 1)) || fail "--bytes must be at least 1"
((rounds >= 1 && rounds <= 20)) || fail "--rounds must be 1..20"
((port >= 1024 && port <= 65535)) || fail "--port must be 1024..65535"
command -v python3 >/dev/null || fail "python3 is needed (apt-get install -y python3)"
port_in_use "$port" && fail "UDP port $port is in use (use --port)"

work="$(mktemp -d /tmp/qp-circuit.XXXXXX)"
trap 'cleanup_started; rm -rf "$work"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

bench_dll="$repo/perf/QuicPipe.PeerBench/bin/Release/net10.0/QuicPipe.PeerBench.dll"
cli_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
if ((build)); then
    for project in perf/QuicPipe.PeerBench src/QuicPipe.Cli; do
        log "building $project (Release)"
        dotnet build "$repo/$project" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
            || { tail -n 30 "$work/build.log" >&2; fail "dotnet build $project failed"; }
    done
fi
[[ -f "$bench_dll" && -f "$cli_dll" ]] || fail "missing build ($bench_dll, $cli_dll): drop --no-build"

relay_id="$(dotnet "$cli_dll" keygen --out "$work/relay-key.pem" 2>"$work/keygen.err")" \
    || fail "quicpipe keygen failed: $(cat "$work/keygen.err")"
# The relay at its defaults (a receive loop per core), for every kind alike.
start_bg "$work/relay.out" "$work/relay.err" dotnet "$cli_dll" relay --listen "127.0.0.1:$port" --key "$work/relay-key.pem" \
    --stats-interval 0
relay_pid=$QP_LAST_PID
wait_udp_listening "$port" "$relay_pid" 30 || fail "the relay did not start: $(tail -n 5 "$work/relay.err")"

# One transfer's JSON line, with the relay's CPU seconds over the whole run added (set-up included: an upper bound).
bench() {
    local mode="$1" n="$2" before line
    before="$(cpu_ticks "$relay_pid")"
    line="$(timeout "$((limit + 30))" dotnet "$bench_dll" --mode "$mode" --relay "127.0.0.1:$port" --relay-id "$relay_id" \
        --bytes "$n" --warmup "$warmup" --timeout "$limit" 2>>"$work/bench.err")" \
        || line="{\"mode\":\"$mode\",\"ok\":false,\"bytes\":0,\"expected\":$n,\"seconds\":0,\"mb_per_s\":0}"
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); d["relay_cpu_s"] = int(sys.argv[2]) / 100; print(json.dumps(d))' \
        "$line" "$(($(cpu_ticks "$relay_pid") - before))"
}

warm=$((bytes < 16777216 ? bytes : 16777216))
log "warm-up: each kind once, $warm bytes (not measured)"
bench relayed "$warm" >/dev/null
bench circuit "$warm" >/dev/null
bench circuit-direct "$warm" >/dev/null
bench circuit-encrypted "$warm" >/dev/null

: >"$work/runs.jsonl"
for ((r = 1; r <= rounds; r++)); do
    for mode in relayed circuit circuit-direct circuit-encrypted; do
        log "round $r/$rounds: $mode, $bytes bytes"
        bench "$mode" "$bytes" | tee -a "$work/runs.jsonl" >&2
    done
done

mkdir -p "$here/results"
out="$here/results/circuit-vs-relay-$(date +%Y%m%d-%H%M%S).json"
python3 - "$work/runs.jsonl" "$out" "$bytes" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = all(r["ok"] for r in runs)
circuits = ("circuit", "circuit-direct", "circuit-encrypted")
med = {m: statistics.median(r["mb_per_s"] for r in runs if r["mode"] == m) for m in ("relayed",) + circuits}
ratio = {m: round(med[m] / med["relayed"], 3) if med["relayed"] else 0 for m in circuits}

# Where the CPU goes, per MiB moved (medians over the rounds): each node's endpoint loop threads, the process's other
# threads (the sender's and receiver's stream work, at the two ends), and the relay. On this machine every kind is
# CPU-bound, so its throughput follows the sum; with a machine per node it would follow the busiest node, counted
# here as its loops, plus half the other threads for each end, or the relay.
def cpu(mode):
    rs = [r for r in runs if r["mode"] == mode and r["ok"] and "node_loop_cpu_s" in r]
    if not rs:
        return None
    mib = lambda r: r["bytes"] / 2**20
    nodes = {n: statistics.median(r["node_loop_cpu_s"][n] / mib(r) * 1e3 for r in rs) for n in rs[0]["node_loop_cpu_s"]}
    other = statistics.median((r["process_cpu_s"] - sum(r["node_loop_cpu_s"].values())) / mib(r) * 1e3 for r in rs)
    relay = statistics.median(r["relay_cpu_s"] / mib(r) * 1e3 for r in rs)
    ends = (list(nodes)[0], list(nodes)[-1])
    busiest = max([v + (other / 2 if n in ends else 0) for n, v in nodes.items()] + [relay if mode != "circuit-direct" else 0])
    return {"ms_per_mib": {"nodes_loops": nodes, "other_threads": other, "relay": relay,
                           "total": sum(nodes.values()) + other + relay}, "busiest_node_ms_per_mib": busiest}
cpus = {m: cpu(m) for m in ("relayed",) + circuits}
summary = {"bytes": int(sys.argv[3]), "runs": runs, "median_mb_per_s": med, "over_relayed": ratio, "cpu": cpus, "all_ok": ok}
json.dump(summary, open(sys.argv[2], "w"), indent=1)
print(f"relayed {med['relayed']:.1f} MB/s; circuit, links relayed {med['circuit']:.1f} MB/s ({ratio['circuit']:.2f}x); "
      f"circuit, links direct {med['circuit-direct']:.1f} MB/s ({ratio['circuit-direct']:.2f}x); "
      f"circuit, encrypted hops {med['circuit-encrypted']:.1f} MB/s ({ratio['circuit-encrypted']:.2f}x); all transfers ok: {ok}")
if all(cpus.values()):
    for m, c in cpus.items():
        t = c["ms_per_mib"]
        loops = ", ".join(f"{n} {v:.2f}" for n, v in t["nodes_loops"].items())
        print(f"{m}: CPU ms per MiB: total {t['total']:.2f} (loops {loops}; other threads {t['other_threads']:.2f}; "
              f"relay {t['relay']:.2f}); busiest node {c['busiest_node_ms_per_mib']:.2f}")
    for m in circuits:
        print(f"{m} over relayed: by total CPU {cpus['relayed']['ms_per_mib']['total'] / cpus[m]['ms_per_mib']['total']:.2f}x, "
              f"with a machine per node (busiest node) {cpus['relayed']['busiest_node_ms_per_mib'] / cpus[m]['busiest_node_ms_per_mib']:.2f}x")
sys.exit(0 if ok else 1)
PY
