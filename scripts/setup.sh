#!/usr/bin/env bash
# Installs the system packages QuicPipe builds, tests and benchmarks with (Debian 12, as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
    build-essential  # gcc for perf/'s C reference tools
    python3          # CI result summary, flame graph renderer
    iproute2         # network namespaces for lab tests
    nftables         # NAT routers in the lab (tests/lab/natlab.sh)
    conntrack        # NAT rebinding in the lab: flush a router's conntrack table
    socat            # UDP endpoints inside lab namespaces
    curl             # the real HTTP client of the forward/expose CLI tests
    python3-grpcio   # a real gRPC client and server through the HTTP CONNECT proxy (ProxyCommandTests)
    iperf3           # real TCP throughput through forward/expose (ProxyCommandTests) and the VPN
    iputils-ping     # real ping across the VPN (VPN lab tests)
    linux-perf       # perf record for flame graphs
    libb2-1          # BLAKE2b for connection ID derivation
    pkg-config                   # finds ngtcp2/GnuTLS flags for the QUIC shim build
    libngtcp2-dev                # QUIC engine (QuicPipe.Quic native shim)
    libngtcp2-crypto-gnutls-dev  # ngtcp2's GnuTLS crypto glue
    libgnutls28-dev              # TLS 1.3 for QUIC
    ngtcp2-server                # gtlsserver: interop tests and the reference benchmark
    ngtcp2-client                # gtlsclient: interop tests and the reference benchmark
    clang                        # compiles bpf/quicpipe_xdp.c (-target bpf)
    llvm                         # llvm-objdump/llvm-strip for inspecting the BPF object
    libbpf-dev                   # bpf_helpers.h for the XDP build; libbpf.so.1 for QuicPipe.Xdp
    linux-libc-dev               # linux/bpf.h and the other uapi headers the XDP program includes
    bpftool                      # inspecting loaded programs and maps when debugging the XDP path
    ethtool                      # XDP lab tests: veth offload settings
)

# Installed without its recommendations (node exporter, IPMI tools): only the server itself is needed.
lean_packages=(
    prometheus                   # a real Prometheus scraping `--metrics` in the CLI tests (MetricsCommandTests)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

lean_missing=()
for p in "${lean_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || lean_missing+=("$p")
done

if [ "${#lean_missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages (${lean_missing[*]}); run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    [ "${#missing[@]}" -gt 0 ] || apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${lean_missing[@]}"
fi

if ! command -v dotnet >/dev/null 2>&1; then
    echo "setup: the .NET SDK 10 (dotnet) is not on PATH; it is part of this machine image" >&2
    exit 1
fi
