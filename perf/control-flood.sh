#!/usr/bin/env bash
# Floods against the relay's control service (issue 18 items 1-2), on 127.0.0.1 only, bounded in time:
#   two sources (127.0.0.2, 127.0.0.3) send Initial-shaped garbage as fast as they can, a third (127.0.0.4) replays
#   real client Initials at 5,000/s (handshakes that never complete), while
#   - an `accept` registered before the flood must stay registered: a dial to it at the end moves 1 MiB;
#   - N times, a new `accept` registers and a new `dial` to it moves 1 MiB: connect time = dial start -> the
#     accepter's first byte (dotnet start-up included), target <= 2 s in at least 9 of 10.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/control-flood.sh [options]
  --dll PATH        quicpipe.dll to run (default: what ./quicpipe runs, built by it if needed: ReadyToRun;
                    e.g. src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll, or an older build for "before")
  --tries N         new accept + dial pairs under the flood          [default 10]
  --replay-rate R   valid Initials per second from the replayer       [default 5000]
  --garbage-rate R  garbage datagrams per second per source, 0 = max  [default 0]
  --no-flood        the same tries without any flood (the baseline)
  --port P          relay port on 127.0.0.1                           [default 47433]
  -h, --help        this text
Prints per-try lines, a summary, the flood generators' counts and the relay's (its last JSON stats line, and its
QUIC endpoint's counters from --metrics); every log stays in perf/results/control-flood-TIME/. Every process
stops by itself (floods are bounded by a duration) or is killed on exit.
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=perf/tools/common.sh
source "$here/tools/common.sh"

dll=""
tries=10
replay_rate=5000
garbage_rate=0
flood=1
port=47433
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dll) need "$@"; dll="$2"; shift 2 ;;
        --tries) need "$@"; tries="$2"; shift 2 ;;
        --replay-rate) need "$@"; replay_rate="$2"; shift 2 ;;
        --garbage-rate) need "$@"; garbage_rate="$2"; shift 2 ;;
        --no-flood) flood=0; shift ;;
        --port) need "$@"; port="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) fail "unknown option $1 (try --help)" ;;
    esac
done
if [[ -z "$dll" ]]; then
    "$root/quicpipe" --version >/dev/null || fail "./quicpipe could not build the CLI"
    dll="$root/.build/cli/quicpipe.dll"
fi
[[ -f "$dll" ]] || fail "no $dll (dotnet build src/QuicPipe.Cli -c Release)"

