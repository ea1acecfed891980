/*
 * env.c - open/close of the LMDB environment, txn helpers and the one LMDB
 * error mapper (env.h).
 */
#include "env.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char *const gslb_dbi_names[GSLB_DBI_COUNT] = {
    [GSLB_DBI_META] = "meta",
    [GSLB_DBI_ZONES] = "zones",
    [GSLB_DBI_DOMAINS] = "domains",
    [GSLB_DBI_BACKENDS] = "backends",
    [GSLB_DBI_ANSWERS] = "answers",
    [GSLB_DBI_AGENTS] = "agents",
    [GSLB_DBI_DNSSEC_KEYS] = "dnssec_keys",
    [GSLB_DBI_OVERRIDES] = "overrides",
    [GSLB_DBI_AUDIT] = "audit",
};

/* ---- storage full: writes refused for lack of space ------------------------ */

#define FULL_LOG_INTERVAL_MS 60000

static _Atomic uint64_t g_map_full_count;
static _Atomic uint64_t g_no_space_count;
/* 0 = writes work; else the GSLB_E* code of the last refused write (ENOSPC or
 * EMAPFULL), until the next successful commit. */
static _Atomic int g_full_code;
static _Atomic int64_t g_full_since_s;
static _Atomic int64_t g_full_logged_ms; /* monotonic ms of the last error line, 0 = never */
static _Atomic uint64_t g_full_suppressed;

uint64_t gslb_env_map_full_count(void)
{
    return atomic_load(&g_map_full_count);
}

uint64_t gslb_env_no_space_count(void)
{
    return atomic_load(&g_no_space_count);
}

bool gslb_env_storage_full(int *code, int64_t *since)
{
    int c = atomic_load(&g_full_code);
    if (code)
        *code = c;
    if (since)
        *since = c ? atomic_load(&g_full_since_s) : 0;
    return c != 0;
}

/* One log line per FULL_LOG_INTERVAL_MS however many writes fail (a full disk
 * fails every write: gossip batches, API requests). */
static bool full_log_due(uint64_t *suppressed)
{
    int64_t now = gslb_mono_ms(), last = atomic_load(&g_full_logged_ms);
    if (last != 0 && now - last < FULL_LOG_INTERVAL_MS) {
        atomic_fetch_add(&g_full_suppressed, 1);
        return false;
    }
    if (!atomic_compare_exchange_strong(&g_full_logged_ms, &last, now ? now : 1)) {
        atomic_fetch_add(&g_full_suppressed, 1);
        return false;
    }
    *suppressed = atomic_exchange(&g_full_suppressed, 0);
    return true;
}

static void note_full(const gslb_env_t *e, int code, const char *what)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_full_code, &expected, code))
        atomic_store(&g_full_since_s, gslb_wall_s());
    else
        atomic_store(&g_full_code, code);
    uint64_t n =
        atomic_fetch_add(code == GSLB_EMAPFULL ? &g_map_full_count : &g_no_space_count, 1) + 1;
    uint64_t suppressed = 0;
    if (!full_log_due(&suppressed))
        return;
    size_t size = e ? e->map_size : 0;
    if (code == GSLB_EMAPFULL)
        gslb_error("storage: MDB_MAP_FULL during %s: the map of %s (storage.map_size = %zu bytes, "
                   "%zu MiB) is exhausted; the change was NOT stored and DNS serves the stored "
                   "state. Raise storage.map_size and restart (map_full events so far: %llu; %llu "
                   "similar failures not logged; next report in 60 s at the earliest)",
                   what ? what : "write", e ? e->path : "?", size, size >> 20,
                   (unsigned long long)n, (unsigned long long)suppressed);
    else
        gslb_error("storage: no space left on device during %s (%s): writes are refused, DNS "
                   "serves the stored state; free disk space (no_space events so far: %llu; "
                   "%llu similar failures not logged; next report in 60 s at the earliest)",
                   what ? what : "write", e ? e->path : "?", (unsigned long long)n,
                   (unsigned long long)suppressed);
}

