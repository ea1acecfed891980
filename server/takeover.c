/*
 * takeover.c - the pid file and the predecessor of a --takeover start (see
 * takeover.h).
 */
#include "takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void pidfile_path(const char *data_dir, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", data_dir, GSLB_PIDFILE_NAME);
}

static pid_t read_pid(const char *path)
{
    char text[32] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    return (end != text && pid > 0 && (*end == '\n' || *end == '\0')) ? (pid_t)pid : 0;
}

int gslb_pidfile_write(const char *data_dir, gslb_errbuf_t *eb)
{
    char path[4200], tmp[4300], text[32];
    pidfile_path(data_dir, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return gslb_errf(eb, GSLB_EIO, "pid file %s: %s", tmp, strerror(errno));
    bool ok = write(fd, text, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return gslb_errf(eb, GSLB_EIO, "pid file %s: %s", path, strerror(err));
    }
    return GSLB_OK;
}

void gslb_pidfile_remove(const char *data_dir)
{
    char path[4200];
    pidfile_path(data_dir, path, sizeof(path));
    if (read_pid(path) == getpid())
        unlink(path);
}

static bool is_overwatch(pid_t pid)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(comm, sizeof(comm), f) != NULL;
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return ok && strcmp(comm, "gslb-overwatch") == 0;
}

pid_t gslb_takeover_find(const char *data_dir)
{
    char path[4200];
    pidfile_path(data_dir, path, sizeof(path));
    pid_t pid = read_pid(path);
    if (pid <= 0 || pid == getpid() || kill(pid, 0) != 0 || !is_overwatch(pid))
        return 0;
    return pid;
}

bool gslb_takeover_bind_busy(int rc, const gslb_errbuf_t *eb)
{
    return rc == GSLB_EBUSY || (rc != GSLB_OK && strstr(eb->msg, "in use") != NULL);
}
