#!/usr/bin/env bash
# natlab.sh: a NAT lab built from network namespaces, for tests that cross NATs.
#
# Topology (every namespace is named NAME-<host>, every address lives inside them):
#
#   A 10.77.1.2 --lan-- natA --wan 198.18.0.1 -----------------+
#                                                               |  bridge br0 in NAME-pub
#   B 10.77.2.2 --lan-- natB --wan 198.18.0.2 --natb-- core --pub-+-- R 198.18.0.10 and 198.18.0.11
#
# core is a plain router (198.18.0.254): between the two NAT routers there is one routed hop, as
# on the internet, so a packet can be sent with a TTL that passes its own router and expires
# before the other one (bare-masquerade). core answers ARP for natB on the bridge and for the
# bridge's hosts toward natB (proxy ARP), so every public address stays in 198.18.0.0/24.
#
# Nothing is created in the root namespace: each veth is created inside one lab namespace
# with its peer moved straight into another, so the host's interfaces, routes and firewall
# are never touched. Interface names are fixed (eth0, wan, lan, br0, a port per host on the
# bridge) because every namespace has its own name space for links. R has two addresses so
# a test can send from "another public host" without a seventh namespace.
#
# NAT kinds (nftables in natA/natB; see nat_ruleset for what each one guarantees):
#   none                plain routing, no translation: A and B are reachable at 10.77.x.2
#   full-cone           endpoint-independent mapping, endpoint-independent filtering
#   address-restricted  endpoint-independent mapping, filtering by remote address
#   port-restricted     endpoint-independent mapping, filtering by remote address and port
#   symmetric           endpoint-dependent mapping, filtering by remote address and port
#   bare-masquerade     endpoint-independent mapping, filtering by remote address and port, and
#                       no input filter: what arrives for the router itself unsolicited is
#                       delivered locally and takes a conntrack entry (see nat_ruleset)
set -euo pipefail

readonly HOSTS=(a b r nata natb core pub)
readonly KINDS="none full-cone address-restricted port-restricted symmetric bare-masquerade"
readonly R_ADDR=198.18.0.10 R_ADDR2=198.18.0.11
readonly NATA_WAN=198.18.0.1 NATB_WAN=198.18.0.2 CORE_ADDR=198.18.0.254
readonly SITE_A=10.77.1 SITE_B=10.77.2
# External ports the translating kinds map to. An internal port inside this range may be
# kept as is; tests use internal ports outside it so every mapping is a real translation.
readonly NAT_PORTS=20000-29999
# Lifetime of the nft state that backs full-cone and address-restricted filtering; equal
# to conntrack's default timeout for a UDP flow that saw replies (nf_conntrack_udp_timeout_stream).
readonly FILTER_TIMEOUT=120s

usage() {
    cat <<'USAGE'
Usage:
  natlab.sh up NAME --nat-a KIND --nat-b KIND   build lab NAME (fails if any part exists)
  natlab.sh down NAME                           remove lab NAME (idempotent, also half-built)
  natlab.sh exec NAME HOST CMD [ARG...]         run CMD inside HOST's namespace
  natlab.sh flush NAME nata|natb                forget every NAT mapping on that router
                                                (conntrack -F and the nft filter state)
  natlab.sh list                                names of labs that exist
  natlab.sh --help

NAME:  1-16 letters or digits; namespaces are NAME-a, NAME-b, NAME-r, NAME-nata,
       NAME-natb, NAME-core (the router in front of natB) and NAME-pub (the bridge that
       is the public segment).
HOST:  a, b, r, nata, natb, core, pub
KIND:  none, full-cone, address-restricted, port-restricted, symmetric, bare-masquerade

Addresses: A 10.77.1.2 (gateway natA 10.77.1.1), B 10.77.2.2 (gateway natB 10.77.2.1),
natA 198.18.0.1, natB 198.18.0.2, R 198.18.0.10 and 198.18.0.11, core 198.18.0.254, all
on 198.18.0.0/24; natB is one routed hop (core) away from natA and R.
Translating kinds map to external ports 20000-29999. Needs root, ip, nft and conntrack.
USAGE
}

