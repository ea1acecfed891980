/*
 * udp.h - one DNS worker's UDP socket: SO_REUSEPORT, recvmmsg/sendmmsg batches,
 * buffers allocated once.
 *
 * Contract:
 *  - gslb_udp_open() makes a non-blocking UDP socket bound to addr (with
 *    SO_REUSEPORT so every worker binds its own socket on the same port). On a
 *    wildcard address it asks for the destination of each datagram
 *    (IP_PKTINFO / IPV6_RECVPKTINFO) and replies from that address. Kernel
 *    tuning that fails (buffer sizes, PMTU discovery off) is logged once, not
 *    fatal.
 *  - gslb_udp_serve() receives one batch without blocking, answers it inside
 *    one read snapshot of the worker's reader (renewed per batch, reset before
 *    returning: never held across a wait) and sends the answers with one
 *    sendmmsg. No allocation, lock or extra syscall per query.
 *  - Datagrams larger than the receive buffer (GSLB_UDP_RX_SIZE) are dropped
 *    and counted.
 *  - gslb_udp_adopt() prepares a socket bound by someone else (systemd socket
 *    activation): non-blocking, the same tuning and, on a wildcard address,
 *    destination addresses, as gslb_udp_open() would have set.
 *  - gslb_udp_detach() takes the socket out of its SO_REUSEPORT group for
 *    every new datagram (it connects the socket to its own address: the kernel
 *    delivers no unrelated datagram to a connected socket and skips it when it
 *    spreads flows) while what is already queued stays readable: a successor
 *    on the same port gets all new queries, this socket can be drained.
 */
#pragma once

#include "answer.h"
#include "env.h"
#include "gslb_err.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define GSLB_UDP_BATCH 64
#define GSLB_UDP_RX_SIZE 4096

typedef struct gslb_udp_slot gslb_udp_slot_t;

typedef struct gslb_udp {
    int fd;
    bool pktinfo; /* wildcard bind: reply from the query's destination address */
    size_t tx_size;
    struct mmsghdr rx[GSLB_UDP_BATCH], tx[GSLB_UDP_BATCH];
    gslb_udp_slot_t *slots; /* GSLB_UDP_BATCH buffers, allocated once */
} gslb_udp_t;

/** A bound UDP socket, or a negative GSLB_E* code with a message. */
int gslb_udp_open(const struct sockaddr *addr, socklen_t len, bool wildcard, gslb_errbuf_t *eb);

/** Prepare a bound UDP socket passed in by the caller (fd stays the caller's). */
int gslb_udp_adopt(int fd, bool wildcard, gslb_errbuf_t *eb);

/** Stop receiving new datagrams (see the contract); 0 or a negative GSLB_E* code. */
int gslb_udp_detach(gslb_udp_t *u);

/** Attach the batch buffers to a bound socket (takes ownership of fd). */
int gslb_udp_init(gslb_udp_t *u, int fd, bool pktinfo, size_t tx_size);
void gslb_udp_destroy(gslb_udp_t *u);

/** Serve one batch. Returns the number of datagrams received (0 when none was
 *  waiting) or a negative GSLB_E* code on a socket error. */
int gslb_udp_serve(gslb_udp_t *u, gslb_answer_ctx_t *ctx, gslb_reader_t *reader,
                   gslb_stats_t *stats);
