// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * QuicPipe relay offload: forwards QUIC short-header packets by destination CID in the driver.
 *
 * Verdicts: a routed CID is rewritten (MACs swapped, source = relay, destination = peer) and bounced
 * with XDP_TX. Everything else is XDP_PASS: long headers and relay-namespace CIDs (userspace serves
 * them), misses (after a ring-buffer event, so userspace forwards and re-populates the map), routes whose
 * slot userspace is writing at that moment, routes to the other IP family, routes back to the packet's
 * own sender (userspace drops those, as reflections), traffic to an address + port the relay does not
 * listen on, IPv4 fragments, IPv6 extension headers, and malformed frames (the kernel judges them as it
 * would without us). The program never drops.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "quicpipe_consts.h"
#include "quicpipe_structs.h"
#include "quicpipe_maps.h"
#include "quicpipe_helpers.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline int qp_handle_ipv4(struct xdp_md *ctx, struct ethhdr *eth, struct iphdr *ip,
					  void *data_end)
{
	struct qp_cid_key key = {};
	struct qp_flow flow = {};
	struct qp_route route;
	struct udphdr *udp;
	__u32 ihl_bytes, tot_len;
	int verdict;
	__u64 old_sum, new_sum;
	__be32 saddr, daddr;
	__u16 ttl_word;

	if ((void *)(ip + 1) > data_end)
		return qp_pass(QP_STAT_MALFORMED);
	if (ip->version != 4 || ip->ihl < 5)
		return qp_pass(QP_STAT_MALFORMED);
	if (ip->protocol != QP_IPPROTO_UDP)
		return qp_pass(QP_STAT_NON_QUIC);
	if (ip->frag_off & bpf_htons(QP_IP_MF_OFFSET_MASK))
		return qp_pass(QP_STAT_PASS_UNSUPPORTED);

	ihl_bytes = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < ihl_bytes + sizeof(struct udphdr) || (void *)ip + tot_len > data_end)
		return qp_pass(QP_STAT_MALFORMED);
	/* Options are skipped by IHL; ihl_bytes is at most 60 so the verifier can bound the pointer. */
	udp = (void *)ip + (ihl_bytes & 0x3C);

	__builtin_memcpy(flow.src, &ip->saddr, 4);
	__builtin_memcpy(flow.dst, &ip->daddr, 4);
	if (qp_parse_quic(udp, data_end, tot_len - ihl_bytes, QP_AF_INET, flow.dst, &key) != QP_PARSE_ROUTABLE)
		return XDP_PASS;
	if ((void *)(udp + 1) > data_end) /* re-proved for the verifier after the call */
		return qp_pass(QP_STAT_MALFORMED);

	flow.sport = udp->source;
	flow.dport = udp->dest;

	verdict = qp_route_for(ctx, &key, QP_AF_INET, &flow, &route);
	if (verdict != QP_FORWARD)
		return verdict;

	/* New source: the configured relay address, else the address the packet was sent to. */
	if (qp_is_zero16(route.relay_addr))
		saddr = ip->daddr;
	else
		__builtin_memcpy(&saddr, route.relay_addr, 4);
	__builtin_memcpy(&daddr, route.peer_addr, 4);

	/* IPv4 header checksum: addresses and the TTL/protocol word change. */
	old_sum = qp_csum_words(&ip->saddr, 4);
	__builtin_memcpy(&ttl_word, &ip->ttl, 2);
	old_sum += ttl_word;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->ttl = QP_TX_TTL;
	new_sum = qp_csum_words(&ip->saddr, 4);
	__builtin_memcpy(&ttl_word, &ip->ttl, 2);
	new_sum += ttl_word;
	ip->check = qp_csum_replace(ip->check, old_sum, 5, new_sum);

	/* UDP: the pseudo-header addresses and both ports change. Zero means "no checksum": kept. */
	udp->source = flow.dport;
	udp->dest = route.peer_port;
	if (udp->check) {
		old_sum = qp_csum_words(flow.src, 2) + qp_csum_words(flow.dst, 2) + flow.sport + flow.dport;
		new_sum = qp_csum_words(&ip->saddr, 4) + udp->source + udp->dest;
		udp->check = qp_csum_replace(udp->check, old_sum, 6, new_sum);
		if (!udp->check)
			udp->check = 0xFFFF; /* RFC 768: a computed zero is sent as all ones */
	}

	qp_swap_macs(eth);
	qp_count(QP_STAT_TX);
	return XDP_TX;
}

