#!/usr/bin/env bash
# Single-connection bulk download over loopback: ngtcp2's own example (gtlsserver -> gtlsclient) against our
# QUIC engine (perf/QuicPipe.QuicBench), same amount of data, in the same run; prints the ratios ours/ngtcp2.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/quic-vs-ngtcp2.sh [options]

Runs, one after the other, on 127.0.0.1 only:
  1. ngtcp2: gtlsserver (Debian ngtcp2-server) serves an N MiB file from a temporary document root;
     gtlsclient (ngtcp2-client) downloads it over one connection, one stream (HTTP/3, ALPN h3) into a
     temporary directory (on /dev/shm when it exists), twice: with our default receive windows, and with its
     own defaults. Timed from client start to exit (includes process start and handshake, a few ms); the
     downloaded size is checked.
  2. ours: perf/QuicPipe.QuicBench: our server and client endpoints in one process (each with its own loop
     thread), one connection, one stream, N MiB from server to client; timed from stream open to the end of the
     stream; the byte count is checked. Also reports the process's CPU ms and context switches per MiB, and GC
     collections and bytes allocated during the transfer.
Prints MiB/s for all three and the ratios ours/ngtcp2 against both of ngtcp2's runs (issue 16's target:
>= 3.5x, and ours >= 600 MiB/s); JSON in perf/results/.

Options:
  --mib N          MiB to transfer                     [QP_PERF_MIB, default 256]
  --rounds R       repeat all three R times, interleaved; medians reported [QP_PERF_ROUNDS, default 1]
  --port P         gtlsserver's UDP port               [QP_PERF_PORT, default 48443]
  --timeout S      bound on each transfer, seconds     [QP_PERF_TIMEOUT, default 120]
  --no-build       use the existing Release build of perf/QuicPipe.QuicBench
  -h, --help       this text

Exit status: 0 if both transfers completed with the right byte count, 1 otherwise. Everything started is
killed and the temporary files removed on exit, Ctrl-C or failure.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

mib="${QP_PERF_MIB:-256}"
rounds="${QP_PERF_ROUNDS:-1}"
port="${QP_PERF_PORT:-48443}"
limit="${QP_PERF_TIMEOUT:-120}"
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mib) mib="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --timeout) limit="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$mib" =~ ^[0-9]+$ && "$mib" -ge 1 && "$mib" -le 4096 ]] || { echo "--mib is 1..4096" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 1 && "$rounds" -le 20 ]] || { echo "--rounds is 1..20" >&2; exit 2; }
[[ "$limit" =~ ^[0-9]+$ && "$limit" -ge 1 ]] || { echo "--timeout is a positive number of seconds" >&2; exit 2; }

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
server_pid=""
scratch_root=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && scratch_root=/dev/shm
work="$(mktemp -d "$scratch_root/quicpipe-quicbench.XXXXXX")"
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in /usr/sbin/gtlsserver /usr/bin/gtlsclient; do
    [[ -x "$tool" ]] || { echo "$tool is missing: apt-get install ngtcp2-server ngtcp2-client" >&2; exit 1; }
done

bench_dir="$repo/perf/QuicPipe.QuicBench/bin/Release/net10.0"
if [[ "$build" -eq 1 ]]; then
    log "building perf/QuicPipe.QuicBench (Release)"
    dotnet build "$repo/perf/QuicPipe.QuicBench/QuicPipe.QuicBench.csproj" -c Release --nologo -v quiet >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; exit 1; }
fi
bench=(dotnet "$bench_dir/QuicPipe.QuicBench.dll")
[[ -f "$bench_dir/QuicPipe.QuicBench.dll" ]] || { echo "no build in $bench_dir (drop --no-build)" >&2; exit 1; }

mkdir -p "$work/htdocs" "$work/download"
bytes=$((mib * 1024 * 1024))
head -c "$bytes" /dev/urandom >"$work/htdocs/blob"
"${bench[@]}" identity "$work/cert.pem" "$work/key.pem"

log "starting gtlsserver on 127.0.0.1:$port"
/usr/sbin/gtlsserver --quiet --timeout=30s -d "$work/htdocs" 127.0.0.1 "$port" "$work/key.pem" "$work/cert.pem" \
    >"$work/gtlsserver.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/gtlsserver.log" >&2; exit 1; }
    sleep 0.1
done

