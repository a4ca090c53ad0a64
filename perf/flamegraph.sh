#!/usr/bin/env bash
# CPU flame graph of the relay (or the C reference forwarder) under a bounded loopback load.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/flamegraph.sh [options]

Starts a forwarder (default: our relay, with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0
so JIT-compiled frames have names),
loads it with udp-loadgen -> forwarder -> udp-sink on 127.0.0.1, records it with
  perf record -e cpu-clock -F 999 -g -p PID
for a bounded time, and renders an interactive flame graph SVG with perf/tools/flamegraph.py
(open it in a browser: hover for name and %, click to zoom, Search to highlight).

Options:
  --target relay|ref  what to profile (default relay; ref = C reference forwarder)
  --seconds N         recording time (default 10, max 120)
  --warmup S          load before recording starts (default 3)
  --gso on|off        relay GSO setting (default on)
  --gro on|off        relay GRO setting (default off)
  --batch B           batch size (default 64)
  --threads N         forwarder threads (default 1)
  --cids N            distinct CIDs / routes (default 100000)
  --size BYTES        datagram size (default 1200)
  --rate PPS          loadgen rate, 0 = as fast as possible (default 0)
  --port-base P       ports P and P+1 are used (default 47100)
  --out FILE          SVG path (default perf/results/relay-flamegraph.svg,
                      or perf/results/ref-forwarder-flamegraph.svg for --target ref)
  --relay-dll PATH    use this quicpipe.dll instead of building src/QuicPipe.Cli [QUICPIPE_DLL]
  --no-build          do not rebuild
  -h, --help          this text

Testing hook: QP_RELAY_CMD="perf/tools/relay-standin.sh" replaces "dotnet quicpipe.dll".

Also kept next to the SVG: the folded stacks (.folded) and the raw perf script text (.perf.txt).
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

target=relay seconds=10 warmup=3 gso=on gro=off batch=64 threads=1 cids=100000 size=1200 rate=0
port_base=47100 out="" relay_dll="${QUICPIPE_DLL:-}" build=1 cid_len=12 seed=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --target) need "$@"; target="$2"; shift 2 ;;
        --seconds) need "$@"; seconds="$2"; shift 2 ;;
        --warmup) need "$@"; warmup="$2"; shift 2 ;;
        --gso) need "$@"; gso="$2"; shift 2 ;;
        --gro) need "$@"; gro="$2"; shift 2 ;;
        --batch) need "$@"; batch="$2"; shift 2 ;;
        --threads) need "$@"; threads="$2"; shift 2 ;;
        --cids) need "$@"; cids="$2"; shift 2 ;;
        --size) need "$@"; size="$2"; shift 2 ;;
        --rate) need "$@"; rate="$2"; shift 2 ;;
        --port-base) need "$@"; port_base="$2"; shift 2 ;;
        --out) need "$@"; out="$2"; shift 2 ;;
        --relay-dll) need "$@"; relay_dll="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
[[ "$target" == relay || "$target" == ref ]] || fail "--target must be relay or ref"
for v in seconds warmup batch threads cids size rate port_base; do check_int "--${v//_/-}" "${!v}"; done
((seconds >= 1 && seconds <= 120)) || fail "--seconds must be 1..120"
((warmup <= 60)) || fail "--warmup must be at most 60"
((port_base >= 1024 && port_base <= 65533)) || fail "--port-base must be 1024..65533"
[[ "$gso" == on || "$gso" == off ]] || fail "--gso must be on or off"
[[ "$gro" == on || "$gro" == off ]] || fail "--gro must be on or off"
command -v perf >/dev/null || fail "perf is not installed (apt-get install -y linux-perf)"
command -v python3 >/dev/null || fail "python3 is needed"
if [[ -z "$out" ]]; then
    if [[ "$target" == relay ]]; then out="$here/results/relay-flamegraph.svg"; else out="$here/results/ref-forwarder-flamegraph.svg"; fi
fi
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

work="$(mktemp -d /tmp/qp-flame.XXXXXX)"
trap 'cleanup_started; rm -rf "$work"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

if ((build)); then "$here/build.sh"; fi
for t in udp-loadgen udp-sink ref-forwarder; do
    [[ -x "$here/build/$t" ]] || fail "perf/build/$t is missing: run perf/build.sh"
done
relay_prefix=()
if [[ "$target" == relay && -n "${QP_RELAY_CMD:-}" ]]; then
    read -r -a relay_prefix <<<"$QP_RELAY_CMD"
    log "relay command replaced by QP_RELAY_CMD=$QP_RELAY_CMD (testing hook)"
