/*
 * tcp_slots.h - the connection table of a TCP server: which connection may
 * take a slot, when each one must go, and which one makes room when all are
 * taken (RFC 7766 6.2.3 and 10: per-client limits, idle and per-message
 * timeouts, closing idle connections under load). Used by the DNS workers'
 * TCP listeners and the gossip receiver's TCP port.
 *
 * Contract:
 *  - A table of `max` slots; each is free or holds one connection of a
 *    source. The source of an IPv4 (or IPv4-mapped IPv6) peer is its address,
 *    of an IPv6 peer its /64 (one site), of anything else one shared key.
 *  - Admission (gslb_slots_admit): a source that already holds
 *    max_per_source slots is refused (GSLB_SLOTS_SOURCE_LIMIT); otherwise a
 *    free slot is given (GSLB_SLOTS_FREE) or, when every slot is taken, the
 *    slot of the quietest connection (GSLB_SLOTS_EVICT: the caller closes
 *    that connection and calls gslb_slots_release() before taking the slot).
 *    gslb_slots_admit() changes nothing itself.
 *  - Timers, from the signs of life the caller reports (gslb_slots_progress):
 *      idle:    no message in progress: the connection goes at
 *               last sign of life + idle_ms;
 *      message: once the first byte of a message arrived, the whole message
 *               must arrive within message_ms of it (message_ms is capped at
 *               idle_ms).
 *    A sign of life is the accept, the first byte of a message and a complete
 *    message (received, or an answer fully sent). Bytes inside a message are
 *    not: trickling bytes never extends a deadline.
 *  - The quietest connection is the one whose last sign of life is oldest
 *    (connections are kept in that order, so admission is O(1) besides the
 *    per-source count, a walk of one hash chain).
 *  - Limits are clamped: max >= 1, 1 <= max_per_source <= max, idle_ms >= 1,
 *    1 <= message_ms <= idle_ms.
 *  - No I/O and no clock: the caller passes monotonic milliseconds (never
 *    decreasing). One owner thread; no locking.
 */
#pragma once

#include "gslb_err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct gslb_slots_limits {
    uint32_t max;            /* connections in the table */
    uint32_t max_per_source; /* connections of one source */
    uint32_t idle_ms;        /* between messages */
    uint32_t message_ms;     /* from the first byte of a message to its last */
} gslb_slots_limits_t;

/** A source: IPv4 address, or IPv6 /64 (16 bytes, zero-padded). */
typedef struct gslb_slots_src {
    uint8_t b[17]; /* b[0]: family tag */
} gslb_slots_src_t;

enum gslb_slots_verdict {
    GSLB_SLOTS_FREE = 0,     /* *slot is free */
    GSLB_SLOTS_EVICT,        /* *slot holds the quietest connection: close it first */
    GSLB_SLOTS_SOURCE_LIMIT, /* the source holds max_per_source slots: refuse */
};

enum gslb_slots_timer {
    GSLB_SLOTS_TIMER_IDLE = 0, /* waiting for a message */
    GSLB_SLOTS_TIMER_MESSAGE,  /* a message is arriving */
};

typedef struct gslb_slots gslb_slots_t;

/** A table with the (clamped) limits; GSLB_ENOMEM when out of memory. */
int gslb_slots_new(const gslb_slots_limits_t *lim, gslb_slots_t **out);
void gslb_slots_free(gslb_slots_t *t);
/** The limits after clamping. */
const gslb_slots_limits_t *gslb_slots_limits(const gslb_slots_t *t);

/** The source key of a peer address (len: its sockaddr length). */
void gslb_slots_source(const struct sockaddr *sa, socklen_t len, gslb_slots_src_t *out);

/** May a connection of src take a slot? (See the contract; changes nothing.) */
enum gslb_slots_verdict gslb_slots_admit(const gslb_slots_t *t, const gslb_slots_src_t *src,
                                         uint32_t *slot);
/** Put a new connection of src into the free slot `slot` (accepted at now_ms). */
void gslb_slots_take(gslb_slots_t *t, uint32_t slot, const gslb_slots_src_t *src, uint64_t now_ms);
/** Free a slot (a free slot is left alone). */
void gslb_slots_release(gslb_slots_t *t, uint32_t slot);

/** Report what happened on a connection at now_ms: `completed` a message was
 *  received or an answer fully sent; `partial` an incomplete message is
 *  buffered now (its first byte starts the message timer if none runs). */
void gslb_slots_progress(gslb_slots_t *t, uint32_t slot, uint64_t now_ms, bool completed,
                         bool partial);

/** Whether slot holds a connection. */
bool gslb_slots_used(const gslb_slots_t *t, uint32_t slot);
/** Connections in the table. */
uint32_t gslb_slots_open(const gslb_slots_t *t);
/** When the connection in slot must go, and which timer that is. */
uint64_t gslb_slots_deadline(const gslb_slots_t *t, uint32_t slot, enum gslb_slots_timer *which);
/** Connections of src in the table. */
uint32_t gslb_slots_count_source(const gslb_slots_t *t, const gslb_slots_src_t *src);
