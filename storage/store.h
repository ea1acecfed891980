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
 *    with that error. An undecodable record aborts with GSLB_ECORRUPT unless
 *    skip_bad is set (gslb-dump reports and continues).
 *  - Answer sets are never written by hand: after changing zones, domains,
 *    backends or overrides, call gslb_answers_rebuild_domain() (or _all) in the
 *    same txn.
 */
#pragma once

#include "env.h"
#include "records.h"

int gslb_store_meta_get(gslb_env_t *e, MDB_txn *txn, gslb_meta_rec_t *out);
int gslb_store_meta_put(gslb_env_t *e, MDB_txn *txn, const gslb_meta_rec_t *r);

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
int gslb_store_backend_get(gslb_env_t *e, MDB_txn *txn, const char *domain,
                           const gslb_addr_t *addr, uint16_t port, gslb_backend_rec_t *out);
int gslb_store_backend_put(gslb_env_t *e, MDB_txn *txn, const gslb_backend_rec_t *r);
int gslb_store_backend_del(gslb_env_t *e, MDB_txn *txn, const char *domain,
                           const gslb_addr_t *addr, uint16_t port);

int gslb_store_agent_get(gslb_env_t *e, MDB_txn *txn, const char *agent_id,
                         gslb_agent_rec_t *out);
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
int gslb_store_foreach_backend(gslb_env_t *e, MDB_txn *txn, const char *domain,
                               gslb_backend_cb cb, void *ctx);
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
