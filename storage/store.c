/*
 * store.c - typed access to the sub-DBs (store.h).
 *
 * Key layouts (all text lower-case, without the trailing dot, no NUL unless
 * shown):
 *   meta         "schema", "keysync"
 *   zones        zone name
 *   domains      FQDN
 *   backends     FQDN '\0' addr17 port(BE16)   (addr17 = family code 4|6 + 16 bytes)
 *   agents       agent id (as given; ids are case-sensitive)
 *   dnssec_keys  zone '\0' key_tag(BE16)
 *   overrides    FQDN '\0' addr17
 *   audit        time_ms(BE64) seq(BE32)
 * A domain prefix ("FQDN\0") therefore selects exactly that domain's backends.
 */
#include "store.h"
#include "cursor.h"
#include "gslb_time.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- key builders -------------------------------------------------------- */

int gslb_store_name_key(const char *name, uint8_t *key, size_t cap)
{
    char norm[GSLB_NAME_MAX];
    if (!name || gslb_name_normalize(name, norm, sizeof(norm)) != GSLB_OK || !norm[0])
        return GSLB_EINVAL;
    size_t n = strlen(norm);
    if (n > cap)
        return GSLB_ERANGE;
    memcpy(key, norm, n);
    return (int)n;
}

static int addr17(const gslb_addr_t *a, uint8_t *out)
{
    memset(out, 0, GSLB_ADDR_KEY_LEN);
    if (a->family == AF_INET) {
        out[0] = 4;
        memcpy(out + 1, a->bytes, 4);
    } else if (a->family == AF_INET6) {
        out[0] = 6;
        memcpy(out + 1, a->bytes, 16);
    } else {
        return GSLB_EINVAL;
    }
    return GSLB_OK;
}

/* name '\0' (+ addr17) (+ port) */
static int name_addr_key(const char *name, const gslb_addr_t *addr, const uint16_t *port,
                         uint8_t *key, size_t cap)
{
    int n = gslb_store_name_key(name, key, cap);
    if (n < 0)
        return n;
    size_t need = (size_t)n + 1 + (addr ? GSLB_ADDR_KEY_LEN : 0) + (port ? 2 : 0);
    if (need > cap)
        return GSLB_ERANGE;
    size_t pos = (size_t)n;
    key[pos++] = '\0';
    if (addr) {
        if (addr17(addr, key + pos) != GSLB_OK)
            return GSLB_EINVAL;
        pos += GSLB_ADDR_KEY_LEN;
    }
    if (port) {
        gslb_put_be16(key + pos, *port);
        pos += 2;
    }
    return (int)pos;
}

int gslb_store_backend_key(const char *domain, const gslb_addr_t *addr, uint16_t port, uint8_t *key,
                           size_t cap)
{
    return name_addr_key(domain, addr, &port, key, cap);
}

int gslb_store_override_key(const char *domain, const gslb_addr_t *addr, uint8_t *key, size_t cap)
{
    return name_addr_key(domain, addr, NULL, key, cap);
}

int gslb_store_dnskey_key(const char *zone, uint16_t key_tag, uint8_t *key, size_t cap)
{
    int n = name_addr_key(zone, NULL, NULL, key, cap);
    if (n < 0)
        return n;
    if ((size_t)n + 2 > cap)
        return GSLB_ERANGE;
    gslb_put_be16(key + n, key_tag);
    return n + 2;
}

static void audit_key(int64_t time_ms, uint32_t seq, uint8_t key[12])
{
    gslb_put_be64(key, (uint64_t)time_ms);
    gslb_put_be32(key + 8, seq);
}

/* ---- generic get / put / del --------------------------------------------- */

typedef int (*decode_fn)(const uint8_t *buf, size_t len, void *out);

static int raw_get(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *key, size_t klen,
                   MDB_val *val)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_get(txn, e->dbi[dbi], &k, val);
    return rc ? gslb_env_map_err(e, rc, "get") : GSLB_OK;
}

static int get_decoded(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *key, size_t klen,
                       decode_fn dec, void *out)
{
    MDB_val v;
    int rc = raw_get(e, txn, dbi, key, klen, &v);
    if (rc)
        return rc;
    return dec(v.mv_data, v.mv_size, out);
}

