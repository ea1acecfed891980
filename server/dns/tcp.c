/*
 * tcp.c - a worker's TCP listener and connections (see tcp.h for the contract).
 */
#include "tcp.h"
#include "cursor.h"
#include "gslb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define RX_CAP (GSLB_TCP_QUERY_MAX + 2)
#define FRAME_MAX (GSLB_DNS_MSG_MAX + 2)
#define OUT_CAP (4 * FRAME_MAX)

struct gslb_tcp_conn {
    int fd; /* -1: free slot */
    bool peer_closed;
    uint32_t events; /* current epoll interest */
    size_t rx_len;
    uint8_t *rx; /* RX_CAP bytes while open */
    uint8_t *tx; /* unsent answer bytes (back-pressure) */
    size_t tx_len, tx_off;
};

int gslb_tcp_open(const struct sockaddr *addr, socklen_t len, bool wildcard, gslb_errbuf_t *eb)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gslb_errf(eb, GSLB_EIO, "dns: TCP socket: %s", strerror(errno));
    int one = 1, v6only = wildcard ? 0 : 1;
    int rc = GSLB_OK;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: TCP SO_REUSEPORT: %s", strerror(errno));
    if (!rc && addr->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: IPV6_V6ONLY: %s", strerror(errno));
    if (!rc)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!rc && bind(fd, addr, len) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: cannot bind TCP socket: %s", strerror(errno));
    if (!rc && listen(fd, SOMAXCONN) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: cannot listen on TCP socket: %s", strerror(errno));
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

int gslb_tcp_adopt(int fd, gslb_errbuf_t *eb)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return gslb_errf(eb, GSLB_EIO, "dns: passed TCP socket %d: %s", fd, strerror(errno));
    return GSLB_OK;
}

void gslb_tcp_close_listener(gslb_tcp_t *t)
{
    if (t->listen_fd < 0)
        return;
    epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, t->listen_fd, NULL);
    close(t->listen_fd);
    t->listen_fd = -1;
}

int gslb_tcp_init(gslb_tcp_t *t, int listen_fd, int epoll_fd, const gslb_slots_limits_t *lim)
{
    memset(t, 0, sizeof(*t));
    t->listen_fd = listen_fd;
    t->epoll_fd = epoll_fd;
    t->wake_ms = UINT64_MAX;
    int rc = gslb_slots_new(lim, &t->slots);
    t->max_clients = rc == GSLB_OK ? gslb_slots_limits(t->slots)->max : 0;
    t->conns = t->max_clients ? calloc(t->max_clients, sizeof(*t->conns)) : NULL;
    t->out = malloc(OUT_CAP);
    t->out_cap = OUT_CAP;
    if (!t->conns || !t->out) {
        gslb_tcp_destroy(t);
        return GSLB_ENOMEM;
    }
    for (uint32_t i = 0; i < t->max_clients; i++)
        t->conns[i].fd = -1;
    return GSLB_OK;
}

static void conn_close(gslb_tcp_t *t, gslb_tcp_conn_t *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->rx);
    free(c->tx);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (t->slots)
        gslb_slots_release(t->slots, (uint32_t)(c - t->conns));
}

void gslb_tcp_destroy(gslb_tcp_t *t)
{
    if (t->conns) {
        for (uint32_t i = 0; i < t->max_clients; i++)
            conn_close(t, &t->conns[i]);
    }
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    t->listen_fd = -1;
    free(t->conns);
    free(t->out);
    gslb_slots_free(t->slots);
    t->conns = NULL;
    t->out = NULL;
    t->slots = NULL;
}

static bool conn_watch(gslb_tcp_t *t, gslb_tcp_conn_t *c, uint32_t events)
{
    if (c->events == events)
        return true;
    struct epoll_event ev = {.events = events,
                             .data.u64 = GSLB_TCP_TAG_BASE + (uint64_t)(c - t->conns)};
    int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(t->epoll_fd, op, c->fd, &ev) != 0)
        return false;
    c->events = events;
    return true;
}

