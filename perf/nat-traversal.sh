#!/usr/bin/env bash
# NAT traversal (issues 6 and 17): for each NAT pair of the lab matrix, quicpipe relay/accept/dial across real
# nftables NATs (tests/lab/natlab.sh): time to the accepter's first byte, time to the dialer's `path: direct` line,
# and the share of a bulk transfer's bytes that crossed the relay; with --runs N, each pair N times in fresh labs
# and how many of them went direct, and how fast.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: sudo perf/nat-traversal.sh [options]

For each NAT pair (A's kind x B's kind) a fresh lab from tests/lab/natlab.sh:
  R: quicpipe relay --listen 198.18.0.10:7000            (port outside the NATs' 20000-29999)
  B: quicpipe accept --allow A  < /dev/null | first-byte clock | wc -c
  A: quicpipe dial B --stats-interval 1s  < N MiB of random bytes
Measured from the moment dial is started (dotnet start-up included):
  first byte  the accepter's stdout yields its first byte
  direct      the dialer prints `path: direct ...` ("relayed" if it never does)
  +relayed    the same, from the dialer's first `path: relayed` line (the connection is up; no start-up)
  via relay   via_relay bytes, and its share of via_relay + direct, from the dialer's last stats line
              (QUIC bytes sent plus received; the last line is up to 1 s before the end)
  total       dial start -> dial exit; MB/s = payload / (dial exit - first byte)
The accepter's byte count is checked against the payload. Each lab is removed after its run (and on exit).
With --runs N > 1, a summary per pair follows the table: runs that went direct, runs direct within
--within seconds of dial start and of the relayed line, and min / median / max of both times.

Options:
  --mib N        payload per pair, MiB      [default 50]
  --pairs LIST   comma-separated A:B kinds  [default: the lab test matrix]
  --runs N       runs per pair, each in a fresh lab [default 1]
  --within S     the summary's threshold for "direct in time", seconds [default 3]
  --hold S       keep dial's input open S seconds after the payload [default 0], so that a
                 small payload's connection lives long enough to go direct
  --timeout S    bound on each transfer     [default 90]
  --no-build     use the existing Release build of src/QuicPipe.Cli
  -h, --help     this text
Needs root (namespaces, nftables), ip, nft, conntrack, dotnet. Traffic stays inside the lab namespaces.
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=perf/tools/common.sh
source "$here/tools/common.sh"

natlab="$root/tests/lab/natlab.sh"
dll="$root/src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"
mib=50
timeout_s=90
build=1
pairs="full-cone:full-cone,full-cone:port-restricted,port-restricted:port-restricted,address-restricted:port-restricted,symmetric:symmetric,symmetric:port-restricted,symmetric:full-cone,bare-masquerade:bare-masquerade"
runs=1
within_s=3
hold_s=0
relay_addr=198.18.0.10:7000

while [[ $# -gt 0 ]]; do
    case "$1" in
        --mib) need "$@"; mib="$2"; shift 2 ;;
        --pairs) need "$@"; pairs="$2"; shift 2 ;;
        --timeout) need "$@"; timeout_s="$2"; shift 2 ;;
        --runs) need "$@"; runs="$2"; shift 2 ;;
        --within) need "$@"; within_s="$2"; shift 2 ;;
        --hold) need "$@"; hold_s="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) fail "unknown option $1 (try --help)" ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || fail "--runs takes a positive whole number, not '$runs'"
