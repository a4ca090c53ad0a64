#!/usr/bin/env bash
# Issue 7: TCP throughput and added round-trip time of quicpipe forward -> expose against plain socat TCP
# forwarding and against ssh -L (OpenSSH), all on 127.0.0.1, in one run; prints the ratios.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/tunnel-vs-ssh.sh [options]

Starts on 127.0.0.1 only: an iperf3 server and a TCP echo server (perf/tools/tcp_rtt.py) as targets, then
four ways to reach them, each with its own local ports:
  plain    the targets themselves (the reference for added RTT)
  socat    socat TCP-LISTEN -> TCP forwarding (one user-space copy, no encryption)
  ssh      ssh -N -L to a throw-away sshd (own host key and client key in a scratch directory)
  quicpipe quicpipe relay + expose + forward (QUIC through the relay, then the direct path on loopback)
For each, in rounds: iperf3 -c for --seconds (TCP, one stream, reads received bits/s); then, once per round,
--pings one-byte ping-pongs through all four ways interleaved (one on each in turn, so all four are measured
over the same moments; median per way). Prints median throughput, the CPU time the way's own processes spent
per GB moved (socat with its forks; ssh and sshd with its session processes; quicpipe relay, expose and forward),
RTT per way and the RTT each adds over plain, and the same-round ratios quicpipe/ssh (throughput and RTT) and
quicpipe/socat, median and every round (issue 16's target: >= 1.5x ssh -L's throughput, RTT <= ssh -L's).

Options:
  --seconds S   iperf3 duration per run            [default 5]
  --rounds R    rounds over the four ways          [default 3]
  --pings N     ping-pongs per RTT measurement     [default 500]
  --no-build    use the existing Release build of src/QuicPipe.Cli
  -h, --help    this text
Needs: iperf3, socat, python3 (scripts/setup.sh installs them) and openssh-server + openssh-client
(apt-get install -y openssh-server; not in setup.sh, so CI machines get no sshd).
Everything started is stopped and the scratch directory removed on exit or Ctrl-C.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=tools/common.sh
source "$here/tools/common.sh"

seconds=5
rounds=3
pings=500
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --seconds) need "$@"; seconds="$2"; shift 2 ;;
        --rounds) need "$@"; rounds="$2"; shift 2 ;;
        --pings) need "$@"; pings="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done
for v in seconds rounds pings; do check_int "--$v" "${!v}"; done
((seconds >= 1 && seconds <= 60)) || fail "--seconds must be 1..60"
((rounds >= 1 && rounds <= 10)) || fail "--rounds must be 1..10"
for tool in iperf3 socat ssh ssh-keygen python3; do command -v "$tool" >/dev/null || fail "$tool is needed (bash scripts/setup.sh)"; done
[[ -x /usr/sbin/sshd ]] || fail "sshd is needed (apt-get install -y openssh-server)"

work="$(mktemp -d /tmp/qp-tunnel-vs-ssh.XXXXXX)"
trap 'cleanup_started; [[ -n "${QP_KEEP:-}" ]] || rm -rf "$work"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

dll="$repo/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
if ((build)); then
    log "building src/QuicPipe.Cli (Release)"
    dotnet build "$repo/src/QuicPipe.Cli" -c Release -nologo -v quiet >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; fail "dotnet build failed"; }
fi

# Ports: targets 47710 (iperf3) and 47711 (echo); each way adds its own pair.
iperf_port=47710 echo_port=47711 relay_port=47720 sshd_port=47721
declare -A ports=([plain]="47710 47711" [socat]="47730 47731" [ssh]="47740 47741" [quicpipe]="47750 47751")
# The processes that do each way's forwarding, for CPU per GB moved (their descendants are counted too).
declare -A way_pids=([plain]="" [socat]="" [ssh]="" [quicpipe]="")

wait_tcp() { # wait_tcp PORT: until something listens on 127.0.0.1:PORT (10 s)
    local i
    for ((i = 0; i < 100; i++)); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done
    fail "nothing listens on 127.0.0.1:$1"
}

