/*
 * test_store.c - the LMDB environment and the typed store against a real LMDB
 * in a mkdtemp directory: creation, round trips, reopen, snapshots under a
 * concurrent writer, MAP_FULL, schema refusal, read-only mode, readers; damaged
 * stores (empty, short, a damaged page) refused at open, world-writable data dirs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "dump.h"
#include "env.h"
#include "gslb_err.h"
#include "store.h"
#include "storage_samples.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
} fixture_t;

static int open_env(fixture_t *f, size_t map_size, unsigned max_readers, bool readonly)
{
    gslb_errbuf_t eb = {{0}};
    gslb_env_opts_t o = {.data_dir = f->dir,
                         .map_size = map_size,
                         .max_readers = max_readers,
                         .readonly = readonly,
                         .node_id = "node-a"};
    int rc = gslb_env_open(&f->env, &o, &eb);
    if (rc)
        print_message("open: %s\n", eb.msg);
    return rc;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (gslb_test_mkdtemp(f->dir, sizeof(f->dir), "store") != 0)
        return -1;
    /* the env lives in a sub-directory that gslb_env_open must create */
    strcat(f->dir, "/data");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    gslb_env_close(&f->env);
    f->dir[strlen(f->dir) - strlen("/data")] = '\0';
    if (gslb_test_rmtree(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static void put_samples(gslb_env_t *e, MDB_txn *txn)
{
    gslb_zone_rec_t z = sample_zone("gslb.example.com");
    gslb_domain_rec_t d = sample_domain("webapp.gslb.example.com", "gslb.example.com");
    gslb_backend_rec_t b = sample_backend("webapp.gslb.example.com", "10.0.1.10", "us-east");
    gslb_agent_rec_t a = sample_agent("agent-7");
    gslb_dnskey_rec_t k = sample_dnskey("gslb.example.com", 4242);
    gslb_override_rec_t o =
        sample_override("webapp.gslb.example.com", "10.0.1.10", GSLB_OVERRIDE_DRAIN);
    gslb_audit_rec_t au = sample_audit(0, 0);
    assert_int_equal(gslb_store_zone_put(e, txn, &z), GSLB_OK);
    assert_int_equal(gslb_store_domain_put(e, txn, &d), GSLB_OK);
    assert_int_equal(gslb_store_backend_put(e, txn, &b), GSLB_OK);
    assert_int_equal(gslb_store_agent_put(e, txn, &a), GSLB_OK);
    assert_int_equal(gslb_store_dnskey_put(e, txn, &k), GSLB_OK);
    assert_int_equal(gslb_store_override_put(e, txn, &o), GSLB_OK);
    assert_int_equal(gslb_store_audit_append(e, txn, &au), GSLB_OK);
}

static int count_audit(const gslb_audit_rec_t *r, void *ctx)
{
    (*(int *)ctx)++;
    return 0;
}

static void check_samples(gslb_env_t *e, MDB_txn *txn)
{
    gslb_zone_rec_t z, zw = sample_zone("gslb.example.com");
    gslb_domain_rec_t d;
    gslb_backend_rec_t b, bw = sample_backend("webapp.gslb.example.com", "10.0.1.10", "us-east");
    gslb_agent_rec_t a;
    gslb_dnskey_rec_t k;
    gslb_override_rec_t o;
    gslb_meta_rec_t m;
    assert_int_equal(gslb_store_zone_get(e, txn, "gslb.example.com", &z), GSLB_OK);
    assert_memory_equal(&z, &zw, sizeof(z));
    assert_int_equal(gslb_store_domain_get(e, txn, "webapp.gslb.example.com", &d), GSLB_OK);
    assert_string_equal(d.regions[1], "eu-west");
    assert_int_equal(gslb_store_backend_get(e, txn, "webapp.gslb.example.com", &bw.addr, 8080, &b),
                     GSLB_OK);
    assert_memory_equal(&b, &bw, sizeof(b));
    assert_int_equal(gslb_store_agent_get(e, txn, "agent-7", &a), GSLB_OK);
    assert_int_equal(a.last_seq, 42);
    assert_int_equal(gslb_store_dnskey_get(e, txn, "gslb.example.com", 4242, &k), GSLB_OK);
    assert_int_equal(k.priv_len, 138);
    assert_int_equal(gslb_store_override_get(e, txn, "webapp.gslb.example.com", &bw.addr, &o),
                     GSLB_OK);
    assert_int_equal(o.state, GSLB_OVERRIDE_DRAIN);
    assert_int_equal(gslb_store_meta_get(e, txn, &m), GSLB_OK);
    assert_int_equal(m.schema_version, GSLB_SCHEMA_VERSION);
    assert_string_equal(m.node_id, "node-a");
    int n = 0;
    assert_int_equal(gslb_store_foreach_audit(e, txn, false, 0, count_audit, &n), GSLB_OK);
    assert_int_equal(n, 1);
}

static void test_create_round_trip_and_reopen(void **state)
{
    fixture_t *f = *state;
    struct stat st;
    char file[128];
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(file, sizeof(file), "%s/data.mdb", f->dir);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(f->env.map_size >= GSLB_DEFAULT_MAP_SIZE);

    uint64_t before = gslb_env_last_txnid(&f->env);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    put_samples(&f->env, txn);
    check_samples(&f->env, txn); /* visible inside the write txn */
    assert_int_equal(gslb_env_commit_durable(&f->env, txn), GSLB_OK);
    assert_true(gslb_env_last_txnid(&f->env) > before);

    gslb_env_close(&f->env);
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    check_samples(&f->env, txn);
    mdb_txn_abort(txn);
}

static void test_names_are_case_insensitive_and_delete_works(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    gslb_domain_rec_t d = sample_domain("WebApp.GSLB.Example.COM.", "GSLB.example.com");
    gslb_domain_rec_t out;
    assert_int_equal(gslb_store_domain_put(&f->env, txn, &d), GSLB_OK);
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "webapp.gslb.example.com", &out), 0);
    assert_string_equal(out.name, "webapp.gslb.example.com");
    assert_string_equal(out.zone, "gslb.example.com");
    assert_int_equal(gslb_store_domain_del(&f->env, txn, "WEBAPP.gslb.example.com."), GSLB_OK);
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "webapp.gslb.example.com", &out),
                     GSLB_ENOENT);
    assert_int_equal(gslb_store_domain_del(&f->env, txn, "webapp.gslb.example.com"), GSLB_ENOENT);
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "bad..name", &out), GSLB_EINVAL);
    mdb_txn_abort(txn);
}