/* A commit went through: the store takes writes again. Small writes may fit in
 * freed pages while larger ones still fail, so the state can flap: the rate
 * limit of the error line is kept across episodes, and this line has its own. */
static void note_write_ok(void)
{
    static _Atomic int64_t ok_logged_ms;
    if (atomic_load(&g_full_code) == 0 || atomic_exchange(&g_full_code, 0) == 0)
        return;
    int64_t now = gslb_mono_ms(), last = atomic_load(&ok_logged_ms);
    if ((last == 0 || now - last >= FULL_LOG_INTERVAL_MS) &&
        atomic_compare_exchange_strong(&ok_logged_ms, &last, now ? now : 1))
        gslb_info("storage: writes succeed again (space available)");
}

static int map_errno(int rc)
{
    switch (rc) {
    case ENOMEM:
        return GSLB_ENOMEM;
    case ENOENT:
        return GSLB_ENOENT;
    case EINVAL:
        return GSLB_EINVAL;
    case ENOSPC:
    case EDQUOT:
        return GSLB_ENOSPC;
    case EACCES:
    case EPERM:
    case EIO:
    case EROFS:
    case EAGAIN:
        return GSLB_EIO;
    default:
        return GSLB_ESTORE;
    }
}

static int map_code(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return GSLB_OK;
    case MDB_NOTFOUND:
        return GSLB_ENOENT;
    case MDB_KEYEXIST:
        return GSLB_EEXIST;
    case MDB_MAP_FULL:
        return GSLB_EMAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
    case MDB_BAD_VALSIZE:
        return GSLB_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return GSLB_EVERSION;
    case MDB_READERS_FULL:
        return GSLB_EBUSY;
    case MDB_MAP_RESIZED:
        return GSLB_EAGAIN;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case MDB_DBS_FULL:
    case MDB_TLS_FULL:
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_PANIC:
        return GSLB_ESTORE;
    default:
        return rc > 0 ? map_errno(rc) : GSLB_ESTORE;
    }
}

/* LMDB reports a short write as EIO (mdb_page_flush): on a full file system
 * that is the same condition as ENOSPC. "Full" = less than this left for us. */
#define NEARLY_FULL_BYTES (1024 * 1024)

static bool disk_nearly_full(const gslb_env_t *e)
{
    struct statvfs vfs;
    if (!e || !e->path[0] || statvfs(e->path, &vfs) != 0)
        return false;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize < NEARLY_FULL_BYTES;
}

int gslb_env_map_err(gslb_env_t *e, int mdb_rc, const char *what)
{
    int code = map_code(mdb_rc);
    if (code == GSLB_EIO && mdb_rc == EIO && disk_nearly_full(e))
        code = GSLB_ENOSPC;
    if (code == GSLB_EMAPFULL || code == GSLB_ENOSPC)
        note_full(e, code, what);
    else if (code != GSLB_OK && code != GSLB_ENOENT && code != GSLB_EEXIST)
        gslb_error("storage: %s failed: %s (%s)", what ? what : "operation", mdb_strerror(mdb_rc),
                   gslb_strerror(code));
    return code;
}

/* ---- directory and file checks ------------------------------------------- */

/* Anybody could replace data.mdb in a world-writable directory (unless sticky). */
static int check_dir_mode(const char *dir, const struct stat *st, gslb_errbuf_t *eb)
{
    if ((st->st_mode & S_IWOTH) && !(st->st_mode & S_ISVTX))
        return gslb_errf(eb, GSLB_EIO,
                         "%s: the data directory is world-writable (mode %04o): anybody could "
                         "replace the store and its DNSSEC keys; refusing it (chmod 700 %s)",
                         dir, (unsigned)(st->st_mode & 07777), dir);
    return GSLB_OK;
}

