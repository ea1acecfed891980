/*
 * main.c - gslb-overwatch: the authoritative GSLB DNS server process.
 *
 * Start-up: configuration (and the files it names, as --check-config) -> logging
 * -> root checks (privdrop.h) -> store (verified) -> configuration applied to
 * the store -> DNS workers (on sockets passed by systemd when there are) -> pid
 * file (-> with --takeover, SIGUSR2 to the previous overwatch) -> other services
 * -> switch to overwatch.user (when started as root) -> systemd READY=1 ->
 * signal loop. Files are created private (umask 077). SIGTERM/SIGINT stop
 * gracefully (reverse order); SIGHUP reloads; SIGUSR2 hands DNS over to a
 * successor, then stops (takeover.h).
 * docs/operations.md describes the command line and the signals.
 */
#include "api_hooks.h"
#include "config.h"
#include "dns.h"
#include "env.h"
#include "gslb_err.h"
#include "gossip_services.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "keysync_glue.h"
#include "privdrop.h"
#include "reload.h"
#include "runtime.h"
#include "store.h"
#include "takeover.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

#define DEMO_DEFAULT_PORT 15353

typedef struct cli {
    const char *config;
    const char *check;
    const char *data_dir;
    long port;
    bool demo;
    bool takeover;
} cli_t;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gslb-overwatch [--config FILE] [--takeover]\n"
            "       gslb-overwatch --check-config FILE\n"
            "       gslb-overwatch --demo [--data-dir DIR] [--port N]\n"
            "\n"
            "  --config FILE        configuration file (default %s)\n"
            "  --check-config FILE  validate FILE and the files it names (TLS certificate and\n"
            "                       key, CA file, data_dir) as this user; print \"config OK\"\n"
            "                       or the error, and exit\n"
            "  --takeover           start beside the running overwatch of the same data_dir\n"
            "                       and ports (binary upgrade): serve DNS on the same port,\n"
            "                       then tell the old one (pid in <data_dir>/overwatch.pid)\n"
            "                       to drain its sockets and exit, and take over its gossip\n"
            "                       and API ports; no query is lost. Without it a second\n"
            "                       start on the same ports fails (\"already in use\").\n"
            "  --demo               serve the embedded demo configuration on 127.0.0.1\n"
            "  --data-dir DIR       demo store directory (default /tmp/opengslb-demo-<uid>)\n"
            "  --port N             demo DNS port (default %d; gossip, API and metrics use\n"
            "                       the next three ports)\n"
            "  --help, --version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration,\n"
            "SIGUSR2 hands DNS over to a --takeover successor and stops.\n"
            "Socket activation: DNS sockets passed by systemd (opengslb-overwatch.socket;\n"
            "LISTEN_FDS) that match dns.listen_address are served instead of binding; they\n"
            "and the queries queued in them outlive a restart.\n",
            GSLB_DEFAULT_CONFIG, DEMO_DEFAULT_PORT);
}

/* Returns -1 to continue, else an exit status. */
static int parse_cli(int argc, char **argv, cli_t *cli)
{
    enum {
        OPT_CHECK = 1000,
        OPT_DEMO,
        OPT_DATA_DIR,
        OPT_PORT,
        OPT_TAKEOVER,
        OPT_HELP,
        OPT_VERSION
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"demo", no_argument, NULL, OPT_DEMO},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"port", required_argument, NULL, OPT_PORT},
        {"takeover", no_argument, NULL, OPT_TAKEOVER},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    memset(cli, 0, sizeof(*cli));
    cli->config = GSLB_DEFAULT_CONFIG;
    cli->port = DEMO_DEFAULT_PORT;
    bool demo_opts = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'c':
            cli->config = optarg;
            break;
        case OPT_CHECK:
            cli->check = optarg;
            break;
        case OPT_DEMO:
            cli->demo = true;
            break;
        case OPT_TAKEOVER:
            cli->takeover = true;
            break;
        case OPT_DATA_DIR:
            cli->data_dir = optarg;
            demo_opts = true;
            break;
        case OPT_PORT:
            errno = 0;
            cli->port = strtol(optarg, &end, 10);
            if (errno || !end || *end || cli->port < 1 || cli->port > 65532) {
                fprintf(stderr, "gslb-overwatch: --port must be 1..65532\n");
                return 1;
            }
            demo_opts = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("gslb-overwatch %s\n", GSLB_VERSION);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gslb-overwatch: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (demo_opts && !cli->demo) {
        fprintf(stderr, "gslb-overwatch: --data-dir and --port go with --demo\n");
        return 1;
    }
    return -1;
}