struct collect {
    int n;
    char names[8][320];
};

static int collect_backend(const gslb_backend_rec_t *r, void *ctx)
{
    struct collect *c = ctx;
    char a[64];
    if (c->n < 8)
        snprintf(c->names[c->n], sizeof(c->names[0]), "%s/%s", r->domain,
                 gslb_addr_format(&r->addr, a, sizeof(a)));
    c->n++;
    return 0;
}

static void test_backend_prefix_scan_selects_one_domain(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    const char *rows[][2] = {{"a.example", "10.0.0.2"},
                             {"a.example", "10.0.0.1"},
                             {"a.example", "2001:db8::1"},
                             {"a.example.com", "10.0.0.3"},
                             {"a.exampl", "10.0.0.4"}};
    for (size_t i = 0; i < 5; i++) {
        gslb_backend_rec_t b = sample_backend(rows[i][0], rows[i][1], "us-east");
        assert_int_equal(gslb_store_backend_put(&f->env, txn, &b), GSLB_OK);
    }
    struct collect c = {0};
    assert_int_equal(gslb_store_foreach_backend(&f->env, txn, "A.example", collect_backend, &c),
                     GSLB_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.names[0], "a.example/10.0.0.1"); /* key order: v4 by address */
    assert_string_equal(c.names[1], "a.example/10.0.0.2");
    assert_string_equal(c.names[2], "a.example/2001:db8::1");
    memset(&c, 0, sizeof(c));
    assert_int_equal(gslb_store_foreach_backend(&f->env, txn, NULL, collect_backend, &c), 0);
    assert_int_equal(c.n, 5);
    mdb_txn_abort(txn);
}

static int stop_after_one(const gslb_domain_rec_t *r, void *ctx)
{
    (*(int *)ctx)++;
    return 1;
}

