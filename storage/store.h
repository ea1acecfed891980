/*
 * store.h - typed access to the sub-DBs of env.h.
 *
 * Contract:
 *  - Every function takes a caller-owned MDB_txn. Getters work in read or write
 *    txns, decode into caller structs, and allocate nothing.
 *  - put/del only in write txns. Writers batch: many puts then one commit.
 *  - Returns 0, GSLB_ENOENT (get/del of a missing key) or a negative error
 *    (GSLB_EMAPFULL is reported loudly by env).
 *  - Iteration: gslb_store_foreach_*() calls cb for every decoded record in key
 *    order; cb returns 0 to continue, >0 to stop (returned as 0), <0 to abort
 *    with that error. An undecodable record aborts with its decoder's error
 *    (GSLB_ECORRUPT / GSLB_EVERSION); tools that must report and continue
 *    (gslb-dump) iterate raw values with gslb_store_foreach_raw() instead.
 *  - Answer sets are never written by hand: after changing zones, domains,
 *    backends or overrides, call gslb_answers_rebuild_domain() (or _all) in the
 *    same txn; after changing dnssec_keys, gslb_answers_rebuild_zone_keys().
 */
#pragma once

#include "env.h"
#include "records.h"

/* ---- key builders (layouts in docs/storage.md) ------------------------------ */
#define GSLB_ADDR_KEY_LEN 17 /* family code (4|6) + 16 address bytes */
#define GSLB_BACKEND_KEY_MAX (GSLB_NAME_MAX + GSLB_ADDR_KEY_LEN + 2)
/** Lower-case text key of a zone/domain name (no trailing dot, no NUL): length or error. */
int gslb_store_name_key(const char *name, uint8_t *key, size_t cap);
/** domain '\0' addr17 port(BE16). */
int gslb_store_backend_key(const char *domain, const gslb_addr_t *addr, uint16_t port, uint8_t *key,
                           size_t cap);
/** domain '\0' addr17. */
int gslb_store_override_key(const char *domain, const gslb_addr_t *addr, uint8_t *key, size_t cap);
/** zone '\0' key_tag(BE16). */
int gslb_store_dnskey_key(const char *zone, uint16_t key_tag, uint8_t *key, size_t cap);

/** Raw iteration over one sub-DB (optionally only keys starting with prefix),
 *  values undecoded; same cb return convention as the typed iterators. */
typedef int (*gslb_raw_cb)(const MDB_val *key, const MDB_val *val, void *ctx);
int gslb_store_foreach_raw(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, const void *prefix,
                           size_t prefix_len, gslb_raw_cb cb, void *ctx);

/** Number of records in one sub-DB (mdb_stat). */
int gslb_store_count(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, size_t *out);

int gslb_store_meta_get(gslb_env_t *e, MDB_txn *txn, gslb_meta_rec_t *out);
int gslb_store_meta_put(gslb_env_t *e, MDB_txn *txn, const gslb_meta_rec_t *r);
/** The key sync's record in "meta" (GSLB_META_KEYSYNC_KEY); GSLB_ENOENT when absent. */
int gslb_store_keysync_meta_get(gslb_env_t *e, MDB_txn *txn, gslb_keysync_meta_rec_t *out);
int gslb_store_keysync_meta_put(gslb_env_t *e, MDB_txn *txn, const gslb_keysync_meta_rec_t *r);

int gslb_store_zone_get(gslb_env_t *e, MDB_txn *txn, const char *name, gslb_zone_rec_t *out);
int gslb_store_zone_put(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *r);
int gslb_store_zone_del(gslb_env_t *e, MDB_txn *txn, const char *name);

int gslb_store_domain_get(gslb_env_t *e, MDB_txn *txn, const char *name, gslb_domain_rec_t *out);
int gslb_store_domain_put(gslb_env_t *e, MDB_txn *txn, const gslb_domain_rec_t *r);
int gslb_store_domain_del(gslb_env_t *e, MDB_txn *txn, const char *name);
/** Find the domain whose service name (or FQDN) equals `service`. */
int gslb_store_domain_by_service(gslb_env_t *e, MDB_txn *txn, const char *service,
                                 gslb_domain_rec_t *out);

/* Backend key: domain + address + port. */
int gslb_store_backend_get(gslb_env_t *e, MDB_txn *txn, const char *domain, const gslb_addr_t *addr,
                           uint16_t port, gslb_backend_rec_t *out);
int gslb_store_backend_put(gslb_env_t *e, MDB_txn *txn, const gslb_backend_rec_t *r);
int gslb_store_backend_del(gslb_env_t *e, MDB_txn *txn, const char *domain, const gslb_addr_t *addr,
                           uint16_t port);