[[ $within_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "--within takes seconds, not '$within_s'"
[[ $hold_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "--hold takes seconds, not '$hold_s'"
[[ $EUID -eq 0 ]] || fail "needs root (network namespaces, nftables)"

work=$(mktemp -d /tmp/qp-nat-traversal.XXXXXX)
labs=()
cleanup() {
    local lab
    for lab in "${labs[@]}"; do bash "$natlab" down "$lab" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $build -eq 1 ]]; then
    log "building src/QuicPipe.Cli (Release)"
    dotnet build "$root/src/QuicPipe.Cli" -c Release -v q -nologo >/dev/null
fi
[[ -f "$dll" ]] || fail "no $dll (build src/QuicPipe.Cli -c Release)"

now_ns() { date +%s%N; }

# stamp FILE: copies stdin lines to FILE, each prefixed with the time it was read (ns).
stamp() {
    local line
    while IFS= read -r line; do printf '%s %s\n' "$(now_ns)" "$line"; done >"$1"
}

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E), or fail.
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no '$2' in $1 within $3 s: $(tail -5 "$1" 2>/dev/null)"
}

ms_between() { echo $((($2 - $1) / 1000000)); }

keygen() { dotnet "$dll" keygen --out "$1"; }
relay_id=$(keygen "$work/relay.key")
a_id=$(keygen "$work/a.key")
b_id=$(keygen "$work/b.key")
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/payload"

results=()
summaries=()
# summarize PAIR: one line from the per-run figures in $direct_list and $after_relayed_list ("-" for relayed runs).
summarize() {
    printf '%s\n' "${direct_list[@]}" >"$work/direct.txt"
    printf '%s\n' "${after_relayed_list[@]}" >"$work/after.txt"
    awk -v pair="$1" -v runs="$runs" -v within="$within_s" '
        function stats(file, label,    n, v, i, j, t, a, ok) {
            n = 0; ok = 0
            while ((getline v < file) > 0) if (v != "-") { a[++n] = v; if (v <= within * 1000) ok++ }
            close(file)
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            if (n == 0) return sprintf("%s: within %s s 0/%d", label, within, runs)
            return sprintf("%s: within %s s %d/%d, ms min %d median %d max %d", label, within, ok, runs, a[1], a[int((n + 1) / 2)], a[n])
        }
        BEGIN {
            d = 0
            while ((getline v < ARGV[1]) > 0) if (v != "-") d++
            close(ARGV[1])
            printf "%-38s direct %d/%d | %s | %s\n", pair, d, runs, stats(ARGV[1], "from dial start"), stats(ARGV[2], "from relayed line")
        }' "$work/direct.txt" "$work/after.txt"
}

IFS=, read -r -a pair_list <<<"$pairs"
for pair in "${pair_list[@]}"; do
    kind_a=${pair%%:*} kind_b=${pair##*:}
    direct_list=()
    after_relayed_list=()
    for ((run = 1; run <= runs; run++)); do
        lab="qt$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        dir="$work/$lab"
        mkdir "$dir"
        log "$kind_a x $kind_b: run $run/$runs, lab $lab"
        labs+=("$lab")
        bash "$natlab" up "$lab" --nat-a "$kind_a" --nat-b "$kind_b" >/dev/null
        in_ns() { local host=$1; shift; ip netns exec "$lab-$host" "$@"; }

        in_ns r dotnet "$dll" relay --listen "$relay_addr" --key "$work/relay.key" --threads 1 --stats-interval 0 \
            </dev/null >/dev/null 2>"$dir/relay.log" &
        wait_for "$dir/relay.log" "Relay running" 30

        # The accepter's stdout: dd takes exactly the first byte (then the clock is read), wc counts the rest.
        (in_ns b dotnet "$dll" accept --relay "$relay_addr" --relay-id "$relay_id" --key "$work/b.key" --allow "$a_id" \
            </dev/null 2>"$dir/accept.log" |
            { dd bs=1 count=1 status=none >/dev/null; now_ns >"$dir/first"; wc -c >"$dir/rest"; }) &
        accept_pid=$!
        wait_for "$dir/accept.log" "^accepting as" 30

        start=$(now_ns)
        dial_rc=0
        { cat "$work/payload"; sleep "$hold_s"; } |
            timeout "$timeout_s" ip netns exec "$lab-a" dotnet "$dll" dial --relay "$relay_addr" --relay-id "$relay_id" --key "$work/a.key" \
                --stats-interval 1s "$b_id" >/dev/null 2> >(stamp "$dir/dial.log") || dial_rc=$?
        end=$(now_ns)
        for ((i = 0; i < 100; i++)); do is_alive "$accept_pid" || break; sleep 0.1; done
        is_alive "$accept_pid" && log "accept still running 10 s after dial ended"
        sleep 0.2 # the stamp process substitution flushes its last lines

        received=$(($([[ -s "$dir/first" ]] && echo 1 || echo 0) + $(cat "$dir/rest" 2>/dev/null || echo 0)))
        first_ms=$([[ -s "$dir/first" ]] && ms_between "$start" "$(cat "$dir/first")" || echo "-")
        direct_ts=$(grep -m1 ' path: direct ' "$dir/dial.log" | cut -d' ' -f1 || true)
        direct_ms=$([[ -n "$direct_ts" ]] && ms_between "$start" "$direct_ts" || echo "relayed")
        relayed_ts=$(grep -m1 ' path: relayed ' "$dir/dial.log" | cut -d' ' -f1 || true)
        after_relayed="-"
        [[ -n "$direct_ts" && -n "$relayed_ts" ]] && after_relayed=$(ms_between "$relayed_ts" "$direct_ts")
        direct_list+=("$([[ -n "$direct_ts" ]] && echo "$direct_ms" || echo -)")
        after_relayed_list+=("$after_relayed")
        stats=$(grep ' stats: ' "$dir/dial.log" | tail -1 || true)
        via_relay=$(sed -nE 's/.* via_relay ([0-9]+) .*/\1/p' <<<"$stats")
        direct_bytes=$(sed -nE 's/.* direct ([0-9]+) rtt .*/\1/p' <<<"$stats")
        share="-"
        if [[ -n "$via_relay" && -n "$direct_bytes" ]]; then
            share=$(awk -v r="$via_relay" -v d="$direct_bytes" 'BEGIN { printf "%d (%.2f%%)", r, 100 * r / (r + d) }')
        fi
        total_ms=$(ms_between "$start" "$end")
        rate="-"
        if [[ -s "$dir/first" ]]; then
            rate=$(awk -v b="$((mib * 1024 * 1024))" -v ms="$(ms_between "$(cat "$dir/first")" "$end")" 'BEGIN { printf "%.1f", b / 1e6 / (ms / 1000) }')
        fi
        ok=$([[ $dial_rc -eq 0 && $received -eq $((mib * 1024 * 1024)) ]] && echo ok || echo "FAIL(rc $dial_rc, $received B)")
        [[ $ok == ok ]] || log "$kind_a x $kind_b run $run: $ok; dial's last lines:"$'\n'"$(tail -8 "$dir/dial.log" | cut -d' ' -f2-)"
        results+=("$(printf '%-38s %9s %9s %9s %22s %8s %7s  %s' "$kind_a x $kind_b" "$first_ms" "$direct_ms" "$after_relayed" "$share" "$total_ms" "$rate" "$ok")")

        bash "$natlab" down "$lab" >/dev/null
        wait "$accept_pid" 2>/dev/null || true
    done
    [[ $runs -eq 1 ]] || summaries+=("$(summarize "$kind_a x $kind_b")")
done

printf '\n%s MiB per run; times in ms from starting dial (dotnet start-up included), +relayed from the relayed line\n' "$mib"
printf '%-38s %9s %9s %9s %22s %8s %7s  %s\n' "NAT A x NAT B" "1st byte" "direct" "+relayed" "via relay B (share)" "total" "MB/s" "check"
printf '%s\n' "${results[@]}"
if [[ ${#summaries[@]} -gt 0 ]]; then
    printf '\n%s runs per pair\n' "$runs"
    printf '%s\n' "${summaries[@]}"
fi
