/*
 * dns.c - DNS worker threads: start, event loop, stop (see dns.h).
 */
#include "dns.h"
#include "answer.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "tcp.h"
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum { TAG_STOP = 0, TAG_UDP = 1, TAG_LISTEN = 2, TAG_TCP = 3 };
#define EPOLL_EVENTS 64
#define UDP_ROUNDS 16 /* full batches served before looking at TCP again */
#define SWEEP_MIN_MS 50
#define COALESCE_MIN 2           /* a UDP batch this large means "under load" */
#define COALESCE_NS 100000       /* adaptive batching wait under load */
#define COALESCE_SLACK_NS 10000L /* timer slack of worker threads */

typedef struct worker {
    gslb_stats_t stats; /* first: the struct is 64-byte aligned */
    struct gslb_dns *dns;
    unsigned index;
    pthread_t thread;
    bool started;
    int epoll_fd;     /* UDP socket, the TCP set (nested) and the stop event */
    int tcp_epoll_fd; /* TCP listener, connections and the stop event */
    uint64_t next_sweep;
    bool udp_watched; /* the UDP socket is in epoll_fd (see worker_main) */
    gslb_udp_t udp;
    gslb_tcp_t tcp;
    gslb_reader_t reader;
    bool reader_ok;
    gslb_answer_ctx_t ctx;
    bool ctx_ok;
} worker_t;

struct gslb_dns {
    gslb_env_t *env;
    gslb_dns_opts_t opts;
    unsigned count;
    worker_t **workers;
    int stop_fd;
    atomic_bool stopping;
    atomic_bool handover;       /* gslb_dns_hand_over(): drain before exiting */
    int passed_udp, passed_tcp; /* passed sockets in use (-1: none) */
    uint16_t port;
};

void gslb_dns_opts_from_config(const gslb_config_t *cfg, gslb_dns_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "%s", cfg->restart.dns_listen.host);
    o->port = cfg->restart.dns_listen.port;
    o->workers = cfg->restart.dns_workers;
    o->edns_payload =
        (uint16_t)(cfg->restart.edns_payload > 65535 ? 65535 : cfg->restart.edns_payload);
    o->tcp_idle_timeout_ms = cfg->restart.tcp_idle_timeout_ms;
    o->tcp_max_clients = cfg->restart.tcp_max_clients;
    o->tcp_message_timeout_ms = cfg->restart.tcp_message_timeout_ms;
    o->tcp_max_clients_per_source = cfg->restart.tcp_max_clients_per_source;
}

/* ---- addresses ------------------------------------------------------------ */

typedef struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool wildcard;
    char text[64];
} listen_addr_t;

static int parse_listen(const char *host, uint16_t port, listen_addr_t *a, gslb_errbuf_t *eb)
{
    memset(a, 0, sizeof(*a));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
    const char *h = host[0] ? host : "::";
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        a->len = sizeof(*s4);
        a->wildcard = s4->sin_addr.s_addr == htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        a->len = sizeof(*s6);
        a->wildcard = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
    } else {
        return gslb_errf(eb, GSLB_EINVAL, "dns: listen address \"%s\" is not an IP address", host);
    }
    /* h parsed as an address, so it is at most INET6_ADDRSTRLEN long. */
    snprintf(a->text, sizeof(a->text), "%.*s", (int)sizeof(a->text) - 1, h);
    return GSLB_OK;
}

static void set_port(listen_addr_t *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* SO_REUSEPORT would let us share a port another process holds: a plain bind
 * first tells whether the port is free. */
static int probe_port_free(const listen_addr_t *a, int type, uint16_t port, gslb_errbuf_t *eb)
{
    int fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gslb_errf(eb, GSLB_EIO, "dns: socket: %s", strerror(errno));
    int one = 1, v6only = a->wildcard ? 0 : 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    int rc = GSLB_OK;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
        const char *proto = type == SOCK_STREAM ? "tcp" : "udp";
        rc = errno == EADDRINUSE
                 ? gslb_errf(eb, GSLB_EBUSY, "dns: %s port %u is already in use (%s)", a->text,
                             port, proto)
                 : gslb_errf(eb, GSLB_EIO, "dns: cannot bind %s port %u (%s): %s", a->text, port,
                             proto, strerror(errno));
    }
    close(fd);
    return rc;
}

/* ---- passed sockets (socket activation) ------------------------------------- */

