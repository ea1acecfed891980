/*
 * env.h - the LMDB environment of one overwatch (<data_dir>/data.mdb).
 *
 * Contract:
 *  - gslb_env_open() creates the directory (0700) and the environment (0600) if
 *    needed, opens every named sub-DB once, clears stale reader slots
 *    (mdb_reader_check), and checks the schema version in "meta": a newer or
 *    unknown schema is refused with GSLB_EVERSION and a message.
 *  - A missing data.mdb is a new environment; an existing one that is empty or
 *    shorter than two pages, or shorter than its last committed page, is damage
 *    (GSLB_ECORRUPT, a message naming the file and the gslb-dump hint), never a
 *    new store. With opts->verify (the overwatch) an existing environment is
 *    walked completely before anything else reads it (gslb_env_verify).
 *  - Writable opens refuse a world-writable data directory without the sticky bit
 *    (GSLB_EIO with a message) and warn about a world-readable
 *    data.mdb (it holds the DNSSEC private keys).
 *  - Flags: MDB_NOTLS always (reader slots belong to txns, not threads), so one
 *    reusable read txn per thread works with thread pools. Writers commit with
 *    MDB_NOMETASYNC; gslb_env_commit_durable() additionally syncs to disk, for
 *    keys and API mutations (durable when the call returns). Health batches use
 *    gslb_env_commit() and may lose the last batch on power loss, never more.
 *  - Read-only mode (gslb-dump): MDB_RDONLY, no map size set (adopts the file's),
 *    works while an overwatch has the environment open for writing.
 *  - Every LMDB error is mapped once by gslb_env_map_err(); MDB_MAP_FULL becomes
 *    GSLB_EMAPFULL, ENOSPC/EDQUOT become GSLB_ENOSPC. Either marks the store
 *    "full" (gslb_env_storage_full(): writes are refused, reads and DNS go on)
 *    until the next successful commit, bumps its counter
 *    (gslb_env_map_full_count(), gslb_env_no_space_count()) and is logged at
 *    error level at most once a minute (the line counts what it left out); the
 *    caller does not log it again. The state is process-wide, like the counters.
 *  - Thread safety: the env is shared; a gslb_reader_t belongs to one thread at a
 *    time; write txns are serialised by LMDB.
 */
#pragma once

#include "gslb_err.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gslb_dbi {
    GSLB_DBI_META = 0,
    GSLB_DBI_ZONES,
    GSLB_DBI_DOMAINS,
    GSLB_DBI_BACKENDS,
    GSLB_DBI_ANSWERS,
    GSLB_DBI_AGENTS,
    GSLB_DBI_DNSSEC_KEYS,
    GSLB_DBI_OVERRIDES,
    GSLB_DBI_AUDIT,
    GSLB_DBI_COUNT
};

typedef struct gslb_env {
    MDB_env *env;
    MDB_dbi dbi[GSLB_DBI_COUNT];
    bool readonly;
    size_t map_size;
    char path[4096];
} gslb_env_t;

typedef struct gslb_env_opts {
    const char *data_dir;       /* required */
    size_t map_size;            /* 0 = default (4 GiB) / the file's size when read-only */
    unsigned max_readers;       /* 0 = default (512) */
    bool readonly;              /* gslb-dump */
    const char *node_id;        /* written to meta on creation (may be NULL) */
    bool verify;                /* walk an existing environment before using it (the overwatch) */
    uint64_t verify_timeout_ms; /* bound of that walk; 0 = default (120 s) */
} gslb_env_opts_t;

#define GSLB_DEFAULT_MAP_SIZE ((size_t)4 << 30)
#define GSLB_DEFAULT_MAX_READERS 512
/** Key of the schema record (gslb_meta_rec_t) in the "meta" sub-DB. */
#define GSLB_META_KEY "schema"
/** Key of the key sync's record (gslb_keysync_meta_rec_t) in "meta" (absent = never synced). */
#define GSLB_META_KEYSYNC_KEY "keysync"

/** Sub-DB names, indexed by enum gslb_dbi ("meta", "zones", ...). */
extern const char *const gslb_dbi_names[GSLB_DBI_COUNT];

int gslb_env_open(gslb_env_t *e, const gslb_env_opts_t *opts, gslb_errbuf_t *eb);
void gslb_env_close(gslb_env_t *e);

/** Walk every sub-database of the open environment e once (free pages, main
 *  database, each named sub-DB: every key and value read, entry counts checked
 *  against their headers) in a forked child with its own read-only handle, so
 *  that damage which would trip an LMDB assertion or fault is found here.
 *  Call it before other threads exist. Returns 0 when intact (or when the walk
 *  did not finish within timeout_ms, 0 = 120 s: logged as a warning),
 *  GSLB_ECORRUPT with a message naming data.mdb, the sub-database and the
 *  gslb-dump hint when damaged, GSLB_EIO when it could not check. */
int gslb_env_verify(gslb_env_t *e, uint64_t timeout_ms, gslb_errbuf_t *eb);

/** Map an LMDB return code to GSLB_E*; logs MAP_FULL loudly. `what` names the op. */
int gslb_env_map_err(gslb_env_t *e, int mdb_rc, const char *what);
/** Number of MDB_MAP_FULL events since start (for metrics). */
uint64_t gslb_env_map_full_count(void);
/** Number of writes refused with ENOSPC/EDQUOT since start (for metrics). */
uint64_t gslb_env_no_space_count(void);
/** true while writes fail for lack of space (the last write failed with
 *  GSLB_ENOSPC or GSLB_EMAPFULL, put in *code; *since = unix s of the first
 *  failure of this episode). Either pointer may be NULL. */
bool gslb_env_storage_full(int *code, int64_t *since);

/** Begin a write txn. */
int gslb_env_write_begin(gslb_env_t *e, MDB_txn **txn);
/** Begin a one-shot read txn (clears stale readers and retries once when the
 *  reader table is full; adopts a grown map in read-only mode). Caller aborts it. */
int gslb_env_read_begin(gslb_env_t *e, MDB_txn **txn);
/** Commit (health batches). Aborts nothing on error: txn is gone either way. */
int gslb_env_commit(gslb_env_t *e, MDB_txn *txn);
/** Commit and fsync: the change is on disk when this returns 0. */
int gslb_env_commit_durable(gslb_env_t *e, MDB_txn *txn);

/** A reusable per-thread read transaction (reset/renew, never re-allocated). */
typedef struct gslb_reader {
    gslb_env_t *env;
    MDB_txn *txn;
    bool active;
} gslb_reader_t;

int gslb_reader_init(gslb_reader_t *r, gslb_env_t *e);
/** Start (renew) a snapshot; cheap: no syscall, no lock. */
int gslb_reader_begin(gslb_reader_t *r);
/** End the snapshot (reset); pointers into the map become invalid. */
void gslb_reader_end(gslb_reader_t *r);
void gslb_reader_destroy(gslb_reader_t *r);

/** The environment's last committed txn id (cache invalidation). */
uint64_t gslb_env_last_txnid(gslb_env_t *e);
