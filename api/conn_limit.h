/*
 * conn_limit.h - at most N connections per client address on a CivetWeb
 * context's ports, so one client cannot take every worker (issue 16: slow,
 * header-trickling connections from one allowed address silenced
 * /api/v1/live); the other workers stay in reserve for everybody else.
 *
 * Contract:
 *  - CivetWeb 1.15 has no per-client limit and no hook between accept and the
 *    worker; its init_connection callback runs on the worker that took a
 *    connection, before the request head is read, but cannot name the client
 *    (mg_get_request_info() is NULL then). So gslb_conn_limit_enforce(), called
 *    from that callback, looks at every established TCP socket of this process on
 *    the context's local ports (/proc/self/fd, getsockname/getpeername), groups
 *    them by peer address and shuts down (shutdown(), never close: the fd stays
 *    CivetWeb's, which then sees end-of-file and closes it as usual) the newest
 *    ones (highest fd numbers) of every address holding more than per_client.
 *    Connections still queued for a worker count too, so a flood from one
 *    address is cut before it reaches the workers.
 *  - Stateless: nothing to undo when a connection ends. Cost: one scan of the
 *    process's fds per accepted connection (API and metrics connections are few).
 *  - The first trimming is logged, then at most one line a minute with counts.
 *  - Ports are set after the context started (0 = not yet: nothing is done).
 *    Thread-safe.
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gslb_conn_limit {
    const char *name; /* "api" or "metrics", for the log */
    unsigned per_client;
    _Atomic uint16_t ports[2];
    atomic_uint_fast64_t closed; /* connections shut down so far */
    _Atomic int64_t logged_ms;
} gslb_conn_limit_t;

void gslb_conn_limit_init(gslb_conn_limit_t *l, const char *name, unsigned per_client);
void gslb_conn_limit_set_ports(gslb_conn_limit_t *l, uint16_t port0, uint16_t port1);
/** Shut down the connections beyond per_client of every client address; returns
 *  how many. */
size_t gslb_conn_limit_enforce(gslb_conn_limit_t *l);

/** Shut down the read side of every established TCP connection of this process
 *  whose local port is one of ports[0..nports) (0 entries are ignored), with
 *  the same scan as the limit: a worker waiting for a request on it wakes at
 *  once (a context that stops); an answer being written still goes out.
 *  Returns how many. */
size_t gslb_conn_wake(const uint16_t *ports, size_t nports);
