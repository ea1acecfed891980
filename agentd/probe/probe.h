/*
 * probe.h - health probes (HTTP/HTTPS through libcurl's multi interface, TCP
 * connect without blocking), run in parallel by one scheduler, with
 * anti-flapping thresholds. Used by gslb-agentd and by the overwatch's
 * validator (docs/agent.md, "Health checks").
 *
 * Contract:
 *  - A prober owns a set of targets. gslb_prober_step() starts every probe
 *    that is due, waits for I/O at most wait_ms (less when a probe is due or a
 *    deadline passes earlier), and finishes completed probes. It never blocks
 *    on one target: every probe is non-blocking and bounded by its timeout.
 *  - Results go through gslb_probe_state_update(): the first result of a target
 *    sets its health at once; afterwards `failure_threshold` consecutive
 *    failures make it unhealthy and `success_threshold` consecutive successes
 *    make it healthy again.
 *  - HTTP(S) succeeds when the status code is in expected_status (default:
 *    any 2xx). IPv6 literals work; `host` sets the Host header and TLS SNI.
 *  - A prober belongs to one thread.
 */
#pragma once

#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gslb_probe_type { GSLB_PROBE_TCP = 0, GSLB_PROBE_HTTP = 1, GSLB_PROBE_HTTPS = 2 };

#define GSLB_PROBE_MAX_STATUS 8
#define GSLB_PROBE_DEFAULT_INTERVAL_MS 5000
#define GSLB_PROBE_DEFAULT_TIMEOUT_MS 2000
#define GSLB_PROBE_DEFAULT_FAILURE_THRESHOLD 3
#define GSLB_PROBE_DEFAULT_SUCCESS_THRESHOLD 2

typedef struct gslb_probe_spec {
    enum gslb_probe_type type;
    gslb_addr_t addr;
    uint16_t port;
    char path[256];           /* HTTP(S): starts with '/' */
    char host[GSLB_NAME_MAX]; /* HTTP(S): Host header / SNI, "" = the address */
    uint16_t expected_status[GSLB_PROBE_MAX_STATUS];
    uint8_t expected_count; /* 0 = any 2xx */
    bool tls_verify;        /* HTTPS: verify the certificate (default true) */
    uint32_t interval_ms, timeout_ms;
    uint32_t failure_threshold, success_threshold;
} gslb_probe_spec_t;

/** Defaults: TCP, interval 5 s, timeout 2 s, thresholds 3/2, path "/", verify. */
void gslb_probe_spec_default(gslb_probe_spec_t *s);
/** "tcp", "http", "https" -> type: 0 or GSLB_EINVAL. */
int gslb_probe_type_parse(const char *s, enum gslb_probe_type *out);
const char *gslb_probe_type_name(enum gslb_probe_type t);

typedef struct gslb_probe_state {
    uint8_t health; /* enum gslb_tristate */
    uint32_t consecutive_ok, consecutive_fail;
    uint32_t latency_us; /* of the last successful probe */
    uint64_t runs;       /* probes completed */
    char detail[96];     /* last result: "ok", "HTTP 503", "connection refused", ... */
} gslb_probe_state_t;

/** Apply one result; returns true when the health changed. */
bool gslb_probe_state_update(gslb_probe_state_t *st, const gslb_probe_spec_t *spec, bool ok,
                             uint32_t latency_us);

typedef struct gslb_prober gslb_prober_t;

/** Called once per completed probe; `changed` says the health changed. */
typedef void (*gslb_probe_cb)(void *ctx, size_t index, const gslb_probe_state_t *st, bool changed);

int gslb_prober_new(gslb_prober_t **out, gslb_probe_cb cb, void *ctx, gslb_errbuf_t *eb);
void gslb_prober_free(gslb_prober_t *p);
/** Add a target (due at once). Returns its index (>= 0) or a negative error. */
int gslb_prober_add(gslb_prober_t *p, const gslb_probe_spec_t *spec);
/** Remove every target (cancelling probes in flight). */
void gslb_prober_clear(gslb_prober_t *p);
size_t gslb_prober_count(const gslb_prober_t *p);
const gslb_probe_state_t *gslb_prober_state(const gslb_prober_t *p, size_t index);
/** Seed a target's state (the validator keeps state across rounds). */
void gslb_prober_set_state(gslb_prober_t *p, size_t index, const gslb_probe_state_t *st);
/** Make every target due now. */
void gslb_prober_due_now(gslb_prober_t *p);
/** Number of probes in flight. */
size_t gslb_prober_in_flight(const gslb_prober_t *p);

/** One scheduler step (see the contract). extra_fd >= 0 is also polled for
 *  input; *extra_ready tells whether it became readable. Returns 0 or an error. */
int gslb_prober_step(gslb_prober_t *p, int wait_ms, int extra_fd, bool *extra_ready);

/** Probe every target once now and wait until all finished (or deadline_ms of
 *  monotonic time passed; unfinished probes count as failed). */
int gslb_prober_run_round(gslb_prober_t *p, int64_t deadline_ms);
