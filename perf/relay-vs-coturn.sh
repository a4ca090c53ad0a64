#!/usr/bin/env bash
# QuicPipe relay vs coturn (the TURN server people run to relay UDP between peers), one run on loopback.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/relay-vs-coturn.sh [options]

Relays the same datagrams (same size, same offered rate, same number of source sockets) to one
udp-sink through, alternately in each round:
  1. coturn's turnserver at its defaults (relay threads = CPUs), anonymous (--no-auth, so it spends
     nothing on credentials); each udp-loadgen flow allocates a relayed address, binds a channel to
     the sink and sends ChannelData (4-byte header + the datagram)
  2. quicpipe relay at its defaults (GSO on), with a routes file mapping the datagrams' CIDs to the sink
Reports delivered packets/s at the sink, each relay's CPU (utime+stime of the process, all threads)
per delivered packet, which is CPU-seconds per million packets in us, the one-way delay from the
generator to the sink after the warm-up (p50/p99/p99.9/max; same host, same clock), and the
same-round ratios quicpipe/coturn. Target (issue 16): cpu/packet ratio <= 0.33. Table on stdout, JSON in perf/results/.
Everything runs on 127.0.0.1 and stops by itself.

Options (environment variable in brackets):
  --duration S     measured window, seconds             [QP_PERF_DURATION, default 10]
  --warmup S       warm-up before the window, seconds   [QP_PERF_WARMUP, default 3]
  --rate PPS       offered rate, 0 = as fast as the generator goes [QP_PERF_RATE, default 50000]
  --size BYTES     datagram size the sink receives      [QP_PERF_SIZE, default 1200]
  --flows F        generator sockets (TURN allocations) [QP_PERF_FLOWS, default 4]
  --pace-us US     the generator sends what is due every US microseconds [QP_PERF_PACE_US, default 1000];
                   smaller is smoother traffic (bursts of rate*US/1e6 datagrams)
  --relay-args A   extra arguments for quicpipe relay, e.g. "--threads 1" [QP_PERF_RELAY_ARGS]
  --rounds N       alternating rounds; medians and spread reported [QP_PERF_ROUNDS, default 3]
  --port-base P    UDP ports P..P+3, and coturn's relay ports P+10..P+99 [QP_PERF_PORT_BASE, default 47300]
  --relay-dll PATH use this quicpipe.dll instead of building src/QuicPipe.Cli [QUICPIPE_DLL]
  --no-build       do not rebuild (use existing perf/build and relay build)
  -h, --help       this text

Needs turnserver (Debian package coturn; scripts/setup.sh installs it).
Exit status: 0 if every run delivered traffic, 1 otherwise.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