work="$here/results/control-flood-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$work"
cleanup() {
    local pidfile
    # The accepters' dotnet processes (their pipelines' subshells are in QP_STARTED_PIDS).
    for pidfile in "$work"/*.pid; do
        [[ -f "$pidfile" ]] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    done
    cleanup_started
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The generator and the captured Initials.
mkdir -p "$here/build"
gcc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$here/build/initial-flood.$$" "$here/src/initial-flood.c" "$here/src/common.c"
mv -f "$here/build/initial-flood.$$" "$here/build/initial-flood"
bench="$here/QuicPipe.QuicBench/bin/Release/net10.0/QuicPipe.QuicBench.dll"
[[ -f "$bench" ]] || dotnet build "$here/QuicPipe.QuicBench" -c Release -v q -nologo >/dev/null
dotnet "$bench" initials 512 "$work/initials.bin"

now_ns() { date +%s%N; }
ms_between() { echo $((($2 - $1) / 1000000)); }
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
keygen() { dotnet "$dll" keygen --out "$1"; }

relay="127.0.0.1:$port"
metrics_port=$((port + 1))
relay_id=$(keygen "$work/relay.key")
head -c $((1024 * 1024)) /dev/urandom >"$work/payload"

start_bg /dev/null "$work/relay.log" dotnet "$dll" relay --listen "$relay" --key "$work/relay.key" \
    --stats-interval 1s --stats-format json --metrics "$metrics_port"
relay_pid=$QP_LAST_PID
wait_for "$work/relay.log" "Relay running" 30 || fail "relay did not start: $(tail -3 "$work/relay.log")"

# accept NAME: starts accepter NAME allowing its own dialer NAME-a (a dialer registers for each dial, and one
# identity's registrations are bounded), its stdout counted (first byte timed); sets accept_pid.
accept() {
    local name=$1 a_id
    keygen "$work/$name.key" >"$work/$name.id"
    a_id=$(keygen "$work/$name-a.key")
    ({
        dotnet "$dll" accept --relay "$relay" --relay-id "$relay_id" --key "$work/$name.key" --allow "$a_id" --timeout 20s \
            </dev/null 2>"$work/$name.log" &
        echo $! >"$work/$name.pid"
        wait
    } | { dd bs=1 count=1 status=none >/dev/null; now_ns >"$work/$name.first"; wc -c >"$work/$name.rest"; }) &
    accept_pid=$!
    QP_STARTED_PIDS+=("$accept_pid")
}

# dial NAME: dials the accepter NAME with the payload; prints "connect_ms received rc".
dial() {
    local name=$1 start rc=0
    start=$(now_ns)
    timeout 30 dotnet "$dll" dial --relay "$relay" --relay-id "$relay_id" --key "$work/$name-a.key" --timeout 20s \
        "$(cat "$work/$name.id")" <"$work/payload" >/dev/null 2>"$work/$name.dial.log" || rc=$?
    for ((i = 0; i < 100; i++)); do is_alive "$accept_pid" || break; sleep 0.1; done
    is_alive "$accept_pid" && kill -KILL "$(cat "$work/$name.pid")" 2>/dev/null
    local received=$(($([[ -s "$work/$name.first" ]] && echo 1 || echo 0) + $(cat "$work/$name.rest" 2>/dev/null || echo 0)))
    local connect=-
    [[ -s "$work/$name.first" ]] && connect=$(ms_between "$start" "$(cat "$work/$name.first")")
    echo "$connect $received $rc"
}

accept b0
b0_pid=$accept_pid
wait_for "$work/b0.log" "^accepting as" 30 || fail "the first accepter did not register: $(tail -3 "$work/b0.log")"

flood_seconds=$((30 + tries * 12))
if [[ $flood -eq 1 ]]; then
    for source in 127.0.0.2 127.0.0.3; do
        start_bg "$work/garbage-$source.json" "$work/garbage-$source.err" "$here/build/initial-flood" --target "$relay" \
            --duration "$flood_seconds" --mode garbage --source "$source" --rate "$garbage_rate"
    done
    start_bg "$work/replay.json" "$work/replay.err" "$here/build/initial-flood" --target "$relay" \
        --duration "$flood_seconds" --mode replay --initials "$work/initials.bin" --source 127.0.0.4 --rate "$replay_rate"
    flood_pids=("${QP_STARTED_PIDS[@]: -3}")
    sleep 3
    log "flooding: 2 garbage sources at ${garbage_rate:-max} pps (0 = max), replay at $replay_rate/s"
fi

ok=0
within=0
connects=()
printf '%-6s %10s %12s %9s  %s\n' "try" "register" "connect ms" "bytes" "check"
for ((t = 1; t <= tries; t++)); do
    name="b$t"
    reg_start=$(now_ns)
    accept "$name"
    if ! wait_for "$work/$name.log" "^accepting as" 25; then
        printf '%-6s %10s %12s %9s  %s\n' "$t" "-" "-" 0 "FAIL(accept did not register: $(tail -1 "$work/$name.log"))"
        kill -KILL "$(cat "$work/$name.pid")" 2>/dev/null || true
        stop_pid "$accept_pid" 2 || true
        continue
    fi
    reg_ms=$(ms_between "$reg_start" "$(now_ns)")
    read -r connect received rc < <(dial "$name")
    check="ok"
    if [[ $rc -ne 0 || $received -ne $((1024 * 1024)) ]]; then
        check="FAIL(rc $rc, $received B: $(tail -1 "$work/$name.dial.log"))"
    else
        ok=$((ok + 1))
        connects+=("$connect")
        [[ $connect != - && $connect -le 2000 ]] && within=$((within + 1))
    fi
    printf '%-6s %10s %12s %9s  %s\n' "$t" "$reg_ms" "$connect" "$received" "$check"
done

# The accepter registered before the flood: still there?
b0_alive=$(is_alive "$b0_pid" && echo yes || echo "no: $(tail -1 "$work/b0.log")")
accept_pid=$b0_pid
read -r b0_connect b0_received b0_rc < <(dial b0)

if [[ $flood -eq 1 ]]; then
    for pid in "${flood_pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${flood_pids[@]}"; do wait_pid_timeout "$pid" 5 || true; done
fi
sorted=$(printf '%s\n' "${connects[@]:-}" | sort -n)
median=$(awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }' <<<"$sorted")
worst=$(tail -1 <<<"$sorted")

echo
echo "dll: $dll"
echo "tries: $ok/$tries moved 1 MiB; $within/$tries connected within 2 s; connect ms median $median, worst ${worst:--}"
echo "accepter registered before the flood: alive at the end: $b0_alive; dial to it: connect ${b0_connect} ms, $b0_received B, rc $b0_rc"
if [[ $flood -eq 1 ]]; then
    echo "generators:"
    cat "$work"/garbage-*.json "$work/replay.json" 2>/dev/null | sed 's/^/  /'
fi
echo "relay, last stats line (JSON on stderr; dropped_by_reason, control):"
grep '"uptime_s"' "$work/relay.log" | tail -1 | python3 -c 'import json, sys
s = json.loads(sys.stdin.read())
print("  uptime", s["uptime_s"], "s, received", s["received"], "forwarded", s["forwarded"], "dropped", {k: v for k, v in s["dropped_by_reason"].items() if v})
print("  control", {k: v for k, v in s.get("control", {}).items() if v})' || true
echo "relay's QUIC endpoint (metrics):"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^quicpipe_quic_(connections_refused|initials|retries|connections_admitted|unroutable)' | sed 's/^/  /' || true
stop_pid "$relay_pid" 5 || true
echo "logs: $work"
