/*
 * stats.c - DNS counters (see stats.h for the contract).
 */
#include "stats.h"
#include "wire.h"

#include <string.h>

enum gslb_stats_qtype gslb_stats_qtype_bucket(uint16_t qtype)
{
    switch (qtype) {
    case GSLB_RR_A:
        return GSLB_SQT_A;
    case GSLB_RR_AAAA:
        return GSLB_SQT_AAAA;
    case GSLB_RR_NS:
        return GSLB_SQT_NS;
    case GSLB_RR_SOA:
        return GSLB_SQT_SOA;
    case GSLB_RR_ANY:
        return GSLB_SQT_ANY;
    case GSLB_RR_CNAME:
        return GSLB_SQT_CNAME;
    case GSLB_RR_MX:
        return GSLB_SQT_MX;
    case GSLB_RR_TXT:
        return GSLB_SQT_TXT;
    case GSLB_RR_SRV:
        return GSLB_SQT_SRV;
    case GSLB_RR_PTR:
        return GSLB_SQT_PTR;
    case GSLB_RR_CAA:
        return GSLB_SQT_CAA;
    case GSLB_RR_DS:
        return GSLB_SQT_DS;
    case GSLB_RR_DNSKEY:
        return GSLB_SQT_DNSKEY;
    case GSLB_RR_HTTPS:
        return GSLB_SQT_HTTPS;
    case GSLB_RR_SVCB:
        return GSLB_SQT_SVCB;
    case GSLB_RR_AXFR:
        return GSLB_SQT_AXFR;
    case GSLB_RR_IXFR:
        return GSLB_SQT_IXFR;
    default:
        return GSLB_SQT_OTHER;
    }
}

enum gslb_stats_rcode gslb_stats_rcode_bucket(unsigned rcode)
{
    switch (rcode) {
    case GSLB_RCODE_NOERROR:
        return GSLB_SRC_NOERROR;
    case GSLB_RCODE_FORMERR:
        return GSLB_SRC_FORMERR;
    case GSLB_RCODE_SERVFAIL:
        return GSLB_SRC_SERVFAIL;
    case GSLB_RCODE_NXDOMAIN:
        return GSLB_SRC_NXDOMAIN;
    case GSLB_RCODE_NOTIMP:
        return GSLB_SRC_NOTIMP;
    case GSLB_RCODE_REFUSED:
        return GSLB_SRC_REFUSED;
    case GSLB_RCODE_BADVERS:
        return GSLB_SRC_BADVERS;
    default:
        return GSLB_SRC_OTHER;
    }
}

static const char *const qtype_names[GSLB_SQT_COUNT] = {
    "A",   "AAAA", "NS", "SOA",    "ANY",   "CNAME", "MX",   "TXT",  "SRV",
    "PTR", "CAA",  "DS", "DNSKEY", "HTTPS", "SVCB",  "AXFR", "IXFR", "other",
};

static const char *const rcode_names[GSLB_SRC_COUNT] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other",
};

static const char *const field_names[GSLB_ST_FIELD_COUNT] = {
    "udp_queries",       "tcp_queries",    "dropped",
    "truncated",         "nodata",         "edns",
    "edns_do",           "store_errors",   "udp_send_errors",
    "tcp_accepted",      "tcp_rejected",   "tcp_timeouts",
    "tcp_errors",        "dnssec_answers", "dnssec_signatures",
    "dnssec_cache_hits", "dnssec_errors",  "tcp_message_timeouts",
    "tcp_source_limit",  "tcp_evicted",
};

const char *gslb_stats_qtype_name(unsigned bucket)
{
    return bucket < GSLB_SQT_COUNT ? qtype_names[bucket] : "other";
}

const char *gslb_stats_rcode_name(unsigned bucket)
{
    return bucket < GSLB_SRC_COUNT ? rcode_names[bucket] : "other";
}

const char *gslb_stats_field_name(unsigned field)
{
    return field < GSLB_ST_FIELD_COUNT ? field_names[field] : "unknown";
}

void gslb_stats_zero(gslb_stats_t *s)
{
    memset(s, 0, sizeof(*s));
}

void gslb_stats_accumulate(gslb_stats_t *sum, const gslb_stats_t *w)
{
    for (unsigned q = 0; q < GSLB_SQT_COUNT; q++) {
        for (unsigned r = 0; r < GSLB_SRC_COUNT; r++)
            sum->queries[q][r] += __atomic_load_n(&w->queries[q][r], __ATOMIC_RELAXED);
    }
    for (unsigned f = 0; f < GSLB_ST_FIELD_COUNT; f++)
        sum->field[f] += __atomic_load_n(&w->field[f], __ATOMIC_RELAXED);
}

uint64_t gslb_stats_total_queries(const gslb_stats_t *s)
{
    uint64_t t = 0;
    for (unsigned q = 0; q < GSLB_SQT_COUNT; q++) {
        for (unsigned r = 0; r < GSLB_SRC_COUNT; r++)
            t += s->queries[q][r];
    }
    return t;
}

void gslb_stats_foreach_query(const gslb_stats_t *s, gslb_stats_query_cb cb, void *ctx)
{
    for (unsigned q = 0; q < GSLB_SQT_COUNT; q++) {
        for (unsigned r = 0; r < GSLB_SRC_COUNT; r++) {
            if (s->queries[q][r])
                cb(qtype_names[q], rcode_names[r], s->queries[q][r], ctx);
        }
    }
}