die() {
    echo "natlab: $*" >&2
    exit 1
}

check_name() {
    [[ $1 =~ ^[A-Za-z0-9]{1,16}$ ]] || die "bad lab name '$1' (1-16 letters or digits)"
}

check_kind() {
    [[ " $KINDS " == *" $1 "* ]] || die "unknown NAT kind '$1' (one of: $KINDS)"
}

ns_exists() {
    [ -e "/run/netns/$1" ]
}

# veth NS1 IF1 NS2 IF2: a veth pair created inside NS1 whose peer goes straight into NS2.
veth() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

# nat_ruleset KIND: the nftables ruleset of a NAT router whose public side is "wan".
#
# Mapping. Every translating kind masquerades to ports $NAT_PORTS. Without `random`,
# conntrack's get_unique_tuple first reuses the mapping of a live entry with the same
# internal address and port (find_appropriate_src), so while any flow from that internal
# endpoint is alive, every destination sees the same external port: endpoint-independent
# mapping (EIM). A first flow, or one after the router forgot (flush, or all flows of that
# endpoint timed out: 30 s unreplied, 120 s replied), gets a random port in the range, so a
# flush is a visible rebinding. `symmetric` adds `fully-random`: that skips the reuse and
# draws a new random port for each flow (a destination address and port), so two
# destinations see two ports (equal only by a 1-in-10,000 chance): endpoint-dependent.
#
# Filtering. Conntrack alone forwards an inbound packet only if it is the reply direction of
# a flow the inside started: filtering by remote address and port (port-restricted,
# symmetric). full-cone and address-restricted add state of their own, learnt from outbound
# packets after translation: @mapped (external port -> internal address . port) and
# @contacted (external port . remote address). A new inbound flow to a mapped port is
# DNATed back to its internal endpoint: from anyone (full-cone), or only from an address
# that endpoint has sent to (address-restricted). Approximation: that state lives
# $FILTER_TIMEOUT after the last outbound packet, refreshed by each one, while conntrack's
# own mapping may be gone earlier, when all flows of the endpoint expired. @mapped is keyed
# by external port alone, and conntrack only keeps (external port, remote) unique, so two
# internal endpoints that drew the same port toward different remotes would share one
# entry (last writer wins); a site holds one peer, which makes that a rare corner.
#
# Anything else arriving on wan and not forwarded is dropped in input before conntrack
# confirms it; a confirmed entry would otherwise hold the reply tuple and make the next
# outbound flow to that remote pick another port (as hole punching triggers).
#
# bare-masquerade is the port-restricted ruleset without that input filter, as a server or a
# cloud instance with a bare masquerade rule is set up: a peer's punch packet that arrives
# before the peer behind this router has sent its own is delivered to the router itself
# (which has no such port open and answers ICMP port unreachable), and conntrack confirms an
# entry remote -> router:port for it. The inside peer's own flow to that remote then finds
# its reply tuple taken and is given another external port, which the remote does not know:
# punching fails on both sides unless the first packets expire before the other router.
nat_ruleset() {
    local kind=$1 masq="masquerade to :$NAT_PORTS" learn="" admit="" input_filter='iifname "wan" drop'
    case "$kind" in
        bare-masquerade) input_filter="" ;;
        symmetric) masq="$masq fully-random" ;;
        full-cone)
            learn="oifname \"wan\" ct direction original ct status snat update @mapped { udp sport : ct original ip saddr . ct original proto-src }"
            admit="iifname \"wan\" dnat ip to udp dport map @mapped"
            ;;
        address-restricted)
            learn="oifname \"wan\" ct direction original ct status snat update @mapped { udp sport : ct original ip saddr . ct original proto-src }
        oifname \"wan\" ct direction original ct status snat update @contacted { udp sport . ip daddr }"
            admit="iifname \"wan\" udp dport . ip saddr @contacted dnat ip to udp dport map @mapped"
            ;;
    esac
    cat <<RULES
