#!/usr/bin/env bash
# Build the C perf tools into perf/build/ (git-ignored). Fast and idempotent.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/build.sh [--help]
Builds udp-loadgen, udp-sink and ref-forwarder from perf/src/*.c into perf/build/
with gcc -O2 -Wall -Wextra -Werror. Set CC to use another compiler.
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "build.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/src"
out="$here/build"
cc="${CC:-gcc}"
cflags=(-O2 -g -Wall -Wextra -Werror -std=gnu11 -pthread)
command -v "$cc" >/dev/null || { echo "build.sh: compiler '$cc' not found" >&2; exit 1; }
mkdir -p "$out"

for tool in udp-loadgen udp-sink ref-forwarder; do
    "$cc" "${cflags[@]}" -o "$out/$tool.tmp" "$src/$tool.c" "$src/common.c"
    mv -f "$out/$tool.tmp" "$out/$tool"
done
echo "build.sh: built $(cd "$out" && echo udp-loadgen udp-sink ref-forwarder) in $out" >&2
