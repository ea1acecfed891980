/*
 * stats.h - DNS counters: one block per worker thread, summed at scrape time.
 *
 * Contract:
 *  - A worker owns its gslb_stats_t and is its only writer; increments are a
 *    relaxed load + store (no lock, no atomic read-modify-write), so a reader
 *    on another thread (metrics scrape) sees each counter untorn and monotonic.
 *  - gslb_stats_sum() adds any number of blocks into a snapshot.
 *  - Label sets are bounded: qtypes outside the named list count as "other",
 *    rcodes outside the list as "other" (metrics stay finite under attack).
 *  - Metric names for the exposition: opengslb_dns_queries_total{qtype,rcode,...}
 *    and the gslb_stats_field_* names below (docs/metrics.md owns the text).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum gslb_stats_qtype {
    GSLB_SQT_A = 0,
    GSLB_SQT_AAAA,
    GSLB_SQT_NS,
    GSLB_SQT_SOA,
    GSLB_SQT_ANY,
    GSLB_SQT_CNAME,
    GSLB_SQT_MX,
    GSLB_SQT_TXT,
    GSLB_SQT_SRV,
    GSLB_SQT_PTR,
    GSLB_SQT_CAA,
    GSLB_SQT_DS,
    GSLB_SQT_DNSKEY,
    GSLB_SQT_HTTPS,
    GSLB_SQT_SVCB,
    GSLB_SQT_AXFR,
    GSLB_SQT_IXFR,
    GSLB_SQT_OTHER,
    GSLB_SQT_COUNT
};

enum gslb_stats_rcode {
    GSLB_SRC_NOERROR = 0,
    GSLB_SRC_FORMERR,
    GSLB_SRC_SERVFAIL,
    GSLB_SRC_NXDOMAIN,
    GSLB_SRC_NOTIMP,
    GSLB_SRC_REFUSED,
    GSLB_SRC_BADVERS,
    GSLB_SRC_OTHER,
    GSLB_SRC_COUNT
};

/* Scalar counters, in the order of gslb_stats_field_name(). */
enum gslb_stats_field {
    GSLB_ST_UDP_QUERIES = 0,      /* datagrams received */
    GSLB_ST_TCP_QUERIES,          /* length-framed messages received over TCP */
    GSLB_ST_DROPPED,              /* not answered: short header, QR=1, oversize */
    GSLB_ST_TRUNCATED,            /* UDP answers sent with TC */
    GSLB_ST_NODATA,               /* NOERROR answers without an answer RRset */
    GSLB_ST_EDNS,                 /* queries with an OPT record */
    GSLB_ST_EDNS_DO,              /* queries with the DO bit */
    GSLB_ST_STORE_ERRORS,         /* lookups that failed (answered SERVFAIL) */
    GSLB_ST_UDP_SEND_ERRORS,      /* answers the kernel refused to send */
    GSLB_ST_TCP_ACCEPTED,         /* TCP connections accepted */
    GSLB_ST_TCP_REJECTED,         /* closed at once: no memory for a connection */
    GSLB_ST_TCP_TIMEOUTS,         /* closed for idleness (no message for tcp_idle_timeout) */
    GSLB_ST_TCP_ERRORS,           /* closed on a read/write error or a bad frame */
    GSLB_ST_DNSSEC_ANSWERS,       /* DO answers that carry at least one RRSIG */
    GSLB_ST_DNSSEC_SIGNATURES,    /* RRSIGs computed (signature cache misses) */
    GSLB_ST_DNSSEC_CACHE_HITS,    /* RRSIGs taken from the worker's signature cache */
    GSLB_ST_DNSSEC_ERRORS,        /* signing failures (answered SERVFAIL) */
    GSLB_ST_TCP_MESSAGE_TIMEOUTS, /* closed: a query not complete within tcp_message_timeout */
    GSLB_ST_TCP_SOURCE_LIMIT,     /* refused at once: its source holds tcp_max_clients_per_source */
    GSLB_ST_TCP_EVICTED,          /* closed to make room: the quietest when all slots are taken */
    GSLB_ST_FIELD_COUNT
};

typedef struct gslb_stats {
    uint64_t queries[GSLB_SQT_COUNT][GSLB_SRC_COUNT];
    uint64_t field[GSLB_ST_FIELD_COUNT];
} gslb_stats_t;

/** Bucket of a qtype / rcode (extended rcodes included). */
enum gslb_stats_qtype gslb_stats_qtype_bucket(uint16_t qtype);
enum gslb_stats_rcode gslb_stats_rcode_bucket(unsigned rcode);

/** Label text: "A", "AAAA", ..., "other"; "NOERROR", ..., "other";
 *  field names "udp_queries", ... */
const char *gslb_stats_qtype_name(unsigned bucket);
const char *gslb_stats_rcode_name(unsigned bucket);
const char *gslb_stats_field_name(unsigned field);

/* Single-writer increment (see the contract above). */
static inline void gslb_stats_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline void gslb_stats_inc(gslb_stats_t *s, enum gslb_stats_field f)
{
    gslb_stats_add(&s->field[f], 1);
}

/** Count one answered query. */
static inline void gslb_stats_answer(gslb_stats_t *s, uint16_t qtype, unsigned rcode)
{
    gslb_stats_add(&s->queries[gslb_stats_qtype_bucket(qtype)][gslb_stats_rcode_bucket(rcode)], 1);
}

void gslb_stats_zero(gslb_stats_t *s);
/** sum += one worker's block (relaxed reads). */
void gslb_stats_accumulate(gslb_stats_t *sum, const gslb_stats_t *worker);
typedef void (*gslb_stats_query_cb)(const char *qtype, const char *rcode, uint64_t value,
                                    void *ctx);
/** Call cb for every non-zero (qtype, rcode) counter of s, in label order. */
void gslb_stats_foreach_query(const gslb_stats_t *s, gslb_stats_query_cb cb, void *ctx);

/** Total answered queries over every label. */
uint64_t gslb_stats_total_queries(const gslb_stats_t *s);
