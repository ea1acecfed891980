/*
 * probe.c - the probe scheduler of probe.h: libcurl multi for HTTP(S),
 * non-blocking connect() for TCP, both polled by curl_multi_poll().
 */
#include "probe.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct target {
    gslb_probe_spec_t spec;
    gslb_probe_state_t st;
    int64_t due_ms;
    int64_t started_us;
    int64_t deadline_ms;
    bool in_flight;
    CURL *easy;
    struct curl_slist *connect_to;
    int fd; /* TCP probe in flight, else -1 */
} target_t;

struct gslb_prober {
    CURLM *multi;
    target_t *t;
    size_t n, cap;
    gslb_probe_cb cb;
    void *ctx;
    struct curl_waitfd *wfd;
    size_t *wfd_target;
    size_t wfd_cap;
};

/* ---- specs and state ------------------------------------------------------ */

void gslb_probe_spec_default(gslb_probe_spec_t *s)
{
    memset(s, 0, sizeof(*s));
    s->type = GSLB_PROBE_TCP;
    strcpy(s->path, "/");
    s->tls_verify = true;
    s->interval_ms = GSLB_PROBE_DEFAULT_INTERVAL_MS;
    s->timeout_ms = GSLB_PROBE_DEFAULT_TIMEOUT_MS;
    s->failure_threshold = GSLB_PROBE_DEFAULT_FAILURE_THRESHOLD;
    s->success_threshold = GSLB_PROBE_DEFAULT_SUCCESS_THRESHOLD;
}

int gslb_probe_type_parse(const char *s, enum gslb_probe_type *out)
{
    if (!s)
        return GSLB_EINVAL;
    if (strcmp(s, "tcp") == 0)
        *out = GSLB_PROBE_TCP;
    else if (strcmp(s, "http") == 0)
        *out = GSLB_PROBE_HTTP;
    else if (strcmp(s, "https") == 0)
        *out = GSLB_PROBE_HTTPS;
    else
        return GSLB_EINVAL;
    return GSLB_OK;
}

const char *gslb_probe_type_name(enum gslb_probe_type t)
{
    switch (t) {
    case GSLB_PROBE_HTTP:
        return "http";
    case GSLB_PROBE_HTTPS:
        return "https";
    default:
        return "tcp";
    }
}

bool gslb_probe_state_update(gslb_probe_state_t *st, const gslb_probe_spec_t *spec, bool ok,
                             uint32_t latency_us)
{
    uint32_t fail_thr = spec->failure_threshold ? spec->failure_threshold : 1;
    uint32_t ok_thr = spec->success_threshold ? spec->success_threshold : 1;
    uint8_t before = st->health;
    st->runs++;
    if (ok) {
        st->consecutive_ok++;
        st->consecutive_fail = 0;
        st->latency_us = latency_us;
    } else {
        st->consecutive_fail++;
        st->consecutive_ok = 0;
    }
    if (st->health == GSLB_UNKNOWN)
        st->health = ok ? GSLB_HEALTHY : GSLB_UNHEALTHY;
    else if (st->health == GSLB_HEALTHY && st->consecutive_fail >= fail_thr)
        st->health = GSLB_UNHEALTHY;
    else if (st->health == GSLB_UNHEALTHY && st->consecutive_ok >= ok_thr)
        st->health = GSLB_HEALTHY;
    return before != st->health;
}