log "targets: iperf3 on $iperf_port, echo on $echo_port"
start_bg "$work/iperf.out" "$work/iperf.err" iperf3 -s -B 127.0.0.1 -p "$iperf_port"
start_bg "$work/echo.out" "$work/echo.err" python3 "$here/tools/tcp_rtt.py" serve "$echo_port"
wait_tcp "$iperf_port"; wait_tcp "$echo_port"

log "socat forwarding"
for pair in "47730 $iperf_port" "47731 $echo_port"; do
    set -- $pair
    start_bg "$work/socat$1.out" "$work/socat$1.err" socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$2"
    way_pids[socat]+="$QP_LAST_PID "
done

log "sshd on $sshd_port and ssh -L"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
chmod 600 "$work/authorized_keys"
cat >"$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $sshd_port
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd.pid
AllowTcpForwarding local
CONF
mkdir -p /run/sshd
start_bg "$work/sshd.out" "$work/sshd.err" /usr/sbin/sshd -D -e -f "$work/sshd_config"
way_pids[ssh]+="$QP_LAST_PID "
wait_tcp "$sshd_port"
start_bg "$work/ssh.out" "$work/ssh.err" ssh -N -p "$sshd_port" -i "$work/client_key" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes -o BatchMode=yes \
    -L "127.0.0.1:47740:127.0.0.1:$iperf_port" -L "127.0.0.1:47741:127.0.0.1:$echo_port" "$(id -un)@127.0.0.1"
way_pids[ssh]+="$QP_LAST_PID "
wait_tcp 47740

log "quicpipe relay, expose, forward"
qp() { dotnet "$dll" "$@"; }
qp keygen --out "$work/relay.key" >/dev/null 2>&1
qp keygen --out "$work/a.key" >"$work/a.id" 2>/dev/null
qp keygen --out "$work/a2.key" >"$work/a2.id" 2>/dev/null
qp keygen --out "$work/b.key" >"$work/b.id" 2>/dev/null
a_id="$(grep -o '[a-z2-7]\{52\}' "$work/a.id" | head -1)"
a2_id="$(grep -o '[a-z2-7]\{52\}' "$work/a2.id" | head -1)"
b_id="$(grep -o '[a-z2-7]\{52\}' "$work/b.id" | head -1)"
way_pids[quicpipe]=""
start_bg "$work/relay.out" "$work/relay.err" dotnet "$dll" relay --listen "127.0.0.1:$relay_port" --key "$work/relay.key" --stats-interval 0
way_pids[quicpipe]+="$QP_LAST_PID "
sleep 2
start_bg "$work/expose.out" "$work/expose.err" dotnet "$dll" expose "$iperf_port" "$echo_port" --relay "127.0.0.1:$relay_port" --key "$work/b.key" --allow "$a_id" --allow "$a2_id"
way_pids[quicpipe]+="$QP_LAST_PID "
sleep 2
start_bg "$work/fwd1.out" "$work/fwd1.err" dotnet "$dll" forward 47750 "$b_id:$iperf_port" --relay "127.0.0.1:$relay_port" --key "$work/a.key"
way_pids[quicpipe]+="$QP_LAST_PID "
# Its own identity: one identity is one registration at the relay, so a second process with the same key
# would take the first one's routes.
start_bg "$work/fwd2.out" "$work/fwd2.err" dotnet "$dll" forward 47751 "$b_id:$echo_port" --relay "127.0.0.1:$relay_port" --key "$work/a2.key"
wait_tcp 47750; wait_tcp 47751
sleep 1 # the forwarders' connections move to the direct path within milliseconds; give them a moment

