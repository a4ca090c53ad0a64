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

/* Where a routed CID goes. 36 bytes, at offset 28 of its slot. */
struct qp_route {
	__u8 peer_addr[16];  /* IPv4 in bytes 0..3, the rest zero; IPv6 in all 16 */
	__u8 relay_addr[16]; /* source address to send from; all zero = the packet's own destination address */
	__be16 peer_port;
	__u8 family; /* QP_AF_INET or QP_AF_INET6: the peer's (and relay_addr's) family */
	__u8 reserved;
};

/*
 * One slot of qp_routes: exactly 64 bytes, one cache line (the map is mmapable, so its values are
 * page-aligned). A route lives within QP_ROUTE_PROBES slots of its home slot, qp_cid_hash(cid) & route_mask,
 * with no empty slot between the two (linear probing in Robin Hood order; removals shift later entries back,
 * no tombstones).
 *
 * Userspace writes a slot as a seqlock: seq odd while it writes, even (and two more) when done. The program
 * reads seq, then the slot, then seq again, and treats an odd or changed seq as "busy": it passes the packet
 * to userspace, which forwards everything correctly, so a torn read never becomes a wrong forward.
 */
struct qp_route_slot {
	__u32 seq;
	__u8 state; /* QP_SLOT_EMPTY or QP_SLOT_USED */
	__u8 reserved[3];
	__u8 cid[QP_MAX_CID_LEN]; /* offset 8 (8-aligned): compared as two 64-bit words and one 32-bit */
	struct qp_route route;    /* offset 28 */
};

_Static_assert(sizeof(struct qp_route_slot) == 64, "a route slot is one cache line");

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

/* Read-only settings, fixed before load (.rodata; the verifier sees them as constants). 24 bytes. */
struct qp_config {
	__u8 cid_len;
	__u8 reserved[3];
	__u32 route_mask;   /* qp_routes' slot count - 1 (a power of two - 1) */
	__u64 hash_key[2];  /* SipHash key of the route table, random per load so peers cannot aim CIDs at a window */
};

_Static_assert(sizeof(struct qp_config) == 24, "XdpProgram's ProgramConfig mirrors 24 bytes");

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
	QP_STAT_PASS_BUSY = 11,  /* the route's slot was being written: userspace forwards this one */
	QP_STAT_MAX = 12,
};

/* One 802.1Q / 802.1ad tag. */
struct qp_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

#endif
