/*
 * test_probe.c - the probe scheduler (agentd/probe.h) against real sockets on
 * loopback: TCP connect (open and closed ports, IPv4 and IPv6), HTTP status
 * matching, the Host header, timeouts kept while other probes run in
 * parallel, and the anti-flapping thresholds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gslb_time.h"
#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a tiny HTTP server --------------------------------------------------- */

typedef struct server {
    int fd;
    uint16_t port;
    int status; /* 0 = accept and never answer */
    atomic_bool stop;
    pthread_t thread;
    char last_request[2048];
    int held[64];
    int nheld;
} server_t;

static void *serve(void *arg)
{
    server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (s->status == 0) {
            if (s->nheld < 64)
                s->held[s->nheld++] = c;
            else
                close(c);
            continue;
        }
        char buf[2048];
        size_t have = 0;
        while (have < sizeof(buf) - 1) {
            struct pollfd q = {.fd = c, .events = POLLIN};
            if (poll(&q, 1, 1000) <= 0)
                break;
            ssize_t r = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
            if (r <= 0)
                break;
            have += (size_t)r;
            buf[have] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        buf[have] = '\0';
        memcpy(s->last_request, buf, have + 1);
        char resp[128];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                         s->status);
        if (send(c, resp, (size_t)n, MSG_NOSIGNAL) < 0)
            perror("send");
        close(c);
    }
    return NULL;
}

static void server_start(server_t *s, int family, int status)
{
    memset(s, 0, sizeof(*s));
    s->status = status;
    s->fd = socket(family, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    assert_int_equal(bind(s->fd, (struct sockaddr *)&ss, sl), 0);
    assert_int_equal(listen(s->fd, 64), 0);
    sl = sizeof(ss);
    getsockname(s->fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server_t *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->nheld; i++)
        close(s->held[i]);
    close(s->fd);
}

/* A port nothing listens on (bound, then closed). */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    close(fd);
    return ntohs(a.sin_port);
}

static gslb_probe_spec_t spec(enum gslb_probe_type t, const char *addr, uint16_t port)
{
    gslb_probe_spec_t s;
    gslb_probe_spec_default(&s);
    s.type = t;
    assert_int_equal(gslb_addr_parse(addr, &s.addr), 0);
    s.port = port;
    s.timeout_ms = 300;
    s.failure_threshold = 1;
    s.success_threshold = 1;
    return s;
}

