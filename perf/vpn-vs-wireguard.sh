#!/usr/bin/env bash
# `quicpipe vpn` against wireguard-go (and the bare veth link as the ceiling), in a namespace lab of its own:
# iperf3 TCP with one and four streams, ping round-trip time, and the tunnel processes' CPU seconds per GB moved,
# in alternating rounds of one run; medians, min-max spread and the ratios quicpipe/wireguard-go.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/vpn-vs-wireguard.sh [options]        (needs root)

Makes two network namespaces of its own (names qpvw<PID>a / qpvw<PID>b), joined by a veth pair
  A 192.0.2.1/24 <-> B 192.0.2.2/24     (these addresses exist only inside the two namespaces)
and three ways from A to B over that link:
  veth          the link itself (192.0.2.2): the ceiling, no tunnel
  wireguard-go  wireguard-go in A (wg<PID>a, 10.200.0.1/24) and B (wg<PID>b, 10.200.0.2/24), its defaults
                (MTU 1420), keys from `wg genkey`, endpoints on the veth addresses
  quicpipe      quicpipe relay in B on 192.0.2.2:7000, quicpipe vpn in A (100.64.0.1/24) and B (100.64.0.2/24),
                each listing the other as its peer; a ping triggers the dial, and nothing is measured before
                A's vpn printed `path: direct 192.0.2.x:...` (the connection starts relayed)
quicpipe is set up first and wireguard-go after its direct path is up, so quicpipe never sees wireguard's
addresses as path candidates; every `path:` line is checked to stay on 192.0.2.0/24.

Each round measures each way (the order rotates from round to round), through the tunnel from A to B
(iperf3 servers in B bound to the tunnel address):
  tcp1  iperf3 -c for --seconds, one TCP stream: received bits/s (-J, end.sum_received)
  tcp4  the same with -P 4
  rtt   ping -c --pings -i 0.01: the median of the per-packet times (the summary's avg is kept too)
  cpu   utime+stime (/proc/PID/stat) of the tunnel's own processes around each TCP run, per GB received:
        quicpipe vpn A + vpn B + relay; wireguard-go A + B (veth: none)
  and, to see where packets were lost: TCP retransmits, UDP socket buffer overflows (nstat) and the interfaces'
  drop counters (ip -s link) per run; quicpipe vpn runs with --stats-interval 1s (its drops by reason)
Before round 1, a 2 s iperf3 run per way warms up (JIT, TCP caches); it is not measured.
Prints a table (median and min-max over rounds per way) and the ratios quicpipe/wireguard-go of the medians
(throughput 1 and 4 streams, RTT, CPU per GB) with the range of the same-round ratios; writes the raw runs
and a JSON summary to perf/results/vpn-vs-wireguard-STAMP/ (+ vpn-vs-wireguard-latest.json).

Options:
  --seconds S   iperf3 duration per run                      [default 5]
  --rounds R    rounds over the three ways                   [default 3]
  --pings N     pings per RTT measurement (0.01 s apart)     [default 50]
  --qp-mtu N    pass --mtu N to quicpipe vpn                 [default: quicpipe's own, 1400]
  --qp-no-offload  pass --no-offload to quicpipe vpn (one packet per TUN read and write), to measure the offloads
  --no-build    use the existing Release build of src/QuicPipe.Cli
  -h, --help    this text
Needs root, ip, iperf3, ping, python3, dotnet, and wireguard-go + wg: if wireguard-go or wg is missing the
script installs them with `apt-get install -y wireguard-go wireguard-tools`.
With the defaults it takes about 2-3 minutes (plus the build). Every command has a timeout; every process
started is stopped, the namespaces deleted and wireguard-go's control sockets removed on exit, Ctrl-C or failure.
Numbers from a busy machine are noise: compare the ratios of one run, on a quiet machine, with --rounds 3+.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

seconds=5
rounds=3
pings=50
qp_mtu=""
qp_offload_args=()
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --seconds) need "$@"; seconds="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --pings) need "$@"; pings="$2"; shift 2 ;;
        --qp-mtu) need "$@"; qp_mtu="$2"; shift 2 ;;
        --qp-no-offload) qp_offload_args=(--no-offload); shift ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in seconds rounds pings; do check_int "--$v" "${!v}"; done