static int ensure_dir(const char *dir, bool create, gslb_errbuf_t *eb)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return gslb_errf(eb, GSLB_EIO, "%s: not a directory", dir);
        return create ? check_dir_mode(dir, &st, eb) : GSLB_OK;
    }
    if (errno != ENOENT || !create)
        return gslb_errf(eb, errno == ENOENT ? GSLB_ENOENT : GSLB_EIO,
                         "%s: cannot open data directory: %s", dir, strerror(errno));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return gslb_errf(eb, GSLB_EIO, "%s: cannot create data directory: %s", dir,
                         strerror(errno));
    return GSLB_OK;
}

static int data_file_size(const gslb_env_t *e, off_t *size, gslb_errbuf_t *eb)
{
    char file[4200];
    struct stat st;
    snprintf(file, sizeof(file), "%s/data.mdb", e->path);
    if (stat(file, &st) != 0)
        return gslb_errf(eb, errno == ENOENT ? GSLB_ENOENT : GSLB_EIO,
                         "%s: no environment here (%s)", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return gslb_errf(eb, GSLB_ECORRUPT, "%s: not a regular file", file);
    *size = st.st_size;
    return GSLB_OK;
}

/* Before a writable open: a missing data.mdb is a new environment (*existed =
 * false); an empty or short one is damage, never a new store (LMDB would
 * initialise it and a new DNSSEC key would be generated). A world-readable one
 * is logged: it holds the private keys. */
static int check_existing_file(const gslb_env_t *e, bool *existed, gslb_errbuf_t *eb)
{
    char file[4200];
    struct stat st;
    snprintf(file, sizeof(file), "%s/data.mdb", e->path);
    *existed = false;
    if (stat(file, &st) != 0) {
        if (errno == ENOENT)
            return GSLB_OK;
        return gslb_errf(eb, GSLB_EIO, "%s: %s", file, strerror(errno));
    }
    *existed = true;
    if (!S_ISREG(st.st_mode))
        return gslb_errf(eb, GSLB_ECORRUPT, "%s: not a regular file", file);
    if (st.st_size < 2 * 4096)
        return gslb_errf(eb, GSLB_ECORRUPT,
                         "%s is damaged: %lld bytes is too short for an LMDB environment (an "
                         "empty or short file is not a new store). Refusing to start on it: move "
                         "it aside and restore a backup, or remove it to start with an empty "
                         "store (`gslb-dump --data-dir %s` shows what a store holds)",
                         file, (long long)st.st_size, e->path);
    if (st.st_mode & S_IROTH)
        gslb_warn("storage: %s is world-readable (mode %04o) and holds the DNSSEC private keys: "
                  "chmod 600 it",
                  file, (unsigned)(st.st_mode & 07777));
    return GSLB_OK;
}

/* A data file shorter than its last committed page would make LMDB touch
 * unmapped pages (SIGBUS); refuse it up front with a clear message. */
static int check_not_truncated(gslb_env_t *e, gslb_errbuf_t *eb)
{
    MDB_envinfo info;
    MDB_stat st;
    off_t size = 0;
    int rc = data_file_size(e, &size, eb);
    if (rc)
        return rc;
    if (mdb_env_info(e->env, &info) != 0 || mdb_env_stat(e->env, &st) != 0)
        return gslb_errf(eb, GSLB_ECORRUPT, "%s: cannot read environment info", e->path);
    uint64_t pages = st.ms_psize ? (uint64_t)size / st.ms_psize : 0;
    if ((uint64_t)info.me_last_pgno >= pages)
        return gslb_errf(eb, GSLB_ECORRUPT,
                         "%s/data.mdb is damaged: %lld bytes (%llu pages) but the last "
                         "committed page is number %llu (truncated file). Refusing it: move it "
                         "aside and restore a backup (`gslb-dump --data-dir %s` reads what a "
                         "store holds)",
                         e->path, (long long)size, (unsigned long long)pages,
                         (unsigned long long)info.me_last_pgno, e->path);
    return GSLB_OK;
}

/* ---- txn begin with the documented retries -------------------------------- */

static int txn_begin_retry(gslb_env_t *e, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(e->env, NULL, flags, txn);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        mdb_reader_check(e->env, &dead);
        gslb_warn("storage: reader table full; cleared %d stale reader slot(s), retrying", dead);
        rc = mdb_txn_begin(e->env, NULL, flags, txn);
    }
    if (rc == MDB_MAP_RESIZED && e->readonly) {
        /* another process grew the map: adopt its size */
        mdb_env_set_mapsize(e->env, 0);
        rc = mdb_txn_begin(e->env, NULL, flags, txn);
    }
    return rc;
}

