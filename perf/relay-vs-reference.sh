#!/usr/bin/env bash
# Relay vs. C reference forwarder, measured side by side in one run on loopback.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/relay-vs-reference.sh [options]

Builds the C tools and the relay, then runs, one after the other and with the same load:
  1. ref-forwarder (C recvmmsg/sendmmsg reference)
  2. quicpipe relay --gso off
  3. quicpipe relay --gso on
Each run: udp-sink <- forwarder <- udp-loadgen (all on 127.0.0.1), warm-up, then a measured
steady-state window. Reports forwarded packets/s (what reached the sink), forwarder CPU time per
forwarded packet (utime+stime from /proc/PID/stat), the relay's GC counts in the window, and the
ratios ours/reference. Results: a table on stdout and JSON in perf/results/.

Options (environment variable in brackets):
  --duration S     measured window, seconds            [QP_PERF_DURATION, default 10]
  --warmup S       warm-up before the window, seconds  [QP_PERF_WARMUP, default 3]
  --batch B        batch size for every forwarder      [QP_PERF_BATCH, default 64]
  --threads N      forwarder threads for every forwarder [QP_PERF_THREADS, default 1]
  --cids N         distinct CIDs / routes              [QP_PERF_CIDS, default 100000]
  --size BYTES     datagram size                       [QP_PERF_SIZE, default 1200]
  --port-base P    ports P..P+5 are used               [QP_PERF_PORT_BASE, default 47000]
  --rate PPS       loadgen rate, 0 = as fast as possible [QP_PERF_RATE, default 0]
  --flows F        loadgen source sockets              [QP_PERF_FLOWS, default 4]
  --sockbuf BYTES  socket buffers (SO_RCVBUF/SO_SNDBUF) of every forwarder, the same for all
                   [QP_PERF_SOCKBUF, default 4194304, the relay default]
  --gro on|off     relay --gro setting for both relay runs [QP_PERF_GRO, default off]
  --verify         udp-sink checks every datagram's length and payload (costs sink CPU); a
                   forwarder that corrupts or truncates anything fails the run
  --rounds N       repeat ref, gso off, gso on N times, interleaved; medians reported [QP_PERF_ROUNDS, default 1]
  --relay-dll PATH use this quicpipe.dll instead of building src/QuicPipe.Cli [QUICPIPE_DLL]
  --skip-relay     only run the C reference (tooling check)
  --no-build       do not rebuild (use existing perf/build and relay build)
  -h, --help       this text

Testing hook: QP_RELAY_CMD="perf/tools/relay-standin.sh" replaces "dotnet quicpipe.dll" with a
command taking the same arguments (the stand-in runs the C reference with the relay's stats schema).

Exit status: 0 if every forwarder ran and forwarded traffic, 1 otherwise (the table still shows
what did run). Everything started is killed on exit, Ctrl-C or failure.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

duration="${QP_PERF_DURATION:-10}"
warmup="${QP_PERF_WARMUP:-3}"
batch="${QP_PERF_BATCH:-64}"
threads="${QP_PERF_THREADS:-1}"
cids="${QP_PERF_CIDS:-100000}"
size="${QP_PERF_SIZE:-1200}"
port_base="${QP_PERF_PORT_BASE:-47000}"
rate="${QP_PERF_RATE:-0}"
flows="${QP_PERF_FLOWS:-4}"
sockbuf="${QP_PERF_SOCKBUF:-4194304}"
gro="${QP_PERF_GRO:-off}"
relay_dll="${QUICPIPE_DLL:-}"
rounds="${QP_PERF_ROUNDS:-1}"
skip_relay=0
verify=0
build=1
cid_len=12
seed=1

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --duration) need "$@"; duration="$2"; shift 2 ;;
        --warmup) need "$@"; warmup="$2"; shift 2 ;;
        --batch) need "$@"; batch="$2"; shift 2 ;;
        --threads) need "$@"; threads="$2"; shift 2 ;;
        --cids) need "$@"; cids="$2"; shift 2 ;;
        --size) need "$@"; size="$2"; shift 2 ;;
        --port-base) need "$@"; port_base="$2"; shift 2 ;;
        --rate) need "$@"; rate="$2"; shift 2 ;;
        --flows) need "$@"; flows="$2"; shift 2 ;;
        --sockbuf) need "$@"; sockbuf="$2"; shift 2 ;;
        --gro) need "$@"; gro="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --relay-dll) need "$@"; relay_dll="$2"; shift 2 ;;
        --skip-relay) skip_relay=1; shift ;;
        --verify) verify=1; shift ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in duration warmup batch threads cids size port_base rate flows rounds; do check_int "--${v//_/-}" "${!v}"; done