static int put_encoded(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *key, size_t klen,
                       const uint8_t *val, int vlen, unsigned flags)
{
    if (vlen < 0)
        return vlen;
    MDB_val k = {klen, (void *)key}, v = {(size_t)vlen, (void *)val};
    int rc = mdb_put(txn, e->dbi[dbi], &k, &v, flags);
    return rc ? gslb_env_map_err(e, rc, gslb_dbi_names[dbi]) : GSLB_OK;
}

static int del_key(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, e->dbi[dbi], &k, NULL);
    return rc ? gslb_env_map_err(e, rc, "delete") : GSLB_OK;
}

/* Decoders with a void* out, for get_decoded(). */
#define GSLB_VOID_DECODER(fn, type)                                                                \
    static int fn##_v(const uint8_t *buf, size_t len, void *out)                                   \
    {                                                                                              \
        return fn(buf, len, (type *)out);                                                          \
    }
GSLB_VOID_DECODER(gslb_meta_decode, gslb_meta_rec_t)
GSLB_VOID_DECODER(gslb_keysync_meta_decode, gslb_keysync_meta_rec_t)
GSLB_VOID_DECODER(gslb_zone_decode, gslb_zone_rec_t)
GSLB_VOID_DECODER(gslb_domain_decode, gslb_domain_rec_t)
GSLB_VOID_DECODER(gslb_backend_decode, gslb_backend_rec_t)
GSLB_VOID_DECODER(gslb_agent_decode, gslb_agent_rec_t)
GSLB_VOID_DECODER(gslb_dnskey_decode, gslb_dnskey_rec_t)
GSLB_VOID_DECODER(gslb_override_decode, gslb_override_rec_t)

static void normalize_in_place(char *name, size_t cap)
{
    char tmp[GSLB_NAME_MAX];
    if (name[0] && gslb_name_normalize(name, tmp, sizeof(tmp)) == GSLB_OK && strlen(tmp) < cap)
        memcpy(name, tmp, strlen(tmp) + 1);
}

