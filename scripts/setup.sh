#!/usr/bin/env bash
# Installs the system packages QuicPipe builds, tests and benchmarks with (Debian 12, as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
    build-essential  # gcc for perf/'s C reference tools
    python3          # CI result summary, perf/ summarizers, urllib through the HTTP proxy (ProxyCommandTests)
    iproute2         # network namespaces for lab tests
    nftables         # NAT routers in the lab (tests/lab/natlab.sh)
    conntrack        # NAT rebinding in the lab: flush a router's conntrack table
    socat            # UDP endpoints inside lab namespaces
    curl             # the real HTTP client of the forward/expose CLI tests and of the HTTP proxy tests (curl -x)
    python3-grpcio   # a real gRPC client and server through the HTTP CONNECT proxy (ProxyCommandTests)
    iperf3           # real TCP throughput through forward/expose (ProxyCommandTests) and the VPN
    iputils-ping     # real ping across the VPN (VPN lab tests)
    linux-perf       # perf record for CPU profiles (perf/flamegraph.sh)
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
    systemd                      # systemd-analyze verify on the unit files in deploy/systemd (SystemdUnitTests)
    etcd-server                  # the relay fleet's directory (relay --directory etcd://): FleetCommandTests start it on loopback
    etcd-client                  # etcdctl: FleetCommandTests read the directory's keys with it
)

# Installed without their recommended packages: a headless browser needs none of them (upower, notification
# daemons, extra fonts), nor Prometheus its node exporter and IPMI tools; leaving them out keeps a fresh
# machine's setup shorter.
lean_packages=(
    chromium         # headless Chromium through the HTTP proxy, its PAC file and SOCKS5 (ProxyCommandTests); renders profiles in the speedscope viewer (ProfilingTests)
    prometheus       # a real Prometheus scraping `--metrics` in the CLI tests (MetricsCommandTests)
    coturn           # turnserver, the TURN relay perf/relay-vs-coturn.sh measures the relay against (RelayVsCoturnTests)
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
missing_lean=()
for p in "${lean_packages[@]}"; do
    installed "$p" || missing_lean+=("$p")
done

if [ "${#missing[@]}" -gt 0 ] || [ "${#missing_lean[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages (${missing[*]} ${missing_lean[*]}); run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get install -y -qq "${missing[@]}"
    fi
    if [ "${#missing_lean[@]}" -gt 0 ]; then
        apt-get install -y -qq --no-install-recommends "${missing_lean[@]}"
    fi
fi

# npm installs the speedscope viewer for perf/flamegraph.sh (and its test). Checked by command, not by package:
# the machine image may bring Node.js with its own npm, which Debian's npm package would conflict with.
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: npm is missing; run as root to install it (nodejs npm)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm
fi

if ! command -v dotnet >/dev/null 2>&1; then
    echo "setup: the .NET SDK 10 (dotnet) is not on PATH; it is part of this machine image" >&2
    exit 1
fi