static int socket_type(int fd)
{
    int type = -1;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return -1;
    if (type == SOCK_STREAM) {
        int listening = 0;
        len = sizeof(listening);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            return -1;
    }
    return type;
}

static bool same_address(const listen_addr_t *a, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || ss.ss_family != a->ss.ss_family)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&ss, *y = (const void *)&a->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)&ss, *y = (const void *)&a->ss;
    return x->sin6_port == y->sin6_port && IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr);
}

static void describe_socket(int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        const void *addr = ss.ss_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        inet_ntop(ss.ss_family, addr, host, sizeof(host));
        port = bound_port(fd);
    }
    int type = socket_type(fd);
    snprintf(buf, cap, "fd %d (%s %s port %u)", fd,
             type == SOCK_DGRAM    ? "udp"
             : type == SOCK_STREAM ? "tcp listener"
                                   : "other",
             host, port);
}

/* Keep the first passed UDP and TCP sockets on the listen address, close the
 * rest (dns.h). */
static int take_passed(gslb_dns_t *d, const listen_addr_t *a, gslb_errbuf_t *eb)
{
    int rc = GSLB_OK;
    for (unsigned i = 0; i < d->opts.passed_count && i < GSLB_DNS_MAX_PASSED; i++) {
        int fd = d->opts.passed[i], type = socket_type(fd);
        int *slot = type == SOCK_DGRAM    ? &d->passed_udp
                    : type == SOCK_STREAM ? &d->passed_tcp
                                          : NULL;
        if (slot && *slot < 0 && same_address(a, fd)) {
            *slot = fd;
            continue;
        }
        char what[128];
        describe_socket(fd, what, sizeof(what));
        gslb_warn("dns: passed socket %s is not dns.listen_address %s port %u: closed", what,
                  a->text, (unsigned)d->opts.port);
        close(fd);
    }
    d->opts.passed_count = 0;
    if (d->passed_udp >= 0)
        rc = gslb_udp_adopt(d->passed_udp, a->wildcard, eb);
    if (!rc && d->passed_tcp >= 0)
        rc = gslb_tcp_adopt(d->passed_tcp, eb);
    return rc;
}

static void close_passed(gslb_dns_t *d)
{
    if (d->passed_udp >= 0)
        close(d->passed_udp);
    if (d->passed_tcp >= 0)
        close(d->passed_tcp);
    /* the flags stay: workers already hold duplicates (in_events, hand-over) */
}

/* ---- workers ---------------------------------------------------------------- */

/* Serve UDP batches while they come back full; returns the size of the last one. */
static int serve_udp(worker_t *w)
{
    int n = 0;
    for (int round = 0; round < UDP_ROUNDS; round++) {
        n = gslb_udp_serve(&w->udp, &w->ctx, &w->reader, &w->stats);
        if (n < GSLB_UDP_BATCH)
            break;
    }
    return n;
}

static void sweep_if_due(worker_t *w, uint64_t now)
{
    if (now < w->next_sweep)
        return;
    int t = gslb_tcp_sweep(&w->tcp, now, &w->stats);
    w->next_sweep = t < 0 ? UINT64_MAX : now + (uint64_t)(t < SWEEP_MIN_MS ? SWEEP_MIN_MS : t);
}

/* Events of the TCP epoll set (listener, connections, stop). False on stop. */
static bool handle_tcp_events(worker_t *w, const struct epoll_event *ev, int n)
{
    uint64_t now = (uint64_t)gslb_mono_coarse_ms();
    for (int i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;
        if (tag == TAG_STOP)
            return false;
        if (tag == TAG_LISTEN)
            gslb_tcp_accept(&w->tcp, now, &w->stats);
        else
            gslb_tcp_event(&w->tcp, tag, ev[i].events, now, &w->ctx, &w->reader, &w->stats);
    }
    /* A new connection or a query's first byte may set an earlier deadline. */
    if (w->tcp.wake_ms < w->next_sweep)
        w->next_sweep = w->tcp.wake_ms;
    return true;
}

static bool drain_tcp_epoll(worker_t *w, struct epoll_event *ev)
{
    int n = epoll_wait(w->tcp_epoll_fd, ev, EPOLL_EVENTS, 0);
    return handle_tcp_events(w, ev, n > 0 ? n : 0);
}

