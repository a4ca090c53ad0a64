#!/usr/bin/env bash
# CPU profiles of the relay (or the C reference forwarder) under a bounded loopback load, recorded and
# exported by the ecosystem's own tools for the speedscope viewer.
set -euo pipefail

# Pinned tool versions (what the NuGet and npm sources here serve); moving one is a deliberate change.
DOTNET_TRACE_VERSION=10.0.750501
SPEEDSCOPE_VERSION=1.25.0

usage() {
    cat <<'USAGE'
Usage: perf/flamegraph.sh [options]

Starts a forwarder (default: our relay, with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0
so perf can name JIT-compiled frames), loads it with udp-loadgen -> forwarder -> udp-sink on
127.0.0.1, and after the warm-up profiles it, one recorder after the other, --seconds each:

  perf          whole-process stacks, kernel, native and JIT-compiled frames alike:
                  perf record -e cpu-clock -F 999 -g -p PID   (-a with --system)
                exported with `perf script` -> OUT.linux-perf.txt (the name tells speedscope the format)
  dotnet-trace  managed stacks of every .NET thread (relay only), from the runtime itself:
                  dotnet-trace collect --profile dotnet-sampled-thread-time --format Speedscope
                -> OUT.speedscope.json (and dotnet-trace's raw OUT.nettrace)

Both files open in the speedscope viewer (flame graph over time, "Left Heavy" merged view, "Sandwich"
table of functions by self and total time):
  perf/.tools/npm/node_modules/.bin/speedscope OUT.speedscope.json
The script installs what it needs under perf/.tools (git-ignored): dotnet-trace (dotnet tool install
--tool-path, pinned) and speedscope (npm install --prefix, pinned). See perf/README.md.

Options:
  --target relay|ref      what to profile (default relay; ref = C reference forwarder, perf only)
  --profilers LIST        perf, dotnet-trace or perf,dotnet-trace (default: both for relay, perf for ref)
  --system                perf records every CPU (perf record -a): the load generator, the sink and
                          the kernel's threads too, not only the forwarder
  --seconds N             recording time per profiler (default 10, max 120)
  --warmup S              load before recording starts (default 3)
  --gso on|off            relay GSO setting (default on)
  --gro on|off            relay GRO setting (default off)
  --batch B               batch size (default 64)
  --threads N             forwarder threads (default 1)
  --cids N                distinct CIDs / routes (default 100000)
  --size BYTES            datagram size (default 1200)
  --rate PPS              loadgen rate, 0 = as fast as possible (default 0)
  --port-base P           ports P and P+1 are used (default 47100)
  --out BASE              output path without extension (default perf/results/relay-profile, or
                          perf/results/ref-forwarder-profile for --target ref)
  --relay-dll PATH        use this quicpipe.dll instead of building src/QuicPipe.Cli [QUICPIPE_DLL]
  --no-build              do not rebuild
  --install-only          install dotnet-trace and speedscope, print where, and exit
  -h, --help              this text

Testing hook: QP_RELAY_CMD="perf/tools/relay-standin.sh" replaces "dotnet quicpipe.dll" (perf only).
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tools="$here/.tools"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

target=relay profilers="" system=0 seconds=10 warmup=3 gso=on gro=off batch=64 threads=1 cids=100000 size=1200 rate=0
port_base=47100 out="" relay_dll="${QUICPIPE_DLL:-}" build=1 install_only=0 cid_len=12 seed=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --target) need "$@"; target="$2"; shift 2 ;;
        --profilers) need "$@"; profilers="$2"; shift 2 ;;
        --system) system=1; shift ;;
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
        --install-only) install_only=1; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
[[ "$target" == relay || "$target" == ref ]] || fail "--target must be relay or ref"
if [[ -z "$profilers" ]]; then
    if [[ "$target" == relay && -z "${QP_RELAY_CMD:-}" ]]; then profilers=perf,dotnet-trace; else profilers=perf; fi
