#!/usr/bin/env bash
# Test stand-in for `dotnet quicpipe.dll` that accepts the relay's CLI contract and runs the C
# reference forwarder instead, printing the same JSON stats schema on stderr. It exists only to test
# relay-vs-reference.sh and flamegraph.sh end to end before the relay exists:
#   QP_RELAY_CMD=perf/tools/relay-standin.sh perf/relay-vs-reference.sh
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    echo "Usage: relay-standin.sh relay --listen HOST:PORT --routes FILE --cid-length L --threads N --batch B" \
        "--gso on|off --gro on|off --stats-interval 1s --stats-format json   (runs perf/build/ref-forwarder)"
    exit 0
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ "${1:-}" == relay ]] || { echo "relay-standin.sh: first argument must be 'relay'" >&2; exit 2; }
shift
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --listen|--routes|--cid-length|--threads|--batch) args+=("$1" "$2"); shift 2 ;;
        --gso|--gro|--stats-interval|--stats-format) shift 2 ;; # the reference has no GSO/GRO; stats are always JSON
        *) echo "relay-standin.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
exec "$here/build/ref-forwarder" "${args[@]}" --stats-json --duration 600