int gslb_env_write_begin(gslb_env_t *e, MDB_txn **txn)
{
    *txn = NULL;
    if (e->readonly)
        return GSLB_EINVAL;
    int rc = txn_begin_retry(e, 0, txn);
    return rc ? gslb_env_map_err(e, rc, "begin write txn") : GSLB_OK;
}

int gslb_env_read_begin(gslb_env_t *e, MDB_txn **txn)
{
    *txn = NULL;
    int rc = txn_begin_retry(e, MDB_RDONLY, txn);
    return rc ? gslb_env_map_err(e, rc, "begin read txn") : GSLB_OK;
}

int gslb_env_commit(gslb_env_t *e, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    if (rc)
        return gslb_env_map_err(e, rc, "commit");
    note_write_ok();
    return GSLB_OK;
}

int gslb_env_commit_durable(gslb_env_t *e, MDB_txn *txn)
{
    int rc = gslb_env_commit(e, txn);
    if (rc)
        return rc;
    int src = mdb_env_sync(e->env, 1);
    return src ? gslb_env_map_err(e, src, "sync to disk") : GSLB_OK;
}

/* ---- schema ---------------------------------------------------------------- */

static int write_new_meta(gslb_env_t *e, MDB_txn *txn, const char *node_id, gslb_errbuf_t *eb)
{
    gslb_meta_rec_t m = {.schema_version = GSLB_SCHEMA_VERSION, .created_at = gslb_wall_s()};
    uint8_t buf[GSLB_REC_MAX];
    if (node_id)
        snprintf(m.node_id, sizeof(m.node_id), "%s", node_id);
    int n = gslb_meta_encode(&m, buf, sizeof(buf));
    if (n < 0)
        return gslb_errf(eb, n, "cannot encode the schema record");
    MDB_val k = {strlen(GSLB_META_KEY), (void *)GSLB_META_KEY}, v = {(size_t)n, buf};
    int rc = mdb_put(txn, e->dbi[GSLB_DBI_META], &k, &v, 0);
    if (rc)
        return gslb_errf(eb, gslb_env_map_err(e, rc, "write schema record"),
                         "%s: cannot write the schema record: %s", e->path, mdb_strerror(rc));
    return GSLB_OK;
}

