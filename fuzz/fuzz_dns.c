/*
 * fuzz_dns.c - libFuzzer target for the DNS hot path: every input is parsed
 * (server/wire.c) and answered (server/answer.c) over UDP and TCP limits
 * against a small real LMDB store built once, at the first call, in a temp
 * directory (removed at exit); the zone has a signing key, so queries with
 * DO take the DNSSEC path (RRSIGs, compact denial). Each response must parse
 * back as a DNS header with QR set and the query's ID.
 */
#include "answer.h"
#include "env.h"
#include "keys.h"
#include "store.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONE "fuzz.example"

static struct {
    bool ready;
    char dir[64];
    gslb_env_t env;
    gslb_reader_t reader;
    gslb_answer_ctx_t ctx;
    uint8_t out[65535];
} S;

static void cleanup(void)
{
    gslb_answer_ctx_destroy(&S.ctx);
    gslb_reader_destroy(&S.reader);
    gslb_env_close(&S.env);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", S.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_dns: cannot remove %s\n", S.dir);
}

static int add_domain(MDB_txn *txn, const char *name, uint8_t policy, uint8_t mode, int n)
{
    gslb_domain_rec_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s." ZONE, name);
    strcpy(d.zone, ZONE);
    d.policy = policy;
    d.unhealthy_mode = mode;
    d.region_count = 2;
    strcpy(d.regions[0], "a");
    strcpy(d.regions[1], "b");
    int rc = gslb_store_domain_put(&S.env, txn, &d);
    for (int i = 0; !rc && i < n; i++) {
        gslb_backend_rec_t b;
        memset(&b, 0, sizeof(b));
        strcpy(b.domain, d.name);
        char addr[64];
        if (i % 3 == 2)
            snprintf(addr, sizeof(addr), "2001:db8::%x", i + 1);
        else
            snprintf(addr, sizeof(addr), "10.9.%d.%d", i / 200, i % 200 + 1);
        rc = gslb_addr_parse(addr, &b.addr);
        b.port = 80;
        b.weight = (uint32_t)(i % 4);
        strcpy(b.region, i % 2 ? "b" : "a");
        b.agent_health = i % 5 == 4 ? GSLB_UNHEALTHY : GSLB_UNKNOWN;
        if (!rc)
            rc = gslb_store_backend_put(&S.env, txn, &b);
    }
    return rc;
}

static int build_store(void)
{
    MDB_txn *txn;
    int rc = gslb_env_write_begin(&S.env, &txn);
    if (rc)
        return rc;
    gslb_zone_rec_t z;
    memset(&z, 0, sizeof(z));
    strcpy(z.name, ZONE);
    strcpy(z.mname, "ns1." ZONE);
    strcpy(z.rname, "hostmaster." ZONE);
    z.serial = 1;
    z.minimum = 60;
    z.soa_ttl = 300;
    z.ns_ttl = 300;
    z.ns_count = 2;
    strcpy(z.ns[0], "ns1." ZONE);
    strcpy(z.ns[1], "ns2.elsewhere.example");
    gslb_addr_parse("192.0.2.1", &z.ns_addr4[0]);
    rc = gslb_store_zone_put(&S.env, txn, &z);
    if (!rc)
        rc = add_domain(txn, "www", GSLB_POLICY_ROUND_ROBIN, 0, 6);
    if (!rc)
        rc = add_domain(txn, "big", GSLB_POLICY_ROUND_ROBIN, 0, 150);
    if (!rc)
        rc = add_domain(txn, "w.x.y", GSLB_POLICY_WEIGHTED, 0, 8);
    if (!rc)
        rc = add_domain(txn, "fo", GSLB_POLICY_FAILOVER, GSLB_UNHEALTHY_SERVFAIL, 4);
    if (!rc)
        rc = add_domain(txn, "lat", GSLB_POLICY_LATENCY, GSLB_UNHEALTHY_NODATA, 5);
    if (!rc)
        rc = gslb_answers_rebuild_all(&S.env, txn);
    gslb_errbuf_t eb; /* a signing key: DO queries take the DNSSEC path */
    if (!rc)
        rc = gslb_keys_add_generated(&S.env, txn, ZONE, GSLB_ALG_ECDSAP256SHA256, 1767225600,
                                     "fuzz", NULL, &eb);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return gslb_env_commit(&S.env, txn);
}

static void setup(void)
{
    snprintf(S.dir, sizeof(S.dir), "/tmp/gslb-fuzz-dns-XXXXXX");
    gslb_errbuf_t eb;
    gslb_env_opts_t o = {.data_dir = S.dir, .map_size = 64 << 20};
    if (!mkdtemp(S.dir) || gslb_env_open(&S.env, &o, &eb) != 0 || build_store() != 0 ||
        gslb_reader_init(&S.reader, &S.env) != 0 ||
        gslb_answer_ctx_init(&S.ctx, &S.env, NULL, 1232, 1) != 0 ||
        gslb_answer_ctx_enable_dnssec(&S.ctx) != 0) {
        fprintf(stderr, "fuzz_dns: cannot build the test store in %s\n", S.dir);
        abort();
    }
    atexit(cleanup);
    S.ready = true;
}

static void check_response(const uint8_t *q, size_t qlen, size_t n, size_t limit)
{
    if (n == 0)
        return;
    if (n < GSLB_DNS_HDR_LEN || n > limit || (S.out[2] & 0x80) == 0 || memcmp(S.out, q, 2) != 0 ||
        qlen < GSLB_DNS_HDR_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!S.ready)
        setup();
    if (gslb_reader_begin(&S.reader) != 0)
        abort();
    gslb_answer_set_txn(&S.ctx, S.reader.txn);
    size_t n = gslb_answer_query(&S.ctx, data, size, GSLB_TRANSPORT_UDP, S.out, sizeof(S.out));
    check_response(data, size, n, 1232);
    n = gslb_answer_query(&S.ctx, data, size, GSLB_TRANSPORT_TCP, S.out, sizeof(S.out));
    check_response(data, size, n, sizeof(S.out));
    gslb_answer_set_txn(&S.ctx, NULL);
    gslb_reader_end(&S.reader);
    return 0;
}
