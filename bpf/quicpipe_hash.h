/*
 * The route table's hash: SipHash-1-3 of the 20-byte route key under qp_config.hash_key. Plain C over __u64, so the
 * program and the C tools that fill the table (perf/src/xdp-prog-bench.c) share it; QuicPipe.Xdp's CidHash is the
 * C# twin. A keyed PRF, not a plain mixer: a peer that chooses its CIDs cannot aim them at another route's window
 * without the key, which the loader draws at random for every load.
 *
 * The key bytes are read as little-endian words in host order: the program and its loader run on the same
 * little-endian host (x86-64, arm64).
 */
#ifndef QUICPIPE_HASH_H
#define QUICPIPE_HASH_H

#include <linux/types.h>

#include "quicpipe_consts.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The 20 key bytes as the words the hash eats and the probe compares: bytes 0-7, 8-15, 16-19. */
struct qp_cid_words {
	__u64 w0;
	__u64 w1;
	__u32 w2;
};

static __always_inline struct qp_cid_words qp_cid_words_of(const __u8 *bytes)
{
	struct qp_cid_words w;

	__builtin_memcpy(&w.w0, bytes, 8);
	__builtin_memcpy(&w.w1, bytes + 8, 8);
	__builtin_memcpy(&w.w2, bytes + 16, 4);
	return w;
}

#define QP_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define QP_SIPROUND(v0, v1, v2, v3)                                                                        \
	do {                                                                                               \
		v0 += v1;                                                                                  \
		v1 = QP_ROTL64(v1, 13);                                                                    \
		v1 ^= v0;                                                                                  \
		v0 = QP_ROTL64(v0, 32);                                                                    \
		v2 += v3;                                                                                  \
		v3 = QP_ROTL64(v3, 16);                                                                    \
		v3 ^= v2;                                                                                  \
		v0 += v3;                                                                                  \
		v3 = QP_ROTL64(v3, 21);                                                                    \
		v3 ^= v0;                                                                                  \
		v2 += v1;                                                                                  \
		v1 = QP_ROTL64(v1, 17);                                                                    \
		v1 ^= v2;                                                                                  \
		v2 = QP_ROTL64(v2, 32);                                                                    \
	} while (0)

/* SipHash-1-3 (one round per block, three to finish) of the 20-byte message `w` under key (k0, k1). */
static __always_inline __u64 qp_cid_hash(__u64 k0, __u64 k1, const struct qp_cid_words *w)
{
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = k1 ^ 0x7465646279746573ULL;
	__u64 last = ((__u64)QP_MAX_CID_LEN << 56) | w->w2; /* the message length in the top byte */

	v3 ^= w->w0;
	QP_SIPROUND(v0, v1, v2, v3);
	v0 ^= w->w0;
	v3 ^= w->w1;
	QP_SIPROUND(v0, v1, v2, v3);
	v0 ^= w->w1;
	v3 ^= last;
	QP_SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	QP_SIPROUND(v0, v1, v2, v3);
	QP_SIPROUND(v0, v1, v2, v3);
	QP_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