static int abort_with_error(const gslb_domain_rec_t *r, void *ctx)
{
    return GSLB_EIO;
}

static void test_domain_by_service_and_callback_control(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    gslb_domain_rec_t d1 = sample_domain("webapp.gslb.example.com", "gslb.example.com");
    gslb_domain_rec_t d2 = sample_domain("api.gslb.example.com", "gslb.example.com");
    snprintf(d2.service, sizeof(d2.service), "backend-api");
    gslb_domain_rec_t out;
    assert_int_equal(gslb_store_domain_put(&f->env, txn, &d1), GSLB_OK);
    assert_int_equal(gslb_store_domain_put(&f->env, txn, &d2), GSLB_OK);
    assert_int_equal(gslb_store_domain_by_service(&f->env, txn, "webapp", &out), GSLB_OK);
    assert_string_equal(out.name, "webapp.gslb.example.com");
    assert_int_equal(gslb_store_domain_by_service(&f->env, txn, "Backend-API", &out), GSLB_OK);
    assert_string_equal(out.name, "api.gslb.example.com");
    assert_int_equal(gslb_store_domain_by_service(&f->env, txn, "api.gslb.example.com.", &out),
                     GSLB_OK);
    assert_string_equal(out.name, "api.gslb.example.com");
    assert_int_equal(gslb_store_domain_by_service(&f->env, txn, "nope", &out), GSLB_ENOENT);
    int n = 0;
    assert_int_equal(gslb_store_foreach_domain(&f->env, txn, stop_after_one, &n), GSLB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(gslb_store_foreach_domain(&f->env, txn, abort_with_error, NULL), GSLB_EIO);
    mdb_txn_abort(txn);
}

static int collect_audit(const gslb_audit_rec_t *r, void *ctx)
{
    struct collect *c = ctx;
    if (c->n < 8)
        snprintf(c->names[c->n], sizeof(c->names[0]), "%lld/%u", (long long)r->time_ms, r->seq);
    c->n++;
    return 0;
}

static void test_audit_sequence_and_order(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    int64_t times[] = {5000, 5000, 4000, 5000, 6000};
    for (size_t i = 0; i < 5; i++) {
        gslb_audit_rec_t a = sample_audit(times[i], 0);
        assert_int_equal(gslb_store_audit_append(&f->env, txn, &a), GSLB_OK);
    }
    gslb_audit_rec_t now = sample_audit(0, 0);
    assert_int_equal(gslb_store_audit_append(&f->env, txn, &now), GSLB_OK);
    assert_true(now.time_ms > 1700000000000LL);
    assert_int_equal(now.seq, 1);
    struct collect c = {0};
    assert_int_equal(gslb_store_foreach_audit(&f->env, txn, false, 4, collect_audit, &c), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.names[0], "4000/1");
    assert_string_equal(c.names[1], "5000/1");
    assert_string_equal(c.names[2], "5000/2");
    assert_string_equal(c.names[3], "5000/3");
    memset(&c, 0, sizeof(c));
    assert_int_equal(gslb_store_foreach_audit(&f->env, txn, true, 2, collect_audit, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[1], "6000/1");
    mdb_txn_abort(txn);
}

static size_t audit_count(fixture_t *f, MDB_txn *txn)
{
    size_t n = 0;
    assert_int_equal(gslb_store_count(&f->env, txn, GSLB_DBI_AUDIT, &n), GSLB_OK);
    return n;
}

/* api.audit_retention (issue 16, item 13): the oldest records go, by count and by age,
 * at most max_remove per call. */
static void test_audit_prune(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    for (int64_t t = 1; t <= 50; t++) {
        gslb_audit_rec_t a = sample_audit(t * 1000, 0);
        assert_int_equal(gslb_store_audit_append(&f->env, txn, &a), GSLB_OK);
    }
    size_t removed = 99;
    /* nothing to do: no limits, or within them */
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 0, 0, 1000, &removed), GSLB_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 1000, 50, 1000, &removed), GSLB_OK);
    assert_int_equal(removed, 0);
    /* by count, in batches */
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 0, 40, 4, &removed), GSLB_OK);
    assert_int_equal(removed, 4);
    assert_int_equal(audit_count(f, txn), 46);
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 0, 40, 1000, &removed), GSLB_OK);
    assert_int_equal(removed, 6);
    assert_int_equal(audit_count(f, txn), 40);
    struct collect c = {0};
    assert_int_equal(gslb_store_foreach_audit(&f->env, txn, false, 1, collect_audit, &c), 0);
    assert_string_equal(c.names[0], "11000/1"); /* the oldest ten went */
    /* by age: everything before t=30 s */
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 30000, 0, 1000, &removed), GSLB_OK);
    assert_int_equal(removed, 19);
    memset(&c, 0, sizeof(c));
    assert_int_equal(gslb_store_foreach_audit(&f->env, txn, false, 1, collect_audit, &c), 0);
    assert_string_equal(c.names[0], "30000/1");
    /* both: the stricter wins */
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, 31000, 5, 1000, &removed), GSLB_OK);
    assert_int_equal(audit_count(f, txn), 5);
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    /* an empty table */
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, INT64_MAX, 0, 1000, &removed), GSLB_OK);
    assert_int_equal(removed, 5);
    assert_int_equal(gslb_store_audit_prune(&f->env, txn, INT64_MAX, 1, 1000, NULL), GSLB_OK);
    assert_int_equal(audit_count(f, txn), 0);
    mdb_txn_abort(txn);
}