/* Run one round over the given specs; returns the prober (caller frees). */
static gslb_prober_t *round_of(const gslb_probe_spec_t *specs, size_t n)
{
    gslb_prober_t *p;
    assert_int_equal(gslb_prober_new(&p, NULL, NULL, NULL), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gslb_prober_add(p, &specs[i]), (int)i);
    assert_int_equal(gslb_prober_run_round(p, gslb_mono_ms() + 3000), 0);
    return p;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_tcp_open_closed_ipv4_ipv6(void **state)
{
    (void)state;
    server_t v4, v6;
    server_start(&v4, AF_INET, 200);
    server_start(&v6, AF_INET6, 200);
    gslb_probe_spec_t s[3] = {spec(GSLB_PROBE_TCP, "127.0.0.1", v4.port),
                              spec(GSLB_PROBE_TCP, "::1", v6.port),
                              spec(GSLB_PROBE_TCP, "127.0.0.1", closed_port())};
    gslb_prober_t *p = round_of(s, 3);
    assert_int_equal(gslb_prober_state(p, 0)->health, GSLB_HEALTHY);
    assert_true(gslb_prober_state(p, 0)->latency_us > 0);
    assert_int_equal(gslb_prober_state(p, 1)->health, GSLB_HEALTHY);
    assert_int_equal(gslb_prober_state(p, 2)->health, GSLB_UNHEALTHY);
    assert_non_null(strstr(gslb_prober_state(p, 2)->detail, "refused"));
    gslb_prober_free(p);
    server_stop(&v4);
    server_stop(&v6);
}

static void test_http_status_host_and_ipv6(void **state)
{
    (void)state;
    server_t ok, bad, v6;
    server_start(&ok, AF_INET, 204);
    server_start(&bad, AF_INET, 503);
    server_start(&v6, AF_INET6, 200);
    gslb_probe_spec_t s[4] = {
        spec(GSLB_PROBE_HTTP, "127.0.0.1", ok.port), spec(GSLB_PROBE_HTTP, "127.0.0.1", bad.port),
        spec(GSLB_PROBE_HTTP, "::1", v6.port), spec(GSLB_PROBE_HTTP, "127.0.0.1", ok.port)};
    strcpy(s[0].path, "/healthz");
    strcpy(s[0].host, "webapp.example.com");
    s[3].expected_status[0] = 200; /* 204 is not in the list */
    s[3].expected_count = 1;
    gslb_prober_t *p = NULL;
    assert_int_equal(gslb_prober_new(&p, NULL, NULL, NULL), 0);
    assert_int_equal(gslb_prober_add(p, &s[0]), 0);
    assert_int_equal(gslb_prober_run_round(p, gslb_mono_ms() + 3000), 0);
    assert_int_equal(gslb_prober_state(p, 0)->health, GSLB_HEALTHY); /* any 2xx by default */
    assert_non_null(strstr(ok.last_request, "GET /healthz HTTP/1.1"));
    assert_non_null(strstr(ok.last_request, "Host: webapp.example.com"));
    gslb_prober_free(p);
    p = round_of(&s[1], 3);
    assert_int_equal(gslb_prober_state(p, 0)->health, GSLB_UNHEALTHY);
    assert_string_equal(gslb_prober_state(p, 0)->detail, "HTTP 503");
    assert_int_equal(gslb_prober_state(p, 1)->health, GSLB_HEALTHY);
    assert_int_equal(gslb_prober_state(p, 2)->health, GSLB_UNHEALTHY);
    assert_string_equal(gslb_prober_state(p, 2)->detail, "HTTP 204");
    gslb_prober_free(p);
    server_stop(&ok);
    server_stop(&bad);
    server_stop(&v6);
}

static void test_timeouts_run_in_parallel(void **state)
{
    (void)state;
    server_t silent, ok;
    server_start(&silent, AF_INET, 0);
    server_start(&ok, AF_INET, 200);
    enum { N = 20 };
    gslb_probe_spec_t s[N];
    for (int i = 0; i < N; i++)
        s[i] = spec(GSLB_PROBE_HTTP, "127.0.0.1", i % 2 ? silent.port : ok.port);
    int64_t t0 = gslb_mono_ms();
    gslb_prober_t *p = round_of(s, N);
    int64_t took = gslb_mono_ms() - t0;
    for (int i = 0; i < N; i++)
        assert_int_equal(gslb_prober_state(p, (size_t)i)->health,
                         i % 2 ? GSLB_UNHEALTHY : GSLB_HEALTHY);
    assert_non_null(strstr(gslb_prober_state(p, 1)->detail, "imeout"));
    /* ten 300 ms timeouts in parallel, not one after another */
    assert_true(took >= 280);
    assert_true(took < 1500);
    gslb_prober_free(p);
    server_stop(&silent);
    server_stop(&ok);
}

static void test_thresholds_prevent_flapping(void **state)
{
    (void)state;
    gslb_probe_spec_t s;
    gslb_probe_spec_default(&s);
    s.failure_threshold = 3;
    s.success_threshold = 2;
    gslb_probe_state_t st;
    memset(&st, 0, sizeof(st));
    assert_true(gslb_probe_state_update(&st, &s, true, 10)); /* first result decides */
    assert_int_equal(st.health, GSLB_HEALTHY);
    assert_false(gslb_probe_state_update(&st, &s, false, 0));
    assert_false(gslb_probe_state_update(&st, &s, false, 0));
    assert_false(gslb_probe_state_update(&st, &s, true, 10)); /* streak broken */
    assert_false(gslb_probe_state_update(&st, &s, false, 0));
    assert_false(gslb_probe_state_update(&st, &s, false, 0));
    assert_true(gslb_probe_state_update(&st, &s, false, 0));
    assert_int_equal(st.health, GSLB_UNHEALTHY);
    assert_false(gslb_probe_state_update(&st, &s, true, 10));
    assert_true(gslb_probe_state_update(&st, &s, true, 20));
    assert_int_equal(st.health, GSLB_HEALTHY);
    assert_int_equal(st.latency_us, 20);
    assert_int_equal(st.runs, 9);
}

static int changes;
static void count_changes(void *ctx, size_t i, const gslb_probe_state_t *st, bool changed)
{
    (void)ctx;
    (void)i;
    (void)st;
    changes += changed;
}

static void test_scheduler_repeats_at_interval(void **state)
{
    (void)state;
    server_t ok;
    server_start(&ok, AF_INET, 200);
    gslb_prober_t *p;
    changes = 0;
    assert_int_equal(gslb_prober_new(&p, count_changes, NULL, NULL), 0);
    gslb_probe_spec_t s = spec(GSLB_PROBE_TCP, "127.0.0.1", ok.port);
    s.interval_ms = 100;
    assert_int_equal(gslb_prober_add(p, &s), 0);
    int64_t end = gslb_mono_ms() + 550;
    while (gslb_mono_ms() < end)
        assert_int_equal(gslb_prober_step(p, 50, -1, NULL), 0);
    uint64_t runs = gslb_prober_state(p, 0)->runs;
    assert_true(runs >= 4 && runs <= 7);
    assert_int_equal(changes, 1); /* unknown -> healthy, then stable */
    gslb_prober_free(p);
    server_stop(&ok);
}

static void test_types_parse(void **state)
{
    (void)state;
    enum gslb_probe_type t;
    assert_int_equal(gslb_probe_type_parse("https", &t), 0);
    assert_int_equal(t, GSLB_PROBE_HTTPS);
    assert_int_equal(gslb_probe_type_parse("HTTP", &t), GSLB_EINVAL);
    assert_string_equal(gslb_probe_type_name(GSLB_PROBE_TCP), "tcp");
    gslb_prober_t *p;
    assert_int_equal(gslb_prober_new(&p, NULL, NULL, NULL), 0);
    gslb_probe_spec_t s;
    gslb_probe_spec_default(&s); /* no address */
    assert_int_equal(gslb_prober_add(p, &s), GSLB_EINVAL);
    gslb_prober_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_open_closed_ipv4_ipv6),
        cmocka_unit_test(test_http_status_host_and_ipv6),
        cmocka_unit_test(test_timeouts_run_in_parallel),
        cmocka_unit_test(test_thresholds_prevent_flapping),
        cmocka_unit_test(test_scheduler_repeats_at_interval),
        cmocka_unit_test(test_types_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
