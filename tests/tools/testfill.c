/*
 * gslb-testfill - test-only tool: fills an LMDB environment with the sample
 * records of tests/unit/storage_samples.h (and compiled answers) so that the
 * system tests can run the real gslb-dump without a running overwatch.
 *
 *   gslb-testfill DIR [--garbage] [--hold SECONDS]
 *
 * --garbage  also store undecodable values (one domain, one backend)
 * --hold     keep the environment open and commit a write txn every ~5 ms for
 *            SECONDS (or until SIGTERM); prints "ready" once the data is in
 */
#include "answers.h"
#include "env.h"
#include "storage_samples.h"
#include "store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ZONE "gslb.example.com"

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    g_stop = 1;
}

static int fill(gslb_env_t *e, MDB_txn *txn)
{
    gslb_zone_rec_t z = sample_zone(ZONE);
    gslb_domain_rec_t web = sample_domain("webapp." ZONE, ZONE);
    gslb_domain_rec_t api = sample_domain("api." ZONE, ZONE);
    api.policy = GSLB_POLICY_WEIGHTED;
    gslb_backend_rec_t b1 = sample_backend(web.name, "10.0.1.10", "us-east");
    gslb_backend_rec_t b2 = sample_backend(web.name, "10.0.2.10", "eu-west");
    gslb_backend_rec_t b3 = sample_backend(web.name, "2001:db8::10", "us-east");
    gslb_backend_rec_t b4 = sample_backend(api.name, "10.0.3.10", "us-east");
    b2.stale = true;
    b3.agent_health = GSLB_UNHEALTHY;
    b4.source = GSLB_SOURCE_CONFIG;
    b4.agent_id[0] = '\0';
    b4.agent_health = b4.validation_health = GSLB_UNKNOWN;
    b1.last_seen = b2.last_seen = b3.last_seen = time(NULL) - 5;
    gslb_agent_rec_t a = sample_agent("agent-us-east");
    gslb_dnskey_rec_t k = sample_dnskey(ZONE, 0);
    k.key_tag = sample_key_tag(&k);
    gslb_override_rec_t o = sample_override(web.name, "10.0.2.10", GSLB_OVERRIDE_DOWN);
    gslb_audit_rec_t au = sample_audit(0, 0);
    int rc = gslb_store_zone_put(e, txn, &z);
    rc = rc ? rc : gslb_store_domain_put(e, txn, &web);
    rc = rc ? rc : gslb_store_domain_put(e, txn, &api);
    rc = rc ? rc : gslb_store_backend_put(e, txn, &b1);
    rc = rc ? rc : gslb_store_backend_put(e, txn, &b2);
    rc = rc ? rc : gslb_store_backend_put(e, txn, &b3);
    rc = rc ? rc : gslb_store_backend_put(e, txn, &b4);
    rc = rc ? rc : gslb_store_agent_put(e, txn, &a);
    rc = rc ? rc : gslb_store_dnskey_put(e, txn, &k);
    rc = rc ? rc : gslb_store_override_put(e, txn, &o);
    rc = rc ? rc : gslb_store_audit_append(e, txn, &au);
    rc = rc ? rc : gslb_answers_rebuild_all(e, txn);
    return rc;
}

static int put_garbage(gslb_env_t *e, MDB_txn *txn)
{
    static const uint8_t junk[] = {GSLB_REC_V1, 0xff, 0xff, 0x01};
    static const uint8_t future[] = {77, 1, 2, 3};
    MDB_val k1 = {strlen("broken." ZONE), "broken." ZONE}, v1 = {sizeof(junk), (void *)junk};
    MDB_val k2 = {strlen("future"), "future"}, v2 = {sizeof(future), (void *)future};
    int rc = mdb_put(txn, e->dbi[GSLB_DBI_DOMAINS], &k1, &v1, 0);
    if (!rc)
        rc = mdb_put(txn, e->dbi[GSLB_DBI_BACKENDS], &k2, &v2, 0);
    return rc ? gslb_env_map_err(e, rc, "garbage") : GSLB_OK;
}

/* Keeps a writer busy: one txn touching a backend every few ms. */
static int hold(gslb_env_t *e, int seconds)
{
    time_t end = time(NULL) + seconds;
    gslb_addr_t addr = sample_addr("10.0.1.10");
    uint32_t n = 0;
    while (!g_stop && time(NULL) < end) {
        MDB_txn *txn;
        gslb_backend_rec_t b;
        int rc = gslb_env_write_begin(e, &txn);
        if (rc)
            return rc;
        rc = gslb_store_backend_get(e, txn, "webapp." ZONE, &addr, 8080, &b);
        if (!rc) {
            b.latency_us = 1000 + (n++ % 1000);
            b.last_seen = time(NULL);
            rc = gslb_store_backend_put(e, txn, &b);
        }
        rc = rc ? rc : gslb_answers_rebuild_domain(e, txn, "webapp." ZONE);
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
        rc = gslb_env_commit(e, txn);
        if (rc)
            return rc;
        usleep(5000);
    }
    return GSLB_OK;
}

int main(int argc, char **argv)
{
    bool garbage = false;
    int hold_s = -1;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--garbage") == 0)
            garbage = true;
        else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
            hold_s = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "usage: gslb-testfill DIR [--garbage] [--hold SECONDS]\n");
        return 64;
    }
    signal(SIGTERM, on_term);
    gslb_env_t e;
    gslb_errbuf_t eb = {{0}};
    gslb_env_opts_t o = {.data_dir = dir, .map_size = 32 << 20, .node_id = "testfill"};
    MDB_txn *txn;
    int rc = gslb_env_open(&e, &o, &eb);
    if (rc) {
        fprintf(stderr, "gslb-testfill: %s\n", eb.msg);
        return 1;
    }
    rc = gslb_env_write_begin(&e, &txn);
    if (!rc) {
        rc = fill(&e, txn);
        if (!rc && garbage)
            rc = put_garbage(&e, txn);
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = gslb_env_commit_durable(&e, txn);
    }
    if (!rc) {
        printf("ready\n");
        fflush(stdout);
        if (hold_s >= 0)
            rc = hold(&e, hold_s);
    }
    gslb_env_close(&e);
    if (rc)
        fprintf(stderr, "gslb-testfill: %s\n", gslb_strerror(rc));
    return rc ? 1 : 0;
}
