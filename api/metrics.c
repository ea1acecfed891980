/*
 * metrics.c - the /metrics endpoint: families, process metrics from /proc and
 * the CivetWeb context on metrics.address.
 */
#include "metrics.h"
#include "summary.h"

#include "gslb_log.h"

#include <civetweb.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- text buffer -------------------------------------------------------------- */

void gslb_prom_init(gslb_prom_t *p)
{
    memset(p, 0, sizeof(*p));
}

void gslb_prom_free(gslb_prom_t *p)
{
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

static bool prom_reserve(gslb_prom_t *p, size_t more)
{
    if (p->oom)
        return false;
    if (p->len + more + 1 <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + more + 1)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b) {
        p->oom = true;
        return false;
    }
    p->buf = b;
    p->cap = cap;
    return true;
}

static void prom_append(gslb_prom_t *p, const char *s, size_t n)
{
    if (!prom_reserve(p, n))
        return;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void prom_puts(gslb_prom_t *p, const char *s)
{
    prom_append(p, s, strlen(s));
}

static void prom_label_value(gslb_prom_t *p, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            prom_append(p, "\\\\", 2);
        else if (*v == '"')
            prom_append(p, "\\\"", 2);
        else if (*v == '\n')
            prom_append(p, "\\n", 2);
        else
            prom_append(p, v, 1);
    }
}

void gslb_prom_family(gslb_prom_t *p, const char *name, const char *type, const char *help)
{
    prom_puts(p, "# HELP ");
    prom_puts(p, name);
    prom_puts(p, " ");
    prom_puts(p, help);
    prom_puts(p, "\n# TYPE ");
    prom_puts(p, name);
    prom_puts(p, " ");
    prom_puts(p, type);
    prom_puts(p, "\n");
}

static void prom_labels(gslb_prom_t *p, va_list ap)
{
    const char *k = va_arg(ap, const char *);
    if (!k)
        return;
    prom_puts(p, "{");
    for (bool first = true; k; k = va_arg(ap, const char *), first = false) {
        const char *v = va_arg(ap, const char *);
        if (!first)
            prom_puts(p, ",");
        prom_puts(p, k);
        prom_puts(p, "=\"");
        prom_label_value(p, v ? v : "");
        prom_puts(p, "\"");
    }
    prom_puts(p, "}");
}

void gslb_prom_sample_u64(gslb_prom_t *p, const char *name, uint64_t value, ...)
{
    char num[32];
    va_list ap;
    prom_puts(p, name);
    va_start(ap, value);
    prom_labels(p, ap);
    va_end(ap);
    snprintf(num, sizeof(num), " %llu\n", (unsigned long long)value);
    prom_puts(p, num);
}

void gslb_prom_sample_f64(gslb_prom_t *p, const char *name, double value, ...)
{
    char num[48];
    va_list ap;
    prom_puts(p, name);
    va_start(ap, value);
    prom_labels(p, ap);
    va_end(ap);
    snprintf(num, sizeof(num), " %.3f\n", value);
    prom_puts(p, num);
}

/* ---- process metrics (/proc) --------------------------------------------------------- */

typedef struct proc_stats {
    double start_time, cpu_seconds;
    uint64_t rss_bytes, vsize_bytes, open_fds, max_fds;
} proc_stats_t;

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double btime = 0;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "btime %llu", &v) == 1) {
            btime = (double)v;
            break;
        }
    }
    if (f)
        fclose(f);
    return btime;
}

/* Fields 14/15 (utime, stime) and 22 (starttime) of /proc/self/stat, counted
 * after the ")" that ends the command name (which may contain spaces). */
static void read_proc_stat(proc_stats_t *ps)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return;
    unsigned long long utime = 0, stime = 0, start = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14)
            utime = strtoull(tok, NULL, 10);
        else if (field == 15)
            stime = strtoull(tok, NULL, 10);
        else if (field == 22)
            start = strtoull(tok, NULL, 10);
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    ps->cpu_seconds = (double)(utime + stime) / hz;
    ps->start_time = boot_time() + (double)start / hz;
}

static void read_proc_statm(proc_stats_t *ps)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%llu %llu", &size, &resident) == 2) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        ps->vsize_bytes = size * page;
        ps->rss_bytes = resident * page;
    }
    if (f)
        fclose(f);
}

static uint64_t count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0; /* minus the directory stream's own fd */
}

static void read_process(proc_stats_t *ps)
{
    memset(ps, 0, sizeof(*ps));
    read_proc_stat(ps);
    read_proc_statm(ps);
    ps->open_fds = count_open_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        ps->max_fds = (uint64_t)rl.rlim_cur;
}

