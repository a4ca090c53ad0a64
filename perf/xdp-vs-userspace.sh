#!/usr/bin/env bash
# The relay with --xdp against the same relay without it, same traffic, same run, in a netns lab.
# Default load: pkt-loadgen (AF_PACKET TX ring) and xdp-sink (an XDP counter) on the generator's side, which
# cost far less per packet than the relay path; --gen socket brings back udp-loadgen and udp-sink.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/xdp-vs-userspace.sh [options]        (needs root)

Builds the C tools and the relay, then makes a lab of two network namespaces it creates itself,
joined by one veth pair:
  gen   (10.201.X.2): the load generator and the sink; tx checksum offload off
  relay (10.201.X.1): quicpipe relay
and runs, one after the other with the same load and routes:
  1. quicpipe relay                      (userspace: recvmmsg -> lookup -> sendmmsg)
  2. quicpipe relay --xdp IFACE          (routed packets rewritten and bounced by XDP_TX in the driver)
Reports, per packet, the XDP program's own run time (kernel.bpf_stats_enabled is on for the run:
run_time_ns / run_cnt of the attached program) against the userspace relay's CPU-ns per forwarded
packet (issue 16's targets: the program <= 100 ns at 100k routes, userspace/program >= 5x); and
forwarded packets/s (what reached the sink in the measured window) for each and the ratio
xdp/userspace (issue 5's target: >= 3), with the relay process's and the generator process's CPU and
the whole machine's busy CPU in the window (with veth, the driver work, the relay's XDP program
included, runs in the sender's softirq, so it shows up in the generator's CPU column).

Load generator and sink (--gen):
  packet  pkt-loadgen: pre-built Ethernet/IPv4/UDP frames written into an AF_PACKET TX ring with qdisc
          bypass (UDP checksum 0, allowed for IPv4), and xdp-sink: an XDP program on the generator's
          veth end that counts and drops the datagrams to the sink's port (read once a second from
          its per-CPU map). Both cost far less per packet than the sockets below; what is left on
          the generator's CPU is mostly the relay side's driver and receive work, which veth runs
          in the sender's softirq (see the gen CPUs column).
  socket  udp-loadgen (sendmmsg through the UDP stack) and udp-sink (recvmmsg), with xdp-pass on the
          generator's veth end: the tools of the 2026-11-22 figures in perf/RESULTS.md.
Both send the same datagrams: the same CIDs, sizes and payload layout.
Results: a table on stdout and JSON in perf/results/.
Nothing is sent outside the two namespaces; both are deleted on exit, Ctrl-C or failure.

Options (environment variable in brackets):
  --duration S     measured window, seconds             [QP_PERF_DURATION, default 8]
  --warmup S       warm-up before the window, seconds   [QP_PERF_WARMUP, default 2]
  --cids N         distinct CIDs / routes (issue 16 measures 10000, 100000, 1000000) [QP_PERF_CIDS, default 10000]
  --random-cids    packet generator only: frames take the CIDs in no order instead of cycling in the order the
                   routes were added, which lets a table whose memory follows insertion order (the old LRU hash)
                   hit consecutive memory [QP_PERF_RANDOM_CIDS=1]
  --size BYTES     datagram size                        [QP_PERF_SIZE, default 256]
  --rate PPS       loadgen rate, 0 = as fast as possible [QP_PERF_RATE, default 0]
  --flows F        loadgen source ports                 [QP_PERF_FLOWS, default 4]
  --gen packet|socket  load generator and sink, see above [QP_PERF_GEN, default packet]
  --gen-threads N  pkt-loadgen sending threads          [QP_PERF_GEN_THREADS, default 1]
  --threads N      relay receive loops                  [QP_PERF_THREADS, default 1]
  --xdp-mode M     native|generic                       [QP_PERF_XDP_MODE, default native]
  --threaded-napi on|off  run both veth ends' NAPI in kernel threads [QP_PERF_THREADED_NAPI, default off]
                   On: the relay side's driver work (where XDP runs) gets a CPU of its own, as a NIC's
                   receive queue would, instead of running in the load generator's softirq. Off: all
                   driver work lands on the sender's CPU, and with XDP the load generator is the limit.
  --relay-dll PATH use this quicpipe.dll instead of building src/QuicPipe.Cli [QUICPIPE_DLL]
  --no-build       do not rebuild (use existing perf/build and relay build)
  -h, --help       this text