((duration >= 1 && duration <= 600)) || fail "--duration must be 1..600 s"
((warmup <= 120)) || fail "--warmup must be at most 120 s"
((batch >= 1 && batch <= 1024)) || fail "--batch must be 1..1024"
((threads >= 1 && threads <= 64)) || fail "--threads must be 1..64"
((rounds >= 1 && rounds <= 20)) || fail "--rounds must be 1..20"
((cids >= 1)) || fail "--cids must be at least 1"
((port_base >= 1024 && port_base <= 65530)) || fail "--port-base must be 1024..65530"
[[ "$gro" == on || "$gro" == off ]] || fail "--gro must be on or off"
command -v python3 >/dev/null || fail "python3 is needed (apt-get install -y python3)"
command -v ss >/dev/null || fail "ss is needed (apt-get install -y iproute2)"

trap 'cleanup_started' EXIT
trap 'log "interrupted"; cleanup_started; exit 130' INT TERM

# ---- build ----
if ((build)); then
    log "building C tools"
    "$here/build.sh"
fi
for t in udp-loadgen udp-sink ref-forwarder; do
    [[ -x "$here/build/$t" ]] || fail "perf/build/$t is missing: run perf/build.sh"
done
relay_error=""
relay_prefix=()
if ((!skip_relay)) && [[ -n "${QP_RELAY_CMD:-}" ]]; then
    read -r -a relay_prefix <<<"$QP_RELAY_CMD"
    relay_dll="(QP_RELAY_CMD) $QP_RELAY_CMD"
    log "relay command replaced by QP_RELAY_CMD=$QP_RELAY_CMD (testing hook)"
elif ((!skip_relay)); then
    if [[ -z "$relay_dll" ]]; then
        relay_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
        if ((build)); then
            log "building the relay: dotnet build -c Release src/QuicPipe.Cli"
            if ! (cd "$repo" && DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet build -c Release src/QuicPipe.Cli -nologo -v q) \
                >"/tmp/qp-relay-build.$$.log" 2>&1; then
                tail -n 30 "/tmp/qp-relay-build.$$.log" >&2
                relay_error="dotnet build -c Release src/QuicPipe.Cli failed (log above)"
            fi
            rm -f "/tmp/qp-relay-build.$$.log"
        fi
    fi
    if [[ -z "$relay_error" && ! -f "$relay_dll" ]]; then
        relay_error="relay binary not found at $relay_dll"
    fi
    command -v dotnet >/dev/null || relay_error="dotnet is not on PATH"
    relay_prefix=(dotnet "$relay_dll")
    [[ -z "$relay_error" ]] || log "RELAY UNAVAILABLE: $relay_error (the C reference still runs)"
fi

verify_args=()
((verify)) && verify_args=(--verify)
stamp="$(date +%Y%m%d-%H%M%S)"
rundir="$here/results/relay-vs-reference-$stamp"
mkdir -p "$rundir"
clk_tck="$(getconf CLK_TCK)"
log "results in $rundir"

