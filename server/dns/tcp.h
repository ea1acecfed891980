/*
 * tcp.h - one DNS worker's TCP listener and connections (RFC 7766).
 *
 * Contract:
 *  - Every socket is non-blocking and driven by the worker's epoll set; a slow
 *    or half-open client can never block the worker.
 *  - Messages are framed by a 2-byte length; several queries may arrive on one
 *    connection, back to back (pipelined), and are answered in order. Answers to
 *    the queries found in one read are written with one send.
 *  - Back-pressure: while a connection has unsent answer bytes, no further query
 *    of it is read; the rest is sent when the socket is writable.
 *  - A connection idle (no byte read or written) for idle_timeout_ms is closed,
 *    and so is one whose client closed its side once the pending answers are sent.
 *  - At most max_clients connections per worker; a connection beyond the limit
 *    is accepted and closed at once (counted as tcp_rejected).
 *  - Queries longer than GSLB_TCP_QUERY_MAX, or of length 0, close the
 *    connection (counted as tcp_errors).
 *  - The worker's read snapshot is taken per batch of queries and reset before
 *    returning to epoll.
 */
#pragma once

#include "answer.h"
#include "env.h"
#include "gslb_err.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GSLB_TCP_QUERY_MAX 16384
#define GSLB_TCP_TAG_BASE 16 /* epoll tags >= this are connection indices */

typedef struct gslb_tcp_conn gslb_tcp_conn_t;

typedef struct gslb_tcp {
    int listen_fd;
    int epoll_fd;
    uint32_t max_clients;
    uint32_t idle_timeout_ms;
    uint32_t open;          /* connections in use */
    gslb_tcp_conn_t *conns; /* max_clients slots */
    uint8_t *out;           /* answer scratch, allocated once */
    size_t out_cap;
} gslb_tcp_t;

/** A bound, listening, non-blocking TCP socket (SO_REUSEPORT), or an error. */
int gslb_tcp_open(const struct sockaddr *addr, socklen_t len, bool wildcard, gslb_errbuf_t *eb);

/** Make a listening socket passed in by the caller non-blocking (fd stays theirs). */
int gslb_tcp_adopt(int fd, gslb_errbuf_t *eb);

/** Stop listening: take the listener out of the epoll set and close it
 *  (open connections stay). */
void gslb_tcp_close_listener(gslb_tcp_t *t);

/** Set up connection slots; registers nothing yet. Takes ownership of listen_fd. */
int gslb_tcp_init(gslb_tcp_t *t, int listen_fd, int epoll_fd, uint32_t max_clients,
                  uint32_t idle_timeout_ms);
void gslb_tcp_destroy(gslb_tcp_t *t);

/** Accept every pending connection (listener readable). */
void gslb_tcp_accept(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats);

/** Handle epoll events of the connection with tag (>= GSLB_TCP_TAG_BASE). */
void gslb_tcp_event(gslb_tcp_t *t, uint64_t tag, uint32_t events, uint64_t now_ms,
                    gslb_answer_ctx_t *ctx, gslb_reader_t *reader, gslb_stats_t *stats);

/** Close idle connections; returns ms until the next one may expire (-1: none open). */
int gslb_tcp_sweep(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats);