static int check_schema(gslb_env_t *e, MDB_txn *txn, const char *node_id, gslb_errbuf_t *eb)
{
    MDB_val k = {strlen(GSLB_META_KEY), (void *)GSLB_META_KEY}, v;
    int rc = mdb_get(txn, e->dbi[GSLB_DBI_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (e->readonly)
            return gslb_errf(eb, GSLB_ECORRUPT,
                             "%s: no schema record in \"meta\": not an OpenGSLB environment",
                             e->path);
        return write_new_meta(e, txn, node_id, eb);
    }
    if (rc)
        return gslb_errf(eb, gslb_env_map_err(e, rc, "read schema record"),
                         "%s: cannot read the schema record: %s", e->path, mdb_strerror(rc));
    gslb_meta_rec_t m;
    rc = gslb_meta_decode(v.mv_data, v.mv_size, &m);
    if (rc == GSLB_EVERSION)
        return gslb_errf(eb, rc,
                         "%s: the schema record has an unknown encoding version %u (this build "
                         "reads %d): written by a newer OpenGSLB?",
                         e->path, v.mv_size ? ((const uint8_t *)v.mv_data)[0] : 0, GSLB_REC_V1);
    if (rc)
        return gslb_errf(eb, rc, "%s: the schema record is damaged", e->path);
    if (m.schema_version > GSLB_SCHEMA_VERSION)
        return gslb_errf(eb, GSLB_EVERSION,
                         "%s: storage schema version %u is newer than this build supports (%d); "
                         "upgrade OpenGSLB or use a new data_dir",
                         e->path, m.schema_version, GSLB_SCHEMA_VERSION);
    if (m.schema_version == 0)
        return gslb_errf(eb, GSLB_EVERSION, "%s: unknown storage schema version 0", e->path);
    return GSLB_OK;
}

static int open_dbis(gslb_env_t *e, const char *node_id, gslb_errbuf_t *eb)
{
    MDB_txn *txn = NULL;
    int rc = txn_begin_retry(e, e->readonly ? MDB_RDONLY : 0, &txn);
    if (rc)
        return gslb_errf(eb, gslb_env_map_err(e, rc, "open sub-databases"),
                         "%s: cannot begin a transaction: %s", e->path, mdb_strerror(rc));
    for (int i = 0; i < GSLB_DBI_COUNT; i++) {
        rc = mdb_dbi_open(txn, gslb_dbi_names[i], e->readonly ? 0 : MDB_CREATE, &e->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND)
                return gslb_errf(eb, GSLB_ECORRUPT,
                                 "%s: sub-database \"%s\" is missing: not an OpenGSLB "
                                 "environment (or a damaged one)",
                                 e->path, gslb_dbi_names[i]);
            return gslb_errf(eb, map_code(rc), "%s: cannot open sub-database \"%s\": %s", e->path,
                             gslb_dbi_names[i], mdb_strerror(rc));
        }
    }
    rc = check_schema(e, txn, node_id, eb);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0 && !e->readonly)
        rc = mdb_env_sync(e->env, 1);
    if (rc)
        return gslb_errf(eb, gslb_env_map_err(e, rc, "create sub-databases"),
                         "%s: cannot commit the schema: %s", e->path, mdb_strerror(rc));
    return GSLB_OK;
}

/* ---- open / close ---------------------------------------------------------- */

static int env_configure(gslb_env_t *e, const gslb_env_opts_t *opts, gslb_errbuf_t *eb)
{
    int rc = mdb_env_create(&e->env);
    if (rc)
        return gslb_errf(eb, map_code(rc), "mdb_env_create: %s", mdb_strerror(rc));
    unsigned readers = opts->max_readers ? opts->max_readers : GSLB_DEFAULT_MAX_READERS;
    rc = mdb_env_set_maxdbs(e->env, GSLB_DBI_COUNT);
    if (!rc)
        rc = mdb_env_set_maxreaders(e->env, readers);
    if (!rc && !opts->readonly)
        rc = mdb_env_set_mapsize(e->env, opts->map_size ? opts->map_size : GSLB_DEFAULT_MAP_SIZE);
    else if (!rc && opts->map_size)
        rc = mdb_env_set_mapsize(e->env, opts->map_size);
    if (rc)
        return gslb_errf(eb, map_code(rc), "%s: cannot configure the environment: %s", e->path,
                         mdb_strerror(rc));
    return GSLB_OK;
}

static int env_open_files(gslb_env_t *e, gslb_errbuf_t *eb)
{
    unsigned flags = MDB_NOTLS | (e->readonly ? MDB_RDONLY : MDB_NOMETASYNC);
    int rc = mdb_env_open(e->env, e->path, flags, 0600);
    if (rc == MDB_INVALID)
        return gslb_errf(eb, GSLB_ECORRUPT,
                         "%s/data.mdb is not an LMDB environment or is damaged (%s)", e->path,
                         mdb_strerror(rc));
    if (rc == MDB_VERSION_MISMATCH)
        return gslb_errf(eb, GSLB_EVERSION, "%s: LMDB file format version mismatch (%s)", e->path,
                         mdb_strerror(rc));
    if (rc)
        return gslb_errf(eb, map_code(rc), "%s: cannot open the environment: %s", e->path,
                         mdb_strerror(rc));
    return GSLB_OK;
}