/* ---- snapshot consistency under a concurrent writer ----------------------- */

struct race {
    gslb_env_t *env;
    atomic_bool stop;
    atomic_int reads;
    int mismatches;
    int writer_rc;
};

static void *writer_thread(void *arg)
{
    struct race *r = arg;
    gslb_backend_rec_t a = sample_backend("race.example", "10.9.0.1", "us-east");
    gslb_backend_rec_t b = sample_backend("race.example", "10.9.0.2", "us-east");
    for (uint32_t i = 1; i <= 300 && r->writer_rc == 0; i++) {
        MDB_txn *txn;
        a.weight = b.weight = i;
        r->writer_rc = gslb_env_write_begin(r->env, &txn);
        if (r->writer_rc)
            break;
        r->writer_rc = gslb_store_backend_put(r->env, txn, &a);
        if (!r->writer_rc)
            r->writer_rc = gslb_store_backend_put(r->env, txn, &b);
        if (r->writer_rc)
            mdb_txn_abort(txn);
        else
            r->writer_rc = gslb_env_commit(r->env, txn);
    }
    atomic_store(&r->stop, true);
    return NULL;
}

static void *reader_thread(void *arg)
{
    struct race *r = arg;
    gslb_reader_t rd;
    gslb_addr_t a1 = sample_addr("10.9.0.1"), a2 = sample_addr("10.9.0.2");
    if (gslb_reader_init(&rd, r->env) != GSLB_OK) {
        r->mismatches = -1;
        return NULL;
    }
    while (!atomic_load(&r->stop) || atomic_load(&r->reads) < 50) {
        gslb_backend_rec_t x, y;
        if (gslb_reader_begin(&rd) != GSLB_OK) {
            r->mismatches = -1;
            break;
        }
        int rc1 = gslb_store_backend_get(r->env, rd.txn, "race.example", &a1, 8080, &x);
        int rc2 = gslb_store_backend_get(r->env, rd.txn, "race.example", &a2, 8080, &y);
        /* (a transient usleep inside the snapshot widens the race window) */
        if (atomic_load(&r->reads) % 16 == 0)
            usleep(100);
        int rc3 = gslb_store_backend_get(r->env, rd.txn, "race.example", &a2, 8080, &y);
        if (rc1 != rc2 || rc2 != rc3 || (rc1 == 0 && x.weight != y.weight))
            r->mismatches++;
        gslb_reader_end(&rd);
        atomic_fetch_add(&r->reads, 1);
    }
    gslb_reader_destroy(&rd);
    return NULL;
}