int gslb_store_agent_get(gslb_env_t *e, MDB_txn *txn, const char *agent_id, gslb_agent_rec_t *out);
int gslb_store_agent_put(gslb_env_t *e, MDB_txn *txn, const gslb_agent_rec_t *r);
int gslb_store_agent_del(gslb_env_t *e, MDB_txn *txn, const char *agent_id);

int gslb_store_dnskey_get(gslb_env_t *e, MDB_txn *txn, const char *zone, uint16_t key_tag,
                          gslb_dnskey_rec_t *out);
int gslb_store_dnskey_put(gslb_env_t *e, MDB_txn *txn, const gslb_dnskey_rec_t *r);
int gslb_store_dnskey_del(gslb_env_t *e, MDB_txn *txn, const char *zone, uint16_t key_tag);

/* Override key: domain + address (all ports). */
int gslb_store_override_get(gslb_env_t *e, MDB_txn *txn, const char *domain,
                            const gslb_addr_t *addr, gslb_override_rec_t *out);
int gslb_store_override_put(gslb_env_t *e, MDB_txn *txn, const gslb_override_rec_t *r);
int gslb_store_override_del(gslb_env_t *e, MDB_txn *txn, const char *domain,
                            const gslb_addr_t *addr);

/** Append an audit record; time_ms/seq are filled in if zero. */
int gslb_store_audit_append(gslb_env_t *e, MDB_txn *txn, gslb_audit_rec_t *r);

/** Audit retention: delete the oldest records (key order is time order) while
 *  there are more than max_entries (0 = no count limit) or they are older than
 *  before_ms (unix ms; 0 = no age limit), at most max_remove of them (keeps a
 *  write txn short; the next call goes on). *removed (may be NULL) gets the
 *  number deleted. Write txn only. */
int gslb_store_audit_prune(gslb_env_t *e, MDB_txn *txn, int64_t before_ms, size_t max_entries,
                           size_t max_remove, size_t *removed);

typedef int (*gslb_zone_cb)(const gslb_zone_rec_t *r, void *ctx);
typedef int (*gslb_domain_cb)(const gslb_domain_rec_t *r, void *ctx);
typedef int (*gslb_backend_cb)(const gslb_backend_rec_t *r, void *ctx);
typedef int (*gslb_agent_cb)(const gslb_agent_rec_t *r, void *ctx);
typedef int (*gslb_dnskey_cb)(const gslb_dnskey_rec_t *r, void *ctx);
typedef int (*gslb_override_cb)(const gslb_override_rec_t *r, void *ctx);
typedef int (*gslb_audit_cb)(const gslb_audit_rec_t *r, void *ctx);

int gslb_store_foreach_zone(gslb_env_t *e, MDB_txn *txn, gslb_zone_cb cb, void *ctx);
int gslb_store_foreach_domain(gslb_env_t *e, MDB_txn *txn, gslb_domain_cb cb, void *ctx);
/** domain may be NULL (all backends) or a FQDN (only that domain's, by key prefix). */
int gslb_store_foreach_backend(gslb_env_t *e, MDB_txn *txn, const char *domain, gslb_backend_cb cb,
                               void *ctx);
int gslb_store_foreach_agent(gslb_env_t *e, MDB_txn *txn, gslb_agent_cb cb, void *ctx);
/** zone may be NULL (all zones). */
int gslb_store_foreach_dnskey(gslb_env_t *e, MDB_txn *txn, const char *zone, gslb_dnskey_cb cb,
                              void *ctx);
int gslb_store_foreach_override(gslb_env_t *e, MDB_txn *txn, gslb_override_cb cb, void *ctx);
/** Newest first when newest_first is set; at most limit records (0 = all). */
int gslb_store_foreach_audit(gslb_env_t *e, MDB_txn *txn, bool newest_first, size_t limit,
                             gslb_audit_cb cb, void *ctx);

/* ---- answer compilation (writer side; see answers.h) --------------------- */
/** Recompile the A and AAAA candidate sets (and node entries) of one domain. */
int gslb_answers_rebuild_domain(gslb_env_t *e, MDB_txn *txn, const char *domain);
/** Drop every answers entry and recompile all zones, hosts and domains. */
int gslb_answers_rebuild_all(gslb_env_t *e, MDB_txn *txn);
/** Recompile the apex DNSKEY RRset of one zone from its dnssec_keys records in
 *  state ACTIVE or PUBLISHED, and its signing keys (GSLB_ANS_SIGNING_KEYS) from
 *  those in state ACTIVE (each removed when there is none; nothing happens for
 *  a zone that is not stored). Call after changing a zone's keys, in the same
 *  txn. @return GSLB_OK, GSLB_ENOMEM, GSLB_ERANGE (too many keys for one
 *  value), or a store error (GSLB_EMAPFULL, ...). */
int gslb_answers_rebuild_zone_keys(gslb_env_t *e, MDB_txn *txn, const char *zone);