static void lower_in_place(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* ---- meta ----------------------------------------------------------------- */

int gslb_store_meta_get(gslb_env_t *e, MDB_txn *txn, gslb_meta_rec_t *out)
{
    return get_decoded(e, txn, GSLB_DBI_META, GSLB_META_KEY, strlen(GSLB_META_KEY),
                       gslb_meta_decode_v, out);
}

int gslb_store_meta_put(gslb_env_t *e, MDB_txn *txn, const gslb_meta_rec_t *r)
{
    uint8_t buf[GSLB_REC_MAX];
    return put_encoded(e, txn, GSLB_DBI_META, GSLB_META_KEY, strlen(GSLB_META_KEY), buf,
                       gslb_meta_encode(r, buf, sizeof(buf)), 0);
}

int gslb_store_keysync_meta_get(gslb_env_t *e, MDB_txn *txn, gslb_keysync_meta_rec_t *out)
{
    return get_decoded(e, txn, GSLB_DBI_META, GSLB_META_KEYSYNC_KEY, strlen(GSLB_META_KEYSYNC_KEY),
                       gslb_keysync_meta_decode_v, out);
}

int gslb_store_keysync_meta_put(gslb_env_t *e, MDB_txn *txn, const gslb_keysync_meta_rec_t *r)
{
    uint8_t buf[GSLB_REC_MAX];
    return put_encoded(e, txn, GSLB_DBI_META, GSLB_META_KEYSYNC_KEY, strlen(GSLB_META_KEYSYNC_KEY),
                       buf, gslb_keysync_meta_encode(r, buf, sizeof(buf)), 0);
}

/* ---- zones ---------------------------------------------------------------- */

int gslb_store_zone_get(gslb_env_t *e, MDB_txn *txn, const char *name, gslb_zone_rec_t *out)
{
    uint8_t key[GSLB_NAME_MAX];
    int klen = gslb_store_name_key(name, key, sizeof(key));
    if (klen < 0)
        return klen;
    return get_decoded(e, txn, GSLB_DBI_ZONES, key, (size_t)klen, gslb_zone_decode_v, out);
}

int gslb_store_zone_put(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *r)
{
    gslb_zone_rec_t z = *r;
    uint8_t key[GSLB_NAME_MAX], buf[GSLB_REC_MAX];
    int klen = gslb_store_name_key(r->name, key, sizeof(key));
    if (klen < 0)
        return klen;
    normalize_in_place(z.name, sizeof(z.name));
    normalize_in_place(z.mname, sizeof(z.mname));
    normalize_in_place(z.rname, sizeof(z.rname));
    for (unsigned i = 0; i < z.ns_count && i < GSLB_MAX_NS; i++)
        normalize_in_place(z.ns[i], sizeof(z.ns[i]));
    return put_encoded(e, txn, GSLB_DBI_ZONES, key, (size_t)klen, buf,
                       gslb_zone_encode(&z, buf, sizeof(buf)), 0);
}

int gslb_store_zone_del(gslb_env_t *e, MDB_txn *txn, const char *name)
{
    uint8_t key[GSLB_NAME_MAX];
    int klen = gslb_store_name_key(name, key, sizeof(key));
    return klen < 0 ? klen : del_key(e, txn, GSLB_DBI_ZONES, key, (size_t)klen);
}

/* ---- domains -------------------------------------------------------------- */

int gslb_store_domain_get(gslb_env_t *e, MDB_txn *txn, const char *name, gslb_domain_rec_t *out)
{
    uint8_t key[GSLB_NAME_MAX];
    int klen = gslb_store_name_key(name, key, sizeof(key));
    if (klen < 0)
        return klen;
    return get_decoded(e, txn, GSLB_DBI_DOMAINS, key, (size_t)klen, gslb_domain_decode_v, out);
}

int gslb_store_domain_put(gslb_env_t *e, MDB_txn *txn, const gslb_domain_rec_t *r)
{
    gslb_domain_rec_t d = *r;
    uint8_t key[GSLB_NAME_MAX], buf[GSLB_REC_MAX];
    int klen = gslb_store_name_key(r->name, key, sizeof(key));
    if (klen < 0)
        return klen;
    normalize_in_place(d.name, sizeof(d.name));
    normalize_in_place(d.zone, sizeof(d.zone));
    lower_in_place(d.service);
    return put_encoded(e, txn, GSLB_DBI_DOMAINS, key, (size_t)klen, buf,
                       gslb_domain_encode(&d, buf, sizeof(buf)), 0);
}

int gslb_store_domain_del(gslb_env_t *e, MDB_txn *txn, const char *name)
{
    uint8_t key[GSLB_NAME_MAX];
    int klen = gslb_store_name_key(name, key, sizeof(key));
    return klen < 0 ? klen : del_key(e, txn, GSLB_DBI_DOMAINS, key, (size_t)klen);
}

/* ---- raw iteration --------------------------------------------------------- */

static bool has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
    return k->mv_size >= plen && (plen == 0 || memcmp(k->mv_data, prefix, plen) == 0);
}

static int cursor_first(MDB_cursor *cur, MDB_val *k, MDB_val *v, const void *prefix, size_t plen)
{
    if (plen == 0)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    k->mv_size = plen;
    k->mv_data = (void *)prefix;
    return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

int gslb_store_foreach_raw(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *prefix,
                           size_t prefix_len, gslb_raw_cb cb, void *ctx)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, e->dbi[dbi], &cur);
    if (rc)
        return gslb_env_map_err(e, rc, "open cursor");
    MDB_val k, v;
    int result = GSLB_OK;
    for (rc = cursor_first(cur, &k, &v, prefix, prefix_len); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!has_prefix(&k, prefix, prefix_len))
            break;
        int c = cb(&k, &v, ctx);
        if (c != 0) {
            result = c < 0 ? c : GSLB_OK;
            break;
        }
    }
    if (result == GSLB_OK && rc != 0 && rc != MDB_NOTFOUND)
        result = gslb_env_map_err(e, rc, "iterate");
    mdb_cursor_close(cur);
    return result;
}

int gslb_store_count(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, size_t *out)
{
    MDB_stat st;
    int rc = mdb_stat(txn, e->dbi[dbi], &st);
    if (rc)
        return gslb_env_map_err(e, rc, "count records");
    *out = st.ms_entries;
    return GSLB_OK;
}

