/*
 * metrics.h - Prometheus text exposition (format 0.0.4) for GET /metrics on
 * metrics.address (docs/metrics.md).
 *
 * Contract:
 *  - gslb_prom_t is a growing text buffer; after an allocation failure it is
 *    marked oom and every later call is a no-op (check once at the end).
 *  - Families are written as "# HELP" + "# TYPE" + samples; label values are
 *    escaped (\\, \", \n). Label sets are bounded: no client- or agent-derived
 *    label values, ever.
 *  - gslb_metrics_render() never blocks a DNS worker: DNS and gossip counters
 *    come from the server's stats hook (per-worker counters read with relaxed
 *    atomics); store counts come from a short read snapshot of this thread.
 */
#pragma once

#include "http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gslb_prom {
    char *buf;
    size_t len, cap;
    bool oom;
} gslb_prom_t;

void gslb_prom_init(gslb_prom_t *p);
void gslb_prom_free(gslb_prom_t *p);
void gslb_prom_family(gslb_prom_t *p, const char *name, const char *type, const char *help);
/** labels: NULL or pairs "k1", "v1", "k2", "v2", ..., NULL. */
void gslb_prom_sample_u64(gslb_prom_t *p, const char *name, uint64_t value, ...);
void gslb_prom_sample_f64(gslb_prom_t *p, const char *name, double value, ...);

/** Render every family into out. reader may be NULL (store families then absent). */
int gslb_metrics_render(gslb_api_t *api, gslb_reader_t *reader, gslb_prom_t *out);