/* Report a connection's progress to the slot table; keep the earliest deadline. */
static void conn_progress(gslb_tcp_t *t, gslb_tcp_conn_t *c, uint64_t now_ms, bool completed)
{
    uint32_t i = (uint32_t)(c - t->conns);
    /* While an answer waits for the client, its next query is not being read:
     * no message timer then (the idle timer bounds a client that does not read). */
    gslb_slots_progress(t->slots, i, now_ms, completed, c->rx_len > 0 && !c->tx);
    enum gslb_slots_timer which;
    uint64_t deadline = gslb_slots_deadline(t->slots, i, &which);
    if (deadline < t->wake_ms)
        t->wake_ms = deadline;
}

/* A slot for a new connection from ss, or -1 (refused and counted). */
static int64_t admit(gslb_tcp_t *t, const struct sockaddr_storage *ss, socklen_t sl,
                     gslb_slots_src_t *src, gslb_stats_t *stats)
{
    gslb_slots_source((const struct sockaddr *)ss, sl, src);
    uint32_t slot;
    switch (gslb_slots_admit(t->slots, src, &slot)) {
    case GSLB_SLOTS_SOURCE_LIMIT:
        gslb_stats_inc(stats, GSLB_ST_TCP_SOURCE_LIMIT);
        return -1;
    case GSLB_SLOTS_EVICT:
        conn_close(t, &t->conns[slot]);
        gslb_stats_inc(stats, GSLB_ST_TCP_EVICTED);
        return slot;
    case GSLB_SLOTS_FREE:
    default:
        return slot;
    }
}

void gslb_tcp_accept(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                gslb_debug("dns: accept: %s", strerror(errno));
            return;
        }
        gslb_slots_src_t src;
        int64_t slot = admit(t, &ss, sl, &src, stats);
        if (slot < 0) {
            close(fd);
            continue;
        }
        uint8_t *rx = malloc(RX_CAP);
        if (!rx) {
            close(fd);
            gslb_stats_inc(stats, GSLB_ST_TCP_REJECTED);
            continue;
        }
        gslb_tcp_conn_t *c = &t->conns[slot];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->rx = rx;
        gslb_slots_take(t->slots, (uint32_t)slot, &src, now_ms);
        conn_progress(t, c, now_ms, false);
        if (!conn_watch(t, c, EPOLLIN)) {
            conn_close(t, c);
            gslb_stats_inc(stats, GSLB_ST_TCP_ERRORS);
            continue;
        }
        gslb_stats_inc(stats, GSLB_ST_TCP_ACCEPTED);
    }
}

/* Send bytes; what the socket does not take is kept as the connection's
 * pending output. Returns false on a write error. */
static bool conn_send(gslb_tcp_t *t, gslb_tcp_conn_t *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return false;
    }
    if (off == len)
        return true;
    c->tx = malloc(len - off);
    if (!c->tx)
        return false;
    memcpy(c->tx, buf + off, len - off);
    c->tx_len = len - off;
    c->tx_off = 0;
    return conn_watch(t, c, EPOLLOUT);
}

/* Answer every complete frame in rx (until output backs up); *done tells
 * whether a query was complete. Returns false when the connection must be
 * closed. */
