/*
 * Structs shared with userspace (QuicPipe.Xdp mirrors each one; XdpLayoutTests checks the mirrors).
 * Multi-byte fields marked __be are in network byte order, everything else in host order.
 */
#ifndef QUICPIPE_STRUCTS_H
#define QUICPIPE_STRUCTS_H

#include <linux/types.h>

#include "quicpipe_consts.h"

/*
 * Route key: the CID bytes in a fixed 20-byte array, bytes past cid_len zero. The length is not part of
 * the key because one program instance parses a single configured CID length.
 */
struct qp_cid_key {
	__u8 bytes[QP_MAX_CID_LEN];
};

/* Where a routed CID goes. 36 bytes. */
struct qp_route {
	__u8 peer_addr[16];  /* IPv4 in bytes 0..3, the rest zero; IPv6 in all 16 */
	__u8 relay_addr[16]; /* source address to send from; all zero = the packet's own destination address */
	__be16 peer_port;
	__u8 family; /* QP_AF_INET or QP_AF_INET6: the peer's (and relay_addr's) family */
	__u8 reserved;
};

/*
 * Key of qp_listen: one address the relay listens on. 20 bytes. An all-zero `addr` is the wildcard
 * (0.0.0.0 or ::) of that family: it matches any destination address of the family on `port`. IPv6
 * listeners are IPV6_V6ONLY, so an IPv6 entry, wildcard or not, never matches IPv4 traffic.
 */
struct qp_listen_key {
	__u8 family; /* QP_AF_INET or QP_AF_INET6 */
	__u8 reserved; /* zero */
	__be16 port;
	__u8 addr[16]; /* IPv4 in bytes 0..3, the rest zero; all zero = wildcard */
};

/* A short-header packet whose CID has no route. 48 bytes. */
struct qp_miss_event {
	__u8 cid[QP_MAX_CID_LEN]; /* bytes past cid_len zero */
	__u8 cid_len;
	__u8 family; /* QP_AF_INET or QP_AF_INET6 */
	__be16 src_port;
	__u8 src_addr[16]; /* IPv4 in bytes 0..3 */
	__u32 ifindex;     /* interface the packet arrived on */
	__be16 dst_port;   /* the relay port it was sent to */
	__u16 reserved;
};

/* Read-only settings, fixed before load (.rodata; the verifier sees them as constants). 8 bytes. */
struct qp_config {
	__u8 cid_len;
	__u8 reserved[7];
};

/* Indices of the per-CPU counters (qp_stats). */
enum qp_stat {
	QP_STAT_RX = 0,          /* every frame the program saw */
	QP_STAT_TX = 1,          /* rewritten and bounced (XDP_TX) */
	QP_STAT_PASS_LONG = 2,   /* long header: handshake, userspace */
	QP_STAT_PASS_RELAY_CID = 3,
	QP_STAT_MISS = 4,        /* no route: event sent (or counted below) and passed */
	QP_STAT_RINGBUF_FULL = 5,/* a miss whose event did not fit; still passed */
	QP_STAT_MALFORMED = 6,   /* truncated or inconsistent headers; passed to the kernel */
	QP_STAT_NON_QUIC = 7,    /* not IP/UDP, or not to an address + port the relay listens on */
	QP_STAT_PASS_FAMILY = 8, /* route to the other IP family: userspace translates */
	QP_STAT_PASS_UNSUPPORTED = 9, /* IPv4 fragments, IPv6 extension headers */
	QP_STAT_PASS_REFLECTION = 10, /* the route points back at the packet's sender: userspace drops it */
	QP_STAT_MAX = 11,
};

/* One 802.1Q / 802.1ad tag. */
struct qp_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

#endif
