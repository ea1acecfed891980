/*
 * dump.h - the engine of gslb-dump: prints the tables of an environment for
 * people (aligned text columns) or for tools (one JSON document).
 *
 * Contract:
 *  - Opens <data_dir> read-only (MDB_RDONLY) and reads everything in one
 *    snapshot, so it works offline and while an overwatch writes.
 *  - Never crashes on bad data: a value that fails to decode is shown as
 *    "<undecodable: reason>" and makes the result GSLB_DUMP_UNDECODABLE.
 *  - Private key material is printed only when `secrets` is set.
 *  - Returns a process exit code (enum gslb_dump_exit); messages go to err.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

enum gslb_dump_exit {
    GSLB_DUMP_OK = 0,
    GSLB_DUMP_ERROR = 1,       /* cannot open/read the environment */
    GSLB_DUMP_UNDECODABLE = 2, /* dumped, but some records could not be decoded */
    GSLB_DUMP_USAGE = 64,      /* bad command line */
};

enum gslb_dump_table {
    GSLB_DUMP_META = 1 << 0,
    GSLB_DUMP_ZONES = 1 << 1,
    GSLB_DUMP_DOMAINS = 1 << 2,
    GSLB_DUMP_BACKENDS = 1 << 3,
    GSLB_DUMP_AGENTS = 1 << 4,
    GSLB_DUMP_DNSSEC_KEYS = 1 << 5,
    GSLB_DUMP_OVERRIDES = 1 << 6,
    GSLB_DUMP_AUDIT = 1 << 7,
    GSLB_DUMP_ANSWERS = 1 << 8,
    GSLB_DUMP_DEFAULT_TABLES = (1 << 8) - 1, /* everything but answers */
};

typedef struct gslb_dump_opts {
    const char *data_dir;
    unsigned tables; /* enum gslb_dump_table bits; 0 = GSLB_DUMP_DEFAULT_TABLES */
    bool json;
    bool secrets;
} gslb_dump_opts_t;

/** Table name ("backends", ...) to its bit; 0 when unknown. */
unsigned gslb_dump_table_parse(const char *name);

/** Dump the selected tables to out. Returns an enum gslb_dump_exit value. */
int gslb_dump_run(const gslb_dump_opts_t *opts, FILE *out, FILE *err);