/* --check-config: everything start checks before it binds (the file, then the TLS
 * certificate and key, CA bundle and data directory as this user). */
static int check_config(const char *path)
{
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load(path, &cfg, &eb) != GSLB_OK) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : "configuration error");
        return 1;
    }
    int rc = gslb_config_check_files(&cfg, &eb);
    gslb_config_free(&cfg);
    if (rc != GSLB_OK) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : "configuration error");
        return 1;
    }
    printf("config OK\n");
    return 0;
}

static int load_config(gslb_runtime_t *rt, const cli_t *cli, gslb_errbuf_t *eb)
{
    rt->cfg = calloc(1, sizeof(*rt->cfg));
    if (!rt->cfg)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    if (!cli->demo) {
        snprintf(rt->config_path, sizeof(rt->config_path), "%s", cli->config);
        return gslb_config_load(cli->config, rt->cfg, eb);
    }
    char dir[4096];
    if (cli->data_dir)
        snprintf(dir, sizeof(dir), "%s", cli->data_dir);
    else
        snprintf(dir, sizeof(dir), "/tmp/opengslb-demo-%u", (unsigned)getuid());
    rt->demo = true;
    snprintf(rt->config_path, sizeof(rt->config_path), "<embedded>");
    return gslb_config_load_default(rt->cfg, dir, (uint16_t)cli->port, eb);
}

/* The store holds an applied configuration (at least one zone) to serve from. */
static bool store_holds_config(gslb_env_t *env)
{
    MDB_txn *txn = NULL;
    size_t zones = 0;
    if (gslb_env_read_begin(env, &txn) != GSLB_OK)
        return false;
    int rc = gslb_store_count(env, txn, GSLB_DBI_ZONES, &zones);
    mdb_txn_abort(txn);
    return rc == GSLB_OK && zones > 0;
}

/* Open the store and apply the configuration to it. A write that fails for lack
 * of space (disk or map) is not fatal when the store already holds an applied
 * configuration: DNS then serves what is stored (issue 16: a restart on a full
 * disk used to exit 1 and take DNS down). */
static int open_store(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_env_opts_t o = {
        .data_dir = rt->cfg->restart.data_dir,
        .map_size = (size_t)rt->cfg->restart.map_size,
        .node_id = rt->cfg->restart.node_id,
        .verify = true, /* damage is found now, not by a request (issue 16) */
    };
    int rc = gslb_env_open(&rt->env, &o, eb);
    if (rc)
        return rc;
    rt->env_open = true;
    rc = gslb_config_apply_to_store(rt->cfg, &rt->env, eb);
    if ((rc == GSLB_ENOSPC || rc == GSLB_EMAPFULL) && store_holds_config(&rt->env)) {
        gslb_error("store: %s. The store is FULL: serving DNS from the configuration applied "
                   "before (this file's changes are NOT in effect; /api/v1/ready answers 503 "
                   "until a write succeeds). Free space, then reload (SIGHUP)",
                   eb->msg[0] ? eb->msg : gslb_strerror(rc));
        eb->msg[0] = '\0';
        return GSLB_OK;
    }
    return rc;
}

/* ---- extension points (runtime.h) ------------------------------------------ */

/* Services beside DNS: gossip receiver, API/metrics, key sync, sweeper. Each
 * stores its handle in rt and fails start-up with a message in eb. */
static int overwatch_start_services(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    int rc = gslb_runtime_start_gossip(rt, eb);
    /* API and metrics last: /api/v1/ready then speaks for everything above. */
    if (rc == GSLB_OK)
        rc = gslb_runtime_start_api(rt, eb);
    return rc;
}

static void overwatch_stop_services(gslb_runtime_t *rt)
{
    gslb_runtime_stop_api(rt);
    gslb_runtime_stop_gossip(rt);
}

/* After a takeover signal the predecessor releases the gossip and API ports
 * while it stops: retry while a port is in use, bounded (takeover.h). */