/* Next-header values that are IPv6 extension headers (RFC 8200 4, IANA): not parsed in this version. */
static __always_inline int qp_is_ipv6_extension(__u8 nexthdr)
{
	switch (nexthdr) {
	case 0:   /* hop-by-hop */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	default:
		return 0;
	}
}

static __always_inline int qp_handle_ipv6(struct xdp_md *ctx, struct ethhdr *eth, struct ipv6hdr *ip6,
					  void *data_end)
{
	struct qp_cid_key key = {};
	struct qp_flow flow = {};
	struct qp_route route;
	struct udphdr *udp;
	__u64 old_sum, new_sum;
	__u32 payload_len;
	int verdict;

	if ((void *)(ip6 + 1) > data_end)
		return qp_pass(QP_STAT_MALFORMED);
	if (ip6->version != 6)
		return qp_pass(QP_STAT_MALFORMED);
	if (ip6->nexthdr != QP_IPPROTO_UDP)
		return qp_pass(qp_is_ipv6_extension(ip6->nexthdr) ? QP_STAT_PASS_UNSUPPORTED : QP_STAT_NON_QUIC);

	payload_len = bpf_ntohs(ip6->payload_len);
	if (payload_len < sizeof(struct udphdr) || (void *)(ip6 + 1) + payload_len > data_end)
		return qp_pass(QP_STAT_MALFORMED); /* includes jumbograms (payload_len 0) */
	udp = (void *)(ip6 + 1);

	__builtin_memcpy(flow.src, &ip6->saddr, 16);
	__builtin_memcpy(flow.dst, &ip6->daddr, 16);
	if (qp_parse_quic(udp, data_end, payload_len, QP_AF_INET6, flow.dst, &key) != QP_PARSE_ROUTABLE)
		return XDP_PASS;
	if ((void *)(udp + 1) > data_end)
		return qp_pass(QP_STAT_MALFORMED);
	if (!udp->check) /* mandatory over IPv6 (RFC 8200 8.1) */
		return qp_pass(QP_STAT_MALFORMED);

	flow.sport = udp->source;
	flow.dport = udp->dest;

	verdict = qp_route_for(ctx, &key, QP_AF_INET6, &flow, &route);
	if (verdict != QP_FORWARD)
		return verdict;

	if (!qp_is_zero16(route.relay_addr))
		__builtin_memcpy(&ip6->saddr, route.relay_addr, 16);
	else
		__builtin_memcpy(&ip6->saddr, flow.dst, 16);
	__builtin_memcpy(&ip6->daddr, route.peer_addr, 16);
	ip6->hop_limit = QP_TX_TTL; /* not in any checksum */

	udp->source = flow.dport;
	udp->dest = route.peer_port;
	old_sum = qp_csum_words(flow.src, 8) + qp_csum_words(flow.dst, 8) + flow.sport + flow.dport;
	new_sum = qp_csum_words(&ip6->saddr, 16) + udp->source + udp->dest;
	udp->check = qp_csum_replace(udp->check, old_sum, 18, new_sum);
	if (!udp->check)
		udp->check = 0xFFFF;

	qp_swap_macs(eth);
	qp_count(QP_STAT_TX);
	return XDP_TX;
}

SEC("xdp")
int quicpipe_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	qp_count(QP_STAT_RX);
	if (l3 > data_end)
		return qp_pass(QP_STAT_MALFORMED);
	proto = eth->h_proto;

	if (proto == bpf_htons(QP_ETH_P_8021Q) || proto == bpf_htons(QP_ETH_P_8021AD)) {
		struct qp_vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return qp_pass(QP_STAT_MALFORMED);
		proto = vlan->encap_proto;
		l3 = vlan + 1;
	}

	if (proto == bpf_htons(QP_ETH_P_IP))
		return qp_handle_ipv4(ctx, eth, l3, data_end);
	if (proto == bpf_htons(QP_ETH_P_IPV6))
		return qp_handle_ipv6(ctx, eth, l3, data_end);
	return qp_pass(QP_STAT_NON_QUIC);
}