/* Put the UDP socket in the blocking epoll set or take it out; returns whether
 * it is in the set now (unchanged if epoll_ctl fails). */
static uint32_t in_events(bool shared)
{
    /* a socket every worker watches wakes one of them, not all */
    return EPOLLIN | (shared ? (uint32_t)EPOLLEXCLUSIVE : 0);
}

static bool set_udp_watched(worker_t *w, bool on)
{
    if (w->udp_watched != on) {
        struct epoll_event ev = {.events = in_events(w->dns->passed_udp >= 0), .data.u64 = TAG_UDP};
        if (epoll_ctl(w->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, w->udp.fd, &ev) == 0)
            w->udp_watched = on;
    }
    return w->udp_watched;
}

/* Adaptive batching: while UDP is under load (the last batch held at least
 * COALESCE_MIN queries), sleep COALESCE_NS on the TCP set only, then take
 * everything that arrived meanwhile in one batch: far fewer wake-ups per query
 * for at most COALESCE_NS (+ timer slack) of added latency. An idle or lightly
 * loaded worker blocks on every socket and answers at once.
 * While busy the UDP socket also leaves the blocking epoll set: an epoll entry
 * on its wait queue costs a wake-up callback (queue lock, IRQs off) for every
 * datagram received and for every answer sent (write space), about 4% of the
 * worker's CPU under load. Adding it back reports a socket that is already
 * readable, so nothing is missed; if that fails the worker keeps polling. */
static void worker_hand_over(worker_t *w);

