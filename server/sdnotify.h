/*
 * sdnotify.h - the overwatch and systemd: state notifications (Type=notify
 * units) and sockets passed by socket activation (opengslb-overwatch.socket).
 *
 * Contract:
 *  - gslb_sd_notify("READY=1"), "RELOADING=1", "STOPPING=1", ... sends the state
 *    to $NOTIFY_SOCKET when the build has libsystemd and the process runs under
 *    systemd; otherwise it does nothing. Never fails, never blocks for long.
 *  - gslb_sd_listen_fds() returns how many sockets were passed as fds
 *    GSLB_SD_LISTEN_FDS_START.. (LISTEN_FDS, for this process: LISTEN_PID), 0
 *    when none. It marks them close-on-exec and removes LISTEN_PID, LISTEN_FDS
 *    and LISTEN_FDNAMES from the environment, so call it once, before any
 *    thread starts. sd_listen_fds(3) when the build has libsystemd, else the
 *    same documented protocol read directly (tests emulate it without systemd).
 */
#pragma once

#define GSLB_SD_LISTEN_FDS_START 3

void gslb_sd_notify(const char *state);
int gslb_sd_listen_fds(void);