# run_one NAME PORT_OFFSET KIND [GSO]
#   KIND = ref | relay. Writes NAME/{meta,sink.out,fwd.out,fwd.err,loadgen.out,...} under rundir.
run_one() {
    local name="$1" off="$2" kind="$3" gso="${4:-}"
    local dir="$rundir/round-$round/$name" fport=$((port_base + off)) sport=$((port_base + off + 1))
    mkdir -p "$dir"
    {
        echo "name=$name"; echo "kind=$kind"; echo "gso=$gso"; echo "clk_tck=$clk_tck"
    } >"$dir/meta"
    local err=""
    if [[ "$kind" == relay && -n "$relay_error" ]]; then
        echo "error=$relay_error" >>"$dir/meta"
        return 1
    fi
    for p in "$fport" "$sport"; do
        if port_in_use "$p"; then
            echo "error=UDP port $p is already in use (choose another --port-base)" >>"$dir/meta"
            log "$name: UDP port $p is in use"
            return 1
        fi
    done
    "$here/build/udp-loadgen" routes --cids "$cids" --cid-length "$cid_len" --seed "$seed" \
        --sink "127.0.0.1:$sport" >"$dir/routes.txt"

    log "$name: starting sink on :$sport and forwarder on :$fport"
    local total=$((warmup + duration))
    start_bg "$dir/sink.out" "$dir/sink.err" "$here/build/udp-sink" --listen "127.0.0.1:$sport" \
        --duration $((total + 40)) --size "$size" --cid-length "$cid_len" "${verify_args[@]}"
    local sink_pid=$QP_LAST_PID
    if ! wait_udp_listening "$sport" "$sink_pid" 5; then
        echo "error=udp-sink did not start: $(tail -n 3 "$dir/sink.err" | tr '\n' ' ')" >>"$dir/meta"
        stop_pid "$sink_pid" || true
        return 1
    fi

    local -a cmd extra
    local ready_timeout
    if [[ "$kind" == ref ]]; then
        cmd=("$here/build/ref-forwarder" --listen "127.0.0.1:$fport" --routes "$dir/routes.txt"
            --cid-length "$cid_len" --batch "$batch" --threads "$threads" --duration $((total + 30))
            --rcvbuf "$sockbuf" --sndbuf "$sockbuf")
        ready_timeout=10
    else
        cmd=("${relay_prefix[@]}" relay --listen "127.0.0.1:$fport" --routes "$dir/routes.txt"
            --cid-length "$cid_len" --threads "$threads" --batch "$batch" --gso "$gso" --gro "$gro"
            --stats-interval 1s --stats-format json --recv-buffer "$sockbuf" --send-buffer "$sockbuf")
        # Extra relay flags for experiments, e.g. QP_RELAY_EXTRA="--recv-buffer 212992".
        read -r -a extra <<<"${QP_RELAY_EXTRA:-}"
        cmd+=("${extra[@]}")
        ready_timeout=30
    fi
    printf '%q ' "${cmd[@]}" >"$dir/command"
    start_bg "$dir/fwd.out" "$dir/fwd.err" "${cmd[@]}"
    local fwd_pid=$QP_LAST_PID
    local rc=0
    wait_udp_listening "$fport" "$fwd_pid" "$ready_timeout" || rc=$?
    if ((rc != 0)); then
        local why="did not bind 127.0.0.1:$fport within ${ready_timeout}s"
        if ((rc == 2)); then
            local ec=0
            wait "$fwd_pid" 2>/dev/null || ec=$?
            why="exited with status $ec before listening"
        fi
        echo "error=$name $why; stderr: $(tail -n 5 "$dir/fwd.err" | tr '\n' ' ')" >>"$dir/meta"
        log "$name: forwarder $why"
        tail -n 5 "$dir/fwd.err" >&2 || true
        stop_pid "$fwd_pid" || true
        stop_pid "$sink_pid" || true
        return 1
    fi

    log "$name: load for ${warmup}s warm-up + ${duration}s window"
    start_bg "$dir/loadgen.out" "$dir/loadgen.err" "$here/build/udp-loadgen" --target "127.0.0.1:$fport" \
        --duration $((total + 1)) --cids "$cids" --cid-length "$cid_len" --seed "$seed" --size "$size" \
        --rate "$rate" --batch "$batch" --flows "$flows"
    local gen_pid=$QP_LAST_PID

    nap "$warmup"
    local c0 t0 c1 t1
    c0="$(cpu_ticks "$fwd_pid")" || c0=""
    t0="$(date +%s.%N)"
    echo "err_size0=$(stat -c %s "$dir/fwd.err")" >>"$dir/meta"
    grep -a '"uptime_s"' "$dir/fwd.err" | tail -n 1 >"$dir/stats0.json" || true
    nap "$duration"
    c1="$(cpu_ticks "$fwd_pid")" || c1=""
    t1="$(date +%s.%N)"
    echo "err_size1=$(stat -c %s "$dir/fwd.err")" >>"$dir/meta"
    grep -a '"uptime_s"' "$dir/fwd.err" | tail -n 1 >"$dir/stats1.json" || true
    { echo "t0=$t0"; echo "t1=$t1"; echo "cpu0=$c0"; echo "cpu1=$c1"; } >>"$dir/meta"
    if [[ -z "$c0" || -z "$c1" ]]; then
        echo "error=$name exited during the measurement; stderr: $(tail -n 5 "$dir/fwd.err" | tr '\n' ' ')" >>"$dir/meta"
    fi

    wait_pid_timeout "$gen_pid" 15 || echo "warning=udp-loadgen exited with status $?" >>"$dir/meta"
    sleep 0.5 # let the last forwarded datagrams reach the sink
    local frc=0
    stop_pid "$fwd_pid" 10 || frc=$?
    echo "forwarder_exit=$frc" >>"$dir/meta"
    stop_pid "$sink_pid" 5 || true
    log "$name: done"
    return 0
}

status=0
for ((round = 1; round <= rounds; round++)); do
    ((rounds == 1)) || log "round $round of $rounds"
    run_one ref 0 ref || status=1
    if ((!skip_relay)); then
        sleep 1
        run_one relay-gso-off 2 relay off || status=1
        sleep 1
        run_one relay-gso-on 4 relay on || status=1
    fi
    ((round == rounds)) || sleep 1
done

params="$(printf '{"verify":%s,"rounds":%s,"duration":%s,"warmup":%s,"batch":%s,"threads":%s,"cids":%s,"size":%s,"rate":%s,"flows":%s,"gro":"%s","port_base":%s,"relay_dll":"%s"}' \
    "$verify" "$rounds" "$duration" "$warmup" "$batch" "$threads" "$cids" "$size" "$rate" "$flows" "$gro" "$port_base" "$relay_dll")"
python3 "$here/tools/summarize.py" --run-dir "$rundir" --params "$params" \
    --out "$here/results/relay-vs-reference-$stamp.json" || status=1
cp -f "$here/results/relay-vs-reference-$stamp.json" "$here/results/relay-vs-reference-latest.json" 2>/dev/null || true
exit "$status"
