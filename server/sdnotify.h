/*
 * sdnotify.h - tell systemd about the overwatch's state (Type=notify units).
 *
 * Contract: gslb_sd_notify("READY=1"), "RELOADING=1", "STOPPING=1", ... sends the
 * state to $NOTIFY_SOCKET when the build has libsystemd and the process runs under
 * systemd; otherwise it does nothing. Never fails, never blocks for long.
 */
#pragma once

void gslb_sd_notify(const char *state);