/* Typed iteration: decode each value into a stack record and call the typed
 * callback. An undecodable value aborts with its decoder's error. */
#define GSLB_TYPED_FOREACH(suffix, rec_t, decode, cb_t)                                            \
    struct foreach_##suffix {                                                                      \
        cb_t cb;                                                                                   \
        void *ctx;                                                                                 \
    };                                                                                             \
    static int foreach_##suffix##_adapter(const MDB_val *k, const MDB_val *v, void *ctx)           \
    {                                                                                              \
        struct foreach_##suffix *f = ctx;                                                          \
        rec_t rec;                                                                                 \
        int rc = decode(v->mv_data, v->mv_size, &rec);                                             \
        return rc ? rc : f->cb(&rec, f->ctx);                                                      \
    }

GSLB_TYPED_FOREACH(zone, gslb_zone_rec_t, gslb_zone_decode, gslb_zone_cb)
GSLB_TYPED_FOREACH(domain, gslb_domain_rec_t, gslb_domain_decode, gslb_domain_cb)
GSLB_TYPED_FOREACH(backend, gslb_backend_rec_t, gslb_backend_decode, gslb_backend_cb)
GSLB_TYPED_FOREACH(agent, gslb_agent_rec_t, gslb_agent_decode, gslb_agent_cb)
GSLB_TYPED_FOREACH(dnskey, gslb_dnskey_rec_t, gslb_dnskey_decode, gslb_dnskey_cb)
GSLB_TYPED_FOREACH(override, gslb_override_rec_t, gslb_override_decode, gslb_override_cb)
GSLB_TYPED_FOREACH(audit, gslb_audit_rec_t, gslb_audit_decode, gslb_audit_cb)

int gslb_store_foreach_zone(gslb_env_t *e, MDB_txn *txn, gslb_zone_cb cb, void *ctx)
{
    struct foreach_zone f = {cb, ctx};
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_ZONES, NULL, 0, foreach_zone_adapter, &f);
}

int gslb_store_foreach_domain(gslb_env_t *e, MDB_txn *txn, gslb_domain_cb cb, void *ctx)
{
    struct foreach_domain f = {cb, ctx};
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_DOMAINS, NULL, 0, foreach_domain_adapter, &f);
}

int gslb_store_foreach_backend(gslb_env_t *e, MDB_txn *txn, const char *domain, gslb_backend_cb cb,
                               void *ctx)
{
    struct foreach_backend f = {cb, ctx};
    uint8_t prefix[GSLB_NAME_MAX + 1];
    int plen = 0;
    if (domain) {
        plen = name_addr_key(domain, NULL, NULL, prefix, sizeof(prefix));
        if (plen < 0)
            return plen;
    }
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_BACKENDS, prefix, (size_t)plen,
                                  foreach_backend_adapter, &f);
}

int gslb_store_foreach_agent(gslb_env_t *e, MDB_txn *txn, gslb_agent_cb cb, void *ctx)
{
    struct foreach_agent f = {cb, ctx};
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_AGENTS, NULL, 0, foreach_agent_adapter, &f);
}

int gslb_store_foreach_dnskey(gslb_env_t *e, MDB_txn *txn, const char *zone, gslb_dnskey_cb cb,
                              void *ctx)
{
    struct foreach_dnskey f = {cb, ctx};
    uint8_t prefix[GSLB_NAME_MAX + 1];
    int plen = 0;
    if (zone) {
        plen = name_addr_key(zone, NULL, NULL, prefix, sizeof(prefix));
        if (plen < 0)
            return plen;
    }
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_DNSSEC_KEYS, prefix, (size_t)plen,
                                  foreach_dnskey_adapter, &f);
}

int gslb_store_foreach_override(gslb_env_t *e, MDB_txn *txn, gslb_override_cb cb, void *ctx)
{
    struct foreach_override f = {cb, ctx};
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_OVERRIDES, NULL, 0, foreach_override_adapter,
                                  &f);
}