static void *worker_loop(worker_t *w)
{
    struct epoll_event ev[EPOLL_EVENTS];
    prctl(PR_SET_TIMERSLACK, COALESCE_SLACK_NS, 0, 0, 0);
    int last = 0; /* size of the last UDP batch */
    w->next_sweep = UINT64_MAX;
    while (!atomic_load_explicit(&w->dns->stopping, memory_order_relaxed)) {
        uint64_t now = (uint64_t)gslb_mono_coarse_ms();
        sweep_if_due(w, now);
        bool busy = last >= COALESCE_MIN;
        if (!set_udp_watched(w, !busy))
            busy = true;
        if (busy) {
            struct timespec ts = {0, last == GSLB_UDP_BATCH ? 0 : COALESCE_NS};
            int n = epoll_pwait2(w->tcp_epoll_fd, ev, EPOLL_EVENTS, &ts, NULL);
            if (!handle_tcp_events(w, ev, n > 0 ? n : 0))
                break;
            last = serve_udp(w);
            continue;
        }
        int timeout = w->next_sweep == UINT64_MAX ? -1 : (int)(w->next_sweep - now);
        int n = epoll_wait(w->epoll_fd, ev, EPOLL_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            gslb_error("dns: worker %u: epoll_wait: %s", w->index, strerror(errno));
            break;
        }
        bool tcp_ready = false;
        for (int i = 0; i < n; i++) {
            uint64_t tag = ev[i].data.u64;
            if (tag == TAG_STOP)
                return NULL;
            if (tag == TAG_UDP)
                last = serve_udp(w);
            else if (tag == TAG_TCP)
                tcp_ready = true;
        }
        if (tcp_ready && !drain_tcp_epoll(w, ev))
            break;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    worker_loop(w);
    if (atomic_load(&w->dns->handover))
        worker_hand_over(w);
    return NULL;
}

/* ---- hand-over (dns.h) ---------------------------------------------------- */

/* Serve TCP events (no stop event in the set any more) for up to ms. */
static void serve_tcp_for(worker_t *w, struct epoll_event *ev, int ms)
{
    int n = epoll_wait(w->tcp_epoll_fd, ev, EPOLL_EVENTS, ms);
    handle_tcp_events(w, ev, n > 0 ? n : 0);
}

/* Answer every queued datagram; look again after GSLB_DNS_SETTLE_MS for one
 * that was on its way into the queue when the socket left the group. */
static void drain_udp(worker_t *w, struct epoll_event *ev)
{
    for (int quiet = 0; quiet < 2;) {
        if (serve_udp(w) > 0) {
            quiet = 0;
            continue;
        }
        if (++quiet < 2)
            serve_tcp_for(w, ev, GSLB_DNS_SETTLE_MS);
    }
}

static void worker_hand_over(worker_t *w)
{
    struct epoll_event ev[EPOLL_EVENTS];
    epoll_ctl(w->tcp_epoll_fd, EPOLL_CTL_DEL, w->dns->stop_fd, NULL);
    if (gslb_udp_detach(&w->udp) != GSLB_OK)
        gslb_warn("dns: worker %u: cannot take the UDP socket out of the port's group: %s",
                  w->index, strerror(errno));
    uint64_t now = (uint64_t)gslb_mono_coarse_ms();
    gslb_tcp_accept(&w->tcp, now, &w->stats);
    gslb_tcp_close_listener(&w->tcp);
    drain_udp(w, ev);
    uint64_t deadline = now + GSLB_DNS_HANDOVER_TCP_MS;
    while (gslb_slots_open(w->tcp.slots) && (now = (uint64_t)gslb_mono_coarse_ms()) < deadline)
        serve_tcp_for(w, ev, (int)(deadline - now));
}

static int watch_shared(int epoll_fd, int fd, uint64_t tag, bool shared)
{
    struct epoll_event ev = {.events = in_events(shared), .data.u64 = tag};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int watch(int epoll_fd, int fd, uint64_t tag)
{
    return watch_shared(epoll_fd, fd, tag, false);
}

static void worker_free(worker_t *w)
{
    if (!w)
        return;
    if (w->tcp.conns || w->tcp.listen_fd >= 0)
        gslb_tcp_destroy(&w->tcp);
    if (w->udp.slots || w->udp.fd >= 0)
        gslb_udp_destroy(&w->udp);
    if (w->ctx_ok)
        gslb_answer_ctx_destroy(&w->ctx);
    if (w->reader_ok)
        gslb_reader_destroy(&w->reader);
    if (w->epoll_fd >= 0)
        close(w->epoll_fd);
    if (w->tcp_epoll_fd >= 0)
        close(w->tcp_epoll_fd);
    free(w);
}

static int dup_socket(int fd, gslb_errbuf_t *eb)
{
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return gslb_errf(eb, GSLB_EIO, "dns: dup of passed socket %d: %s", fd, strerror(errno));
    return copy;
}

/* Sockets of worker i: UDP and TCP on the same port (duplicates of the passed
 * sockets when there are). */
static int worker_sockets(gslb_dns_t *d, worker_t *w, listen_addr_t *a, uint16_t *port,
                          gslb_errbuf_t *eb)
{
    set_port(a, *port);
    int ufd = d->passed_udp >= 0
                  ? dup_socket(d->passed_udp, eb)
                  : gslb_udp_open((struct sockaddr *)&a->ss, a->len, a->wildcard, eb);
    if (ufd < 0)
        return ufd;
    if (*port == 0)
        *port = bound_port(ufd);
    set_port(a, *port);
    int tfd = d->passed_tcp >= 0
                  ? dup_socket(d->passed_tcp, eb)
                  : gslb_tcp_open((struct sockaddr *)&a->ss, a->len, a->wildcard, eb);
    if (tfd < 0) {
        close(ufd);
        return tfd;
    }
    size_t tx = d->opts.edns_payload;
    int rc = gslb_udp_init(&w->udp, ufd, a->wildcard, tx);
    if (rc) {
        close(tfd);
        return gslb_errf(eb, rc, "dns: out of memory for UDP buffers");
    }
    gslb_slots_limits_t lim = {.max = d->opts.tcp_max_clients,
                               .max_per_source = d->opts.tcp_max_clients_per_source,
                               .idle_ms = d->opts.tcp_idle_timeout_ms,
                               .message_ms = d->opts.tcp_message_timeout_ms};
    rc = gslb_tcp_init(&w->tcp, tfd, w->tcp_epoll_fd, &lim);
    if (rc)
        return gslb_errf(eb, rc, "dns: out of memory for TCP connections");
    w->udp_watched = true;
    if (watch_shared(w->epoll_fd, w->udp.fd, TAG_UDP, d->passed_udp >= 0) ||
        watch(w->epoll_fd, w->tcp_epoll_fd, TAG_TCP) || watch(w->epoll_fd, d->stop_fd, TAG_STOP) ||
        watch_shared(w->tcp_epoll_fd, w->tcp.listen_fd, TAG_LISTEN, d->passed_tcp >= 0) ||
        watch(w->tcp_epoll_fd, d->stop_fd, TAG_STOP))
        return gslb_errf(eb, GSLB_EIO, "dns: epoll_ctl: %s", strerror(errno));
    return GSLB_OK;
}

static int worker_new(gslb_dns_t *d, unsigned index, listen_addr_t *a, uint16_t *port,
                      worker_t **out, gslb_errbuf_t *eb)
{
    worker_t *w = aligned_alloc(64, (sizeof(worker_t) + 63) & ~(size_t)63);
    if (!w)
        return gslb_errf(eb, GSLB_ENOMEM, "dns: out of memory");
    memset(w, 0, sizeof(*w));
    w->dns = d;
    w->index = index;
    w->udp.fd = w->tcp.listen_fd = -1;
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    w->tcp_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int rc = (w->epoll_fd < 0 || w->tcp_epoll_fd < 0)
                 ? gslb_errf(eb, GSLB_EIO, "dns: epoll: %s", strerror(errno))
                 : 0;
    if (!rc)
        rc = worker_sockets(d, w, a, port, eb);
    if (!rc) {
        rc = gslb_reader_init(&w->reader, d->env);
        w->reader_ok = rc == GSLB_OK;
        if (rc)
            gslb_errf(eb, rc, "dns: cannot open a store reader: %s", gslb_strerror(rc));
    }
    if (!rc) {
        rc = gslb_answer_ctx_init(&w->ctx, d->env, &w->stats, d->opts.edns_payload, 0);
        w->ctx_ok = rc == GSLB_OK;
        w->ctx.keys_pending = d->opts.dnssec_keys_pending;
        if (!rc) /* signing follows the keys' states (dns.h) */
            rc = gslb_answer_ctx_enable_dnssec(&w->ctx);
        if (rc)
            gslb_errf(eb, rc, "dns: cannot set up a worker: %s", gslb_strerror(rc));
    }
    if (rc) {
        worker_free(w);
        return rc;
    }
    *out = w;
    return GSLB_OK;
}

static void free_workers(gslb_dns_t *d)
{
    for (unsigned i = 0; i < d->count; i++) {
        worker_free(d->workers[i]);
        d->workers[i] = NULL;
    }
    d->count = 0;
}

/* Bind every worker's sockets; with port 0 retry when the ephemeral UDP port
 * is taken on TCP. */
static int bind_workers(gslb_dns_t *d, unsigned n, gslb_errbuf_t *eb)
{
    listen_addr_t a;
    int rc = parse_listen(d->opts.host, d->opts.port, &a, eb);
    if (!rc)
        rc = take_passed(d, &a, eb);
    if (rc)
        return rc;
    if (d->opts.port != 0 && !d->opts.takeover) {
        if (d->passed_udp < 0)
            rc = probe_port_free(&a, SOCK_DGRAM, d->opts.port, eb);
        if (!rc && d->passed_tcp < 0)
            rc = probe_port_free(&a, SOCK_STREAM, d->opts.port, eb);
        if (rc)
            return rc;
    }
    for (int attempt = 0; attempt < 16; attempt++) {
        uint16_t port = d->opts.port;
        rc = GSLB_OK;
        for (unsigned i = 0; i < n && !rc; i++) {
            rc = worker_new(d, i, &a, &port, &d->workers[i], eb);
            if (!rc)
                d->count = i + 1;
        }
        if (!rc) {
            d->port = port;
            return GSLB_OK;
        }
        free_workers(d);
        if (d->opts.port != 0)
            break;
    }
    return rc;
}

static void apply_defaults(gslb_dns_opts_t *o)
{
    if (o->workers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (o->workers > GSLB_DNS_MAX_WORKERS)
        o->workers = GSLB_DNS_MAX_WORKERS;
    if (o->edns_payload == 0)
        o->edns_payload = GSLB_DNS_DEFAULT_EDNS;
    if (o->edns_payload < GSLB_DNS_UDP_MIN)
        o->edns_payload = GSLB_DNS_UDP_MIN;
    if (o->tcp_idle_timeout_ms == 0)
        o->tcp_idle_timeout_ms = GSLB_DNS_DEFAULT_TCP_IDLE_MS;
    if (o->tcp_max_clients == 0)
        o->tcp_max_clients = GSLB_DNS_DEFAULT_TCP_CLIENTS;
    if (o->tcp_message_timeout_ms == 0)
        o->tcp_message_timeout_ms = GSLB_DNS_DEFAULT_TCP_MESSAGE_MS;
    if (o->tcp_max_clients_per_source == 0)
        o->tcp_max_clients_per_source = GSLB_DNS_DEFAULT_TCP_PER_SOURCE;
}

static int start_threads(gslb_dns_t *d, gslb_errbuf_t *eb)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = GSLB_OK;
    for (unsigned i = 0; i < d->count && !rc; i++) {
        worker_t *w = d->workers[i];
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err)
            rc = gslb_errf(eb, GSLB_EIO, "dns: cannot start worker %u: %s", i, strerror(err));
        else
            w->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int gslb_dns_start(gslb_env_t *env, const gslb_dns_opts_t *opts, gslb_dns_t **out,
                   gslb_errbuf_t *eb)
{
    *out = NULL;
    gslb_dns_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gslb_errf(eb, GSLB_ENOMEM, "dns: out of memory");
    d->env = env;
    d->opts = *opts;
    d->passed_udp = d->passed_tcp = -1;
    apply_defaults(&d->opts);
    d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    d->workers = calloc(d->opts.workers, sizeof(*d->workers));
    int rc = (d->stop_fd < 0 || !d->workers)
                 ? gslb_errf(eb, GSLB_EIO, "dns: cannot allocate workers: %s", strerror(errno))
                 : GSLB_OK;
    if (!rc)
        rc = bind_workers(d, d->opts.workers, eb);
    if (!rc)
        rc = start_threads(d, eb);
    if (rc) {
        for (unsigned i = 0; i < d->opts.passed_count && i < GSLB_DNS_MAX_PASSED; i++)
            close(d->opts.passed[i]); /* when take_passed() did not run */
        gslb_dns_stop(d);
        return rc;
    }
    gslb_info("dns: serving on %s port %u (udp+tcp) with %u workers, edns payload %u%s%s%s",
              d->opts.host[0] ? d->opts.host : "::", d->port, d->count, d->opts.edns_payload,
              d->passed_udp >= 0 ? ", udp socket passed by systemd" : "",
              d->passed_tcp >= 0 ? ", tcp socket passed by systemd" : "",
              d->opts.takeover ? ", beside the overwatch it takes over from" : "");
    *out = d;
    return GSLB_OK;
}

uint16_t gslb_dns_port(const gslb_dns_t *d)
{
    return d->port;
}

unsigned gslb_dns_worker_count(const gslb_dns_t *d)
{
    return d->count;
}

void gslb_dns_stats(const gslb_dns_t *d, gslb_stats_t *sum)
{
    gslb_stats_zero(sum);
    for (unsigned i = 0; i < d->count; i++)
        gslb_stats_accumulate(sum, &d->workers[i]->stats);
}

bool gslb_dns_uses_passed(const gslb_dns_t *d)
{
    return d && (d->passed_udp >= 0 || d->passed_tcp >= 0);
}

static void join_workers(gslb_dns_t *d)
{
    atomic_store(&d->stopping, true);
    if (d->stop_fd >= 0) {
        uint64_t one = 1;
        ssize_t wr = write(d->stop_fd, &one, sizeof(one));
        (void)wr;
    }
    for (unsigned i = 0; i < d->count; i++) {
        if (d->workers[i]->started)
            pthread_join(d->workers[i]->thread, NULL);
        d->workers[i]->started = false;
    }
}

static uint64_t queries_so_far(const gslb_dns_t *d)
{
    gslb_stats_t sum;
    gslb_dns_stats(d, &sum);
    return sum.field[GSLB_ST_UDP_QUERIES] + sum.field[GSLB_ST_TCP_QUERIES];
}

void gslb_dns_hand_over(gslb_dns_t *d)
{
    if (!d)
        return;
    /* passed sockets stay with whoever passed them: nothing to hand over */
    if (!gslb_dns_uses_passed(d)) {
        uint64_t before = queries_so_far(d);
        int64_t t0 = gslb_mono_us();
        atomic_store(&d->handover, true);
        join_workers(d);
        gslb_info("dns: handed over in %.1f ms: %llu queries answered while draining",
                  (double)(gslb_mono_us() - t0) / 1000.0,
                  (unsigned long long)(queries_so_far(d) - before));
    }
    gslb_dns_stop(d);
}

void gslb_dns_stop(gslb_dns_t *d)
{
    if (!d)
        return;
    join_workers(d);
    free_workers(d);
    close_passed(d);
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    free(d->workers);
    free(d);
}
