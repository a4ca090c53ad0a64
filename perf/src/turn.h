/* The TURN client steps a load generator needs to send through a TURN server (RFC 8656): an
 * anonymous Allocate (the server runs without credentials, coturn's --no-auth) and a ChannelBind
 * toward one peer, after which every datagram is ChannelData: a 4-byte header and the payload. */
#ifndef QP_PERF_TURN_H
#define QP_PERF_TURN_H

#include <stdint.h>
#include <sys/socket.h>

#define TURN_CHANNEL_HEADER_LEN 4

/* On a UDP socket connected to the TURN server: allocates a relayed address, binds channel
 * `channel` (0x4000..0x4FFF) to `peer`, and writes the relayed address to *relayed. Each
 * request is retried on timeout; dies with the server's error code and reason on a refusal. */
void turn_bind_channel(int fd, const struct sockaddr_storage *peer, uint16_t channel,
                       struct sockaddr_storage *relayed);

/* The ChannelData header for `payload_len` bytes on `channel`. */
void turn_channel_header(uint8_t out[TURN_CHANNEL_HEADER_LEN], uint16_t channel, uint16_t payload_len);

#endif