/* ---- prober lifecycle ----------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int gslb_prober_new(gslb_prober_t **out, gslb_probe_cb cb, void *ctx, gslb_errbuf_t *eb)
{
    pthread_once(&curl_once, curl_global);
    gslb_prober_t *p = calloc(1, sizeof(*p));
    if (!p)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    p->multi = curl_multi_init();
    if (!p->multi) {
        free(p);
        return gslb_errf(eb, GSLB_ENOMEM, "curl_multi_init failed");
    }
    p->cb = cb;
    p->ctx = ctx;
    *out = p;
    return GSLB_OK;
}

static void target_cancel(gslb_prober_t *p, target_t *t)
{
    if (t->easy && t->in_flight)
        curl_multi_remove_handle(p->multi, t->easy);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->in_flight = false;
}

static void target_release(gslb_prober_t *p, target_t *t)
{
    target_cancel(p, t);
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->connect_to);
    t->easy = NULL;
    t->connect_to = NULL;
}

void gslb_prober_clear(gslb_prober_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        target_release(p, &p->t[i]);
    p->n = 0;
}

void gslb_prober_free(gslb_prober_t *p)
{
    if (!p)
        return;
    gslb_prober_clear(p);
    curl_multi_cleanup(p->multi);
    free(p->t);
    free(p->wfd);
    free(p->wfd_target);
    free(p);
}

int gslb_prober_add(gslb_prober_t *p, const gslb_probe_spec_t *spec)
{
    if (spec->addr.family != AF_INET && spec->addr.family != AF_INET6)
        return GSLB_EINVAL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        target_t *t = realloc(p->t, cap * sizeof(*t));
        if (!t)
            return GSLB_ENOMEM;
        p->t = t;
        p->cap = cap;
    }
    target_t *t = &p->t[p->n];
    memset(t, 0, sizeof(*t));
    t->spec = *spec;
    t->fd = -1;
    t->due_ms = gslb_mono_ms();
    return (int)p->n++;
}

size_t gslb_prober_count(const gslb_prober_t *p)
{
    return p->n;
}

const gslb_probe_state_t *gslb_prober_state(const gslb_prober_t *p, size_t index)
{
    return index < p->n ? &p->t[index].st : NULL;
}

void gslb_prober_set_state(gslb_prober_t *p, size_t index, const gslb_probe_state_t *st)
{
    if (index < p->n)
        p->t[index].st = *st;
}

void gslb_prober_due_now(gslb_prober_t *p)
{
    int64_t now = gslb_mono_ms();
    for (size_t i = 0; i < p->n; i++)
        p->t[i].due_ms = now;
}

size_t gslb_prober_in_flight(const gslb_prober_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        k += p->t[i].in_flight;
    return k;
}

/* ---- completion ----------------------------------------------------------- */

static void finish(gslb_prober_t *p, size_t i, bool ok, uint32_t latency_us, const char *detail)
{
    target_t *t = &p->t[i];
    target_cancel(p, t);
    snprintf(t->st.detail, sizeof(t->st.detail), "%s", detail);
    bool changed = gslb_probe_state_update(&t->st, &t->spec, ok, latency_us);
    int64_t started_ms = t->started_us / 1000;
    int64_t next = started_ms + (int64_t)t->spec.interval_ms;
    int64_t now = gslb_mono_ms();
    t->due_ms = next > now ? next : now;
    if (p->cb)
        p->cb(p->ctx, i, &t->st, changed);
}

static bool status_expected(const gslb_probe_spec_t *s, long code)
{
    if (s->expected_count == 0)
        return code >= 200 && code <= 299;
    for (size_t i = 0; i < s->expected_count; i++)
        if (s->expected_status[i] == code)
            return true;
    return false;
}