static int start_services_after(gslb_runtime_t *rt, pid_t predecessor, gslb_errbuf_t *eb)
{
    int64_t start = gslb_mono_ms(), waited = 0;
    for (;;) {
        int rc = overwatch_start_services(rt, eb);
        waited = gslb_mono_ms() - start;
        if (rc == GSLB_OK || predecessor == 0 || !gslb_takeover_bind_busy(rc, eb) ||
            waited >= GSLB_TAKEOVER_WAIT_MS)
            return rc;
        overwatch_stop_services(rt);
        if (!rt->takeover_waiting)
            gslb_info("takeover: %s; waiting for pid %ld to release it", eb->msg,
                      (long)predecessor);
        rt->takeover_waiting = true;
        memset(eb, 0, sizeof(*eb));
        usleep(GSLB_TAKEOVER_RETRY_MS * 1000);
    }
}

/* SIGHUP (and POST /api/v1/reload): server/reload.c reloads the file, applies
 * it to the store (answers change atomically) and hands it to every service;
 * it logs and counts the result and keeps the running config on any error. */
static int overwatch_reload(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    return gslb_reload_config(rt, eb);
}

/* ---- signals ----------------------------------------------------------------- */

static void handle_reload(gslb_runtime_t *rt)
{
    gslb_errbuf_t eb = {{0}};
    overwatch_reload(rt, &eb); /* logged, counted and told to systemd by reload.c */
}

/* Returns the signal that ends the loop (SIGTERM, SIGINT, GSLB_TAKEOVER_SIGNAL). */
static int wait_for_stop(gslb_runtime_t *rt, const sigset_t *set)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            gslb_error("sigwaitinfo: %s", strerror(errno));
            return SIGTERM;
        }
        if (sig == SIGHUP) {
            handle_reload(rt);
            continue;
        }
        if (sig == GSLB_TAKEOVER_SIGNAL) {
            gslb_info("received SIGUSR2 from pid %ld: handing DNS over, then stopping",
                      (long)si.si_pid);
            return sig;
        }
        gslb_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return sig;
    }
}

static void print_demo_banner(const gslb_runtime_t *rt)
{
    printf("OpenGSLB demo overwatch (DEMO SECRETS, loopback only), store in %s\n"
           "Query it with:\n"
           "  dig @127.0.0.1 -p %u webapp.gslb.example.com A\n",
           rt->cfg->restart.data_dir, (unsigned)gslb_dns_port(rt->dns));
    fflush(stdout);
}

/* Hand-over (SIGUSR2): the successor already serves DNS, so DNS goes first
 * (drained, dns.h), then the services release the gossip and API ports. */
static void hand_over_dns(gslb_runtime_t *rt)
{
    atomic_store(&rt->ready, false);
    gslb_dns_hand_over(rt->dns);
    rt->dns = NULL;
}

static void shutdown_all(gslb_runtime_t *rt)
{
    atomic_store(&rt->ready, false);
    overwatch_stop_services(rt);
    gslb_runtime_stop_keysync(rt);
    gslb_dns_stop(rt->dns);
    rt->dns = NULL;
    if (rt->env_open)
        gslb_env_close(&rt->env);
    rt->env_open = false;
    if (rt->cfg && rt->pidfile)
        gslb_pidfile_remove(rt->cfg->restart.data_dir);
    rt->pidfile = false;
    if (rt->cfg) {
        gslb_config_free(rt->cfg);
        free(rt->cfg);
        rt->cfg = NULL;
    }
}

/* --takeover: the running overwatch of this data_dir, or 0 (start as usual). */
static pid_t find_predecessor(const gslb_runtime_t *rt)
{
    pid_t pid = gslb_takeover_find(rt->cfg->restart.data_dir);
    if (pid)
        gslb_info("takeover: taking over from pid %ld (%s/%s)", (long)pid,
                  rt->cfg->restart.data_dir, GSLB_PIDFILE_NAME);
    else
        gslb_info("takeover: no running gslb-overwatch for %s: starting as usual",
                  rt->cfg->restart.data_dir);
    return pid;
}

static void signal_predecessor(pid_t pid)
{
    if (kill(pid, GSLB_TAKEOVER_SIGNAL) == 0)
        gslb_info("takeover: serving DNS; told pid %ld to hand over (SIGUSR2)", (long)pid);
    else
        gslb_error("takeover: cannot signal pid %ld: %s", (long)pid, strerror(errno));
}

/* DNS workers on the sockets systemd passed (if any match), beside a
 * predecessor (takeover), or on sockets of their own. */
