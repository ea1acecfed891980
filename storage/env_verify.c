/*
 * env_verify.c - the start-up check of an existing environment (env.h,
 * gslb_env_verify): every sub-database walked once, in a child process.
 *
 * Damage in a page can make LMDB return MDB_CORRUPTED / MDB_PAGE_NOTFOUND, but
 * it can also trip one of LMDB's assertions (abort) or make it read outside the
 * map (SIGSEGV/SIGBUS). The walk therefore runs in a forked child with its own
 * read-only handle of the environment: whatever LMDB does there, the parent
 * sees an exit status or a signal and refuses the store with a message, instead
 * of being killed later by a request that reaches the damaged page. The child
 * reports the sub-database it is walking and any LMDB error (and LMDB's own
 * assertion text, its stderr) through a pipe.
 */
#include "env.h"
#include "gslb_log.h"
#include "gslb_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERIFY_DEFAULT_TIMEOUT_MS 120000
#define VERIFY_REPORT_MAX 1024

/* ---- the child: walk everything once -------------------------------------- */

static void child_say(int fd, const char *fmt, const char *a, const char *b)
{
    char line[512];
    int n = snprintf(line, sizeof(line), fmt, a, b);
    if (n > 0)
        (void)!write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Every key and value of one database, each byte read (overflow pages too); the
 * count must match the database's own header. */
/* Where the walk's checksum goes, so that no byte read can be optimised away. */
static volatile uint8_t walk_sink;

static int walk_dbi(MDB_txn *txn, MDB_dbi dbi, char *why, size_t cap)
{
    MDB_cursor *cur = NULL;
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc == 0)
        rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    uint8_t sum = 0;
    size_t entries = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        for (size_t i = 0; i < k.mv_size; i++)
            sum ^= ((const uint8_t *)k.mv_data)[i];
        for (size_t i = 0; i < v.mv_size; i++)
            sum ^= ((const uint8_t *)v.mv_data)[i];
        entries++;
    }
    mdb_cursor_close(cur);
    walk_sink = sum;
    if (rc != MDB_NOTFOUND)
        return rc;
    if (entries != st.ms_entries) {
        snprintf(why, cap, "%zu entries walked, its header says %zu", entries,
                 (size_t)st.ms_entries);
        return MDB_CORRUPTED;
    }
    return 0;
}

/* Returns the child's exit status: 0 intact, 1 damaged, 2 could not check. */
static int child_walk(const char *path, int fd)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    char why[256] = "";
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_maxdbs(env, GSLB_DBI_COUNT);
    if (!rc)
        rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0600);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        child_say(fd, "!cannot open it read-only for the check: %s%s\n", mdb_strerror(rc), "");
        return rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? 1 : 2;
    }
    MDB_dbi main_dbi = 0;
    child_say(fd, "@%s%s\n", "(free pages)", "");
    rc = walk_dbi(txn, 0, why, sizeof(why)); /* FREE_DBI: read-only txns may walk it */
    if (!rc) {
        child_say(fd, "@%s%s\n", "(main)", "");
        rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
        if (!rc)
            rc = walk_dbi(txn, main_dbi, why, sizeof(why));
    }
    for (int i = 0; !rc && i < GSLB_DBI_COUNT; i++) {
        MDB_dbi dbi;
        child_say(fd, "@%s%s\n", gslb_dbi_names[i], "");
        rc = mdb_dbi_open(txn, gslb_dbi_names[i], 0, &dbi);
        if (rc == MDB_NOTFOUND) /* created by this build's open when missing */
            rc = 0;
        else if (!rc)
            rc = walk_dbi(txn, dbi, why, sizeof(why));
    }
    if (rc)
        child_say(fd, "!%s%s\n", why[0] ? why : mdb_strerror(rc), "");
    return rc ? 1 : 0;
}

/* ---- the parent ------------------------------------------------------------ */

typedef struct report {
    char text[VERIFY_REPORT_MAX]; /* everything the child said (bounded) */
    size_t len;
    char where[128]; /* the last sub-database the child started */
    char what[512];  /* the child's error line, or LMDB's assertion text */
} report_t;

/* Read what the child says until it closes the pipe or the deadline passes.
 * Returns false on timeout. */
static bool read_report(int fd, uint64_t deadline_ms, report_t *r)
{
    for (;;) {
        uint64_t now = (uint64_t)gslb_mono_ms();
        if (now >= deadline_ms)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(deadline_ms - now > 1000 ? 1000 : deadline_ms - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[512];
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return true;
        size_t room = sizeof(r->text) - 1 - r->len;
        size_t take = (size_t)got < room ? (size_t)got : room;
        memcpy(r->text + r->len, buf, take);
        r->len += take;
        r->text[r->len] = '\0';
    }
}

/* The last "@name" and the "!error" (or any other text, e.g. LMDB's assertion). */
static void parse_report(report_t *r)
{
    char *save = NULL;
    for (char *line = strtok_r(r->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '@')
            snprintf(r->where, sizeof(r->where), "%s", line + 1);
        else if (line[0] == '!')
            snprintf(r->what, sizeof(r->what), "%s", line + 1);
        else if (!r->what[0])
            snprintf(r->what, sizeof(r->what), "%s", line);
    }
}

static int damaged(const gslb_env_t *e, const report_t *r, const char *how, gslb_errbuf_t *eb)
{
    return gslb_errf(eb, GSLB_ECORRUPT,
                     "%s/data.mdb is damaged: %s%s%s%s%s. Refusing to start on it: read what is "
                     "left with `gslb-dump --data-dir %s` (add --secrets for the DNSSEC keys), "
                     "then move the directory aside and restore a backup or start empty",
                     e->path, r->where[0] ? "sub-database \"" : "", r->where,
                     r->where[0] ? "\": " : "", how, r->what[0] ? r->what : "", e->path);
}

static int judge(const gslb_env_t *e, int status, report_t *r, gslb_errbuf_t *eb)
{
    parse_report(r);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return GSLB_OK;
    if (WIFSIGNALED(status)) {
        char how[96];
        snprintf(how, sizeof(how), "LMDB failed (%s)%s", strsignal(WTERMSIG(status)),
                 r->what[0] ? ": " : "");
        return damaged(e, r, how, eb);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
        return gslb_errf(eb, GSLB_EIO, "%s: cannot check the environment: %s", e->path,
                         r->what[0] ? r->what : "the check failed");
    return damaged(e, r, "", eb);
}

int gslb_env_verify(gslb_env_t *e, uint64_t timeout_ms, gslb_errbuf_t *eb)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return gslb_errf(eb, GSLB_EIO, "%s: cannot check the environment: pipe: %s", e->path,
                         strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return gslb_errf(eb, GSLB_EIO, "%s: cannot check the environment: fork: %s", e->path,
                         strerror(errno));
    }
    if (pid == 0) { /* the child: never returns into the caller */
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO); /* LMDB's assertion text goes to the parent */
        _exit(child_walk(e->path, fds[1]));
    }
    close(fds[1]);
    uint64_t limit = timeout_ms ? timeout_ms : VERIFY_DEFAULT_TIMEOUT_MS;
    report_t r = {.len = 0};
    bool done = read_report(fds[0], (uint64_t)gslb_mono_ms() + limit, &r);
    close(fds[0]);
    if (!done)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int dead = 0;
    mdb_reader_check(e->env, &dead); /* a child that died keeps no reader slot */
    if (!done) {
        gslb_warn("storage: checking %s/data.mdb did not finish within %llu ms; starting without "
                  "the check",
                  e->path, (unsigned long long)limit);
        return GSLB_OK;
    }
    return judge(e, status, &r, eb);
}
