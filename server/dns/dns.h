/*
 * dns.h - the DNS service: N worker threads, each with its own SO_REUSEPORT UDP
 * socket, TCP listener, epoll set, LMDB reader and counters.
 *
 * Contract:
 *  - gslb_dns_start() binds every socket before any thread starts, so a bad
 *    address or a port in use is reported synchronously as an error with a
 *    message ("dns: 127.0.0.1 port 53 is already in use (udp)"); on error
 *    nothing is left open. Port 0 binds an ephemeral port shared by UDP and
 *    TCP (read it back with gslb_dns_port()).
 *  - host "" or "::" listens on every address, IPv4 and IPv6 (dual-stack);
 *    "0.0.0.0" on every IPv4 address; otherwise one literal address. On a
 *    wildcard bind answers leave from the address the query was sent to.
 *  - Worker threads block every signal; the caller's main thread handles them.
 *  - Adaptive batching: a worker whose last UDP batch held two or more queries
 *    waits ~100 us (on its TCP sockets and the stop event only) before taking
 *    the next batch; an idle worker blocks on every socket and answers at once
 *    (docs/operations.md, "DNS service").
 *  - Every worker can sign (gslb_answer_ctx_enable_dnssec): DO answers are
 *    signed for zones with an ACTIVE key. overwatch.dnssec.enabled acts
 *    through the keys (false retires them all), so a reload that changes it
 *    takes effect in the workers' next snapshot. While *dnssec_keys_pending
 *    is true, DO queries for a zone without an ACTIVE key get SERVFAIL.
 *  - TCP connections follow tcp.h: per-worker and per-source limits, idle and
 *    per-query deadlines, the quietest connection closed to make room
 *    (dns.tcp_* settings; docs/configuration.md).
 *  - gslb_dns_stats() sums the per-worker counters without stopping anyone.
 *  - gslb_dns_stop() wakes the workers, joins them and frees everything. A
 *    worker finishes the batch it is answering first (graceful stop).
 *  - Passed sockets (systemd socket activation, opts.passed): a bound UDP
 *    socket and a listening TCP socket whose address (family, address, port)
 *    and type equal the listen address are served by every worker (each holds
 *    a duplicate; epoll with EPOLLEXCLUSIVE) instead of sockets of its own;
 *    stopping closes the duplicates only, so the sockets and the datagrams
 *    queued in them outlive the process. A type without a matching passed
 *    socket is bound as usual. gslb_dns_start() takes every passed fd: it
 *    closes the ones it does not use, with a warning naming them.
 *  - opts.takeover: another gslb-overwatch holds the port and will hand it
 *    over; the workers bind beside it (SO_REUSEPORT) without the check that the
 *    port is free.
 *  - gslb_dns_hand_over() is the stop of the process being taken over, once
 *    its successor serves the same port: each worker takes its UDP socket out
 *    of the port's group (gslb_udp_detach), answers everything queued in it
 *    (reads until empty, waits GSLB_DNS_SETTLE_MS, reads until empty again),
 *    accepts what waits on its TCP listener and closes it, answers its open
 *    TCP connections for up to GSLB_DNS_HANDOVER_TCP_MS, then exits; then
 *    everything is freed as by gslb_dns_stop(). With passed sockets it is
 *    gslb_dns_stop() (the sockets stay with whoever passed them).
 */
#pragma once

#include "config.h"
#include "env.h"
#include "gslb_err.h"
#include "stats.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GSLB_DNS_DEFAULT_EDNS 1232
#define GSLB_DNS_DEFAULT_TCP_IDLE_MS 10000
#define GSLB_DNS_DEFAULT_TCP_CLIENTS 256
#define GSLB_DNS_DEFAULT_TCP_MESSAGE_MS 2000
#define GSLB_DNS_DEFAULT_TCP_PER_SOURCE 32
#define GSLB_DNS_MAX_WORKERS 256
#define GSLB_DNS_MAX_PASSED 16
#define GSLB_DNS_SETTLE_MS 5         /* hand-over: second look at a drained UDP queue */
#define GSLB_DNS_HANDOVER_TCP_MS 200 /* hand-over: answering open TCP connections */

typedef struct gslb_dns_opts {
    char host[GSLB_NAME_MAX]; /* IP literal, "" = any */
    uint16_t port;            /* 0 = ephemeral */
    unsigned workers;         /* 0 = number of online CPUs */
    uint16_t edns_payload;    /* 0 = GSLB_DNS_DEFAULT_EDNS */
    uint32_t tcp_idle_timeout_ms;
    uint32_t tcp_max_clients;            /* per worker */
    uint32_t tcp_message_timeout_ms;     /* first byte of a query to its last; 0 = default */
    uint32_t tcp_max_clients_per_source; /* per worker; 0 = default */
    bool takeover;                       /* bind beside the overwatch that hands the port over */
    int passed[GSLB_DNS_MAX_PASSED];     /* sockets passed in (socket activation) */
    unsigned passed_count;
    /* true while a DNSSEC zone waits for its first key (NULL = never): DO
     * queries for a zone without an ACTIVE key then get SERVFAIL. Must outlive
     * the service. */
    const atomic_bool *dnssec_keys_pending;
} gslb_dns_opts_t;

typedef struct gslb_dns gslb_dns_t;

/** Options from the dns section of a loaded configuration. */
void gslb_dns_opts_from_config(const gslb_config_t *cfg, gslb_dns_opts_t *o);

int gslb_dns_start(gslb_env_t *env, const gslb_dns_opts_t *opts, gslb_dns_t **out,
                   gslb_errbuf_t *eb);
uint16_t gslb_dns_port(const gslb_dns_t *d);
unsigned gslb_dns_worker_count(const gslb_dns_t *d);
/** sum = the counters of every worker (sum is zeroed first). */
void gslb_dns_stats(const gslb_dns_t *d, gslb_stats_t *sum);
/** Whether the workers serve passed sockets (UDP, TCP). */
bool gslb_dns_uses_passed(const gslb_dns_t *d);
void gslb_dns_stop(gslb_dns_t *d);
/** Stop for a successor on the same port: drain, then stop (see the contract). */
void gslb_dns_hand_over(gslb_dns_t *d);