static int start_dns(gslb_runtime_t *rt, int passed, bool takeover, gslb_errbuf_t *eb)
{
    gslb_dns_opts_t dopts;
    gslb_dns_opts_from_config(rt->cfg, &dopts);
    dopts.takeover = takeover;
    dopts.dnssec_keys_pending = &rt->dnssec_keys_pending;
    if (passed > 0)
        gslb_info("systemd: %d socket(s) passed (socket activation)", passed);
    for (int i = 0; i < passed; i++) {
        int fd = GSLB_SD_LISTEN_FDS_START + i;
        if (dopts.passed_count < GSLB_DNS_MAX_PASSED)
            dopts.passed[dopts.passed_count++] = fd;
        else
            close(fd);
    }
    return gslb_dns_start(&rt->env, &dopts, &rt->dns, eb);
}

static int fail(gslb_runtime_t *rt, const char *what, const gslb_errbuf_t *eb, int rc)
{
    fprintf(stderr, "gslb-overwatch: %s: %s\n", what, eb->msg[0] ? eb->msg : gslb_strerror(rc));
    shutdown_all(rt);
    return 1;
}

int main(int argc, char **argv)
{
    cli_t cli;
    int status = parse_cli(argc, argv, &cli);
    if (status >= 0)
        return status;
    if (cli.check)
        return check_config(cli.check);

    /* Signals are handled by this thread only: block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, GSLB_TAKEOVER_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    umask(077); /* the store holds private keys: nothing we create is for others */
    static gslb_runtime_t rt;
    gslb_errbuf_t eb = {{0}};
    int passed = gslb_sd_listen_fds(); /* before any thread: it edits the environment */
    int rc = load_config(&rt, &cli, &eb);
    if (rc == 0) /* as --check-config: a bad TLS file stops us before anything binds */
        rc = gslb_config_check_files(rt.cfg, &eb);
    if (rc)
        return fail(&rt, "configuration", &eb, rc);
    gslb_log_set_level(rt.cfg->log_level);
    gslb_log_set_format(rt.cfg->log_format);
    gslb_priv_t priv;
    rc = gslb_priv_prepare(rt.cfg->restart.user, rt.cfg->restart.data_dir, &priv, &eb);
    if (rc)
        return fail(&rt, "user", &eb, rc);
    rc = open_store(&rt, &eb);
    if (rc == 0)
        rc = gslb_priv_own_store(&priv, rt.cfg->restart.data_dir, &eb);
    if (rc)
        return fail(&rt, "store", &eb, rc);
    /* DNSSEC keys before DNS, without waiting for peers: a zone still waiting for
     * its first key answers DO queries with SERVFAIL (keysync.h). */
    rc = gslb_runtime_start_keysync(&rt, &eb);
    if (rc)
        return fail(&rt, "dnssec keys", &eb, rc);
    pid_t predecessor = cli.takeover ? find_predecessor(&rt) : 0;
    rc = start_dns(&rt, passed, predecessor != 0, &eb);
    if (rc)
        return fail(&rt, "dns", &eb, rc);
    /* Without it a later --takeover cannot find this process; DNS still serves
     * (a full disk must not take DNS down). */
    rc = gslb_pidfile_write(rt.cfg->restart.data_dir, &eb);
    if (rc)
        gslb_warn("%s; a later --takeover will not find this overwatch", eb.msg);
    rt.pidfile = rc == GSLB_OK;
    if (predecessor)
        signal_predecessor(predecessor);
    rc = start_services_after(&rt, predecessor, &eb);
    if (rc)
        return fail(&rt, "services", &eb, rc);
    /* every listener is bound (port 53 too): now give up root for good */
    rc = gslb_priv_drop(&priv, &eb);
    if (rc)
        return fail(&rt, "user", &eb, rc);
    atomic_store(&rt.ready, true);
    gslb_info("gslb-overwatch %s ready (node %s, config %s)", GSLB_VERSION, rt.cfg->restart.node_id,
              rt.config_path);
    if (rt.demo)
        print_demo_banner(&rt);
    if (predecessor)
        gslb_info("takeover: complete (pid %ld handed over)", (long)predecessor);
    gslb_sd_notify("READY=1");
    int sig = wait_for_stop(&rt, &set);
    gslb_sd_notify("STOPPING=1");
    if (sig == GSLB_TAKEOVER_SIGNAL)
        hand_over_dns(&rt);
    shutdown_all(&rt);
    gslb_info("gslb-overwatch stopped");
    return 0;
}