/* ---- HTTP(S) -------------------------------------------------------------- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void addr_for_url(const gslb_addr_t *a, char *out, size_t cap)
{
    char text[64];
    gslb_addr_format(a, text, sizeof(text));
    if (a->family == AF_INET6)
        snprintf(out, cap, "[%s]", text);
    else
        snprintf(out, cap, "%s", text);
}

static int http_prepare(target_t *t, size_t index)
{
    const gslb_probe_spec_t *s = &t->spec;
    if (!t->easy) {
        t->easy = curl_easy_init();
        if (!t->easy)
            return GSLB_ENOMEM;
    }
    CURL *e = t->easy;
    curl_easy_reset(e);
    char addr[80], url[1024];
    addr_for_url(&s->addr, addr, sizeof(addr));
    const char *scheme = s->type == GSLB_PROBE_HTTPS ? "https" : "http";
    const char *path = s->path[0] ? s->path : "/";
    curl_slist_free_all(t->connect_to);
    t->connect_to = NULL;
    if (s->host[0]) {
        char ct[600];
        snprintf(url, sizeof(url), "%s://%s:%u%s", scheme, s->host, s->port, path);
        snprintf(ct, sizeof(ct), "%s:%u:%s:%u", s->host, s->port, addr, s->port);
        t->connect_to = curl_slist_append(NULL, ct);
        if (!t->connect_to)
            return GSLB_ENOMEM;
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
    } else {
        snprintf(url, sizeof(url), "%s://%s:%u%s", scheme, addr, s->port, path);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(uintptr_t)index);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gslb-agentd/" GSLB_VERSION);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
    return GSLB_OK;
}

static void http_start(gslb_prober_t *p, size_t i)
{
    target_t *t = &p->t[i];
    if (http_prepare(t, i) != GSLB_OK || curl_multi_add_handle(p->multi, t->easy) != CURLM_OK) {
        finish(p, i, false, 0, "cannot start the HTTP probe");
        return;
    }
    t->in_flight = true;
}

static void http_done(gslb_prober_t *p, CURL *e, CURLcode rc)
{
    void *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    size_t i = (size_t)(uintptr_t)priv;
    if (i >= p->n || p->t[i].easy != e)
        return;
    char detail[96];
    bool ok = false;
    curl_off_t total_us = 0;
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us);
        ok = status_expected(&p->t[i].spec, code);
        snprintf(detail, sizeof(detail), "HTTP %ld", code);
    } else {
        snprintf(detail, sizeof(detail), "%s", curl_easy_strerror(rc));
    }
    uint32_t lat = total_us > UINT32_MAX ? UINT32_MAX : (uint32_t)(total_us > 0 ? total_us : 1);
    finish(p, i, ok, lat, detail);
}

/* ---- TCP ------------------------------------------------------------------ */

static socklen_t to_sockaddr(const gslb_addr_t *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a->bytes, 4);
        return sizeof(*s4);
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    memcpy(&s6->sin6_addr, a->bytes, 16);
    return sizeof(*s6);
}

static uint32_t elapsed_us(const target_t *t)
{
    int64_t d = gslb_mono_us() - t->started_us;
    return d <= 0 ? 1 : (d > UINT32_MAX ? UINT32_MAX : (uint32_t)d);
}

static void tcp_start(gslb_prober_t *p, size_t i)
{
    target_t *t = &p->t[i];
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(&t->spec.addr, t->spec.port, &ss);
    int fd = socket(t->spec.addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        finish(p, i, false, 0, strerror(errno));
        return;
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        close(fd);
        finish(p, i, true, elapsed_us(t), "connected");
        return;
    }
    if (errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        finish(p, i, false, 0, strerror(err));
        return;
    }
    t->fd = fd;
    t->in_flight = true;
    t->deadline_ms = t->started_us / 1000 + (int64_t)t->spec.timeout_ms;
}

static void tcp_complete(gslb_prober_t *p, size_t i)
{
    target_t *t = &p->t[i];
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0)
        finish(p, i, true, elapsed_us(t), "connected");
    else
        finish(p, i, false, 0, strerror(err));
}

/* ---- scheduler ------------------------------------------------------------ */

static void start_due(gslb_prober_t *p, int64_t now)
{
    for (size_t i = 0; i < p->n; i++) {
        target_t *t = &p->t[i];
        if (t->in_flight || t->due_ms > now)
            continue;
        t->started_us = gslb_mono_us();
        if (t->spec.type == GSLB_PROBE_TCP)
            tcp_start(p, i);
        else
            http_start(p, i);
    }
}

static int64_t next_wakeup(const gslb_prober_t *p, int64_t now, int wait_ms)
{
    int64_t until = now + (wait_ms < 0 ? 0 : wait_ms);
    for (size_t i = 0; i < p->n; i++) {
        const target_t *t = &p->t[i];
        if (!t->in_flight && t->due_ms < until)
            until = t->due_ms;
        if (t->in_flight && t->fd >= 0 && t->deadline_ms < until)
            until = t->deadline_ms;
    }
    return until;
}

