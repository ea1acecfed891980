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
 *  - Connection slots follow tcp_slots.h (RFC 7766 6.2.3, 10): a connection
 *    with no query in progress is closed idle_timeout_ms after its last sign
 *    of life (accept, a complete query, an answer fully sent, the first byte
 *    of a query; counted as tcp_timeouts); once the first byte of a query
 *    arrived, the whole query must arrive within message_timeout_ms
 *    (tcp_message_timeouts). Bytes inside a query never extend a deadline, so
 *    a client trickling bytes cannot hold a slot. While an answer waits for
 *    the client to read it, the idle timer runs (a slow reader is bounded too).
 *    One whose client closed its side is closed once the pending answers are
 *    sent.
 *  - At most max_clients connections per worker and max_per_source of them
 *    from one source (IPv4 address or IPv6 /64); a connection beyond the
 *    per-source limit is accepted and closed at once (tcp_source_limit). When
 *    every slot is taken, the quietest connection (oldest sign of life) is
 *    closed to make room for the new one (tcp_evicted).
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
#include "tcp_slots.h"

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
    gslb_slots_t *slots;    /* admission and deadlines of conns[] */
    uint64_t wake_ms;       /* earliest deadline set since the last sweep (or later) */
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

/** Set up connection slots with limits lim (max: per worker); registers nothing
 *  yet. Takes ownership of listen_fd. */
int gslb_tcp_init(gslb_tcp_t *t, int listen_fd, int epoll_fd, const gslb_slots_limits_t *lim);
void gslb_tcp_destroy(gslb_tcp_t *t);

/** Accept every pending connection (listener readable). */
void gslb_tcp_accept(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats);

/** Handle epoll events of the connection with tag (>= GSLB_TCP_TAG_BASE). */
void gslb_tcp_event(gslb_tcp_t *t, uint64_t tag, uint32_t events, uint64_t now_ms,
                    gslb_answer_ctx_t *ctx, gslb_reader_t *reader, gslb_stats_t *stats);

/** Close connections past their deadline; returns ms until the next deadline
 *  (-1: none open). The worker sweeps again no later than t->wake_ms. */
int gslb_tcp_sweep(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats);