fi
use_perf=0 use_trace=0
IFS=, read -r -a wanted <<<"$profilers"
for p in "${wanted[@]}"; do
    case "$p" in
        perf) use_perf=1 ;;
        dotnet-trace) use_trace=1 ;;
        *) fail "--profilers takes perf and/or dotnet-trace, not '$p'" ;;
    esac
done
((use_trace == 0)) || [[ "$target" == relay && -z "${QP_RELAY_CMD:-}" ]] || fail "dotnet-trace profiles .NET processes only: use --profilers perf for --target ref"
for v in seconds warmup batch threads cids size rate port_base; do check_int "--${v//_/-}" "${!v}"; done
((seconds >= 1 && seconds <= 120)) || fail "--seconds must be 1..120"
((warmup <= 60)) || fail "--warmup must be at most 60"
((port_base >= 1024 && port_base <= 65533)) || fail "--port-base must be 1024..65533"
[[ "$gso" == on || "$gso" == off ]] || fail "--gso must be on or off"
[[ "$gro" == on || "$gro" == off ]] || fail "--gro must be on or off"

work="$(mktemp -d /tmp/qp-flame.XXXXXX)"
trap 'cleanup_started; rm -rf "$work"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

dotnet_trace="$tools/dotnet/dotnet-trace"
speedscope="$tools/npm/node_modules/.bin/speedscope"

# Installs the pinned dotnet-trace and speedscope under perf/.tools unless they are there already; a
# later run reuses them without asking a registry.
install_tools() {
    if ((use_trace || install_only)) && [[ "$("$dotnet_trace" --version 2>/dev/null)" != "$DOTNET_TRACE_VERSION"* ]]; then
        command -v dotnet >/dev/null || fail "dotnet is not on PATH (needed for dotnet-trace)"
        log "installing dotnet-trace $DOTNET_TRACE_VERSION into perf/.tools/dotnet"
        rm -rf "$tools/dotnet"
        DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet tool install dotnet-trace --version "$DOTNET_TRACE_VERSION" \
            --tool-path "$tools/dotnet" >"$work/dotnet-tool.log" 2>&1 \
            || { cat "$work/dotnet-tool.log" >&2; fail "dotnet tool install dotnet-trace failed"; }
    fi
    if [[ "$("$speedscope" --version 2>/dev/null)" != "v$SPEEDSCOPE_VERSION" ]]; then
        command -v npm >/dev/null || fail "npm is not installed (it comes with Node.js; apt-get install -y nodejs npm)"
        log "installing speedscope $SPEEDSCOPE_VERSION into perf/.tools/npm"
        npm install --prefix "$tools/npm" --no-save --no-audit --no-fund "speedscope@$SPEEDSCOPE_VERSION" \
            >"$work/npm.log" 2>&1 || { cat "$work/npm.log" >&2; fail "npm install speedscope failed"; }
    fi
}

install_tools
if ((install_only)); then
    echo "dotnet-trace: $dotnet_trace ($("$dotnet_trace" --version))"
    echo "speedscope:   $speedscope ($("$speedscope" --version))"
    exit 0
fi
command -v perf >/dev/null || fail "perf is not installed (apt-get install -y linux-perf)"
if [[ -z "$out" ]]; then
    if [[ "$target" == relay ]]; then out="$here/results/relay-profile"; else out="$here/results/ref-forwarder-profile"; fi
fi
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

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
# Load for the warm-up and each recording, with room for dotnet-trace to attach and detach.
total=$((warmup + (use_perf + use_trace) * (seconds + 5) + 3))

start_bg "$work/sink.out" "$work/sink.err" "$here/build/udp-sink" --listen "127.0.0.1:$sport" --duration $((total + 30))
sink_pid=$QP_LAST_PID
wait_udp_listening "$sport" "$sink_pid" 5 || fail "udp-sink did not start: $(cat "$work/sink.err")"