# tree_ticks PID...: CPU clock ticks (user + system) used by these processes, their live descendants (sshd's
# session processes) and the children they reaped (socat's per-connection forks).
tree_ticks() {
    local total=0 pid fields
    local -a queue=("$@")
    while ((${#queue[@]})); do
        pid="${queue[0]}"
        queue=("${queue[@]:1}")
        fields="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        total=$((total + $(awk '{print $12 + $13 + $14 + $15}' <<<"$fields")))
        # shellcheck disable=SC2207
        queue+=($(pgrep -P "$pid" || true))
    done
    echo "$total"
}

throughput() { # throughput PORT WAY -> "Mbit/s CPU-s-per-GB" (CPU of WAY's forwarding processes; - for plain)
    local before after
    # shellcheck disable=SC2086
    before="$(tree_ticks ${way_pids[$2]:-})"
    timeout $((seconds + 20)) iperf3 -c 127.0.0.1 -p "$1" -t "$seconds" -J >"$work/iperf.json" \
        || { cat "$work/iperf.json" >&2; fail "iperf3 through port $1 failed"; }
    # shellcheck disable=SC2086
    after="$(tree_ticks ${way_pids[$2]:-})"
    python3 -c '
import json, os, sys
run = json.load(open(sys.argv[1]))
if "error" in run or "sum_received" not in run.get("end", {}):
    sys.exit("iperf3: " + run.get("error", "no sum_received in its report"))
end = run["end"]["sum_received"]
ticks = int(sys.argv[3]) - int(sys.argv[2])
cpu = "-" if sys.argv[4] == "plain" else "%.2f" % (ticks / os.sysconf("SC_CLK_TCK") / (end["bytes"] / 1e9))
print("%.0f %s" % (end["bits_per_second"] / 1e6, cpu))' "$work/iperf.json" "$before" "$after" "$2"
}

declare -A mbit rtt cpu
ways=(plain socat ssh quicpipe)
for ((r = 1; r <= rounds; r++)); do
    rtt_ports=()
    for way in "${ways[@]}"; do
        set -- ${ports[$way]}
        out="$(throughput "$1" "$way")" || fail "iperf3 through $way (port $1) gave no result"
        read -r m c <<<"$out"
        mbit[$way]+="$m "
        cpu[$way]+="$c "
        rtt_ports+=("$2")
        log "round $r $way: $m Mbit/s, ${c} CPU-s per GB"
    done
    read -r -a t <<<"$(timeout 120 python3 "$here/tools/tcp_rtt.py" interleave "$pings" "${rtt_ports[@]}")"
    ((${#t[@]} == ${#ways[@]})) || fail "the round-trip measurement printed '${t[*]}'"
    for i in "${!ways[@]}"; do rtt[${ways[$i]}]+="${t[$i]} "; done
    log "round $r rtt us (interleaved): plain ${t[0]}, socat ${t[1]}, ssh ${t[2]}, quicpipe ${t[3]}"
done

median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-9s %12s %16s %10s %14s\n' way "Mbit/s" "CPU-s per GB" "rtt us" "added rtt us"
base_rtt="$(median "${rtt[plain]}")"
for way in "${ways[@]}"; do
    m="$(median "${mbit[$way]}")"; t="$(median "${rtt[$way]}")"
    c="-"; [[ $way == plain ]] || c="$(median "${cpu[$way]}")"
    printf '%-9s %12s %16s %10s %14s\n' "$way" "$m" "$c" "$t" "$((t - base_rtt))"
done
# Same-round ratios: each round's quicpipe against the ssh -L of that round, so the drift of a shared machine
# between rounds does not count as a difference between the ways.
python3 - "${mbit[quicpipe]}" "${mbit[ssh]}" "${mbit[socat]}" "${rtt[quicpipe]}" "${rtt[ssh]}" <<'PY'
import statistics, sys
qp, ssh, socat, qp_rtt, ssh_rtt = ([float(v) for v in a.split()] for a in sys.argv[1:])
def line(name, ratios, target):
    shown = " ".join(f"{r:.2f}" for r in ratios)
    print(f"{name}: median {statistics.median(ratios):.2f}x (rounds: {shown})   target: {target}")
print()
line("throughput quicpipe/ssh -L", [a / b for a, b in zip(qp, ssh)], ">= 1.5x")
line("throughput quicpipe/socat ", [a / b for a, b in zip(qp, socat)], "-")
line("rtt quicpipe/ssh -L       ", [a / b for a, b in zip(qp_rtt, ssh_rtt)], "<= 1.0x")
PY
grep -h "^path:" "$work"/fwd1.err | tail -n 2 >&2 || true
