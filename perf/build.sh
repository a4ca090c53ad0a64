#!/usr/bin/env bash
# Build the C perf tools into perf/build/ (git-ignored). Fast and idempotent.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: perf/build.sh [--help]
Builds udp-loadgen (with its TURN client, turn.c), udp-sink, ref-forwarder, pkt-loadgen, xdp-sink and xdp-prog-bench (these two link libbpf) from
perf/src/*.c into perf/build/ with gcc -O2 -Wall -Wextra -Werror, and xdp-sink's BPF object
(xdp-sink.bpf.o) with clang -target bpf. Set CC to use another compiler for the tools.
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
command -v clang >/dev/null || { echo "build.sh: clang not found (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$out"

tools=(udp-loadgen udp-sink ref-forwarder pkt-loadgen xdp-sink xdp-prog-bench)
# Each tool is written under a name of this process's own and renamed into place: scripts that build at the same
# time (tests run them side by side) never execute a half-written tool.
for tool in "${tools[@]}"; do
    libs=()
    [[ "$tool" == xdp-sink || "$tool" == xdp-prog-bench ]] && libs=(-lbpf)
    extra=()
    [[ "$tool" == udp-loadgen ]] && extra=("$src/turn.c")
    "$cc" "${cflags[@]}" -o "$out/$tool.tmp.$$" "$src/$tool.c" "$src/common.c" "${extra[@]}" "${libs[@]}"
    mv -f "$out/$tool.tmp.$$" "$out/$tool"
done
clang -O2 -g -target bpf -Wall -Wextra -Werror -I"/usr/include/$(clang -print-multiarch)" \
    -c "$src/xdp-sink.bpf.c" -o "$out/xdp-sink.bpf.o.tmp.$$"
mv -f "$out/xdp-sink.bpf.o.tmp.$$" "$out/xdp-sink.bpf.o"
echo "build.sh: built ${tools[*]} xdp-sink.bpf.o in $out" >&2