static void test_reader_sees_consistent_snapshot_while_writer_commits(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    struct race r = {.env = &f->env};
    pthread_t w, rd;
    assert_int_equal(pthread_create(&rd, NULL, reader_thread, &r), 0);
    assert_int_equal(pthread_create(&w, NULL, writer_thread, &r), 0);
    pthread_join(w, NULL);
    pthread_join(rd, NULL);
    assert_int_equal(r.writer_rc, GSLB_OK);
    assert_int_equal(r.mismatches, 0);
    assert_true(atomic_load(&r.reads) >= 50);

    /* the final state is the last write */
    MDB_txn *txn;
    gslb_backend_rec_t x;
    gslb_addr_t a1 = sample_addr("10.9.0.1");
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    assert_int_equal(gslb_store_backend_get(&f->env, txn, "race.example", &a1, 8080, &x), 0);
    assert_int_equal(x.weight, 300);
    mdb_txn_abort(txn);
}

static void test_map_full_is_reported(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    assert_int_equal(open_env(f, 64 * 1024, 0, false), GSLB_OK);
    uint64_t before = gslb_env_map_full_count();
    int rc = GSLB_OK;
    int i;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    for (i = 0; i < 100000 && rc == GSLB_OK; i++) {
        gslb_agent_rec_t a = sample_agent("x");
        snprintf(a.agent_id, sizeof(a.agent_id), "agent-%06d", i);
        rc = gslb_store_agent_put(&f->env, txn, &a);
    }
    assert_int_equal(rc, GSLB_EMAPFULL);
    assert_true(i > 10); /* some records fitted */
    assert_int_equal(gslb_env_map_full_count(), before + 1);
    /* the store is "full" (readiness, metrics) until a write succeeds */
    int code = 0;
    int64_t since = 0;
    assert_true(gslb_env_storage_full(&code, &since));
    assert_int_equal(code, GSLB_EMAPFULL);
    assert_true(since > 0);
    mdb_txn_abort(txn);
    /* the environment stays usable for small writes, and that ends the episode */
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    gslb_agent_rec_t a = sample_agent("after-full");
    assert_int_equal(gslb_store_agent_put(&f->env, txn, &a), GSLB_OK);
    assert_true(gslb_env_storage_full(NULL, NULL));
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    assert_false(gslb_env_storage_full(&code, &since));
    assert_int_equal(code, 0);
    assert_int_equal(since, 0);
}

static void test_no_space_maps_to_enospc(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(open_env(f, 64 * 1024, 0, false), GSLB_OK);
    uint64_t before = gslb_env_no_space_count();
    assert_int_equal(gslb_env_map_err(&f->env, ENOSPC, "test write"), GSLB_ENOSPC);
    assert_int_equal(gslb_env_map_err(&f->env, EDQUOT, "test write"), GSLB_ENOSPC);
    assert_int_equal(gslb_env_no_space_count(), before + 2);
    int code = 0;
    assert_true(gslb_env_storage_full(&code, NULL));
    assert_int_equal(code, GSLB_ENOSPC);
    assert_string_equal(gslb_strerror(GSLB_ENOSPC), "no space left on device");
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    gslb_agent_rec_t a = sample_agent("space-again");
    assert_int_equal(gslb_store_agent_put(&f->env, txn, &a), GSLB_OK);
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    assert_false(gslb_env_storage_full(NULL, NULL));
    size_t n = 0;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    assert_int_equal(gslb_store_count(&f->env, txn, GSLB_DBI_AGENTS, &n), GSLB_OK);
    assert_int_equal(n, 1);
    mdb_txn_abort(txn);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    gslb_meta_rec_t m = sample_meta();
    m.schema_version = GSLB_SCHEMA_VERSION + 1;
    assert_int_equal(gslb_store_meta_put(&f->env, txn, &m), GSLB_OK);
    assert_int_equal(gslb_env_commit_durable(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);

    gslb_env_opts_t o = {.data_dir = f->dir};
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_EVERSION);
    assert_non_null(strstr(eb.msg, "newer"));
    assert_null(f->env.env);
    o.readonly = true;
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_EVERSION);
}

static void test_unknown_meta_encoding_is_refused(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    uint8_t junk[] = {9, 1, 2, 3};
    MDB_val k = {strlen(GSLB_META_KEY), GSLB_META_KEY}, v = {sizeof(junk), junk};
    assert_int_equal(mdb_put(txn, f->env.dbi[GSLB_DBI_META], &k, &v, 0), 0);
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);
    gslb_env_opts_t o = {.data_dir = f->dir};
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_EVERSION);
    assert_non_null(strstr(eb.msg, "version"));
}