static int foreach_audit_newest(gslb_env_t *e, MDB_txn *txn, size_t limit, gslb_raw_cb cb,
                                void *ctx)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, e->dbi[GSLB_DBI_AUDIT], &cur);
    if (rc)
        return gslb_env_map_err(e, rc, "open cursor");
    MDB_val k, v;
    int result = GSLB_OK;
    size_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && (limit == 0 || n < limit);
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV), n++) {
        int c = cb(&k, &v, ctx);
        if (c != 0) {
            result = c < 0 ? c : GSLB_OK;
            break;
        }
    }
    if (result == GSLB_OK && rc != 0 && rc != MDB_NOTFOUND)
        result = gslb_env_map_err(e, rc, "iterate audit");
    mdb_cursor_close(cur);
    return result;
}

struct audit_limit {
    gslb_raw_cb inner;
    void *inner_ctx;
    size_t limit, seen;
};

static int audit_limit_adapter(const MDB_val *k, const MDB_val *v, void *ctx)
{
    struct audit_limit *l = ctx;
    if (l->limit && l->seen >= l->limit)
        return 1;
    l->seen++;
    return l->inner(k, v, l->inner_ctx);
}

int gslb_store_foreach_audit(gslb_env_t *e, MDB_txn *txn, bool newest_first, size_t limit,
                             gslb_audit_cb cb, void *ctx)
{
    struct foreach_audit f = {cb, ctx};
    if (newest_first)
        return foreach_audit_newest(e, txn, limit, foreach_audit_adapter, &f);
    struct audit_limit l = {foreach_audit_adapter, &f, limit, 0};
    return gslb_store_foreach_raw(e, txn, GSLB_DBI_AUDIT, NULL, 0, audit_limit_adapter, &l);
}

/* ---- domain by service ----------------------------------------------------- */

struct by_service {
    char want[GSLB_NAME_MAX];
    gslb_domain_rec_t *out;
    bool found_name;
    bool found_service;
};

static int by_service_cb(const MDB_val *k, const MDB_val *v, void *ctx)
{
    struct by_service *s = ctx;
    gslb_domain_rec_t d;
    if (gslb_domain_decode(v->mv_data, v->mv_size, &d) != GSLB_OK)
        return 0; /* an undecodable domain matches nothing */
    if (strcasecmp(d.service, s->want) == 0) {
        *s->out = d;
        s->found_service = true;
        return 1;
    }
    if (!s->found_name && strcmp(d.name, s->want) == 0) {
        *s->out = d;
        s->found_name = true;
    }
    return 0;
}

int gslb_store_domain_by_service(gslb_env_t *e, MDB_txn *txn, const char *service,
                                 gslb_domain_rec_t *out)
{
    struct by_service s = {.out = out};
    if (!service || gslb_name_normalize(service, s.want, sizeof(s.want)) != GSLB_OK || !s.want[0])
        return GSLB_EINVAL;
    int rc = gslb_store_foreach_raw(e, txn, GSLB_DBI_DOMAINS, NULL, 0, by_service_cb, &s);
    if (rc)
        return rc;
    return (s.found_service || s.found_name) ? GSLB_OK : GSLB_ENOENT;
}

/* ---- backends ------------------------------------------------------------- */

int gslb_store_backend_get(gslb_env_t *e, MDB_txn *txn, const char *domain, const gslb_addr_t *addr,
                           uint16_t port, gslb_backend_rec_t *out)
{
    uint8_t key[GSLB_BACKEND_KEY_MAX];
    int klen = gslb_store_backend_key(domain, addr, port, key, sizeof(key));
    if (klen < 0)
        return klen;
    return get_decoded(e, txn, GSLB_DBI_BACKENDS, key, (size_t)klen, gslb_backend_decode_v, out);
}

int gslb_store_backend_put(gslb_env_t *e, MDB_txn *txn, const gslb_backend_rec_t *r)
{
    gslb_backend_rec_t b = *r;
    uint8_t key[GSLB_BACKEND_KEY_MAX], buf[GSLB_REC_MAX];
    int klen = gslb_store_backend_key(r->domain, &r->addr, r->port, key, sizeof(key));
    if (klen < 0)
        return klen;
    normalize_in_place(b.domain, sizeof(b.domain));
    return put_encoded(e, txn, GSLB_DBI_BACKENDS, key, (size_t)klen, buf,
                       gslb_backend_encode(&b, buf, sizeof(buf)), 0);
}