static bool conn_answer(gslb_tcp_t *t, gslb_tcp_conn_t *c, gslb_answer_ctx_t *ctx,
                        gslb_reader_t *reader, gslb_stats_t *stats, bool *done)
{
    size_t pos = 0, out = 0;
    bool snapshot = false, ok = true;
    while (ok && !c->tx && c->rx_len - pos >= 2) {
        size_t mlen = gslb_get_be16(c->rx + pos);
        if (mlen == 0 || mlen > GSLB_TCP_QUERY_MAX) {
            ok = false;
            break;
        }
        if (c->rx_len - pos - 2 < mlen)
            break;
        if (!snapshot) {
            snapshot = true;
            int rc = gslb_reader_begin(reader);
            gslb_answer_set_txn(ctx, rc == GSLB_OK ? reader->txn : NULL);
        }
        gslb_stats_inc(stats, GSLB_ST_TCP_QUERIES);
        if (t->out_cap - out < FRAME_MAX) {
            ok = conn_send(t, c, t->out, out);
            out = 0;
            if (!ok || c->tx)
                break;
        }
        size_t alen = gslb_answer_query(ctx, c->rx + pos + 2, mlen, GSLB_TRANSPORT_TCP,
                                        t->out + out + 2, GSLB_DNS_MSG_MAX);
        pos += 2 + mlen;
        if (alen == 0)
            continue;
        gslb_put_be16(t->out + out, (uint16_t)alen);
        out += 2 + alen;
    }
    if (snapshot) {
        gslb_answer_set_txn(ctx, NULL);
        gslb_reader_end(reader);
    }
    if (ok && out)
        ok = conn_send(t, c, t->out, out);
    if (pos) {
        memmove(c->rx, c->rx + pos, c->rx_len - pos);
        c->rx_len -= pos;
        *done = true;
    }
    return ok;
}

static bool conn_read(gslb_tcp_conn_t *c)
{
    if (c->rx_len >= RX_CAP)
        return true;
    ssize_t n = recv(c->fd, c->rx + c->rx_len, RX_CAP - c->rx_len, MSG_DONTWAIT);
    if (n > 0) {
        c->rx_len += (size_t)n;
        return true;
    }
    if (n == 0) {
        c->peer_closed = true;
        return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Send pending output; once drained (*done), read queries again. */
static bool conn_flush(gslb_tcp_t *t, gslb_tcp_conn_t *c, bool *done)
{
    while (c->tx_off < c->tx_len) {
        ssize_t n =
            send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->tx_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    free(c->tx);
    c->tx = NULL;
    c->tx_len = c->tx_off = 0;
    *done = true;
    return conn_watch(t, c, EPOLLIN);
}

void gslb_tcp_event(gslb_tcp_t *t, uint64_t tag, uint32_t events, uint64_t now_ms,
                    gslb_answer_ctx_t *ctx, gslb_reader_t *reader, gslb_stats_t *stats)
{
    uint64_t i = tag - GSLB_TCP_TAG_BASE;
    if (i >= t->max_clients || t->conns[i].fd < 0)
        return;
    gslb_tcp_conn_t *c = &t->conns[i];
    bool ok = !(events & EPOLLERR), done = false;
    if (ok && (events & EPOLLOUT) && c->tx)
        ok = conn_flush(t, c, &done);
    if (ok && !c->tx && (events & (EPOLLIN | EPOLLHUP)))
        ok = conn_read(c);
    if (ok && !c->tx)
        ok = conn_answer(t, c, ctx, reader, stats, &done);
    if (!ok)
        gslb_stats_inc(stats, GSLB_ST_TCP_ERRORS);
    if (!ok || (c->peer_closed && !c->tx))
        conn_close(t, c);
    else
        conn_progress(t, c, now_ms, done);
}

int gslb_tcp_sweep(gslb_tcp_t *t, uint64_t now_ms, gslb_stats_t *stats)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < t->max_clients && gslb_slots_open(t->slots); i++) {
        gslb_tcp_conn_t *c = &t->conns[i];
        if (c->fd < 0)
            continue;
        enum gslb_slots_timer which;
        uint64_t deadline = gslb_slots_deadline(t->slots, i, &which);
        if (deadline <= now_ms) {
            conn_close(t, c);
            gslb_stats_inc(stats, which == GSLB_SLOTS_TIMER_MESSAGE ? GSLB_ST_TCP_MESSAGE_TIMEOUTS
                                                                    : GSLB_ST_TCP_TIMEOUTS);
        } else if (deadline < next) {
            next = deadline;
        }
    }
    t->wake_ms = next;
    if (next == UINT64_MAX)
        return -1;
    uint64_t left = next - now_ms;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}