/* The key sync's record sits beside the schema record and survives a reopen. */
static void test_keysync_meta_record(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    gslb_keysync_meta_rec_t k = {.last_sync = 42};
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    assert_int_equal(gslb_store_keysync_meta_get(&f->env, txn, &k), GSLB_ENOENT);
    mdb_txn_abort(txn);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    k.last_sync = 1767225600;
    assert_int_equal(gslb_store_keysync_meta_put(&f->env, txn, &k), GSLB_OK);
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);
    gslb_env_opts_t o = {.data_dir = f->dir};
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_OK);
    gslb_keysync_meta_rec_t got = {0};
    gslb_meta_rec_t m;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    assert_int_equal(gslb_store_keysync_meta_get(&f->env, txn, &got), GSLB_OK);
    assert_int_equal(gslb_store_meta_get(&f->env, txn, &m), GSLB_OK);
    mdb_txn_abort(txn);
    assert_int_equal(got.last_sync, 1767225600);
    assert_int_equal(m.schema_version, GSLB_SCHEMA_VERSION);
}

static void test_readonly_mode(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    gslb_errbuf_t eb = {{0}};
    gslb_env_opts_t missing = {.data_dir = f->dir, .readonly = true};
    assert_int_equal(gslb_env_open(&f->env, &missing, &eb), GSLB_ENOENT);
    assert_non_null(strstr(eb.msg, f->dir));

    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    put_samples(&f->env, txn);
    assert_int_equal(gslb_env_commit_durable(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);

    assert_int_equal(open_env(f, 0, 0, true), GSLB_OK);
    assert_true(f->env.readonly);
    assert_true(f->env.map_size > 0);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_EINVAL);
    gslb_reader_t rd;
    assert_int_equal(gslb_reader_init(&rd, &f->env), GSLB_OK);
    assert_int_equal(gslb_reader_begin(&rd), GSLB_OK);
    check_samples(&f->env, rd.txn);
    gslb_reader_end(&rd);
    gslb_reader_destroy(&rd);
}

static void test_readers_full_is_busy(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(open_env(f, 0, 2, false), GSLB_OK);
    gslb_reader_t r1, r2;
    MDB_txn *txn = NULL;
    assert_int_equal(gslb_reader_init(&r1, &f->env), GSLB_OK);
    assert_int_equal(gslb_reader_init(&r2, &f->env), GSLB_OK);
    /* both slots are held by live readers: the retry after reader_check fails too */
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_EBUSY);
    gslb_reader_destroy(&r2);
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), GSLB_OK);
    mdb_txn_abort(txn);
    gslb_reader_destroy(&r1);
}

/* ---- gslb-dump engine, in process ------------------------------------------ */