elif [[ "$target" == relay ]]; then
    command -v dotnet >/dev/null || fail "dotnet is not on PATH"
    if [[ -z "$relay_dll" ]]; then
        relay_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
        if ((build)); then
            log "building the relay: dotnet build -c Release src/QuicPipe.Cli"
            (cd "$repo" && DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet build -c Release src/QuicPipe.Cli -nologo -v q) \
                >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; fail "relay build failed"; }
        fi
    fi
    [[ -f "$relay_dll" ]] || fail "relay binary not found at $relay_dll"
    relay_prefix=(dotnet "$relay_dll")
fi

fport=$port_base sport=$((port_base + 1))
for p in "$fport" "$sport"; do port_in_use "$p" && fail "UDP port $p is in use (choose another --port-base)"; done
"$here/build/udp-loadgen" routes --cids "$cids" --cid-length "$cid_len" --seed "$seed" \
    --sink "127.0.0.1:$sport" >"$work/routes.txt"
total=$((warmup + seconds + 3))

start_bg "$work/sink.out" "$work/sink.err" "$here/build/udp-sink" --listen "127.0.0.1:$sport" --duration $((total + 30))
sink_pid=$QP_LAST_PID
wait_udp_listening "$sport" "$sink_pid" 5 || fail "udp-sink did not start: $(cat "$work/sink.err")"

if [[ "$target" == relay ]]; then
    # PerfMapEnabled=1: the JIT writes /tmp/perf-PID.map so perf can name JIT-compiled frames.
    # EnableWriteXorExecute=0: with W^X (default since .NET 7) JIT code runs from a double-mapped
    # memfd, which perf attributes to "memfd:doublemapper" instead of the perf map: frames stay unnamed.
    export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
    start_bg "$work/fwd.out" "$work/fwd.err" "${relay_prefix[@]}" relay --listen "127.0.0.1:$fport" \
        --routes "$work/routes.txt" --cid-length "$cid_len" --threads "$threads" --batch "$batch" \
        --gso "$gso" --gro "$gro" --stats-interval 1s --stats-format json
    ready_timeout=30
    label="quicpipe relay (gso $gso, gro $gro)"
else
    start_bg "$work/fwd.out" "$work/fwd.err" "$here/build/ref-forwarder" --listen "127.0.0.1:$fport" \
        --routes "$work/routes.txt" --cid-length "$cid_len" --batch "$batch" --threads "$threads" \
        --duration $((total + 20))
    ready_timeout=10
    label="C reference forwarder"
fi
fwd_pid=$QP_LAST_PID
rc=0
wait_udp_listening "$fport" "$fwd_pid" "$ready_timeout" || rc=$?
if ((rc != 0)); then
    tail -n 10 "$work/fwd.err" >&2 || true
    if ((rc == 2)); then fail "$label exited before listening on 127.0.0.1:$fport (stderr above)"; fi
    fail "$label did not bind 127.0.0.1:$fport within ${ready_timeout}s"
fi

log "load: ${warmup}s warm-up, then perf record for ${seconds}s on PID $fwd_pid ($label)"
start_bg "$work/gen.out" "$work/gen.err" "$here/build/udp-loadgen" --target "127.0.0.1:$fport" \
    --duration "$total" --cids "$cids" --cid-length "$cid_len" --seed "$seed" --size "$size" \
    --rate "$rate" --batch "$batch"
gen_pid=$QP_LAST_PID
nap "$warmup"
is_alive "$fwd_pid" || fail "$label died under load: $(tail -n 5 "$work/fwd.err")"
timeout $((seconds + 30)) perf record -e cpu-clock -F 999 -g -p "$fwd_pid" -o "$work/perf.data" \
    -- sleep "$seconds" >"$work/record.log" 2>&1 || { cat "$work/record.log" >&2; fail "perf record failed"; }
is_alive "$fwd_pid" || log "warning: $label exited during recording"

wait_pid_timeout "$gen_pid" $((total + 10)) || true
stop_pid "$fwd_pid" 10 || true
stop_pid "$sink_pid" 5 || true
forwarded="$(grep '"t"' "$work/sink.out" | tail -n 1 | sed -n 's/.*"packets":\([0-9]*\).*/\1/p' || true)"

log "perf script + flamegraph.py"
perf script -i "$work/perf.data" >"$work/perf.txt" 2>"$work/script.err" || { cat "$work/script.err" >&2; fail "perf script failed"; }
base="${out%.svg}"
cp -f "$work/perf.txt" "$base.perf.txt"
python3 "$here/tools/flamegraph.py" render "$work/perf.txt" -o "$out" --folded-out "$base.folded" \
    --title "$label: cpu-clock 999 Hz, ${seconds}s" \
    --subtitle "batch $batch, threads $threads, ${size} B, $cids CIDs, rate ${rate:-0} pps (0 = max); sink got ${forwarded:-0} packets in ${total}s"
log "flame graph: $out (open it in a browser)"