Exit status: 0 if both runs forwarded traffic, 1 otherwise. Each process is bounded by a timeout.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

duration="${QP_PERF_DURATION:-8}"
warmup="${QP_PERF_WARMUP:-2}"
cids="${QP_PERF_CIDS:-10000}"
random_cids=()
[[ "${QP_PERF_RANDOM_CIDS:-0}" == 1 ]] && random_cids=(--random-cids)
size="${QP_PERF_SIZE:-256}"
rate="${QP_PERF_RATE:-0}"
flows="${QP_PERF_FLOWS:-4}"
threads="${QP_PERF_THREADS:-1}"
xdp_mode="${QP_PERF_XDP_MODE:-native}"
threaded_napi="${QP_PERF_THREADED_NAPI:-off}"
gen="${QP_PERF_GEN:-packet}"
gen_threads="${QP_PERF_GEN_THREADS:-1}"
relay_dll="${QUICPIPE_DLL:-}"
build=1
cid_len=12
seed=1
relay_port=47000
sink_port=47001

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --duration) need "$@"; duration="$2"; shift 2 ;;
        --warmup) need "$@"; warmup="$2"; shift 2 ;;
        --cids) need "$@"; cids="$2"; shift 2 ;;
        --random-cids) random_cids=(--random-cids); shift ;;
        --size) need "$@"; size="$2"; shift 2 ;;
        --rate) need "$@"; rate="$2"; shift 2 ;;
        --flows) need "$@"; flows="$2"; shift 2 ;;
        --threads) need "$@"; threads="$2"; shift 2 ;;
        --xdp-mode) need "$@"; xdp_mode="$2"; shift 2 ;;
        --threaded-napi) need "$@"; threaded_napi="$2"; shift 2 ;;
        --gen) need "$@"; gen="$2"; shift 2 ;;
        --gen-threads) need "$@"; gen_threads="$2"; shift 2 ;;
        --relay-dll) need "$@"; relay_dll="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in duration warmup cids size rate flows threads gen_threads; do check_int "--$v" "${!v}"; done
((duration >= 1 && duration <= 120)) || fail "--duration must be 1..120 s"
((warmup <= 30)) || fail "--warmup must be at most 30 s"
((threads >= 1 && threads <= 64)) || fail "--threads must be 1..64"
((cids >= 1 && cids <= 1000000)) || fail "--cids must be 1..1000000"
((size >= 64 && size <= 1400)) || fail "--size must be 64..1400 (one veth MTU)"
[[ "$xdp_mode" == native || "$xdp_mode" == generic ]] || fail "--xdp-mode must be native or generic"
[[ "$threaded_napi" == on || "$threaded_napi" == off ]] || fail "--threaded-napi must be on or off"
[[ "$gen" == packet || "$gen" == socket ]] || fail "--gen must be packet or socket"
((gen_threads >= 1 && gen_threads <= 64)) || fail "--gen-threads must be 1..64"
((flows >= 1 && flows <= 256)) || fail "--flows must be 1..256"
[[ "$(id -u)" == 0 ]] || fail "needs root: creates network namespaces and loads XDP programs"
for tool in ip ethtool python3 clang dotnet bpftool sysctl; do
    command -v "$tool" >/dev/null || fail "$tool is needed (scripts/setup.sh installs it)"
done

# The relay holds every route of the run (its default table is 262,144); the XDP map is sized to the table.
table_capacity=$((cids > 262144 ? cids : 262144))

# The lab: names and a subnet of our own, so concurrent runs and other labs do not collide.
tag="$$"
ns_gen="qpxb-$tag-g"
ns_relay="qpxb-$tag-r"
if_gen="qxbg0"
if_relay="qxbr0"
subnet=$((RANDOM % 250 + 1))
relay_ip="10.201.$subnet.1"
gen_ip="10.201.$subnet.2"