static int run_dump_capture(const gslb_dump_opts_t *o, char **out, char **err)
{
    size_t olen = 0, elen = 0;
    FILE *fo = open_memstream(out, &olen), *fe = open_memstream(err, &elen);
    int rc = gslb_dump_run(o, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static void test_dump_engine_text_json_and_errors(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn;
    char *out = NULL, *err = NULL;
    gslb_dump_opts_t o = {.data_dir = f->dir};

    assert_int_equal(run_dump_capture(&o, &out, &err), GSLB_DUMP_ERROR);
    assert_non_null(strstr(err, f->dir));
    free(out);
    free(err);

    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    put_samples(&f->env, txn);
    assert_int_equal(gslb_env_commit_durable(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);

    assert_int_equal(run_dump_capture(&o, &out, &err), GSLB_DUMP_OK);
    assert_non_null(strstr(out, "backends (1)"));
    assert_non_null(strstr(out, "draining")); /* effective status: the DRAIN override */
    assert_non_null(strstr(out, "(hidden; --secrets shows it)"));
    assert_null(strstr(out, "answers ("));
    assert_string_equal(err, "");
    free(out);
    free(err);

    o.json = true;
    o.secrets = true;
    o.tables = GSLB_DUMP_DNSSEC_KEYS | GSLB_DUMP_AGENTS;
    assert_int_equal(run_dump_capture(&o, &out, &err), GSLB_DUMP_OK);
    assert_non_null(strstr(out, "\"private_key\": \""));
    assert_non_null(strstr(out, "\"agent\": \"agent-7\""));
    assert_null(strstr(out, "\"backends\""));
    free(out);
    free(err);

    /* an undecodable value is reported and gives exit code 2 */
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    uint8_t junk[] = {GSLB_REC_V1, 3};
    MDB_val k = {5, "agent"}, v = {sizeof(junk), junk};
    assert_int_equal(mdb_put(txn, f->env.dbi[GSLB_DBI_AGENTS], &k, &v, 0), 0);
    assert_int_equal(gslb_env_commit(&f->env, txn), GSLB_OK);
    gslb_env_close(&f->env);
    o.json = false;
    assert_int_equal(run_dump_capture(&o, &out, &err), GSLB_DUMP_UNDECODABLE);
    assert_non_null(strstr(out, "agent  <undecodable: malformed or truncated data>"));
    assert_non_null(strstr(out, "agent-7")); /* the good record is still shown */
    free(out);
    free(err);
    assert_int_equal(gslb_dump_table_parse("dnssec_keys"), GSLB_DUMP_DNSSEC_KEYS);
    assert_int_equal(gslb_dump_table_parse("nope"), 0);
}

/* ---- damaged stores are refused at open (issue 16, item 7) ------------------ */

static void data_file(const fixture_t *f, char *out, size_t cap)
{
    snprintf(out, cap, "%s/data.mdb", f->dir);
}

static void write_file(const char *path, size_t size)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++)
        fputc(i % 7 ? 0 : 0x5a, fp);
    fclose(fp);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* An empty or short data.mdb is damage, never a new store (LMDB would initialise it). */
static void test_empty_or_short_data_file_is_refused(void **state)
{
    fixture_t *f = *state;
    char file[128];
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(mkdir(f->dir, 0700), 0);
    data_file(f, file, sizeof(file));
    static const size_t sizes[] = {0, 100, 4096};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_file(file, sizes[i]);
        gslb_env_opts_t o = {.data_dir = f->dir, .verify = true};
        assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_ECORRUPT);
        assert_non_null(strstr(eb.msg, file));
        assert_non_null(strstr(eb.msg, "is damaged"));
        assert_non_null(strstr(eb.msg, "gslb-dump --data-dir"));
        assert_null(f->env.env);
        assert_int_equal(file_size(file), (off_t)sizes[i]); /* left as it was */
    }
    /* a missing data.mdb is a new store */
    assert_int_equal(unlink(file), 0);
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
}

/* count audit records, each with a "marker-<i>" detail, in one transaction. */
static void put_marked_audit(fixture_t *f, int count)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), GSLB_OK);
    put_samples(&f->env, txn);
    for (int i = 0; i < count; i++) {
        gslb_audit_rec_t a = sample_audit(1000 + i, 0);
        snprintf(a.detail, sizeof(a.detail), "marker-%05d padding padding padding padding", i);
        assert_int_equal(gslb_store_audit_append(&f->env, txn, &a), GSLB_OK);
    }
    assert_int_equal(gslb_env_commit_durable(&f->env, txn), GSLB_OK);
}

/* Overwrite the page flags (header offset 10, 64-bit LMDB) of every 4 KiB leaf page
 * of data.mdb (its header names its own number, flag P_LEAF) that contains needle:
 * the page is neither a leaf nor a branch any more. */
static int damage_pages_with(const fixture_t *f, const char *needle)
{
    char file[128];
    data_file(f, file, sizeof(file));
    FILE *fp = fopen(file, "r+b");
    assert_non_null(fp);
    static uint8_t page[4096];
    int hits = 0;
    for (long pg = 2; fseek(fp, pg * 4096, SEEK_SET) == 0 && fread(page, 1, 4096, fp) == 4096;
         pg++) {
        uint64_t pgno;
        memcpy(&pgno, page, sizeof(pgno));
        if (pgno != (uint64_t)pg || !(page[10] & 0x02) ||
            !memmem(page, sizeof(page), needle, strlen(needle)))
            continue;
        static const uint8_t garbage[2] = {0, 0};
        assert_int_equal(fseek(fp, pg * 4096 + 10, SEEK_SET), 0);
        assert_int_equal(fwrite(garbage, 1, 2, fp), 2);
        hits++;
    }
    fclose(fp);
    return hits;
}

