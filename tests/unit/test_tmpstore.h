/*
 * test_tmpstore.h - a throw-away LMDB environment for unit tests: a fresh
 * /tmp/gslb-<tag>-XXXXXX directory with a 64 MiB map, removed again at teardown.
 *
 * Contract: gslb_test_mkdtemp() and gslb_test_env_open() return 0 or -1;
 * dir must hold at least 64 bytes. gslb_test_rmtree() removes a directory and
 * everything below it (no shell), returning 0 or -1. Header-only, tests only.
 */
#pragma once

#include "env.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int gslb_test_mkdtemp(char *dir, size_t cap, const char *tag)
{
    snprintf(dir, cap, "/tmp/gslb-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int gslb_test_env_open(gslb_env_t *env, char *dir, size_t cap, const char *tag)
{
    gslb_errbuf_t eb;
    if (gslb_test_mkdtemp(dir, cap, tag) != 0)
        return -1;
    gslb_env_opts_t o = {.data_dir = dir, .map_size = 64 << 20};
    if (gslb_env_open(env, &o, &eb) != 0) {
        fprintf(stderr, "%s: %s\n", dir, eb.msg);
        return -1;
    }
    return 0;
}

static inline int gslb_test_rmtree_entry(const char *path, const struct stat *st, int flag,
                                         struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int gslb_test_rmtree(const char *dir)
{
    return nftw(dir, gslb_test_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
