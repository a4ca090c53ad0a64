/* Tunables (each overridable with -D at build time) and protocol constants. */
#ifndef QUICPIPE_CONSTS_H
#define QUICPIPE_CONSTS_H

/* Longest CID any QUIC version may use (RFC 8999 5.1); the route key is always this long. */
#ifndef QP_MAX_CID_LEN
#define QP_MAX_CID_LEN 20
#endif

/* CID length the program parses unless the loader sets qp_config.cid_len before load. */
#ifndef QP_DEFAULT_CID_LEN
#define QP_DEFAULT_CID_LEN 12
#endif

/*
 * Slots in the route table (qp_routes), a power of two: 64 bytes each, so this default is 256 MiB. The loader
 * always resizes the map (two slots or more per route it is asked to hold) and sets qp_config.route_mask to match.
 */
#ifndef QP_ROUTE_SLOTS
#define QP_ROUTE_SLOTS 4194304
#endif

/*
 * Consecutive slots a route may occupy from its home slot (the CID's hash): a lookup reads at most this many,
 * and userspace refuses a route whose window is full (its packets then miss and go through userspace).
 */
#define QP_ROUTE_PROBES 8

/* struct qp_route_slot.state */
#define QP_SLOT_EMPTY 0
#define QP_SLOT_USED 1

/* Listen addresses (address + port, wildcards included) the program watches. */
#ifndef QP_LISTEN_MAX_ENTRIES
#define QP_LISTEN_MAX_ENTRIES 64
#endif

/* qp_listen_ports: one entry per UDP port, and its bits. */
#define QP_PORTS 65536
#define QP_LISTEN_ANY4 0x01  /* 0.0.0.0 listens on the port */
#define QP_LISTEN_ANY6 0x02  /* [::] listens on the port */
#define QP_LISTEN_ADDR4 0x04 /* some IPv4 address listens on the port: look in qp_listen */
#define QP_LISTEN_ADDR6 0x08 /* some IPv6 address listens on the port: look in qp_listen */

/* Miss ring buffer in bytes: a power of two and a multiple of the page size. */
#ifndef QP_EVENTS_BYTES
#define QP_EVENTS_BYTES (256 * 1024)
#endif

/*
 * TTL / hop limit of forwarded packets. The relay is the packet's new source (it is an endpoint, not a
 * router), so the field is reset to what the userspace relay's sockets send with, not decremented.
 */
#ifndef QP_TX_TTL
#define QP_TX_TTL 64
#endif

/* Address families as Linux numbers them (the same values PeerAddress uses). */
#define QP_AF_INET 2
#define QP_AF_INET6 10

#define QP_ETH_P_IP 0x0800
#define QP_ETH_P_IPV6 0x86DD
#define QP_ETH_P_8021Q 0x8100
#define QP_ETH_P_8021AD 0x88A8

#define QP_IPPROTO_UDP 17

/* IPv4 frag_off: "more fragments" flag and fragment offset (DF is allowed). */
#define QP_IP_MF_OFFSET_MASK 0x3FFF

/* First byte of a QUIC packet: Header Form bit, set for long headers (RFC 9000 17). */
#define QP_QUIC_LONG_HEADER 0x80

/* Top bit of a CID's first byte: set for connections to the relay itself, which userspace serves. */
#define QP_RELAY_CID_BIT 0x80

#endif