table ip natlab {
    map mapped {
        type inet_service : ipv4_addr . inet_service
        flags dynamic, timeout
        timeout $FILTER_TIMEOUT
    }
    set contacted {
        type inet_service . ipv4_addr
        flags dynamic, timeout
        timeout $FILTER_TIMEOUT
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        $admit
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" meta l4proto { tcp, udp } $masq
        oifname "wan" masquerade
    }
    chain learn {
        type filter hook postrouting priority srcnat + 10; policy accept;
        $learn
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname "lan" oifname "wan" accept
        iifname "wan" ct state established,related accept
        iifname "wan" ct status dnat accept
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
        $input_filter
    }
}
RULES
}

# core LAB: the router between the bridge and natB (plugged in by site b).
core() {
    local lab=$1 ns="$1-core"
    veth "$lab-pub" core "$ns" pub
    ip -n "$lab-pub" link set core master br0
    ip -n "$ns" addr add "$CORE_ADDR/24" dev pub
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}

# site LAB SIDE KIND SITE WAN: peer host SIDE behind router natSIDE. natA's wan is a port of
# the bridge; natB's is a link to core, which routes natB's address there and answers ARP on
# both sides for the addresses behind the other (proxy ARP).
site() {
    local lab=$1 side=$2 kind=$3 net=$4 wan=$5
    local host="$lab-$side" router="$lab-nat$side"
    if [ "$side" = b ]; then
        veth "$lab-core" natb "$router" wan
        ip -n "$lab-core" route add "$wan/32" dev natb
        # proxy_delay 0: answer ARP at once rather than after a random wait of up to 0.8 s.
        ip netns exec "$lab-core" sysctl -qw net.ipv4.conf.natb.proxy_arp=1 net.ipv4.conf.pub.proxy_arp=1 \
            net.ipv4.neigh.natb.proxy_delay=0 net.ipv4.neigh.pub.proxy_delay=0
    else
        veth "$lab-pub" "nat$side" "$router" wan
        ip -n "$lab-pub" link set "nat$side" master br0
    fi
    ip -n "$router" addr add "$wan/24" dev wan
    veth "$router" lan "$host" eth0
    ip -n "$router" addr add "$net.1/24" dev lan
    ip -n "$host" addr add "$net.2/24" dev eth0
    ip -n "$host" route add default via "$net.1"
    ip netns exec "$router" sysctl -qw net.ipv4.ip_forward=1
    [ "$kind" = none ] || nat_ruleset "$kind" | ip netns exec "$router" nft -f -
}

# route_site LAB SIDE SITE WAN: with no translation, the other public hosts route the site's
# prefix to its router (run once both routers have their public address).
route_site() {
    local lab=$1 side=$2 net=$3 wan=$4 other
    for other in r nata natb core; do
        [ "$other" = "nat$side" ] || ip -n "$lab-$other" route add "$net.0/24" via "$wan"
    done
}