int gslb_store_backend_del(gslb_env_t *e, MDB_txn *txn, const char *domain, const gslb_addr_t *addr,
                           uint16_t port)
{
    uint8_t key[GSLB_BACKEND_KEY_MAX];
    int klen = gslb_store_backend_key(domain, addr, port, key, sizeof(key));
    return klen < 0 ? klen : del_key(e, txn, GSLB_DBI_BACKENDS, key, (size_t)klen);
}

/* ---- agents --------------------------------------------------------------- */

static int agent_key(const char *agent_id, size_t *klen)
{
    if (!agent_id || !*agent_id)
        return GSLB_EINVAL;
    *klen = strnlen(agent_id, GSLB_LABEL_MAX);
    return *klen >= GSLB_LABEL_MAX ? GSLB_EINVAL : GSLB_OK;
}

int gslb_store_agent_get(gslb_env_t *e, MDB_txn *txn, const char *agent_id, gslb_agent_rec_t *out)
{
    size_t klen;
    int rc = agent_key(agent_id, &klen);
    return rc ? rc : get_decoded(e, txn, GSLB_DBI_AGENTS, agent_id, klen, gslb_agent_decode_v, out);
}

int gslb_store_agent_put(gslb_env_t *e, MDB_txn *txn, const gslb_agent_rec_t *r)
{
    uint8_t buf[GSLB_REC_MAX];
    size_t klen;
    int rc = agent_key(r->agent_id, &klen);
    return rc ? rc
              : put_encoded(e, txn, GSLB_DBI_AGENTS, r->agent_id, klen, buf,
                            gslb_agent_encode(r, buf, sizeof(buf)), 0);
}

int gslb_store_agent_del(gslb_env_t *e, MDB_txn *txn, const char *agent_id)
{
    size_t klen;
    int rc = agent_key(agent_id, &klen);
    return rc ? rc : del_key(e, txn, GSLB_DBI_AGENTS, agent_id, klen);
}

/* ---- dnssec keys ---------------------------------------------------------- */

int gslb_store_dnskey_get(gslb_env_t *e, MDB_txn *txn, const char *zone, uint16_t key_tag,
                          gslb_dnskey_rec_t *out)
{
    uint8_t key[GSLB_NAME_MAX + 3];
    int klen = gslb_store_dnskey_key(zone, key_tag, key, sizeof(key));
    if (klen < 0)
        return klen;
    return get_decoded(e, txn, GSLB_DBI_DNSSEC_KEYS, key, (size_t)klen, gslb_dnskey_decode_v, out);
}

int gslb_store_dnskey_put(gslb_env_t *e, MDB_txn *txn, const gslb_dnskey_rec_t *r)
{
    gslb_dnskey_rec_t d = *r;
    uint8_t key[GSLB_NAME_MAX + 3], buf[GSLB_REC_MAX];
    int klen = gslb_store_dnskey_key(r->zone, r->key_tag, key, sizeof(key));
    if (klen < 0)
        return klen;
    normalize_in_place(d.zone, sizeof(d.zone));
    int n = gslb_dnskey_encode(&d, buf, sizeof(buf));
    int rc = put_encoded(e, txn, GSLB_DBI_DNSSEC_KEYS, key, (size_t)klen, buf, n, 0);
    explicit_bzero(buf, sizeof(buf)); /* private key material */
    explicit_bzero(&d, sizeof(d));
    return rc;
}

int gslb_store_dnskey_del(gslb_env_t *e, MDB_txn *txn, const char *zone, uint16_t key_tag)
{
    uint8_t key[GSLB_NAME_MAX + 3];
    int klen = gslb_store_dnskey_key(zone, key_tag, key, sizeof(key));
    return klen < 0 ? klen : del_key(e, txn, GSLB_DBI_DNSSEC_KEYS, key, (size_t)klen);
}

/* ---- overrides ------------------------------------------------------------ */

int gslb_store_override_get(gslb_env_t *e, MDB_txn *txn, const char *domain,
                            const gslb_addr_t *addr, gslb_override_rec_t *out)
{
    uint8_t key[GSLB_BACKEND_KEY_MAX];
    int klen = gslb_store_override_key(domain, addr, key, sizeof(key));
    if (klen < 0)
        return klen;
    return get_decoded(e, txn, GSLB_DBI_OVERRIDES, key, (size_t)klen, gslb_override_decode_v, out);
}