((seconds >= 1 && seconds <= 60)) || fail "--seconds must be 1..60"
((rounds >= 1 && rounds <= 10)) || fail "--rounds must be 1..10"
((pings >= 5 && pings <= 1000)) || fail "--pings must be 5..1000"
if [[ -n "$qp_mtu" ]]; then
    check_int --qp-mtu "$qp_mtu"
    ((qp_mtu >= 576 && qp_mtu <= 9000)) || fail "--qp-mtu must be 576..9000"
fi
[[ "$(id -u)" == 0 ]] || fail "needs root: creates network namespaces, TUN devices and wireguard-go interfaces"
for tool in ip iperf3 ping python3 dotnet timeout; do
    command -v "$tool" >/dev/null || fail "$tool is needed (bash scripts/setup.sh)"
done
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
    log "installing wireguard-go and wireguard-tools (apt-get)"
    timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wireguard-go wireguard-tools >&2 \
        || fail "apt-get install wireguard-go wireguard-tools failed"
fi

# The lab: names of our own, so concurrent runs and other labs do not collide. Interface names stay under 15
# characters; wireguard-go's control socket /var/run/wireguard/NAME.sock is shared by all namespaces, so the two
# wireguard interfaces need distinct names, and names no other run uses.
tag="$$"
ns_a="qpvw${tag}a"
ns_b="qpvw${tag}b"
link_a=192.0.2.1 link_b=192.0.2.2
wg_a="wg${tag}a" wg_b="wg${tag}b"
wg_ip_a=10.200.0.1 wg_ip_b=10.200.0.2
wg_port_a=51820 wg_port_b=51821
qp_ip_a=100.64.0.1 qp_ip_b=100.64.0.2
relay_port=7000
ways=(veth wireguard-go quicpipe)
declare -A target=([veth]="$link_b" [wireguard-go]="$wg_ip_b" [quicpipe]="$qp_ip_b")
declare -A iperf_port=([veth]=5201 [wireguard-go]=5202 [quicpipe]=5203)
declare -A way_pids=([veth]="" [wireguard-go]="" [quicpipe]="")

stamp="$(date +%Y%m%d-%H%M%S)"
results="$repo/perf/results/vpn-vs-wireguard-$stamp"
mkdir -p "$results"
work="$(mktemp -d /tmp/qp-vpn-vs-wg.XXXXXX)" # keys only; logs and raw runs go to $results
fg_pid=""

