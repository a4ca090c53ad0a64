/* Small inline helpers: counters, checksums, the QUIC short-header parse shared by IPv4 and IPv6. */
#ifndef QUICPIPE_HELPERS_H
#define QUICPIPE_HELPERS_H

#include <linux/bpf.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "quicpipe_maps.h"
#include "quicpipe_hash.h"

/* Set by the loader before load; the verifier then treats the fields as constants. */
const volatile struct qp_config qp_config = { .cid_len = QP_DEFAULT_CID_LEN, .route_mask = QP_ROUTE_SLOTS - 1 };

/* Keeps the compiler from moving memory accesses across it (the seqlock reads below need their order). */
#define qp_barrier() asm volatile("" ::: "memory")
#define QP_READ_ONCE(x) (*(const volatile typeof(x) *)&(x))

static __always_inline void qp_count(__u32 stat)
{
	__u64 *value = bpf_map_lookup_elem(&qp_stats, &stat);

	if (value)
		*value += 1; /* per-CPU slot: no other CPU writes it */
}

static __always_inline int qp_pass(__u32 stat)
{
	qp_count(stat);
	return XDP_PASS;
}

/* Folds a one's-complement sum to 16 bits (four folds cover any 64-bit sum of 16-bit words). */
static __always_inline __u16 qp_csum_fold(__u64 sum)
{
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return (__u16)sum;
}

/*
 * Sums `words` 16-bit words as they lie in memory. One's-complement sums do not depend on byte order,
 * so summing and storing in memory order needs no byte swaps. `words` is a compile-time constant.
 */