int gslb_store_override_put(gslb_env_t *e, MDB_txn *txn, const gslb_override_rec_t *r)
{
    gslb_override_rec_t o = *r;
    uint8_t key[GSLB_BACKEND_KEY_MAX], buf[GSLB_REC_MAX];
    int klen = gslb_store_override_key(r->domain, &r->addr, key, sizeof(key));
    if (klen < 0)
        return klen;
    normalize_in_place(o.domain, sizeof(o.domain));
    return put_encoded(e, txn, GSLB_DBI_OVERRIDES, key, (size_t)klen, buf,
                       gslb_override_encode(&o, buf, sizeof(buf)), 0);
}

int gslb_store_override_del(gslb_env_t *e, MDB_txn *txn, const char *domain,
                            const gslb_addr_t *addr)
{
    uint8_t key[GSLB_BACKEND_KEY_MAX];
    int klen = gslb_store_override_key(domain, addr, key, sizeof(key));
    return klen < 0 ? klen : del_key(e, txn, GSLB_DBI_OVERRIDES, key, (size_t)klen);
}

/* ---- audit ---------------------------------------------------------------- */

/* The next free sequence number for time_ms (1 + the highest one in use). */
static int next_audit_seq(gslb_env_t *e, MDB_txn *txn, int64_t time_ms, uint32_t *seq)
{
    MDB_cursor *cur = NULL;
    uint8_t probe[12];
    audit_key(time_ms, UINT32_MAX, probe);
    int rc = mdb_cursor_open(txn, e->dbi[GSLB_DBI_AUDIT], &cur);
    if (rc)
        return gslb_env_map_err(e, rc, "open audit cursor");
    MDB_val k = {sizeof(probe), probe}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == sizeof(probe) && memcmp(k.mv_data, probe, sizeof(probe)) == 0)
        rc = MDB_KEYEXIST; /* every sequence number of this millisecond is used */
    else if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    *seq = 1;
    if (rc == 0 && k.mv_size == 12 && gslb_get_be64(k.mv_data) == (uint64_t)time_ms)
        *seq = gslb_get_be32((const uint8_t *)k.mv_data + 8) + 1;
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return gslb_env_map_err(e, rc, "find audit sequence");
    return GSLB_OK;
}

int gslb_store_audit_append(gslb_env_t *e, MDB_txn *txn, gslb_audit_rec_t *r)
{
    uint8_t key[12], buf[GSLB_REC_MAX];
    if (r->time_ms == 0)
        r->time_ms = gslb_wall_ms();
    if (r->time_ms < 0)
        return GSLB_EINVAL;
    if (r->seq == 0) {
        int rc = next_audit_seq(e, txn, r->time_ms, &r->seq);
        if (rc)
            return rc;
    }
    audit_key(r->time_ms, r->seq, key);
    return put_encoded(e, txn, GSLB_DBI_AUDIT, key, sizeof(key), buf,
                       gslb_audit_encode(r, buf, sizeof(buf)), MDB_NOOVERWRITE);
}

/* Whether the oldest record (key k) must go: too many left, or too old. */
static bool audit_expired(const MDB_val *k, size_t left, int64_t before_ms, size_t max_entries)
{
    if (max_entries && left > max_entries)
        return true;
    return before_ms > 0 && k->mv_size == 12 && (int64_t)gslb_get_be64(k->mv_data) < before_ms;
}

int gslb_store_audit_prune(gslb_env_t *e, MDB_txn *txn, int64_t before_ms, size_t max_entries,
                           size_t max_remove, size_t *removed)
{
    size_t count = 0, n = 0;
    if (removed)
        *removed = 0;
    int rc = gslb_store_count(e, txn, GSLB_DBI_AUDIT, &count);
    if (rc)
        return rc;
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(txn, e->dbi[GSLB_DBI_AUDIT], &cur);
    if (rc)
        return gslb_env_map_err(e, rc, "open audit cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == 0 && n < max_remove && audit_expired(&k, count - n, before_ms, max_entries);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (removed)
        *removed = n;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return gslb_env_map_err(e, rc, "prune audit");
    return GSLB_OK;
}
