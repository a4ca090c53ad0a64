#!/usr/bin/env bash
# Quick self-test of the perf tools (about 10 s, loopback only).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/selftest.sh [--port-base P] [--help]
Builds the C tools and checks, on 127.0.0.1 ports P..P+3 (default 47200):
  1. routes output is deterministic and matches the generator's CIDs
  2. loadgen -> sink --verify (direct): every datagram intact, paced rate respected
  3. loadgen -> ref-forwarder -> sink --verify: all forwarded, none corrupted
  4. ref-forwarder handles long headers, misses and malformed datagrams
  5. flamegraph.sh checks its options (profiles themselves: tests/QuicPipe.Cli.Tests/ProfilingTests.cs)
  6. relay-e2e.sh parses its options, and its summarizer gets medians, ratio and relay CPU per
     packet right on a synthetic run (no dotnet needed; the benchmark itself takes about a minute)
USAGE
}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"
port_base=47200
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --port-base) [[ $# -ge 2 ]] || fail "--port-base needs a value"; port_base="$2"; shift 2 ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
check_int --port-base "$port_base"
work="$(mktemp -d /tmp/qp-selftest.XXXXXX)"
trap 'cleanup_started; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
B="$here/build"
p0=$port_base p1=$((port_base + 1)) p2=$((port_base + 2)) p3=$((port_base + 3))
for p in $p0 $p1 $p2 $p3; do port_in_use "$p" && fail "UDP port $p is in use (use --port-base)"; done
"$here/build.sh"
ok() { printf 'ok   %s\n' "$*"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# 1. routes
"$B/udp-loadgen" routes --cids 1000 --seed 7 --sink 127.0.0.1:$p1 >"$work/r1"
"$B/udp-loadgen" routes --cids 1000 --seed 7 --sink 127.0.0.1:$p1 >"$work/r2"
cmp -s "$work/r1" "$work/r2" || fail "routes output is not deterministic"
[[ "$(cut -d' ' -f1 "$work/r1" | sort -u | wc -l)" == 1000 ]] || fail "routes CIDs are not distinct"
grep -qvE '^[0-9a-f]{24} 127\.0\.0\.1:[0-9]+$' "$work/r1" && fail "routes lines are malformed"
"$B/udp-loadgen" routes --cids 2 --sink "[::1]:$p1" | grep -qE '^[0-9a-f]{24} \[::1\]:[0-9]+$' || fail "IPv6 routes format"
ok "routes: deterministic, distinct, well-formed (IPv4 and IPv6)"

# 2. direct loadgen -> sink
start_bg "$work/s.out" "$work/s.err" "$B/udp-sink" --listen 127.0.0.1:$p1 --duration 3 --verify --size 300
wait_udp_listening $p1 $QP_LAST_PID 5 || fail "sink did not start"
sink=$QP_LAST_PID
gen="$("$B/udp-loadgen" --target 127.0.0.1:$p1 --duration 1.5 --cids 1000 --seed 7 --size 300 --rate 20000 --batch 16)"
wait_pid_timeout $sink 10 || fail "sink failed: $(cat "$work/s.err")"
summary="$(grep summary "$work/s.out")"
sent="$(json_field "$gen" sent)"
got="$(json_field "$summary" packets)"
[[ "$(json_field "$summary" mismatches)" == 0 ]] || fail "sink found corrupted datagrams: $summary"
((sent >= 27000 && sent <= 30500)) || fail "paced 20000 pps for 1.5 s sent $sent"
((got * 100 >= sent * 99)) || fail "sink got $got of $sent"
ok "loadgen -> sink: $sent sent at 20k pps, $got received intact"

# 3. through the reference forwarder
"$B/udp-loadgen" routes --cids 1000 --seed 7 --sink 127.0.0.1:$p1 >"$work/routes"
start_bg "$work/s.out" "$work/s.err" "$B/udp-sink" --listen 127.0.0.1:$p1 --duration 4 --verify --size 1200
wait_udp_listening $p1 $QP_LAST_PID 5 || fail "sink did not start"
sink=$QP_LAST_PID
start_bg "$work/f.out" "$work/f.err" "$B/ref-forwarder" --listen 127.0.0.1:$p0 --routes "$work/routes" --threads 2 --duration 10
wait_udp_listening $p0 $QP_LAST_PID 5 || fail "ref-forwarder did not start: $(cat "$work/f.err")"
fwd=$QP_LAST_PID
gen="$("$B/udp-loadgen" --target 127.0.0.1:$p0 --duration 1 --cids 2000 --seed 7 --rate 20000)"
sleep 0.5
stop_pid $fwd 5 || fail "ref-forwarder exited with an error"
wait_pid_timeout $sink 10 || true
summary="$(grep summary "$work/s.out")"
counters="$(cat "$work/f.out")"
sent="$(json_field "$gen" sent)"
[[ "$(json_field "$summary" mismatches)" == 0 ]] || fail "forwarded datagrams were corrupted: $summary"
fwd_n="$(json_field "$counters" forwarded)"
miss="$(json_field "$counters" dropped_miss)"
# CIDs 1000..1999 are not in the routes: about half the datagrams miss.
((fwd_n + miss == sent)) || fail "forwarded $fwd_n + missed $miss != sent $sent"
((fwd_n * 100 >= sent * 45 && fwd_n * 100 <= sent * 55)) || fail "forwarded $fwd_n of $sent, expected about half"
ok "ref-forwarder (2 threads): $fwd_n forwarded, $miss missed of $sent, all intact"

# 4. header handling
start_bg "$work/s.out" "$work/s.err" "$B/udp-sink" --listen 127.0.0.1:$p3 --duration 2
wait_udp_listening $p3 $QP_LAST_PID 5 || fail "sink did not start"
sink=$QP_LAST_PID
"$B/udp-loadgen" routes --cids 3 --sink 127.0.0.1:$p3 >"$work/r3"
start_bg "$work/f.out" "$work/f.err" "$B/ref-forwarder" --listen 127.0.0.1:$p2 --routes "$work/r3" --duration 10
wait_udp_listening $p2 $QP_LAST_PID 5 || fail "ref-forwarder did not start"
fwd=$QP_LAST_PID
python3 - "$work/r3" "$p2" <<'PY'
import socket, sys
cids = [bytes.fromhex(l.split()[0]) for l in open(sys.argv[1])]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = ("127.0.0.1", int(sys.argv[2]))
s.sendto(bytes([0x41]) + cids[0] + b"x" * 20, d)                                       # short, hit
s.sendto(bytes([0xC3, 0, 0, 0, 1, 12]) + cids[1] + bytes([8]) + b"s" * 8 + b"p" * 30, d)  # long, hit
s.sendto(bytes([0xC3, 0, 0, 0, 1, 8]) + cids[2][:8] + b"p" * 30, d)                     # long, 8-byte DCID
s.sendto(bytes([0x41]) + b"\0" * 12 + b"x" * 20, d)                                     # short, miss
s.sendto(bytes([0x41]) + b"\1" * 5, d)                                                  # too short
s.sendto(bytes([0xC3, 0, 0, 0, 1, 12]) + cids[1][:4], d)                                # truncated long
PY
sleep 0.3
stop_pid $fwd 5 || fail "ref-forwarder exited with an error"
c="$(cat "$work/f.out")"
[[ "$(json_field "$c" forwarded)" == 2 && "$(json_field "$c" dropped_miss)" == 1 && "$(json_field "$c" dropped_malformed)" == 3 ]] \
    || fail "header handling: $c"
ok "ref-forwarder: short and long headers forwarded, 1 miss and 3 malformed dropped"

# 5. flamegraph.sh: option handling (recording a profile is ProfilingTests' job, in CI: it needs dotnet and root)
"$here/flamegraph.sh" --help | grep -q 'dotnet-trace collect' || fail "flamegraph.sh --help"
"$here/flamegraph.sh" --profilers gprof 2>/dev/null && fail "flamegraph.sh accepted --profilers gprof"
refused="$("$here/flamegraph.sh" --target ref --profilers dotnet-trace 2>&1)" && fail "flamegraph.sh accepted dotnet-trace for the C reference"
[[ "$refused" == *'.NET processes only'* ]] || fail "flamegraph.sh: $refused"
ok "flamegraph.sh: options (profilers checked against the target)"
# 6. relay-e2e: option handling and the summary arithmetic on a synthetic run
"$here/relay-e2e.sh" --help | grep -q 'relayed/direct' || fail "relay-e2e.sh --help"
"$here/relay-e2e.sh" --rounds 0 2>/dev/null && fail "relay-e2e.sh accepted --rounds 0"
stats() { echo "{\"forwarded\":$1,\"received\":$1,\"gc0\":0,\"dropped_by_reason\":{\"unknown_cid\":$2}}"; }
relayed() { echo "{\"mode\":\"$1\",\"ok\":true,\"mb_per_s\":$2,\"gc_gen0\":0,\"relay\":{\"before\":$(stats 0 0),\"after\":$(stats "$3" "$4"),\"cpu_ticks\":$5,\"wall_s\":2}}"; }
{
    echo '{"mode":"direct","ok":true,"mb_per_s":100,"gc_gen0":0}'
    relayed relayed 50 1000000 0 200
    echo '{"mode":"direct","ok":true,"mb_per_s":80,"gc_gen0":0}'
    relayed relayed 60 1000000 3 300
    relayed setup 0 10 0 50
} >"$work/e2e.jsonl"
python3 "$here/tools/summarize-e2e.py" "$work/e2e.jsonl" "$work/e2e.json" 100 1000 >/dev/null
python3 - "$work/e2e.json" <<'PY' || fail "summarize-e2e.py arithmetic"
import json, sys
d = json.load(open(sys.argv[1]))
# medians 90 and 55; setup 0.5 s off 2 s and 3 s of relay CPU over 1M packets each: 1.5 and 2.5 us.
assert d["direct_mb_per_s"] == 90 and d["relayed_mb_per_s"] == 55, d
assert d["ratio_relayed_direct"] == round(55 / 90, 3) and d["round_ratios"] == [0.5, 0.75], d
assert d["relay_cpu_us_per_forwarded_packet"] == 2.0 and d["relay_setup_cpu_s"] == 0.5, d
assert d["runs"][3]["relay"]["dropped"] == {"unknown_cid": 3}, d
PY
ok "relay-e2e.sh: options, and summary medians, ratio, relay CPU per packet net of setup"
echo "selftest: all passed"
