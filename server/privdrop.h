/*
 * privdrop.h - running gslb-overwatch as root: the warning, and the switch to
 * overwatch.user after the listeners are bound (docs/operations.md, "Running as
 * root").
 *
 * Contract:
 *  - gslb_priv_prepare() runs before the store is opened. Not root: nothing to
 *    do (a `user` naming another account is logged as ignored). Root without
 *    `user`: a warning. Root with `user`: the account is looked up (unknown =
 *    error), data_dir is created 0700 and chowned to it when missing, and refused
 *    when it exists owned by another account (error naming `chown -R`).
 *  - gslb_priv_own_store() (root with `user`, after the store is open) chowns
 *    data.mdb and lock.mdb to the account, so it can open them itself later.
 *  - gslb_priv_drop() runs after every listener is bound (port 53 included):
 *    initgroups(), setgid(), setuid() for the whole process (glibc applies them to
 *    every thread), then checks that root cannot be regained. Any failure is an
 *    error (the caller stops: never keep running as root by accident).
 *  - All three return 0 or a negative GSLB_E* code with a message in eb.
 */
#pragma once

#include "gslb_err.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct gslb_priv {
    bool drop; /* started as root with overwatch.user */
    char user[64];
    uid_t uid;
    gid_t gid;
} gslb_priv_t;

int gslb_priv_prepare(const char *user, const char *data_dir, gslb_priv_t *out, gslb_errbuf_t *eb);
int gslb_priv_own_store(const gslb_priv_t *p, const char *data_dir, gslb_errbuf_t *eb);
int gslb_priv_drop(const gslb_priv_t *p, gslb_errbuf_t *eb);