static void record_map_size(gslb_env_t *e)
{
    MDB_envinfo info;
    if (mdb_env_info(e->env, &info) == 0)
        e->map_size = info.me_mapsize;
}

int gslb_env_open(gslb_env_t *e, const gslb_env_opts_t *opts, gslb_errbuf_t *eb)
{
    memset(e, 0, sizeof(*e));
    if (!opts || !opts->data_dir || !*opts->data_dir)
        return gslb_errf(eb, GSLB_EINVAL, "storage: no data directory given");
    if (strlen(opts->data_dir) >= sizeof(e->path))
        return gslb_errf(eb, GSLB_EINVAL, "storage: data directory path too long");
    snprintf(e->path, sizeof(e->path), "%s", opts->data_dir);
    e->readonly = opts->readonly;

    int rc = ensure_dir(e->path, !e->readonly, eb);
    off_t size = 0;
    bool existed = true;
    if (!rc && !e->readonly)
        rc = check_existing_file(e, &existed, eb);
    if (!rc && e->readonly)
        rc = data_file_size(e, &size, eb);
    if (!rc && e->readonly && size < 2 * 4096)
        rc = gslb_errf(eb, GSLB_ECORRUPT,
                       "%s/data.mdb is damaged: %lld bytes is too short for an LMDB environment",
                       e->path, (long long)size);
    if (!rc)
        rc = env_configure(e, opts, eb);
    if (!rc)
        rc = env_open_files(e, eb);
    if (!rc)
        rc = check_not_truncated(e, eb);
    if (!rc) {
        int dead = 0;
        mdb_reader_check(e->env, &dead);
        if (dead > 0)
            gslb_info("storage: cleared %d stale reader slot(s) in %s", dead, e->path);
        record_map_size(e);
        if (opts->verify && existed)
            rc = gslb_env_verify(e, opts->verify_timeout_ms, eb);
    }
    if (!rc)
        rc = open_dbis(e, opts->node_id, eb);
    if (rc) {
        gslb_env_close(e);
        return rc;
    }
    return GSLB_OK;
}

void gslb_env_close(gslb_env_t *e)
{
    if (e && e->env) {
        mdb_env_close(e->env);
        e->env = NULL;
    }
}

uint64_t gslb_env_last_txnid(gslb_env_t *e)
{
    MDB_envinfo info;
    if (!e->env || mdb_env_info(e->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

/* ---- reusable readers ------------------------------------------------------ */

int gslb_reader_init(gslb_reader_t *r, gslb_env_t *e)
{
    r->env = e;
    r->txn = NULL;
    r->active = false;
    int rc = txn_begin_retry(e, MDB_RDONLY, &r->txn);
    if (rc)
        return gslb_env_map_err(e, rc, "begin reader");
    mdb_txn_reset(r->txn);
    return GSLB_OK;
}

int gslb_reader_begin(gslb_reader_t *r)
{
    if (!r->txn)
        return GSLB_EINVAL;
    if (r->active)
        mdb_txn_reset(r->txn);
    r->active = false;
    int rc = mdb_txn_renew(r->txn);
    if (rc == MDB_MAP_RESIZED && r->env->readonly) {
        mdb_env_set_mapsize(r->env->env, 0);
        rc = mdb_txn_renew(r->txn);
    }
    if (rc)
        return gslb_env_map_err(r->env, rc, "renew reader");
    r->active = true;
    return GSLB_OK;
}

void gslb_reader_end(gslb_reader_t *r)
{
    if (r->txn && r->active)
        mdb_txn_reset(r->txn);
    r->active = false;
}

void gslb_reader_destroy(gslb_reader_t *r)
{
    if (r->txn)
        mdb_txn_abort(r->txn);
    r->txn = NULL;
    r->active = false;
}