static void render_process(gslb_prom_t *p)
{
    proc_stats_t ps;
    read_process(&ps);
    gslb_prom_family(p, "process_start_time_seconds", "gauge",
                     "Start time of the process since unix epoch in seconds.");
    gslb_prom_sample_f64(p, "process_start_time_seconds", ps.start_time, NULL);
    gslb_prom_family(p, "process_cpu_seconds_total", "counter",
                     "Total user and system CPU time spent in seconds.");
    gslb_prom_sample_f64(p, "process_cpu_seconds_total", ps.cpu_seconds, NULL);
    gslb_prom_family(p, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    gslb_prom_sample_u64(p, "process_resident_memory_bytes", ps.rss_bytes, NULL);
    gslb_prom_family(p, "process_virtual_memory_bytes", "gauge",
                     "Virtual memory size in bytes (includes the LMDB map).");
    gslb_prom_sample_u64(p, "process_virtual_memory_bytes", ps.vsize_bytes, NULL);
    gslb_prom_family(p, "process_open_fds", "gauge", "Number of open file descriptors.");
    gslb_prom_sample_u64(p, "process_open_fds", ps.open_fds, NULL);
    gslb_prom_family(p, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    gslb_prom_sample_u64(p, "process_max_fds", ps.max_fds, NULL);
}

/* ---- OpenGSLB families ------------------------------------------------------------------- */

static void render_build_info(gslb_api_t *api, gslb_prom_t *p)
{
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    pthread_rwlock_rdlock(&api->settings_lock);
    snprintf(node_id, sizeof(node_id), "%s", api->node_id);
    snprintf(region, sizeof(region), "%s", api->region);
    pthread_rwlock_unlock(&api->settings_lock);
    gslb_prom_family(p, "opengslb_build_info", "gauge",
                     "Build and identity of this overwatch (value is always 1).");
    gslb_prom_sample_u64(p, "opengslb_build_info", 1, "version", GSLB_VERSION, "node_id", node_id,
                         "region", region, NULL);
}

/* The node's own view of its health: 1 when /api/v1/ready would answer 200 (DNS workers
 * serve, the store is open and takes writes). Prometheus' `up` only says the scrape worked. */
static void render_up(gslb_api_t *api, gslb_reader_t *reader, gslb_prom_t *p)
{
    char reason[256] = "";
    bool ready = gslb_api_ready(api, reader, reason, sizeof(reason));
    gslb_prom_family(p, "opengslb_up", "gauge",
                     "1 when this overwatch serves DNS and its store is open and writable (as "
                     "/api/v1/ready).");
    gslb_prom_sample_u64(p, "opengslb_up", ready ? 1 : 0, NULL);
}

static void render_dns(const gslb_api_stats_t *st, gslb_prom_t *p)
{
    gslb_prom_family(p, "opengslb_dns_workers", "gauge", "DNS worker threads serving.");
    gslb_prom_sample_u64(p, "opengslb_dns_workers", st->dns_workers, NULL);
    gslb_prom_family(p, "opengslb_dns_queries_total", "counter",
                     "DNS queries answered, by query type and response code.");
    for (size_t i = 0; i < st->query_series && i < GSLB_API_MAX_QUERY_SERIES; i++)
        gslb_prom_sample_u64(p, "opengslb_dns_queries_total", st->queries[i].value, "qtype",
                             st->queries[i].l1, "rcode", st->queries[i].l2, NULL);
    gslb_prom_family(p, "opengslb_dns_responses_truncated_total", "counter",
                     "UDP responses sent with the TC bit set.");
    gslb_prom_sample_u64(p, "opengslb_dns_responses_truncated_total", st->truncated, NULL);
}

static void render_gossip_and_dnssec(const gslb_api_stats_t *st, gslb_prom_t *p)
{
    gslb_prom_family(p, "opengslb_gossip_messages_total", "counter",
                     "Gossip messages received, by result.");
    for (size_t i = 0; i < st->gossip_series && i < GSLB_API_MAX_GOSSIP_SERIES; i++)
        gslb_prom_sample_u64(p, "opengslb_gossip_messages_total", st->gossip[i].value, "result",
                             st->gossip[i].l1, NULL);
    gslb_prom_family(p, "opengslb_dnssec_sync_success", "gauge",
                     "1 when the last DNSSEC key sync succeeded, 0 on failure or never.");
    gslb_prom_sample_u64(p, "opengslb_dnssec_sync_success", st->dnssec_sync_success ? 1 : 0, NULL);
    gslb_prom_family(p, "opengslb_dnssec_last_sync_timestamp", "gauge",
                     "Unix time of the last successful DNSSEC key sync, 0 = never.");
    gslb_prom_sample_u64(p, "opengslb_dnssec_last_sync_timestamp",
                         (uint64_t)(st->dnssec_last_sync > 0 ? st->dnssec_last_sync : 0), NULL);
}

static void render_reloads(const gslb_api_stats_t *st, gslb_prom_t *p)
{
    gslb_prom_family(p, "opengslb_config_reloads_total", "counter",
                     "Configuration reloads (SIGHUP or API), by result.");
    gslb_prom_sample_u64(p, "opengslb_config_reloads_total", st->reloads_ok, "result", "success",
                         NULL);
    gslb_prom_sample_u64(p, "opengslb_config_reloads_total", st->reloads_failed, "result",
                         "failure", NULL);
    gslb_prom_family(p, "opengslb_config_last_reload_timestamp", "gauge",
                     "Unix time of the last successful reload, 0 = never.");
    gslb_prom_sample_u64(p, "opengslb_config_last_reload_timestamp",
                         (uint64_t)(st->last_reload > 0 ? st->last_reload : 0), NULL);
}

static bool extra_valid(const gslb_api_metric_t *m)
{
    return m->name && m->help && (!m->label || m->label_value);
}

/* The server's further families: a HELP/TYPE header whenever the name changes. */
static void render_extra(const gslb_api_stats_t *st, gslb_prom_t *p)
{
    const char *family = NULL;
    for (size_t i = 0; i < st->extra_count && i < GSLB_API_MAX_EXTRA; i++) {
        const gslb_api_metric_t *m = &st->extra[i];
        if (!extra_valid(m))
            continue;
        if (!family || strcmp(family, m->name) != 0) {
            gslb_prom_family(p, m->name, m->counter ? "counter" : "gauge", m->help);
            family = m->name;
        }
        if (m->label)
            gslb_prom_sample_u64(p, m->name, m->value, m->label, m->label_value, NULL);
        else
            gslb_prom_sample_u64(p, m->name, m->value, NULL);
    }
}

static void render_store(const gslb_store_summary_t *s, gslb_prom_t *p)
{
    gslb_prom_family(p, "opengslb_overwatch_agents_registered", "gauge",
                     "Agents currently registered: heard from within stale.threshold.");
    gslb_prom_sample_u64(p, "opengslb_overwatch_agents_registered",
                         s->agents >= s->agents_stale ? s->agents - s->agents_stale : 0, NULL);
    gslb_prom_family(
        p, "opengslb_overwatch_agents_known", "gauge",
        "Agents in the store, stale ones included (removed after stale.remove_after).");
    gslb_prom_sample_u64(p, "opengslb_overwatch_agents_known", s->agents, NULL);
    gslb_prom_family(p, "opengslb_overwatch_agents_stale", "gauge",
                     "Agents silent for longer than stale.threshold.");
    gslb_prom_sample_u64(p, "opengslb_overwatch_agents_stale", s->agents_stale, NULL);
    gslb_prom_family(p, "opengslb_overwatch_backends", "gauge", "Backends by effective state.");
    for (size_t i = 0; i < GSLB_BACKEND_STATES; i++)
        gslb_prom_sample_u64(p, "opengslb_overwatch_backends", s->backends_by_state[i], "state",
                             gslb_backend_state_names[i], NULL);
    gslb_prom_family(p, "opengslb_overwatch_domains", "gauge", "GSLB domains served.");
    gslb_prom_sample_u64(p, "opengslb_overwatch_domains", s->domains, NULL);
    gslb_prom_family(p, "opengslb_overwatch_zones", "gauge", "Authoritative zones served.");
    gslb_prom_sample_u64(p, "opengslb_overwatch_zones", s->zones, NULL);
    gslb_prom_family(p, "opengslb_overrides_active", "gauge", "Manual overrides in force.");
    gslb_prom_sample_u64(p, "opengslb_overrides_active", s->overrides, NULL);
}

static void render_storage_and_api(gslb_api_t *api, gslb_prom_t *p)
{
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    gslb_prom_family(p, "opengslb_storage_map_size_bytes", "gauge",
                     "Configured LMDB map size (storage.map_size).");
    gslb_prom_sample_u64(p, "opengslb_storage_map_size_bytes", api->env->map_size, NULL);
    gslb_prom_family(p, "opengslb_storage_map_full_total", "counter",
                     "Writes refused because the LMDB map was full.");
    gslb_prom_sample_u64(p, "opengslb_storage_map_full_total", gslb_env_map_full_count(), NULL);
    gslb_prom_family(p, "opengslb_storage_no_space_total", "counter",
                     "Writes refused because the device holding the store is full (ENOSPC).");
    gslb_prom_sample_u64(p, "opengslb_storage_no_space_total", gslb_env_no_space_count(), NULL);
    gslb_prom_family(p, "opengslb_storage_full", "gauge",
                     "1 while writes fail for lack of space (disk or LMDB map); DNS serves the "
                     "stored state.");
    gslb_prom_sample_u64(p, "opengslb_storage_full", gslb_env_storage_full(NULL, NULL) ? 1 : 0,
                         NULL);
    gslb_prom_family(p, "opengslb_api_requests_total", "counter",
                     "API requests answered, by status class.");
    for (size_t i = 0; i < 6; i++)
        gslb_prom_sample_u64(
            p, "opengslb_api_requests_total",
            (uint64_t)atomic_load_explicit(&api->requests[i], memory_order_relaxed), "code",
            classes[i], NULL);
}

static int summarize(gslb_api_t *api, gslb_reader_t *reader, gslb_store_summary_t *sum)
{
    if (!reader)
        return GSLB_EINVAL;
    int rc = gslb_reader_begin(reader);
    if (rc != 0)
        return rc;
    rc = gslb_store_summarize(api->env, reader->txn, sum);
    gslb_reader_end(reader);
    return rc;
}

int gslb_metrics_render(gslb_api_t *api, gslb_reader_t *reader, gslb_prom_t *out)
{
    gslb_api_stats_t *st = calloc(1, sizeof(*st));
    if (!st)
        return GSLB_ENOMEM;
    if (api->hooks.stats)
        api->hooks.stats(api->hooks.ctx, st);
    gslb_store_summary_t sum;
    int rc = summarize(api, reader, &sum);
    render_build_info(api, out);
    render_up(api, reader, out);
    render_dns(st, out);
    render_gossip_and_dnssec(st, out);
    render_reloads(st, out);
    render_extra(st, out);
    if (rc == 0)
        render_store(&sum, out);
    else
        gslb_warn("metrics: store summary unavailable: %s", gslb_strerror(rc));
    render_storage_and_api(api, out);
    render_process(out);
    free(st);
    return out->oom ? GSLB_ENOMEM : 0;
}

/* ---- the endpoint ---------------------------------------------------------------------------- */

static void send_text(struct mg_connection *conn, int status, const char *text)
{
    gslb_http_send(conn, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

static int metrics_handler(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->local_uri ? ri->local_uri : "", "/metrics") != 0) {
        send_text(conn, 404, "not found: use /metrics\n");
        return 404;
    }
    if (strcmp(ri->request_method, "GET") != 0) {
        gslb_http_send(conn, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
                       "Allow: GET");
        return 405;
    }
    gslb_prom_t p;
    gslb_prom_init(&p);
    if (gslb_metrics_render(cbdata, mg_get_thread_pointer(conn), &p) != 0) {
        gslb_prom_free(&p);
        send_text(conn, 500, "metrics: out of memory\n");
        return 500;
    }
    gslb_http_send(conn, 200, PROM_CONTENT_TYPE, p.buf, p.len, NULL);
    gslb_prom_free(&p);
    return 200;
}

int gslb_metrics_start(gslb_api_t *api, gslb_errbuf_t *eb)
{
    char ports[300];
    int rc = gslb_http_listen_spec(&api->metrics_addr, false, ports, sizeof(ports), eb);
    if (rc != 0)
        return rc;
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             STR(GSLB_METRICS_THREADS),
                             "request_timeout_ms",
                             STR(GSLB_HTTP_HEAD_TIMEOUT_MS),
                             "enable_keep_alive",
                             "no",
                             "decode_url",
                             "no", /* "/metrics%00x" is not "/metrics" */
                             "access_control_allow_origin",
                             "",
                             NULL};
    struct mg_callbacks cb = {0};
    gslb_http_common_callbacks(&cb, true);
    char errtext[256] = "";
    struct mg_error_data err = {.text = errtext, .text_buffer_size = sizeof(errtext)};
    struct mg_init_data init = {
        .callbacks = &cb, .user_data = api, .configuration_options = options};
    api->metrics = mg_start2(&init, &err);
    if (!api->metrics)
        return gslb_errf(eb, GSLB_EIO, "metrics: cannot listen on %s: %s", ports,
                         gslb_http_bind_problem(&api->metrics_addr,
                                                errtext[0] ? errtext : "civetweb start failed",
                                                errtext, sizeof(errtext)));
    mg_set_request_handler(api->metrics, "/**", metrics_handler, api);
    api->metrics_port = gslb_http_bound_port(api->metrics);
    gslb_conn_limit_set_ports(&api->metrics_limit, api->metrics_port, 0);
    gslb_info("metrics: listening on http://%s:%u/metrics",
              api->metrics_addr.host[0] ? api->metrics_addr.host : "0.0.0.0", api->metrics_port);
    return 0;
}