static int open_verified(fixture_t *f, gslb_errbuf_t *eb)
{
    gslb_env_opts_t o = {.data_dir = f->dir, .verify = true, .verify_timeout_ms = 30000};
    return gslb_env_open(&f->env, &o, eb);
}

/* A damaged audit leaf reached from its parent: LMDB reports MDB_CORRUPTED. */
static void test_damaged_root_page_is_refused(void **state)
{
    fixture_t *f = *state;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    put_marked_audit(f, 3); /* one leaf: the audit root */
    gslb_env_close(&f->env);
    assert_int_equal(open_verified(f, &eb), GSLB_OK); /* intact: verified and opened */
    gslb_env_close(&f->env);

    assert_true(damage_pages_with(f, "marker-00001") >= 1);
    assert_int_equal(open_verified(f, &eb), GSLB_ECORRUPT);
    assert_non_null(strstr(eb.msg, "data.mdb is damaged"));
    assert_non_null(strstr(eb.msg, "sub-database \"audit\""));
    assert_non_null(strstr(eb.msg, "gslb-dump --data-dir"));
    assert_null(f->env.env);
}

/* A damaged leaf reached from its sibling: LMDB's own assertion aborts the walk (as
 * GET /api/v1/audit-logs did); the child process takes it and the open is refused. */
static void test_damaged_leaf_that_trips_an_lmdb_assert_is_refused(void **state)
{
    fixture_t *f = *state;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    put_marked_audit(f, 3000); /* many leaves under a branch */
    gslb_env_close(&f->env);
    assert_true(damage_pages_with(f, "marker-01500") >= 1);
    assert_int_equal(open_verified(f, &eb), GSLB_ECORRUPT);
    assert_non_null(strstr(eb.msg, "data.mdb is damaged"));
    assert_non_null(strstr(eb.msg, "sub-database \"audit\""));
    assert_non_null(strstr(eb.msg, "gslb-dump --data-dir"));
    /* without the check the store opens "fine": the damage waits for a reader */
    gslb_env_opts_t o = {.data_dir = f->dir};
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_OK);
}

/* World-writable data directories are refused, world-readable data files logged. */
static void test_world_writable_data_dir_is_refused(void **state)
{
    fixture_t *f = *state;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(chmod(f->dir, 0777), 0);
    gslb_env_opts_t o = {.data_dir = f->dir};
    assert_int_equal(gslb_env_open(&f->env, &o, &eb), GSLB_EIO);
    assert_non_null(strstr(eb.msg, "world-writable"));
    /* sticky (like /tmp) is not refused, and read-only opens do not judge */
    assert_int_equal(chmod(f->dir, 01777), 0);
    assert_int_equal(open_env(f, 0, 0, false), GSLB_OK);
    gslb_env_close(&f->env);
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(open_env(f, 0, 0, true), GSLB_OK);
    gslb_env_close(&f->env);
    /* a new store is created 0600 whatever the umask */
    assert_int_equal(chmod(f->dir, 0700), 0);
    char file[128];
    data_file(f, file, sizeof(file));
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_create_round_trip_and_reopen),
        T(test_names_are_case_insensitive_and_delete_works),
        T(test_backend_prefix_scan_selects_one_domain),
        T(test_domain_by_service_and_callback_control),
        T(test_audit_sequence_and_order),
        T(test_audit_prune),
        T(test_reader_sees_consistent_snapshot_while_writer_commits),
        T(test_map_full_is_reported),
        T(test_no_space_maps_to_enospc),
        T(test_newer_schema_is_refused),
        T(test_unknown_meta_encoding_is_refused),
        T(test_keysync_meta_record),
        T(test_readonly_mode),
        T(test_readers_full_is_busy),
        T(test_dump_engine_text_json_and_errors),
        T(test_empty_or_short_data_file_is_refused),
        T(test_damaged_root_page_is_refused),
        T(test_damaged_leaf_that_trips_an_lmdb_assert_is_refused),
        T(test_world_writable_data_dir_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