static __always_inline __u64 qp_csum_words(const void *p, int words)
{
	const __u16 *w = p;
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

/*
 * Incremental checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m'), where `old_sum` and `new_sum`
 * are the sums of the changed words before and after. ~m summed over n words is n*0xFFFF - sum(m).
 */
static __always_inline __u16 qp_csum_replace(__u16 check, __u64 old_sum, int words, __u64 new_sum)
{
	__u64 sum = (__u16)~check;

	sum += (__u64)words * 0xFFFF - old_sum;
	sum += new_sum;
	return (__u16)~qp_csum_fold(sum);
}

/* The addresses and ports of a packet, in the family's natural size; IPv4 uses the first 4 bytes. */
struct qp_flow {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
};

/* True when all 16 bytes are zero. */
static __always_inline int qp_is_zero16(const __u8 *a)
{
	__u64 x[2];

	__builtin_memcpy(x, a, sizeof(x));
	return (x[0] | x[1]) == 0;
}

/*
 * True when the relay listens on `daddr` (16 bytes, IPv4 zero past byte 3) port `dport` of `family`:
 * the port's bits say whether the family's wildcard listens there (the common case, decided by one array
 * read) and whether an exact address might (then qp_listen holds it).
 */
static __always_inline int qp_is_listened(__u8 family, const __u8 *daddr, __be16 dport)
{
	struct qp_listen_key lk = {};
	__u32 port = bpf_ntohs(dport);
	__u8 *bits = bpf_map_lookup_elem(&qp_listen_ports, &port);

	if (!bits)
		return 0;
	if (*bits & (family == QP_AF_INET ? QP_LISTEN_ANY4 : QP_LISTEN_ANY6))
		return 1;
	if (!(*bits & (family == QP_AF_INET ? QP_LISTEN_ADDR4 : QP_LISTEN_ADDR6)))
		return 0;
	lk.family = family;
	lk.port = dport;
	__builtin_memcpy(lk.addr, daddr, sizeof(lk.addr));
	return bpf_map_lookup_elem(&qp_listen, &lk) != 0;
}

/* True when the 16-byte addresses are equal (IPv4 ones are zero past byte 3 on both sides). */
static __always_inline int qp_eq16(const __u8 *a, const __u8 *b)
{
	__u64 x[2], y[2];

	__builtin_memcpy(x, a, sizeof(x));
	__builtin_memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * True when the route sends the packet back to where it came from: peer address and port equal to the
 * packet's source (the caller has checked the route's family is the packet's). The userspace relay
 * never sends a packet back to its sender (it drops it as a reflection); the program must not either.
 */
static __always_inline int qp_is_reflection(const struct qp_route *route, const struct qp_flow *flow)
{
	return route->peer_port == flow->sport && qp_eq16(route->peer_addr, flow->src);
}

enum qp_parse {
	QP_PARSE_ROUTABLE = 0, /* short header, peer-namespace CID copied into the key */
	QP_PARSE_PASS = 1,     /* passed; the counter has been bumped */
};

/*
 * Reads the UDP header at `udp` and the QUIC short header after it. On QP_PARSE_ROUTABLE `key` holds
 * the CID (bytes past cid_len zero); otherwise the packet is to be passed and has been counted.
 */
static __always_inline int qp_parse_quic(struct udphdr *udp, void *data_end, __u32 l4_len, __u8 family,
					 const __u8 *daddr, struct qp_cid_key *key)
{
	__u8 cid_len = qp_config.cid_len;
	__u8 *quic;

	if ((void *)(udp + 1) > data_end)
		return qp_count(QP_STAT_MALFORMED), QP_PARSE_PASS;
	if (!qp_is_listened(family, daddr, udp->dest))
		return qp_count(QP_STAT_NON_QUIC), QP_PARSE_PASS;
	/* The UDP length must match what the IP header says and leave room for the first byte. */
	if (bpf_ntohs(udp->len) != l4_len || l4_len < sizeof(*udp) + 1)
		return qp_count(QP_STAT_MALFORMED), QP_PARSE_PASS;

	quic = (__u8 *)(udp + 1);
	if ((void *)(quic + 1) > data_end)
		return qp_count(QP_STAT_MALFORMED), QP_PARSE_PASS;
	if (quic[0] & QP_QUIC_LONG_HEADER)
		return qp_count(QP_STAT_PASS_LONG), QP_PARSE_PASS;
	if (cid_len == 0 || cid_len > QP_MAX_CID_LEN || l4_len < sizeof(*udp) + 1 + cid_len)
		return qp_count(QP_STAT_MALFORMED), QP_PARSE_PASS;

	/* A bounded loop (no unrolling: it exits early); one bounds check per byte whatever cid_len is. */
	for (int i = 0; i < QP_MAX_CID_LEN; i++) {
		if (i >= cid_len)
			break;
		if ((void *)(quic + 2 + i) > data_end)
			return qp_count(QP_STAT_MALFORMED), QP_PARSE_PASS;
		key->bytes[i] = quic[1 + i];
	}
	if (key->bytes[0] & QP_RELAY_CID_BIT)
		return qp_count(QP_STAT_PASS_RELAY_CID), QP_PARSE_PASS;
	return QP_PARSE_ROUTABLE;
}

enum qp_lookup {
	QP_LOOKUP_HIT = 0,  /* the route was copied out of a slot no one wrote meanwhile */
	QP_LOOKUP_MISS = 1, /* an empty slot, or QP_ROUTE_PROBES slots of other CIDs: no route */
	QP_LOOKUP_BUSY = 2, /* a slot on the way was being written: no answer this time */
};

/* True when the slot holds the key whose words are `w`. */
static __always_inline int qp_slot_has(const struct qp_route_slot *slot, const struct qp_cid_words *w)
{
	struct qp_cid_words s = qp_cid_words_of(slot->cid);

	return ((s.w0 ^ w->w0) | (s.w1 ^ w->w1) | (__u64)(s.w2 ^ w->w2)) == 0;
}

/*
 * Finds the key's route in qp_routes and copies it to `route`. Probes from the home slot over at most
 * QP_ROUTE_PROBES slots, stopping at the first empty one. Each slot is read under its seqlock: an odd sequence
 * (userspace is writing it) is BUSY, and a hit counts only if the sequence is unchanged after the copy, so the
 * route returned was never half written. A slot that changes under a probe that does not match can at worst
 * turn a hit into a miss, which is safe: userspace forwards the packet and, on the event, writes the route again.
 * The ordering of the reads is the program's (compiler barriers); x86's loads are not reordered with each other.
 */
static __always_inline int qp_route_lookup(const struct qp_cid_key *key, struct qp_route *route)
{
	struct qp_cid_words w = qp_cid_words_of(key->bytes);
	__u32 mask = qp_config.route_mask;
	__u32 home = (__u32)qp_cid_hash(qp_config.hash_key[0], qp_config.hash_key[1], &w);

	for (__u32 i = 0; i < QP_ROUTE_PROBES; i++) {
		__u32 index = (home + i) & mask;
		struct qp_route_slot *slot = bpf_map_lookup_elem(&qp_routes, &index);
		__u32 seq;

		if (!slot) /* index <= mask < max_entries: never, but the verifier wants the check */
			return QP_LOOKUP_MISS;
		seq = QP_READ_ONCE(slot->seq);
		if (seq & 1)
			return QP_LOOKUP_BUSY;
		qp_barrier();
		if (slot->state != QP_SLOT_USED)
			return QP_LOOKUP_MISS;
		if (!qp_slot_has(slot, &w))
			continue;
		__builtin_memcpy(route, &slot->route, sizeof(*route));
		qp_barrier();
		return QP_READ_ONCE(slot->seq) == seq ? QP_LOOKUP_HIT : QP_LOOKUP_BUSY;
	}
	return QP_LOOKUP_MISS;
}

/* Reports a miss to userspace; the caller passes the packet so userspace forwards it meanwhile. */
static __always_inline int qp_report_miss(struct xdp_md *ctx, const struct qp_cid_key *key, __u8 family,
					  const struct qp_flow *flow)
{
	struct qp_miss_event *event;

	qp_count(QP_STAT_MISS);
	event = bpf_ringbuf_reserve(&qp_events, sizeof(*event), 0);
	if (!event)
		return qp_pass(QP_STAT_RINGBUF_FULL);
	__builtin_memcpy(event->cid, key->bytes, sizeof(event->cid));
	event->cid_len = qp_config.cid_len;
	event->family = family;
	event->src_port = flow->sport;
	__builtin_memcpy(event->src_addr, flow->src, sizeof(event->src_addr));
	event->ifindex = ctx->ingress_ifindex;
	event->dst_port = flow->dport;
	event->reserved = 0;
	bpf_ringbuf_submit(event, 0);
	return XDP_PASS;
}

/* qp_route_for's answer when the packet is to be forwarded; any other answer is the XDP verdict to return. */
#define QP_FORWARD (-1)

/*
 * Finds the route of a routable packet of `family` and decides whether this program forwards it: QP_FORWARD with
 * the route copied to `route`, or the verdict for a packet userspace handles (a miss, reported; a slot being
 * written; a route to the other family; a route back to the packet's own sender, never bounced).
 */
static __always_inline int qp_route_for(struct xdp_md *ctx, const struct qp_cid_key *key, __u8 family,
					const struct qp_flow *flow, struct qp_route *route)
{
	switch (qp_route_lookup(key, route)) {
	case QP_LOOKUP_HIT:
		break;
	case QP_LOOKUP_BUSY:
		return qp_pass(QP_STAT_PASS_BUSY);
	default:
		return qp_report_miss(ctx, key, family, flow);
	}
	if (route->family != family)
		return qp_pass(QP_STAT_PASS_FAMILY);
	if (qp_is_reflection(route, flow))
		return qp_pass(QP_STAT_PASS_REFLECTION);
	return QP_FORWARD;
}

static __always_inline void qp_swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

#endif
