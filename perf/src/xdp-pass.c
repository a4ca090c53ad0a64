// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
// Passes every frame. xdp-vs-userspace.sh attaches it to the load generator's side of the veth pair:
// veth delivers XDP_TX frames from its peer only when an XDP program runs on the receiving side.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