# ngtcp2_run IMPL [gtlsclient options...]: one download, one JSON line named IMPL.
ngtcp2_run() {
    local impl="$1"
    shift
    rm -f "$work/download/blob"
    local start end
    start=$(date +%s.%N)
    timeout "$limit" /usr/bin/gtlsclient --quiet --no-quic-dump --no-http-dump --exit-on-all-streams-close "$@" \
        --download="$work/download" 127.0.0.1 "$port" "https://127.0.0.1:$port/blob" >"$work/gtlsclient.log" 2>&1 || true
    end=$(date +%s.%N)
    local got=0
    [[ -f "$work/download/blob" ]] && got=$(stat -c %s "$work/download/blob")
    python3 -c 'import json,sys; i,b,e,s,t=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]),float(sys.argv[5]); d=t-s; print(json.dumps({"impl":i,"ok":b==e,"bytes":b,"expected":e,"seconds":round(d,3),"mib_per_s":round(b/1048576/d,1)}))' \
        "$impl" "$got" "$bytes" "$start" "$end"
}

# The same receive windows as ours (QuicEndpointOptions defaults): 1 MiB per stream growing to 16 MiB, 4 MiB per
# connection growing to 32 MiB.
our_windows=(--max-data=4M --max-stream-data-bidi-local=1M --max-window=32M --max-stream-window=16M)

ours_run() {
    timeout "$((limit + 10))" "${bench[@]}" --mib "$mib" --timeout "$limit" 2>"$work/ours.err" \
        || echo "{\"impl\":\"quicpipe\",\"ok\":false,\"bytes\":0,\"expected\":$bytes,\"seconds\":0,\"mib_per_s\":0}"
}

: >"$work/runs.jsonl"
for ((r = 1; r <= rounds; r++)); do
    log "round $r/$rounds: ngtcp2 gtlsserver -> gtlsclient (our windows), $mib MiB"
    ngtcp2_run ngtcp2 "${our_windows[@]}" | tee -a "$work/runs.jsonl" >&2
    log "round $r/$rounds: ngtcp2 gtlsserver -> gtlsclient (its defaults), $mib MiB"
    ngtcp2_run ngtcp2-defaults | tee -a "$work/runs.jsonl" >&2
    log "round $r/$rounds: ours (QuicPipe.QuicBench), $mib MiB"
    ours_run | tee -a "$work/runs.jsonl" >&2
done

mkdir -p "$repo/perf/results"
out="$repo/perf/results/quic-vs-ngtcp2-$(date +%Y%m%d-%H%M%S).json"
python3 - "$work/runs.jsonl" "$out" "$mib" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ng = [r for r in runs if r["impl"] == "ngtcp2"]
nd = [r for r in runs if r["impl"] == "ngtcp2-defaults"]
us = [r for r in runs if r["impl"] == "quicpipe"]
ok = all(r["ok"] for r in runs) and ng and nd and us
med = lambda rs, k: statistics.median(r.get(k, 0) for r in rs)
ng_rate, nd_rate, us_rate = med(ng, "mib_per_s"), med(nd, "mib_per_s"), med(us, "mib_per_s")
ratio = us_rate / ng_rate if ng_rate else 0.0
ratio_defaults = us_rate / nd_rate if nd_rate else 0.0
summary = {"mib": int(sys.argv[3]), "rounds": len(us), "ngtcp2_mib_per_s": ng_rate, "ngtcp2_defaults_mib_per_s": nd_rate,
           "quicpipe_mib_per_s": us_rate, "quicpipe_cpu_ms_per_mib": med(us, "cpu_ms_per_mib"),
           "ratio": round(ratio, 3), "ratio_defaults": round(ratio_defaults, 3), "target_ratio": 3.5,
           "target_mib_per_s": 600, "ok": bool(ok), "runs": runs}
json.dump(summary, open(sys.argv[2], "w"), indent=2)
print(f"{'impl':<16} {'MiB/s (median)':>15} {'seconds':>9}")
print(f"{'ngtcp2 (ours)':<16} {ng_rate:>15.1f} {med(ng, 'seconds'):>9.3f}   gtlsclient with our receive windows")
print(f"{'ngtcp2 (own)':<16} {nd_rate:>15.1f} {med(nd, 'seconds'):>9.3f}   gtlsclient with its own defaults")
print(f"{'quicpipe':<16} {us_rate:>15.1f} {med(us, 'seconds'):>9.3f}   {med(us, 'cpu_ms_per_mib'):.2f} CPU ms per MiB")
print(f"ratio ours/ngtcp2: {ratio:.2f}x with our windows, {ratio_defaults:.2f}x with its defaults "
      f"(target >= 3.5x, and >= 600 MiB/s){'' if ok else '  -- A RUN FAILED, see the runs'}")
for r in us:
    print(f"ours GC during transfer: gen0 {r.get('gc_gen0')} gen1 {r.get('gc_gen1')} gen2 {r.get('gc_gen2')}, "
          f"allocated {r.get('allocated_bytes', 0) / 1048576:.1f} MiB "
          f"(the fresh endpoints' buffer pools filling up: it does not grow with --mib)")
print(f"json: {sys.argv[2]}")
sys.exit(0 if ok else 1)
PY