if [[ "$target" == relay ]]; then
    # PerfMapEnabled=1: the JIT writes /tmp/perf-PID.map so perf can name JIT-compiled frames.
    # EnableWriteXorExecute=0: with W^X (default since .NET 7) JIT code runs from a double-mapped
    # memfd, which perf attributes to "memfd:doublemapper" instead of the perf map: frames stay unnamed.
    # Set for the relay alone: dotnet-trace, itself a .NET program, needs neither (the runtime names its
    # own frames) and would leave a perf map of its own behind.
    start_bg "$work/fwd.out" "$work/fwd.err" env DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "${relay_prefix[@]}" relay --listen "127.0.0.1:$fport" \
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

log "load: ${warmup}s warm-up, then ${profilers//,/ then } for ${seconds}s each on PID $fwd_pid ($label)"
start_bg "$work/gen.out" "$work/gen.err" "$here/build/udp-loadgen" --target "127.0.0.1:$fport" \
    --duration "$total" --cids "$cids" --cid-length "$cid_len" --seed "$seed" --size "$size" \
    --rate "$rate" --batch "$batch"
gen_pid=$QP_LAST_PID
nap "$warmup"
is_alive "$fwd_pid" || fail "$label died under load: $(tail -n 5 "$work/fwd.err")"

written=()
if ((use_perf)); then
    scope=(-p "$fwd_pid")
    if ((system)); then scope=(-a); fi
    log "perf record ${scope[*]}"
    timeout $((seconds + 30)) perf record -e cpu-clock -F 999 -g --no-buildid --no-buildid-cache "${scope[@]}" -o "$work/perf.data" \
        -- sleep "$seconds" >"$work/record.log" 2>&1 || { cat "$work/record.log" >&2; fail "perf record failed"; }
    is_alive "$fwd_pid" || log "warning: $label exited during perf record"
fi
if ((use_trace)); then
    # dotnet-trace takes dd:hh:mm:ss. stdin from /dev/null: it only watches the console for a key to stop early.
    rm -f "$out.nettrace" "$out.speedscope.json"
    log "dotnet-trace collect -p $fwd_pid (with the conversion to speedscope)"
    timeout $((seconds + 60)) "$dotnet_trace" collect -p "$fwd_pid" --profile dotnet-sampled-thread-time \
        --format Speedscope --duration "$(printf '00:00:%02d:%02d' $((seconds / 60)) $((seconds % 60)))" \
        -o "$out.nettrace" </dev/null >"$work/trace.log" 2>&1 || { cat "$work/trace.log" >&2; fail "dotnet-trace collect failed"; }
    [[ -s "$out.speedscope.json" ]] || { cat "$work/trace.log" >&2; fail "dotnet-trace wrote no $out.speedscope.json"; }
    written+=("$out.speedscope.json")
fi

log "stopping the load and $label"
stop_pid "$gen_pid" 5 || true
# TERM, not stop_pid's INT first: a script's background jobs start with SIGINT ignored (no job control),
# and .NET leaves an inherited ignore in place, so INT would only cost stop_pid's 10 s wait.
kill -TERM "$fwd_pid" 2>/dev/null || true
wait_pid_timeout "$fwd_pid" 10 || true
stop_pid "$sink_pid" 5 || true
forwarded="$(grep '"t"' "$work/sink.out" | tail -n 1 | sed -n 's/.*"packets":\([0-9]*\).*/\1/p' || true)"

if ((use_perf)); then
    log "perf script"
    # perf script names JIT frames from /tmp/perf-PID.map, which outlives the relay; removed once read.
    perf script -i "$work/perf.data" >"$out.linux-perf.txt" 2>"$work/script.err" || { cat "$work/script.err" >&2; fail "perf script failed"; }
    rm -f "/tmp/perf-$fwd_pid.map" "/tmp/perfinfo-$fwd_pid.map"
    written=("$out.linux-perf.txt" "${written[@]}")
fi

log "$label: batch $batch, threads $threads, ${size} B, $cids CIDs, rate $rate pps (0 = max); sink got ${forwarded:-0} packets in the run"
for f in "${written[@]}"; do log "profile: $f"; done
log "open one with: $speedscope FILE   (or drop it on $tools/npm/node_modules/speedscope/dist/release/index.html)"