cmd_up() {
    local lab="" kind_a="" kind_b=""
    [ $# -ge 1 ] || die "up: missing NAME"
    lab=$1
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            --nat-a) [ $# -ge 2 ] || die "--nat-a needs a KIND"; kind_a=$2; shift 2 ;;
            --nat-b) [ $# -ge 2 ] || die "--nat-b needs a KIND"; kind_b=$2; shift 2 ;;
            *) die "up: unknown argument '$1'" ;;
        esac
    done
    check_name "$lab"
    [ -n "$kind_a" ] || die "up: missing --nat-a KIND"
    [ -n "$kind_b" ] || die "up: missing --nat-b KIND"
    check_kind "$kind_a"
    check_kind "$kind_b"
    local h
    for h in "${HOSTS[@]}"; do
        ! ns_exists "$lab-$h" || die "namespace $lab-$h exists; run: natlab.sh down $lab"
    done

    # A failure anywhere below leaves nothing behind.
    # (Expanded now: the name is only letters and digits, and locals are gone by EXIT.)
    # shellcheck disable=SC2064
    trap "cmd_down $lab >/dev/null 2>&1 || true" EXIT
    for h in "${HOSTS[@]}"; do
        ip netns add "$lab-$h"
        ip -n "$lab-$h" link set lo up
    done
    # The nftables NAT needs IPv4 only; IPv6 off keeps the lab free of DAD and RS chatter.
    for h in "${HOSTS[@]}"; do
        ip netns exec "$lab-$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    done
    ip -n "$lab-pub" link add br0 type bridge
    ip -n "$lab-pub" link set br0 up
    veth "$lab-pub" r "$lab-r" eth0
    ip -n "$lab-pub" link set r master br0
    ip -n "$lab-r" addr add "$R_ADDR/24" dev eth0
    ip -n "$lab-r" addr add "$R_ADDR2/24" dev eth0
    core "$lab"
    site "$lab" a "$kind_a" "$SITE_A" "$NATA_WAN"
    site "$lab" b "$kind_b" "$SITE_B" "$NATB_WAN"
    [ "$kind_a" != none ] || route_site "$lab" a "$SITE_A" "$NATA_WAN"
    [ "$kind_b" != none ] || route_site "$lab" b "$SITE_B" "$NATB_WAN"
    trap - EXIT

    echo "lab $lab up: a=$SITE_A.2 b=$SITE_B.2 nata=$NATA_WAN ($kind_a) natb=$NATB_WAN ($kind_b) r=$R_ADDR,$R_ADDR2 core=$CORE_ADDR"
}

cmd_down() {
    [ $# -eq 1 ] || die "down: expected NAME"
    check_name "$1"
    local h ns pids
    for h in "${HOSTS[@]}"; do
        ns="$1-$h"
        ns_exists "$ns" || continue
        # A process left inside would keep the namespace (and its links) alive after the delete.
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$ns" 2>/dev/null || ! ns_exists "$ns" || die "could not delete namespace $ns"
    done
}

cmd_exec() {
    [ $# -ge 3 ] || die "exec: expected NAME HOST CMD..."
    check_name "$1"
    [[ " ${HOSTS[*]} " == *" $2 "* ]] || die "unknown host '$2' (one of: ${HOSTS[*]})"
    ns_exists "$1-$2" || die "no namespace $1-$2; is lab $1 up?"
    local ns="$1-$2"
    shift 2
    exec ip netns exec "$ns" "$@"
}

cmd_flush() {
    [ $# -eq 2 ] || die "flush: expected NAME nata|natb"
    check_name "$1"
    case "$2" in nata | natb) ;; *) die "flush: router is nata or natb, not '$2'" ;; esac
    local ns="$1-$2"
    ns_exists "$ns" || die "no namespace $ns; is lab $1 up?"
    # conntrack -F prints its count on stderr; keep quiet unless it fails.
    ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || die "conntrack -F failed in $ns"
    if ip netns exec "$ns" nft list table ip natlab >/dev/null 2>&1; then
        ip netns exec "$ns" nft flush map ip natlab mapped
        ip netns exec "$ns" nft flush set ip natlab contacted
    fi
}

cmd_list() {
    local f
    for f in /run/netns/*-pub; do
        [ -e "$f" ] || continue
        f=${f##*/}
        echo "${f%-pub}"
    done
}

main() {
    [ $# -ge 1 ] || { usage >&2; exit 2; }
    local cmd=$1
    shift
    case "$cmd" in
        -h | --help | help) usage ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        exec) cmd_exec "$@" ;;
        flush) cmd_flush "$@" ;;
        list) cmd_list ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
