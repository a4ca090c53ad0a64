/* The program's maps. Sizes here are defaults; the loader resizes qp_routes and qp_events before load. */
#ifndef QUICPIPE_MAPS_H
#define QUICPIPE_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "quicpipe_structs.h"

/*
 * CID -> peer: an open-addressed table of 64-byte slots (struct qp_route_slot), so that a lookup touches one
 * cache line in the common case, where a hash map touched its bucket, its element and its LRU state. Mmapable:
 * userspace writes slots in place through its mapping (no system call per route), and the values are page-aligned,
 * so every slot is exactly one cache line.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, QP_ROUTE_SLOTS);
	__type(key, __u32);
	__type(value, struct qp_route_slot);
} qp_routes SEC(".maps");

/*
 * Relay listen addresses (struct qp_listen_key: family, address, port; a zero address is the family's
 * wildcard) -> 1. Traffic to any other address + port is not looked at.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QP_LISTEN_MAX_ENTRIES);
	__type(key, struct qp_listen_key);
	__type(value, __u8);
} qp_listen SEC(".maps");

/*
 * UDP port (host order) -> the QP_LISTEN_* bits of the listeners on it. The program reads this first:
 * with a wildcard listener (the relay's default) one array read, which the verifier inlines, decides,
 * where two qp_listen hash lookups (exact address, then wildcard) cost about half the program's time.
 * qp_listen is consulted only for ports with address-specific listeners.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QP_PORTS);
	__type(key, __u32);
	__type(value, __u8);
} qp_listen_ports SEC(".maps");

/* Miss events (struct qp_miss_event) for userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, QP_EVENTS_BYTES);
} qp_events SEC(".maps");

/* enum qp_stat -> count, per CPU; userspace sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} qp_stats SEC(".maps");

#endif