# The kernel times every BPF program run while kernel.bpf_stats_enabled is 1 (a few ns each): on for the run, so the
# relay's program reports its own run_time_ns / run_cnt, and back to what it was afterwards.
bpf_stats_before="$(sysctl -n kernel.bpf_stats_enabled)"
cleanup() {
    cleanup_started
    ip netns del "$ns_gen" 2>/dev/null || true
    ip netns del "$ns_relay" 2>/dev/null || true
    sysctl -qw "kernel.bpf_stats_enabled=$bpf_stats_before" || true
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1
trap 'log "interrupted"; exit 130' INT TERM

if ((build)); then
    log "building C tools"
    "$here/build.sh"
fi
for t in udp-loadgen udp-sink pkt-loadgen xdp-sink xdp-sink.bpf.o; do
    [[ -e "$here/build/$t" ]] || fail "perf/build/$t is missing: run perf/build.sh"
done
pass_obj="$here/build/xdp-pass.o"
if [[ "$gen" == socket ]] && { ((build)) || [[ ! -f "$pass_obj" ]]; }; then
    mkdir -p "$here/build"
    clang -O2 -g -target bpf -Wall -Wextra -Werror -I"/usr/include/$(clang -print-multiarch)" \
        -c "$here/src/xdp-pass.c" -o "$pass_obj"
fi
if [[ -z "$relay_dll" ]]; then
    relay_dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
    if ((build)); then
        log "building the relay: dotnet build -c Release src/QuicPipe.Cli"
        (cd "$repo" && DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet build -c Release src/QuicPipe.Cli -nologo -v q) >&2 \
            || fail "dotnet build -c Release src/QuicPipe.Cli failed"
    fi
fi
[[ -f "$relay_dll" ]] || fail "relay binary not found at $relay_dll"

log "lab: $ns_gen ($gen_ip, $if_gen) <-veth-> $ns_relay ($relay_ip, $if_relay)"
ip netns add "$ns_gen"
ip netns add "$ns_relay"
ip -n "$ns_relay" link add "$if_relay" type veth peer name "$if_gen" netns "$ns_gen"
ip -n "$ns_relay" addr add "$relay_ip/24" dev "$if_relay"
ip -n "$ns_gen" addr add "$gen_ip/24" dev "$if_gen"
for pair in "$ns_relay:$if_relay" "$ns_gen:$if_gen"; do
    ip -n "${pair%%:*}" link set lo up
    ip -n "${pair%%:*}" link set "${pair#*:}" up
done
# The sender's frames must carry full UDP checksums (XDP cannot see CHECKSUM_PARTIAL; see bpf/README.md):
# matters for udp-loadgen only (pkt-loadgen's frames carry checksum 0, "none").
ip netns exec "$ns_gen" ethtool -K "$if_gen" tx off >/dev/null
# XDP_TX frames reach the gen side only while an XDP program runs there: xdp-sink (started with each
# run) in packet mode, xdp-pass for the whole lab in socket mode.
if [[ "$gen" == socket ]]; then
    ip -n "$ns_gen" link set dev "$if_gen" xdpdrv obj "$pass_obj" sec xdp
fi
relay_mac="$(ip netns exec "$ns_relay" cat "/sys/class/net/$if_relay/address")"
# The loadgen's CIDs are peer CIDs: the relay's XDP program passes CIDs with the top bit set (the
# relay's own namespace) to userspace, so random CIDs would leave half the traffic to userspace.
if [[ "$threaded_napi" == on ]]; then
    # veth has NAPI only with XDP or GRO on; GRO gives the relay side NAPI in the userspace run too,
    # and the gen side NAPI before xdp-sink attaches (packet mode: no program there between runs).
    ip netns exec "$ns_relay" ethtool -K "$if_relay" gro on >/dev/null
    ip netns exec "$ns_gen" ethtool -K "$if_gen" gro on >/dev/null
    ip netns exec "$ns_relay" sh -c "echo 1 > /sys/class/net/$if_relay/threaded"
    ip netns exec "$ns_gen" sh -c "echo 1 > /sys/class/net/$if_gen/threaded"
fi

stamp="$(date +%Y%m%d-%H%M%S)"
rundir="$here/results/xdp-vs-userspace-$stamp"
mkdir -p "$rundir"
"$here/build/udp-loadgen" routes --cids "$cids" --cid-length "$cid_len" --seed "$seed" --peer-cids \
    --sink "$gen_ip:$sink_port" >"$rundir/routes.txt"
log "results in $rundir"

# in_ns_listening NS PORT PID TIMEOUT_S: until something in NS binds UDP PORT; 2 if PID died first.
in_ns_listening() {
    local ns="$1" port="$2" pid="$3" timeout="$4" i
    for ((i = 0; i < timeout * 10; i++)); do
        is_alive "$pid" || return 2
        [[ -n "$(ip netns exec "$ns" ss -Huln "sport = :$port" 2>/dev/null)" ]] && return 0
        sleep 0.1
    done
    return 1
}

# busy_jiffies: jiffies every CPU spent not idle (user, nice, system, irq, softirq, steal) since boot.
busy_jiffies() {
    local cpu user nice system idle iowait irq softirq steal rest
    read -r cpu user nice system idle iowait irq softirq steal rest </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# sink_attached PID TIMEOUT_S ERRFILE: until xdp-sink says (in ERRFILE) it is attached; 2 if it died first.
sink_attached() {
    local pid="$1" timeout="$2" err="$3" i
    for ((i = 0; i < timeout * 10; i++)); do
        is_alive "$pid" || return 2
        grep -q '^xdp-sink: attached' "$err" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# start_sink DIR: xdp-sink (packet) or udp-sink (socket) in the gen namespace; sets QP_LAST_PID.
start_sink() {
    local dir="$1" bound=$((warmup + duration + 30))
    if [[ "$gen" == packet ]]; then
        start_bg "$dir/sink.out" "$dir/sink.err" ip netns exec "$ns_gen" "$here/build/xdp-sink" \
            --dev "$if_gen" --port "$sink_port" --duration "$bound" --obj "$here/build/xdp-sink.bpf.o"
        sink_attached "$QP_LAST_PID" 5 "$dir/sink.err"
    else
        start_bg "$dir/sink.out" "$dir/sink.err" ip netns exec "$ns_gen" "$here/build/udp-sink" \
            --listen "$gen_ip:$sink_port" --duration "$bound"
        in_ns_listening "$ns_gen" "$sink_port" "$QP_LAST_PID" 5
    fi
}

# start_load DIR SECONDS: the load generator in the gen namespace; sets QP_LAST_PID (its own pid:
# ip netns exec execs it, so its CPU ticks are the generator's).
start_load() {
    local dir="$1" secs="$2"
    if [[ "$gen" == packet ]]; then
        start_bg "$dir/loadgen.out" "$dir/loadgen.err" ip netns exec "$ns_gen" "$here/build/pkt-loadgen" \
            --dev "$if_gen" --dst-mac "$relay_mac" --src "$gen_ip" --target "$relay_ip:$relay_port" \
            --peer-cids --duration "$secs" --cids "$cids" --cid-length "$cid_len" --seed "$seed" --size "$size" \
            --rate "$rate" --flows "$flows" --threads "$gen_threads" "${random_cids[@]}"
    else
        start_bg "$dir/loadgen.out" "$dir/loadgen.err" ip netns exec "$ns_gen" "$here/build/udp-loadgen" \
            --target "$relay_ip:$relay_port" --allow-non-loopback --peer-cids --duration "$secs" --cids "$cids" \
            --cid-length "$cid_len" --seed "$seed" --size "$size" --rate "$rate" --flows "$flows"
    fi
}

# xdp_prog_stats: "run_time_ns run_cnt" of the XDP program attached to the relay's interface (nothing if none).
xdp_prog_stats() {
    local id
    id="$(ip netns exec "$ns_relay" bpftool -j net show dev "$if_relay" 2>/dev/null | python3 -c '
import json, sys
ids = [p["id"] for entry in json.load(sys.stdin) for p in entry.get("xdp", [])]
print(ids[0] if ids else "")')" || return 0
    [[ -n "$id" ]] || return 0
    bpftool -j prog show id "$id" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# run_one NAME [relay args...]: sink, relay, load; records the sink's and relay's counters at the
# start and the end of the measured window.
run_one() {
    local name="$1"
    shift
    local dir="$rundir/$name" total=$((warmup + duration))
    mkdir -p "$dir"
    start_sink "$dir" || { log "$name: the sink did not start:"; tail -n 5 "$dir/sink.err" >&2; return 1; }
    local sink_pid=$QP_LAST_PID

    # Not wrapped in timeout(1), so the pid is the relay's own (CPU ticks); stop_pid and the trap bound it.
    local -a cmd=(ip netns exec "$ns_relay" dotnet "$relay_dll" relay
        --listen "$relay_ip:$relay_port" --routes "$rundir/routes.txt" --cid-length "$cid_len"
        --threads "$threads" --stats-interval 1s --stats-format json --table-capacity "$table_capacity" "$@")
    printf '%q ' "${cmd[@]}" >"$dir/command"
    start_bg "$dir/relay.out" "$dir/relay.err" "${cmd[@]}"
    local relay_pid=$QP_LAST_PID
    if ! in_ns_listening "$ns_relay" "$relay_port" "$relay_pid" 30; then
        log "$name: relay did not start:"
        tail -n 5 "$dir/relay.err" >&2
        stop_pid "$sink_pid" || true
        return 1
    fi
    sleep 1 # the XDP attachment follows the bind

    log "$name: load for ${warmup}s warm-up + ${duration}s window"
    start_load "$dir" $((total + 1))
    local gen_pid=$QP_LAST_PID
    local loadavg
    read -r loadavg _ </proc/loadavg
    nap "$warmup"
    grep -a '"packets"' "$dir/sink.out" | tail -n 1 >"$dir/sink0.json" || true
    grep -a '"uptime_s"' "$dir/relay.err" | tail -n 1 >"$dir/relay0.json" || true
    { echo "relay_cpu0=$(cpu_ticks "$relay_pid" || echo)"; echo "gen_cpu0=$(cpu_ticks "$gen_pid" || echo)"
      echo "sys0=$(busy_jiffies)"; echo "t0=$(date +%s.%N)"; echo "loadavg=$loadavg"; } >"$dir/cpu"
    xdp_prog_stats >"$dir/bpf0"
    nap "$duration"
    grep -a '"packets"' "$dir/sink.out" | tail -n 1 >"$dir/sink1.json" || true
    grep -a '"uptime_s"' "$dir/relay.err" | tail -n 1 >"$dir/relay1.json" || true
    { echo "relay_cpu1=$(cpu_ticks "$relay_pid" || echo)"; echo "gen_cpu1=$(cpu_ticks "$gen_pid" || echo)"
      echo "sys1=$(busy_jiffies)"; echo "t1=$(date +%s.%N)"; } >>"$dir/cpu"
    xdp_prog_stats >"$dir/bpf1"
    wait_pid_timeout "$gen_pid" 15 || true
    stop_pid "$relay_pid" 10 || true
    stop_pid "$sink_pid" 5 || true
    log "$name: done"
}

status=0
run_one userspace || status=1
sleep 1
run_one xdp --xdp "$if_relay" --xdp-mode "$xdp_mode" || status=1

out="$here/results/xdp-vs-userspace-$stamp.json"
python3 - "$rundir" "$out" "$(getconf CLK_TCK)" "$duration" "$warmup" "$cids" "$size" "$rate" "$flows" "$threads" "$xdp_mode" "$threaded_napi" "$gen" "$gen_threads" "${#random_cids[@]}" <<'PY' || status=1
import json, sys
rundir, out, tck = sys.argv[1], sys.argv[2], float(sys.argv[3])
params = dict(zip(["duration", "warmup", "cids", "size", "rate", "flows", "threads", "xdp_mode", "threaded_napi",
                   "gen", "gen_threads", "random_cids"], sys.argv[4:]))

def cpu(path):
    try:
        with open(path) as f:
            kv = dict(line.strip().split("=", 1) for line in f if "=" in line)
        secs = float(kv["t1"]) - float(kv["t0"])
        def proc(p):
            a, b = kv.get(f"{p}_cpu0"), kv.get(f"{p}_cpu1")
            return (int(b) - int(a)) / tck / secs if a and b else None
        busy = (int(kv["sys1"]) - int(kv["sys0"])) / tck / secs
        return proc("relay"), proc("gen"), busy, kv.get("loadavg")
    except (OSError, KeyError, ValueError):
        return None, None, None, None

def last(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None

runs = {}
for name in ("userspace", "xdp"):
    s0, s1 = last(f"{rundir}/{name}/sink0.json"), last(f"{rundir}/{name}/sink1.json")
    r0, r1 = last(f"{rundir}/{name}/relay0.json"), last(f"{rundir}/{name}/relay1.json")
    gen = last(f"{rundir}/{name}/loadgen.out")
    run = {"sink_pps": None}
    if s0 and s1 and s1["ts"] > s0["ts"]:
        run["sink_pps"] = (s1["packets"] - s0["packets"]) / (s1["ts"] - s0["ts"])
    run["relay_process_cpus"], run["gen_process_cpus"], run["machine_busy_cpus"], run["loadavg_at_start"] = \
        cpu(f"{rundir}/{name}/cpu")
    if run["sink_pps"] and run["machine_busy_cpus"]:
        run["packets_per_busy_cpu_second"] = run["sink_pps"] / run["machine_busy_cpus"]
    if run["sink_pps"] and run["relay_process_cpus"] is not None:
        run["relay_process_cpu_ns_per_packet"] = run["relay_process_cpus"] / run["sink_pps"] * 1e9
    try:
        with open(f"{rundir}/{name}/bpf0") as f0, open(f"{rundir}/{name}/bpf1") as f1:
            (t0, c0), (t1, c1) = (map(int, f0.read().split())), (map(int, f1.read().split()))
        if c1 > c0:
            run["xdp_program_ns_per_packet"] = (t1 - t0) / (c1 - c0)
            run["xdp_program_runs"] = c1 - c0
    except (OSError, ValueError):
        pass
    if gen:
        run["loadgen_pps"] = gen.get("pps")
    if r0 and r1:
        secs = max(r1["uptime_s"] - r0["uptime_s"], 1e-3)
        run["relay_userspace_fwd_pps"] = (r1["forwarded"] - r0["forwarded"]) / secs
        if "xdp" in r1 and "xdp" in r0:
            run["xdp_tx_pps"] = (r1["xdp"]["tx"] - r0["xdp"]["tx"]) / secs
            run["xdp_miss"] = r1["xdp"]["miss"]
            run["xdp_mode"] = r1["xdp"]["mode"]
    runs[name] = run

u, x = runs["userspace"]["sink_pps"], runs["xdp"]["sink_pps"]
ratio = x / u if u and x else None
eu, ex = runs["userspace"].get("packets_per_busy_cpu_second"), runs["xdp"].get("packets_per_busy_cpu_second")
efficiency = ex / eu if eu and ex else None
# What the offload saves per packet: the userspace relay's CPU for one forwarded packet against the program's run time.
cpu_ratio = None
if runs["userspace"].get("relay_process_cpu_ns_per_packet") and runs["xdp"].get("xdp_program_ns_per_packet"):
    cpu_ratio = runs["userspace"]["relay_process_cpu_ns_per_packet"] / runs["xdp"]["xdp_program_ns_per_packet"]
result = {"params": params, "runs": runs, "ratio_xdp_over_userspace": ratio,
          "userspace_cpu_per_packet_over_xdp_program": cpu_ratio,
          "efficiency_ratio_xdp_over_userspace": efficiency, "target_ratio": 3.0}
with open(out, "w") as f:
    json.dump(result, f, indent=2)

def fmt(v):
    return "-" if v is None else f"{v:,.0f}"
def cpus(v):
    return "-" if v is None else f"{v:.2f}"
print(f"{'run':<10} {'forwarded pps (sink)':>21} {'loadgen pps':>12} {'userspace fwd pps':>18} {'xdp tx pps':>11}"
      f" {'relay CPUs':>10} {'gen CPUs':>8} {'busy CPUs':>9} {'pkts/busy CPU-s':>15}  load avg at start")
for name, run in runs.items():
    print(f"{name:<10} {fmt(run['sink_pps']):>21} {fmt(run.get('loadgen_pps')):>12} "
          f"{fmt(run.get('relay_userspace_fwd_pps')):>18} {fmt(run.get('xdp_tx_pps')):>11}"
          f" {cpus(run['relay_process_cpus']):>10} {cpus(run['gen_process_cpus']):>8} {cpus(run['machine_busy_cpus']):>9}"
          f" {fmt(run.get('packets_per_busy_cpu_second')):>15}  {run['loadavg_at_start'] or '-'}")
print("ratio xdp/userspace: " + ("-" if ratio is None else f"{ratio:.2f}x") + " forwarded pps (target >= 3x); "
      + ("-" if efficiency is None else f"{efficiency:.2f}x") + " packets per busy CPU-second")
us_ns, xdp_ns = runs["userspace"].get("relay_process_cpu_ns_per_packet"), runs["xdp"].get("xdp_program_ns_per_packet")
print(f"per packet: userspace relay {'-' if us_ns is None else f'{us_ns:.0f}'} CPU-ns; XDP program "
      f"{'-' if xdp_ns is None else f'{xdp_ns:.0f}'} ns (kernel.bpf_stats_enabled run_time_ns / run_cnt, "
      f"{params['cids']} routes); userspace/XDP " + ("-" if cpu_ratio is None else f"{cpu_ratio:.1f}x") + " (target >= 5x)")
print(f"json: {out}")
sys.exit(0 if u and x else 1)
PY
exit "$status"
