/*
 * sdnotify.c - sd_notify and socket activation (see sdnotify.h).
 */
#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef GSLB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void gslb_sd_notify(const char *state)
{
#ifdef GSLB_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

#ifndef GSLB_HAVE_SYSTEMD
/* The protocol of sd_listen_fds(3): LISTEN_PID names this process, LISTEN_FDS
 * counts the fds from 3 on. */
static long env_number(const char *name)
{
    const char *v = getenv(name);
    char *end = NULL;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : -1;
    return (v && !errno && end && !*end && end != v) ? n : -1;
}

static int listen_fds(void)
{
    long pid = env_number("LISTEN_PID"), n = env_number("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (pid != (long)getpid() || n <= 0 || n > 1024)
        return 0;
    for (int fd = GSLB_SD_LISTEN_FDS_START; fd < GSLB_SD_LISTEN_FDS_START + n; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
            return 0;
    }
    return (int)n;
}
#endif

int gslb_sd_listen_fds(void)
{
#ifdef GSLB_HAVE_SYSTEMD
    int n = sd_listen_fds(1);
    return n > 0 ? n : 0;
#else
    return listen_fds();
#endif
}
