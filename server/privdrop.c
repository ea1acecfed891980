/*
 * privdrop.c - root warning and the switch to overwatch.user. See privdrop.h.
 */
#include "privdrop.h"

#include "gslb_log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int lookup_user(const char *user, gslb_priv_t *out, gslb_errbuf_t *eb)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (rc != 0 || !res)
        return gslb_errf(eb, GSLB_ECONFIG, "overwatch.user: no account \"%s\"%s%s", user,
                         rc ? ": " : "", rc ? strerror(rc) : "");
    if (pw.pw_uid == 0)
        return gslb_errf(eb, GSLB_ECONFIG,
                         "overwatch.user: \"%s\" is root (uid 0): name an unprivileged account",
                         user);
    snprintf(out->user, sizeof(out->user), "%s", user);
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    return GSLB_OK;
}

/* data_dir belongs to the account: created for it, or refused when someone else's. */
static int own_data_dir(const gslb_priv_t *p, const char *dir, gslb_errbuf_t *eb)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return gslb_errf(eb, GSLB_EIO, "%s: %s", dir, strerror(errno));
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return gslb_errf(eb, GSLB_EIO, "%s: cannot create data directory: %s", dir,
                             strerror(errno));
        if (chown(dir, p->uid, p->gid) != 0)
            return gslb_errf(eb, GSLB_EIO, "%s: cannot chown it to %s: %s", dir, p->user,
                             strerror(errno));
        gslb_info("storage: created %s for user %s", dir, p->user);
        return GSLB_OK;
    }
    if (st.st_uid != p->uid)
        return gslb_errf(eb, GSLB_EIO,
                         "%s: the data directory belongs to uid %u, not to overwatch.user %s "
                         "(uid %u): chown -R %s %s",
                         dir, (unsigned)st.st_uid, p->user, (unsigned)p->uid, p->user, dir);
    return GSLB_OK;
}

int gslb_priv_prepare(const char *user, const char *data_dir, gslb_priv_t *out, gslb_errbuf_t *eb)
{
    memset(out, 0, sizeof(*out));
    if (geteuid() != 0) {
        if (user && user[0])
            gslb_warn("overwatch.user is \"%s\" but the overwatch was not started as root (uid "
                      "%u): it keeps running as it was started",
                      user, (unsigned)geteuid());
        return GSLB_OK;
    }
    if (!user || !user[0]) {
        gslb_warn("running as root: set overwatch.user to an unprivileged account (the "
                  "overwatch binds port 53 first, then switches to it), or use the systemd "
                  "unit (User=opengslb)");
        return GSLB_OK;
    }
    int rc = lookup_user(user, out, eb);
    if (rc == GSLB_OK)
        rc = own_data_dir(out, data_dir, eb);
    out->drop = rc == GSLB_OK;
    return rc;
}

int gslb_priv_own_store(const gslb_priv_t *p, const char *data_dir, gslb_errbuf_t *eb)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    if (!p->drop)
        return GSLB_OK;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
        if (chown(path, p->uid, p->gid) != 0 && errno != ENOENT)
            return gslb_errf(eb, GSLB_EIO, "%s: cannot chown it to %s: %s", path, p->user,
                             strerror(errno));
    }
    return GSLB_OK;
}

int gslb_priv_drop(const gslb_priv_t *p, gslb_errbuf_t *eb)
{
    if (!p->drop)
        return GSLB_OK;
    if (initgroups(p->user, p->gid) != 0)
        return gslb_errf(eb, GSLB_EIO, "initgroups(%s): %s", p->user, strerror(errno));
    if (setgid(p->gid) != 0)
        return gslb_errf(eb, GSLB_EIO, "setgid(%u): %s", (unsigned)p->gid, strerror(errno));
    if (setuid(p->uid) != 0)
        return gslb_errf(eb, GSLB_EIO, "setuid(%u): %s", (unsigned)p->uid, strerror(errno));
    if (setuid(0) == 0 || geteuid() != p->uid || getegid() != p->gid)
        return gslb_errf(eb, GSLB_EIO, "switching to %s did not drop root", p->user);
    gslb_info("switched to user %s (uid %u, gid %u) after binding the listeners", p->user,
              (unsigned)p->uid, (unsigned)p->gid);
    return GSLB_OK;
}