static int build_waitfds(gslb_prober_t *p, int extra_fd)
{
    size_t need = p->n + 1;
    if (need > p->wfd_cap) {
        struct curl_waitfd *w = realloc(p->wfd, need * sizeof(*w));
        if (!w)
            return -1;
        p->wfd = w;
        size_t *idx = realloc(p->wfd_target, need * sizeof(*idx));
        if (!idx)
            return -1;
        p->wfd_target = idx;
        p->wfd_cap = need;
    }
    int k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->t[i].in_flight || p->t[i].fd < 0)
            continue;
        p->wfd[k] = (struct curl_waitfd){.fd = p->t[i].fd, .events = CURL_WAIT_POLLOUT};
        p->wfd_target[k++] = i;
    }
    if (extra_fd >= 0) {
        p->wfd[k] = (struct curl_waitfd){.fd = extra_fd, .events = CURL_WAIT_POLLIN};
        p->wfd_target[k++] = SIZE_MAX;
    }
    return k;
}

static void drain_curl(gslb_prober_t *p)
{
    int running = 0, left = 0;
    curl_multi_perform(p->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE)
            http_done(p, m->easy_handle, m->data.result);
    }
}

static void check_tcp(gslb_prober_t *p, int nw, bool *extra_ready)
{
    for (int k = 0; k < nw; k++) {
        size_t i = p->wfd_target[k];
        short re = p->wfd[k].revents;
        if (i == SIZE_MAX) {
            if (extra_ready && re)
                *extra_ready = true;
            continue;
        }
        if (re && i < p->n && p->t[i].in_flight && p->t[i].fd == p->wfd[k].fd)
            tcp_complete(p, i);
    }
    int64_t now = gslb_mono_ms();
    for (size_t i = 0; i < p->n; i++) {
        target_t *t = &p->t[i];
        if (t->in_flight && t->fd >= 0 && now >= t->deadline_ms)
            finish(p, i, false, 0, "timeout");
    }
}

int gslb_prober_step(gslb_prober_t *p, int wait_ms, int extra_fd, bool *extra_ready)
{
    if (extra_ready)
        *extra_ready = false;
    int64_t now = gslb_mono_ms();
    start_due(p, now);
    drain_curl(p);
    int nw = build_waitfds(p, extra_fd);
    if (nw < 0)
        return GSLB_ENOMEM;
    int64_t until = next_wakeup(p, now, wait_ms);
    int timeout = until > now ? (int)(until - now) : 0;
    CURLMcode mc = curl_multi_poll(p->multi, nw ? p->wfd : NULL, (unsigned)nw, timeout, NULL);
    if (mc != CURLM_OK)
        return GSLB_EIO;
    drain_curl(p);
    check_tcp(p, nw, extra_ready);
    return GSLB_OK;
}

int gslb_prober_run_round(gslb_prober_t *p, int64_t deadline_ms)
{
    uint64_t *runs = calloc(p->n ? p->n : 1, sizeof(*runs));
    if (!runs)
        return GSLB_ENOMEM;
    for (size_t i = 0; i < p->n; i++)
        runs[i] = p->t[i].st.runs;
    gslb_prober_due_now(p);
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < p->n && all; i++)
            all = p->t[i].st.runs > runs[i];
        int64_t now = gslb_mono_ms();
        if (all || now >= deadline_ms)
            break;
        /* Do not start a second probe of a finished target in this round. */
        for (size_t i = 0; i < p->n; i++)
            if (p->t[i].st.runs > runs[i] && !p->t[i].in_flight)
                p->t[i].due_ms = INT64_MAX;
        int rc = gslb_prober_step(p, (int)(deadline_ms - now), -1, NULL);
        if (rc < 0) {
            free(runs);
            return rc;
        }
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->t[i].st.runs == runs[i])
            finish(p, i, false, 0, "timeout");
    free(runs);
    return GSLB_OK;
}
