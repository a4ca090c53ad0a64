// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
// The lab's sink, in the driver: counts the UDP datagrams (IPv4 or IPv6, no VLAN tag) addressed to the
// sink's port and drops them; passes everything else (ARP, ICMP, other ports) to the stack.
// xdp-vs-userspace.sh attaches it (through xdp-sink, which also reads the counts) to the load
// generator's side of the veth pair. Being an XDP program there, it also lets veth deliver the relay's
// XDP_TX frames, as xdp-pass did. Frames the userspace relay sends and frames the relay's XDP program
// bounces arrive here the same way, so both runs are counted at the same point for the same cost.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Shared with xdp-sink.c: set before load (the .rodata map's whole value).
struct sink_config {
	__be16 port; // the sink's UDP port, network order
	__u16 reserved[3];
};

// Value of the only slot of sink_counts; each CPU adds to its own copy, the reader sums them.
struct sink_count {
	__u64 packets;
	__u64 bytes; // UDP payload bytes, as udp-sink counts them
};

const volatile struct sink_config sink_config = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_count);
} sink_counts SEC(".maps");

static __always_inline int count_and_drop(const struct udphdr *udp)
{
	__u32 key = 0;
	struct sink_count *c = bpf_map_lookup_elem(&sink_counts, &key);

	if (!c)
		return XDP_PASS;
	c->packets += 1;
	c->bytes += (__u16)(bpf_ntohs(udp->len) - sizeof(*udp));
	return XDP_DROP;
}

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
			return XDP_PASS;
		udp = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return XDP_PASS;
		udp = (void *)(ip6 + 1);
	} else {
		return XDP_PASS;
	}
	if ((void *)(udp + 1) > end || udp->dest != sink_config.port)
		return XDP_PASS;
	return count_and_drop(udp);
}

char LICENSE[] SEC("license") = "GPL";