duration="${QP_PERF_DURATION:-10}"
warmup="${QP_PERF_WARMUP:-3}"
rate="${QP_PERF_RATE:-50000}"
size="${QP_PERF_SIZE:-1200}"
flows="${QP_PERF_FLOWS:-4}"
pace_us="${QP_PERF_PACE_US:-1000}"
relay_args="${QP_PERF_RELAY_ARGS:-}"
rounds="${QP_PERF_ROUNDS:-3}"
port_base="${QP_PERF_PORT_BASE:-47300}"
relay_dll="${QUICPIPE_DLL:-}"
build=1
cid_len=12
cids=1000
seed=1

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --duration) need "$@"; duration="$2"; shift 2 ;;
        --warmup) need "$@"; warmup="$2"; shift 2 ;;
        --rate) need "$@"; rate="$2"; shift 2 ;;
        --pace-us) need "$@"; pace_us="$2"; shift 2 ;;
        --relay-args) need "$@"; relay_args="$2"; shift 2 ;;
        --size) need "$@"; size="$2"; shift 2 ;;
        --flows) need "$@"; flows="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --port-base) need "$@"; port_base="$2"; shift 2 ;;
        --relay-dll) need "$@"; relay_dll="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in duration warmup rate size flows rounds port_base; do check_int "--${v//_/-}" "${!v}"; done
((duration >= 1 && duration <= 600)) || fail "--duration must be 1..600 s"
((warmup >= 2 && warmup <= 120)) || fail "--warmup must be 2..120 s (the relay's first 1 s stats line opens the window)"
((rounds >= 1 && rounds <= 20)) || fail "--rounds must be 1..20"
((flows >= 1 && flows <= 64)) || fail "--flows must be 1..64"
((size >= 21 && size <= 1400)) || fail "--size must be 21..1400 bytes"
((port_base >= 1024 && port_base <= 65400)) || fail "--port-base must be 1024..65400"
command -v turnserver >/dev/null || fail "turnserver is needed (apt-get install -y coturn)"
command -v python3 >/dev/null || fail "python3 is needed (apt-get install -y python3)"
command -v ss >/dev/null || fail "ss is needed (apt-get install -y iproute2)"

trap 'cleanup_started' EXIT
trap 'log "interrupted"; cleanup_started; exit 130' INT TERM

if ((build)); then
    log "building C tools"
    "$here/build.sh"
fi
for t in udp-loadgen udp-sink; do
    [[ -x "$here/build/$t" ]] || fail "perf/build/$t is missing: run perf/build.sh"
done
if [[ -z "$relay_dll" ]]; then
    relay_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
    if ((build)); then
        log "building the relay: dotnet build -c Release src/QuicPipe.Cli"
        (cd "$repo" && DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet build -c Release src/QuicPipe.Cli -nologo -v q) >&2 ||
            fail "dotnet build -c Release src/QuicPipe.Cli failed"
    fi
fi
[[ -f "$relay_dll" ]] || fail "relay binary not found at $relay_dll"

stamp="$(date +%Y%m%d-%H%M%S)"
rundir="$here/results/relay-vs-coturn-$stamp"
mkdir -p "$rundir"
clk_tck="$(getconf CLK_TCK)"
log "results in $rundir"
relay_port=$port_base
sink_port=$((port_base + 1))

# run_one NAME KIND: KIND = coturn | quicpipe. Writes NAME/{meta,sink.out,fwd.*,loadgen.*} under the round.
run_one() {
    local name="$1" kind="$2"
    local dir="$rundir/round-$round/$name"
    mkdir -p "$dir"
    # summarize.py reads a "ref" forwarder's counters from fwd.out; coturn prints none, which it tolerates.
    { echo "name=$name"; echo "kind=$([[ $kind == coturn ]] && echo ref || echo relay)"; echo "clk_tck=$clk_tck"; } >"$dir/meta"
    for p in "$relay_port" "$sink_port"; do
        if port_in_use "$p"; then
            echo "error=UDP port $p is already in use (choose another --port-base)" >>"$dir/meta"
            return 1
        fi
    done
    local total=$((warmup + duration))
    start_bg "$dir/sink.out" "$dir/sink.err" "$here/build/udp-sink" --listen "127.0.0.1:$sink_port" \
        --duration $((total + 40)) --size "$size" --cid-length "$cid_len" --verify \
        --latency --latency-skip "$warmup"
    local sink_pid=$QP_LAST_PID
    if ! wait_udp_listening "$sink_port" "$sink_pid" 5; then
        echo "error=udp-sink did not start: $(tail -n 3 "$dir/sink.err" | tr '\n' ' ')" >>"$dir/meta"
        return 1
    fi

    local -a cmd gen_extra=()
    if [[ "$kind" == coturn ]]; then
        # Loopback peers must be allowed explicitly; TCP/TLS/DTLS listeners and the CLI are off because
        # nothing uses them; everything else is coturn's default.
        cmd=(turnserver -n --no-auth --listening-ip 127.0.0.1 --listening-port "$relay_port"
            --relay-ip 127.0.0.1 --min-port $((port_base + 10)) --max-port $((port_base + 99))
            --allow-loopback-peers --no-tls --no-dtls --no-tcp --no-tcp-relay --no-cli
            --log-file stdout --simple-log --pidfile "$dir/turnserver.pid")
        gen_extra=(--turn-peer "127.0.0.1:$sink_port")
    else
        "$here/build/udp-loadgen" routes --cids "$cids" --cid-length "$cid_len" --seed "$seed" \
            --sink "127.0.0.1:$sink_port" >"$dir/routes.txt"
        cmd=(dotnet "$relay_dll" relay --listen "127.0.0.1:$relay_port" --routes "$dir/routes.txt"
            --cid-length "$cid_len" --stats-interval 1s --stats-format json)
        # Word splitting is the point: the flags as one would type them.
        # shellcheck disable=SC2206
        cmd+=($relay_args)
    fi
    printf '%q ' "${cmd[@]}" >"$dir/command"
    start_bg "$dir/fwd.out" "$dir/fwd.err" "${cmd[@]}"
    local fwd_pid=$QP_LAST_PID
    if ! wait_udp_listening "$relay_port" "$fwd_pid" 30; then
        echo "error=$name did not bind 127.0.0.1:$relay_port; stderr: $(tail -n 5 "$dir/fwd.err" | tr '\n' ' ')" >>"$dir/meta"
        stop_pid "$fwd_pid" || true
        stop_pid "$sink_pid" || true
        return 1
    fi

    log "$name: $rate pps offered (0 = unpaced), ${warmup}s warm-up + ${duration}s window"
    start_bg "$dir/loadgen.out" "$dir/loadgen.err" "$here/build/udp-loadgen" --target "127.0.0.1:$relay_port" \
        --duration $((total + 1)) --cids "$cids" --cid-length "$cid_len" --seed "$seed" --size "$size" \
        --rate "$rate" --pace-us "$pace_us" --flows "$flows" --timestamp "${gen_extra[@]}"
    local gen_pid=$QP_LAST_PID
    nap "$warmup"
    local c0 t0 c1 t1
    c0="$(cpu_ticks "$fwd_pid")" || c0=""
    t0="$(date +%s.%N)"
    echo "err_size0=$(stat -c %s "$dir/fwd.err")" >>"$dir/meta"
    nap "$duration"
    c1="$(cpu_ticks "$fwd_pid")" || c1=""
    t1="$(date +%s.%N)"
    echo "err_size1=$(stat -c %s "$dir/fwd.err")" >>"$dir/meta"
    { echo "t0=$t0"; echo "t1=$t1"; echo "cpu0=$c0"; echo "cpu1=$c1"; } >>"$dir/meta"
    [[ -n "$c0" && -n "$c1" ]] || echo "error=$name exited during the window; stderr: $(tail -n 5 "$dir/fwd.err" | tr '\n' ' ')" >>"$dir/meta"
    wait_pid_timeout "$gen_pid" 15 || echo "error=udp-loadgen failed: $(tail -n 3 "$dir/loadgen.err" | tr '\n' ' ')" >>"$dir/meta"
    sleep 0.5
    if [[ "$kind" == coturn ]]; then
        kill -TERM "$fwd_pid" 2>/dev/null || true # turnserver ignores SIGINT; SIGTERM stops it at once
    fi
    stop_pid "$fwd_pid" 10 || true
    stop_pid "$sink_pid" 5 || true
    return 0
}

status=0
for ((round = 1; round <= rounds; round++)); do
    log "round $round of $rounds"
    # Alternate which goes first, so a drift in the machine's load does not favour one side.
    if ((round % 2)); then order=(coturn quicpipe); else order=(quicpipe coturn); fi
    for kind in "${order[@]}"; do
        run_one "$kind" "$kind" || status=1
        sleep 1
    done
done

params="$(printf '{"rounds":%s,"duration":%s,"warmup":%s,"rate":%s,"pace_us":%s,"size":%s,"flows":%s,"port_base":%s,"relay_dll":"%s","relay_args":"%s","turnserver":"%s"}' \
    "$rounds" "$duration" "$warmup" "$rate" "$pace_us" "$size" "$flows" "$port_base" "$relay_dll" "$relay_args" \
    "$(dpkg-query -W -f '${Version}' coturn 2>/dev/null || echo unknown)")"
python3 "$here/tools/summarize.py" --run-dir "$rundir" --params "$params" --forwarders coturn,quicpipe \
    --tool perf/relay-vs-coturn.sh --out "$here/results/relay-vs-coturn-$stamp.json" || status=1
cp -f "$here/results/relay-vs-coturn-$stamp.json" "$here/results/relay-vs-coturn-latest.json" 2>/dev/null || true
exit "$status"