cleanup() {
    if [[ -n "$fg_pid" ]] && is_alive "$fg_pid"; then kill -TERM "$fg_pid" 2>/dev/null || true; fi
    cleanup_started
    local ns pid
    for ns in "$ns_a" "$ns_b"; do
        # Whatever still runs inside our own namespaces (a timed-out command's child) goes with them.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -f "/var/run/wireguard/$wg_a.sock" "/var/run/wireguard/$wg_b.sock"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

in_a() { ip netns exec "$ns_a" "$@"; }
in_b() { ip netns exec "$ns_b" "$@"; }

# run_bounded SECS OUT ERR CMD...: CMD under timeout, waited for in the background so Ctrl-C acts at once.
run_bounded() {
    local secs="$1" out="$2" err="$3" rc=0
    shift 3
    timeout -k 2 "$secs" "$@" >"$out" 2>"$err" &
    fg_pid=$!
    wait "$fg_pid" || rc=$?
    fg_pid=""
    return "$rc"
}

# wait_line PATTERN TIMEOUT_S PID FILE...: until an extended regex matches a line of one of the FILEs; fails if
# PID ends first.
wait_line() {
    local pattern="$1" timeout="$2" pid="$3" i
    shift 3
    for ((i = 0; i < timeout * 10; i++)); do
        grep -Eqs -- "$pattern" "$@" && return 0
        is_alive "$pid" || return 2
        sleep 0.1
    done
    return 1
}

show() { # show FILE...: the last lines of each, for failure messages
    local f
    for f in "$@"; do printf -- '--- %s\n' "${f#"$results"/}" >&2; tail -n 20 "$f" >&2 || true; done
}

dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
if ((build)); then
    log "building src/QuicPipe.Cli (Release)"
    run_bounded 600 "$results/build.log" "$results/build.log.err" \
        dotnet build "$repo/src/QuicPipe.Cli" -c Release -nologo -v quiet \
        || { tail -n 30 "$results/build.log" >&2; fail "dotnet build failed"; }
fi
[[ -f "$dll" ]] || fail "$dll is missing (build src/QuicPipe.Cli, or drop --no-build)"

{
    echo "wireguard-go: $(timeout 10 wireguard-go --version 2>&1 | head -n 1)"
    echo "iperf3: $(iperf3 --version 2>&1 | head -n 1)"
    echo "dotnet: $(timeout 30 dotnet --version 2>&1 | head -n 1)"
    echo "kernel: $(uname -r)"
    echo "quicpipe: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
} >"$results/versions.txt"
log "$(head -n 1 "$results/versions.txt"); raw files in $results"

log "lab: namespaces $ns_a, $ns_b; veth $link_a <-> $link_b"
for ns in "$ns_a" "$ns_b"; do
    [[ ! -e "/var/run/netns/$ns" ]] || fail "namespace $ns already exists"
done
for s in "$wg_a" "$wg_b"; do
    [[ ! -e "/var/run/wireguard/$s.sock" ]] || fail "/var/run/wireguard/$s.sock already exists"
done
ip netns add "$ns_a"
ip netns add "$ns_b"
ip -n "$ns_a" link add veth0 type veth peer name veth0 netns "$ns_b"
ip -n "$ns_a" addr add "$link_a/24" dev veth0
ip -n "$ns_b" addr add "$link_b/24" dev veth0
for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
done
timeout 10 ip netns exec "$ns_a" ping -c 1 -W 5 "$link_b" >/dev/null || fail "the veth link does not answer"

# --- quicpipe: keys, relay in B, a vpn in each namespace ---
log "quicpipe: relay in B on $link_b:$relay_port, vpn in A ($qp_ip_a) and B ($qp_ip_b)"
node_id() { grep -o '[a-z2-7]\{52\}' "$1" | head -1; }
for k in relay a b; do
    timeout 60 dotnet "$dll" keygen --out "$work/$k.key" >"$work/$k.id" 2>"$results/keygen-$k.err" \
        || { show "$results/keygen-$k.err"; fail "quicpipe keygen failed"; }
done
relay_id="$(node_id "$work/relay.id")" a_id="$(node_id "$work/a.id")" b_id="$(node_id "$work/b.id")"
[[ -n "$relay_id" && -n "$a_id" && -n "$b_id" ]] || fail "quicpipe keygen printed no NodeId"

start_bg "$results/relay.out" "$results/relay.err" \
    ip netns exec "$ns_b" dotnet "$dll" relay --listen "$link_b:$relay_port" --key "$work/relay.key" \
    --threads 1 --stats-interval 0
relay_pid="$QP_LAST_PID"
way_pids[quicpipe]+="$relay_pid "
wait_line "Relay running" 30 "$relay_pid" "$results/relay.out" "$results/relay.err" \
    || { show "$results/relay.out" "$results/relay.err"; fail "the relay did not start"; }

mtu_args=()
[[ -z "$qp_mtu" ]] || mtu_args=(--mtu "$qp_mtu")
start_vpn() { # start_vpn SIDE NS KEY ADDRESS PEER_ID PEER_ADDRESS
    start_bg "$results/vpn-$1.out" "$results/vpn-$1.err" \
        ip netns exec "$2" dotnet "$dll" vpn --relay "$link_b:$relay_port" --relay-id "$relay_id" --key "$3" \
        --address "$4/24" --peer "$5=$6/32" --tun qp0 --stats-interval 1s "${mtu_args[@]}" "${qp_offload_args[@]}"
    way_pids[quicpipe]+="$QP_LAST_PID "
}
start_vpn a "$ns_a" "$work/a.key" "$qp_ip_a" "$b_id" "$qp_ip_b"
vpn_a_pid="$QP_LAST_PID"
start_vpn b "$ns_b" "$work/b.key" "$qp_ip_b" "$a_id" "$qp_ip_a"
vpn_b_pid="$QP_LAST_PID"
for side in a b; do
    pid_var="vpn_${side}_pid"
    wait_line '^vpn up: ' 30 "${!pid_var}" "$results/vpn-$side.err" \
        || { show "$results/vpn-$side.err" "$results/relay.out"; fail "vpn $side did not come up"; }
done
log "$(grep -h '^vpn up: ' "$results/vpn-a.err") / $(grep -h '^vpn up: ' "$results/vpn-b.err")"

# The first packet dials (relayed); the connection moves to the direct path on its own. Ping until it did.
direct_line=""
for ((i = 0; i < 40; i++)); do
    timeout 5 ip netns exec "$ns_a" ping -c 1 -W 1 "$qp_ip_b" >>"$results/dial-ping.out" 2>&1 || true
    direct_line="$(grep -m1 '^path: direct ' "$results/vpn-a.err" || true)"
    [[ -z "$direct_line" ]] || break
    if ! is_alive "$vpn_a_pid" || ! is_alive "$vpn_b_pid"; then break; fi
    nap 0.5
done
if [[ -z "$direct_line" ]]; then
    show "$results/vpn-a.err" "$results/vpn-b.err" "$results/dial-ping.out"
    fail "quicpipe vpn A printed no 'path: direct' line within ~20 s (measuring only the direct path)"
fi
log "vpn A: $(grep -m1 '^path: relayed ' "$results/vpn-a.err" || echo 'no relayed line')"
log "vpn A: $direct_line"
[[ "$direct_line" == "path: direct 192.0.2."* ]] || fail "the direct path is not on the veth link: $direct_line"

# --- wireguard-go: foreground (-f; WG_PROCESS_FOREGROUND=1 also silences its "use the kernel module" banner),
# backgrounded by us so we hold its PID ---
log "wireguard-go: $wg_a in A ($wg_ip_a), $wg_b in B ($wg_ip_b)"
mkdir -p /var/run/wireguard
(umask 077 && wg genkey >"$work/wg-a.key" && wg genkey >"$work/wg-b.key")
wg_pub_a="$(wg pubkey <"$work/wg-a.key")" wg_pub_b="$(wg pubkey <"$work/wg-b.key")"
start_wg() { # start_wg SIDE NS IFACE
    start_bg "$results/wireguard-$1.out" "$results/wireguard-$1.err" \
        ip netns exec "$2" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$3"
    way_pids[wireguard-go]+="$QP_LAST_PID "
    local pid="$QP_LAST_PID" i
    for ((i = 0; i < 100; i++)); do
        [[ -S "/var/run/wireguard/$3.sock" ]] && ip -n "$2" link show "$3" >/dev/null 2>&1 && return 0
        is_alive "$pid" || break
        sleep 0.1
    done
    show "$results/wireguard-$1.out" "$results/wireguard-$1.err"
    fail "wireguard-go $3 did not come up"
}
start_wg a "$ns_a" "$wg_a"
start_wg b "$ns_b" "$wg_b"
timeout 10 ip netns exec "$ns_a" wg set "$wg_a" listen-port "$wg_port_a" private-key "$work/wg-a.key" \
    peer "$wg_pub_b" endpoint "$link_b:$wg_port_b" allowed-ips "$wg_ip_b/32"
timeout 10 ip netns exec "$ns_b" wg set "$wg_b" listen-port "$wg_port_b" private-key "$work/wg-b.key" \
    peer "$wg_pub_a" endpoint "$link_a:$wg_port_a" allowed-ips "$wg_ip_a/32"
ip -n "$ns_a" addr add "$wg_ip_a/24" dev "$wg_a"
ip -n "$ns_b" addr add "$wg_ip_b/24" dev "$wg_b"
ip -n "$ns_a" link set "$wg_a" up
ip -n "$ns_b" link set "$wg_b" up
timeout 15 ip netns exec "$ns_a" ping -c 3 -i 0.2 -W 5 "$wg_ip_b" >"$results/wg-ping.out" 2>&1 \
    || { show "$results/wg-ping.out" "$results/wireguard-a.out" "$results/wireguard-b.out"; fail "no ping through wireguard-go"; }
for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" -d link show >>"$results/links.txt" 2>&1 || true
done
for side in a b; do # the tunnels' UDP sockets with their buffer sizes (skmem rb/tb), for reading the drops
    ns="$ns_a"
    [[ $side == a ]] || ns="$ns_b"
    { echo "# $side"; timeout 10 ip netns exec "$ns" ss -uanmp; } >>"$results/udp-sockets.txt" 2>&1 || true
done
timeout 10 ip netns exec "$ns_a" wg show "$wg_a" >"$results/wg-show.txt" 2>&1 || true
timeout 10 ip netns exec "$ns_b" wg show "$wg_b" >>"$results/wg-show.txt" 2>&1 || true
log "MTUs: veth $(ip -n "$ns_a" -o link show veth0 | grep -o 'mtu [0-9]*'), $wg_a $(ip -n "$ns_a" -o link show "$wg_a" | grep -o 'mtu [0-9]*'), qp0 $(ip -n "$ns_a" -o link show qp0 | grep -o 'mtu [0-9]*')"

# --- iperf3 servers in B, one per way, bound to the tunnel address ---
for way in "${ways[@]}"; do
    start_bg "$results/iperf-server-$way.out" "$results/iperf-server-$way.err" \
        ip netns exec "$ns_b" iperf3 -s -B "${target[$way]}" -p "${iperf_port[$way]}"
done
for way in "${ways[@]}"; do
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(ip netns exec "$ns_b" ss -Hltn "sport = :${iperf_port[$way]}")" ]] && break
        sleep 0.1
    done
    ((i < 100)) || { show "$results/iperf-server-$way.err"; fail "iperf3 server for $way did not listen"; }
done

runs="$results/runs.tsv"
printf 'round\tway\tkind\tvalue\tcpu_ticks\tbytes\tretransmits\textra\n' >"$runs"
way_ticks() { # way_ticks WAY: CPU clock ticks of the way's processes so far (0 for veth)
    local total=0 pid t
    for pid in ${way_pids[$1]}; do
        t="$(cpu_ticks "$pid")" || fail "tunnel process $pid ($1) is gone"
        total=$((total + t))
    done
    echo "$total"
}
check_alive() {
    local pid
    for pid in ${way_pids[wireguard-go]} ${way_pids[quicpipe]}; do
        is_alive "$pid" || { show "$results"/vpn-*.err "$results"/wireguard-*.out "$results/relay.out"; fail "a tunnel process ($pid) exited"; }
    done
}

# counters reset | counters FILE.nstat: the namespaces' SNMP counters (nstat, own history files) since the last
# reset, and the interfaces' counters (ip -s link) into FILE.links.
counters() {
    local ns side
    for side in a b; do
        ns="$ns_a"
        [[ $side == a ]] || ns="$ns_b"
        if [[ "$1" == reset ]]; then
            NSTAT_HISTORY="$work/nstat-$side" timeout 10 ip netns exec "$ns" nstat -n >/dev/null 2>&1 || true
        else
            echo "# $side" >>"$1"
            NSTAT_HISTORY="$work/nstat-$side" timeout 10 ip netns exec "$ns" nstat >>"$1" 2>&1 || true
            # and the interfaces' cumulative packet and drop counters (TUN queues, veth)
            timeout 10 ip -n "$ns" -s link show >>"${1%.nstat}.links" 2>&1 || true
        fi
    done
}

tcp_run() { # tcp_run ROUND WAY STREAMS SECONDS: one iperf3 run from A; appends to runs.tsv (ROUND 0: warm-up)
    local round="$1" way="$2" streams="$3" secs="$4" before after name="r$1-$2-tcp$3"
    counters reset
    before="$(way_ticks "$way")"
    run_bounded $((secs + 20)) "$results/$name.json" "$results/$name.err" \
        ip netns exec "$ns_a" iperf3 -c "${target[$way]}" -p "${iperf_port[$way]}" -t "$secs" -P "$streams" -J \
        || { show "$results/$name.json" "$results/$name.err"; check_alive; fail "iperf3 $way -P $streams failed"; }
    after="$(way_ticks "$way")"
    counters "$results/$name.nstat"
    python3 - "$results/$name.json" "$round" "$way" "tcp$streams" $((after - before)) "$results/$name.nstat" >>"$runs" <<'PY'
import json, sys
path, rnd, way, kind, ticks, nstat = sys.argv[1:]
doc = json.load(open(path))
if "error" in doc or "sum_received" not in doc.get("end", {}):
    sys.exit(f"iperf3 {way} {kind}: {doc.get('error', 'no end.sum_received in its JSON')}")
end = doc["end"]
rx = end["sum_received"]
# Where packets were lost in the run: UDP receive/send buffer overflows (the tunnels' sockets) per namespace.
drops = {}
side = ""
for line in open(nstat):
    words = line.split()
    if words and words[0] == "#":
        side = words[1]
    elif len(words) >= 2 and words[0] in ("UdpRcvbufErrors", "UdpSndbufErrors"):
        drops[side + "." + words[0]] = words[1]
extra = " ".join(f"{k}={v}" for k, v in sorted(drops.items()))
print(f"{rnd}\t{way}\t{kind}\t{rx['bits_per_second'] / 1e6:.1f}\t{ticks}\t{rx['bytes']}\t{end['sum_sent'].get('retransmits', '')}\t{extra}")
PY
}

rtt_run() { # rtt_run ROUND WAY: ping from A through the way; median of the per-packet times
    local name="r$1-$2-ping"
    run_bounded $((pings / 50 + 30)) "$results/$name.out" "$results/$name.err" \
        ip netns exec "$ns_a" ping -n -c "$pings" -i 0.01 -W 2 "${target[$2]}" || true
    python3 - "$results/$name.out" "$1" "$2" "$pings" >>"$runs" <<'PY'
import re, statistics, sys
path, rnd, way, count = sys.argv[1:]
text = open(path).read()
times = [float(t) for t in re.findall(r"time=([0-9.]+) ms", text)]
if not times:
    sys.exit(f"no ping answers through {way}: {text[-500:]}")
avg = re.search(r"= [0-9.]+/([0-9.]+)/", text)
loss = 100.0 * (1 - len(times) / int(count))
print(f"{rnd}\t{way}\trtt\t{statistics.median(times):.4f}\t\t\t\tavg={avg.group(1) if avg else ''} loss={loss:.0f}%")
PY
}

log "warm-up: 2 s of iperf3 per way (not measured)"
for way in "${ways[@]}"; do tcp_run 0 "$way" 1 2; done

total=$((rounds * ${#ways[@]}))
n=0
for ((r = 1; r <= rounds; r++)); do
    for ((k = 0; k < ${#ways[@]}; k++)); do
        way="${ways[$(((k + r - 1) % ${#ways[@]}))]}" # rotate the order: each way goes first once in three rounds
        n=$((n + 1))
        tcp_run "$r" "$way" 1 "$seconds"
        tcp_run "$r" "$way" 4 "$seconds"
        rtt_run "$r" "$way"
        check_alive
        log "[$n/$total] round $r $way: $(awk -F'\t' -v r="$r" -v w="$way" '$1 == r && $2 == w {printf "%s %s  ", $3, $4}' "$runs")"
    done
done

# The path must have stayed direct on the veth link the whole time.
path_ok=1
for side in a b; do
    while read -r line; do
        [[ "$line" == "path: direct 192.0.2."* ]] || { log "vpn $side: $line"; path_ok=0; }
    done < <(grep -h '^path: ' "$results/vpn-$side.err" | sed '1,/^path: direct /d')
done
((path_ok)) || log "WARNING: quicpipe's path changed during the measurement (lines above); its figures are suspect"

python3 - "$runs" "$results" "$rounds" "$seconds" "$pings" "$path_ok" "${#qp_offload_args[@]}" <<'PY'
import json, os, statistics, sys
runs_path, results, rounds, seconds, pings, path_ok, no_offload = sys.argv[1:]
tck = os.sysconf("SC_CLK_TCK")
ways = ["veth", "wireguard-go", "quicpipe"]
rows = [l.rstrip("\n").split("\t") for l in open(runs_path)][1:]
data = {}  # (way, metric) -> {round: value}
for rnd, way, kind, value, ticks, nbytes, retr, extra in rows:
    rnd = int(rnd)
    if rnd == 0:
        continue
    data.setdefault((way, kind), {})[rnd] = float(value)
    if kind.startswith("tcp") and way != "veth":
        data.setdefault((way, "cpu" + kind[3:]), {})[rnd] = int(ticks) / tck / (int(nbytes) / 1e9)

def stat(way, metric):
    vals = list(data.get((way, metric), {}).values())
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}

def cell(s, fmt):
    if s is None:
        return "-"
    if len(s["runs"]) == 1:
        return fmt.format(s["median"])
    return (fmt + " ({}-{})").format(s["median"], fmt.format(s["min"]), fmt.format(s["max"]))

metrics = [("tcp1", "tcp 1 stream Mbit/s", "{:.0f}"), ("tcp4", "tcp 4 streams Mbit/s", "{:.0f}"),
           ("rtt", "rtt ms", "{:.3f}"), ("cpu1", "CPU-s/GB 1 str", "{:.2f}"), ("cpu4", "CPU-s/GB 4 str", "{:.2f}")]
summary = {w: {m: stat(w, m) for m, _, _ in metrics} for w in ways}
print(f"\nmedian (min-max) over {rounds} round(s), {seconds} s per iperf3 run, {pings} pings; A -> B")
table = [["way"] + [m[1] for m in metrics]]
table += [[w] + [cell(summary[w][m], f) for m, _, f in metrics] for w in ways]
widths = [max(len(row[i]) for row in table) + 3 for i in range(len(table[0]))]
for row in table:
    print("".join(c.ljust(wd) for c, wd in zip(row, widths)).rstrip())

print("\nlosses, summed over the rounds (tcp1 / tcp4): TCP retransmits; UDP socket buffer overflows in A and B")
for w in ways:
    parts = []
    for kind in ("tcp1", "tcp4"):
        sel = [r for r in rows if r[1] == w and r[2] == kind and r[0] != "0"]
        retr = sum(int(r[6] or 0) for r in sel)
        udp = {}
        for r in sel:
            for kv in r[7].split():
                k, v = kv.split("=")
                udp[k] = udp.get(k, 0) + int(v)
        parts.append(f"{retr} retr" + ("".join(f", {k} {v}" for k, v in sorted(udp.items()))))
    print(f"  {w:13s} " + "  /  ".join(parts))

ratios = {}
print("\nquicpipe / wireguard-go (ratio of medians; same-round ratios min-max):")
for m, label, _ in metrics:
    q, g = data.get(("quicpipe", m), {}), data.get(("wireguard-go", m), {})
    if not q or not g:
        continue
    med = statistics.median(q.values()) / statistics.median(g.values())
    same = [q[r] / g[r] for r in q if r in g and g[r] > 0]
    ratios[m] = {"ratio_of_medians": med, "same_round": same}
    better = "higher is better" if m.startswith("tcp") else "lower is better"
    print(f"  {label:22s} {med:6.2f}x   ({min(same):.2f}-{max(same):.2f})   {better}")
for m in ("tcp1", "tcp4"):
    med = {w: statistics.median(data[(w, m)].values()) for w in ways}
    print(f"  share of the bare veth link, {m}: quicpipe {med['quicpipe'] / med['veth']:.2f}, "
          f"wireguard-go {med['wireguard-go'] / med['veth']:.2f}")
if path_ok != "1":
    print("  WARNING: quicpipe's path left the direct veth path during the run (see the log)")

versions = dict(l.rstrip("\n").split(": ", 1) for l in open(os.path.join(results, "versions.txt")) if ": " in l)
doc = {"params": {"rounds": int(rounds), "seconds": int(seconds), "pings": int(pings), "quicpipe_offload": no_offload == "0"}, "versions": versions,
       "host": {"nproc": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3], "kernel": os.uname().release},
       "quicpipe_path_stayed_direct": path_ok == "1", "summary": summary, "ratios_quicpipe_over_wireguard_go": ratios,
       "runs": [dict(zip(["round", "way", "kind", "value", "cpu_ticks", "bytes", "retransmits", "extra"], r)) for r in rows]}
out = os.path.join(results, "summary.json")
json.dump(doc, open(out, "w"), indent=2)
latest = os.path.join(os.path.dirname(results), "vpn-vs-wireguard-latest.json")
json.dump(doc, open(latest, "w"), indent=2)
print(f"\nraw runs and logs: {results}/")
PY
grep -h '^path: ' "$results/vpn-a.err" | head -n 4 >&2 || true
# quicpipe's own counters at the end (cumulative; drops by reason: where its lost packets went)
for side in a b; do
    printf 'vpn %s: %s\n' "$side" "$(grep -h '^stats: vpn ' "$results/vpn-$side.err" | tail -n 1)" >&2
done
