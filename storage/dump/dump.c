/*
 * dump.c - gslb-dump's engine (dump.h). Every table is collected as rows of
 * named cells; the same rows become aligned text columns or JSON objects.
 */
#include "dump.h"
#include "answers.h"
#include "cursor.h"
#include "dnsdef.h"
#include "env.h"
#include "gslb_time.h"
#include "reclayout.h"
#include "store.h"

#include <arpa/inet.h>
#include <endian.h>
#include <jansson.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

/* ---- rows and tables -------------------------------------------------------- */

typedef struct cell {
    char *name;
    char *text;
    bool detail; /* text mode: printed on its own line under the row */
} cell_t;

typedef struct row {
    cell_t *cells;
    size_t n, cap;
    bool bad; /* undecodable: cells[0] = key, cells[1] = reason */
} row_t;

typedef struct table {
    const char *name;
    row_t *rows;
    size_t n, cap;
    bool vertical; /* text: "name: value" lines (meta) */
} table_t;

typedef struct dump {
    const gslb_dump_opts_t *opts;
    gslb_env_t env;
    MDB_txn *txn;
    FILE *out, *err;
    json_t *root;  /* JSON document */
    json_t *jrows; /* the current table's JSON array (or object for meta) */
    json_t *jrow;  /* the current row's JSON object */
    table_t tab;   /* the current table (text) */
    int undecodable;
    bool oom;
    int64_t now;
    const uint8_t *map_lo, *map_hi; /* the snapshot's pages inside the memory map */
    gslb_raw_cb row;                /* the current table's row printer */
} dump_t;

static char *xstrdup(dump_t *d, const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        d->oom = true;
    return p;
}

static row_t *cur_row(dump_t *d)
{
    return d->tab.n ? &d->tab.rows[d->tab.n - 1] : NULL;
}

static void row_begin(dump_t *d)
{
    if (d->tab.n == d->tab.cap) {
        size_t ncap = d->tab.cap ? d->tab.cap * 2 : 16;
        row_t *r = realloc(d->tab.rows, ncap * sizeof(*r));
        if (!r) {
            d->oom = true;
            return;
        }
        d->tab.rows = r;
        d->tab.cap = ncap;
    }
    memset(&d->tab.rows[d->tab.n++], 0, sizeof(row_t));
    d->jrow = json_object();
}

static void row_end(dump_t *d)
{
    if (!d->jrow)
        return;
    if (json_is_array(d->jrows)) {
        json_array_append_new(d->jrows, d->jrow);
    } else {
        json_object_update(d->jrows, d->jrow);
        json_decref(d->jrow);
    }
    d->jrow = NULL;
}

/* Adds a cell: text for people, jv (stolen reference) for JSON. */
static void cell_add(dump_t *d, const char *name, const char *text, json_t *jv, bool detail)
{
    row_t *r = cur_row(d);
    if (d->jrow && jv)
        json_object_set_new(d->jrow, name, jv);
    else if (jv)
        json_decref(jv);
    if (!r)
        return;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        cell_t *c = realloc(r->cells, ncap * sizeof(*c));
        if (!c) {
            d->oom = true;
            return;
        }
        r->cells = c;
        r->cap = ncap;
    }
    r->cells[r->n++] = (cell_t){xstrdup(d, name), xstrdup(d, text), detail};
}

static void col_str(dump_t *d, const char *name, const char *s)
{
    cell_add(d, name, s && *s ? s : "-", json_string(s ? s : ""), false);
}

static void col_int(dump_t *d, const char *name, long long v)
{
    char t[32];
    snprintf(t, sizeof(t), "%lld", v);
    cell_add(d, name, t, json_integer(v), false);
}

static void col_bool(dump_t *d, const char *name, bool v)
{
    cell_add(d, name, v ? "yes" : "no", json_boolean(v), false);
}

static void format_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !gmtime_r(&tt, &tm))
        snprintf(buf, len, "never");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void col_time(dump_t *d, const char *name, int64_t t)
{
    char buf[40];
    format_time(t, buf, sizeof(buf));
    cell_add(d, name, buf, json_integer(t), false);
}

static void format_age(int64_t secs, char *buf, size_t len)
{
    if (secs < 0)
        snprintf(buf, len, "in the future");
    else if (secs < 120)
        snprintf(buf, len, "%llds ago", (long long)secs);
    else if (secs < 7200)
        snprintf(buf, len, "%lldm%llds ago", (long long)secs / 60, (long long)secs % 60);
    else if (secs < 172800)
        snprintf(buf, len, "%lldh%lldm ago", (long long)secs / 3600, (long long)secs % 3600 / 60);
    else
        snprintf(buf, len, "%lldd ago", (long long)secs / 86400);
}

/* A unix time shown by its age: text "12s ago"/"never"; JSON the time itself
 * (null for never) plus "<name>_age_s". */
static void col_age(dump_t *d, const char *name, int64_t t)
{
    char buf[40], agekey[64];
    snprintf(agekey, sizeof(agekey), "%s_age_s", name);
    if (t <= 0) {
        cell_add(d, name, "never", json_null(), false);
        if (d->jrow)
            json_object_set_new(d->jrow, agekey, json_null());
        return;
    }
    format_age(d->now - t, buf, sizeof(buf));
    cell_add(d, name, buf, json_integer(t), false);
    if (d->jrow)
        json_object_set_new(d->jrow, agekey, json_integer(d->now - t));
}

static void col_addr(dump_t *d, const char *name, const gslb_addr_t *a)
{
    char buf[64];
    gslb_addr_format(a, buf, sizeof(buf));
    cell_add(d, name, buf, a->family ? json_string(buf) : json_null(), false);
}

static void detail(dump_t *d, const char *name, const char *text, json_t *jv)
{
    cell_add(d, name, text, jv, true);
}

/* Renders bytes for people: printable ASCII as is, the rest as \xNN. */
static void escape_bytes(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        if (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
    }
    out[o] = '\0';
}

/* LMDB trusts its pages: in a damaged file a key or value can point outside
 * the data. Everything the dump decodes is first checked to lie in the map. */
static bool in_map(const dump_t *d, const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    if (!d->map_lo)
        return true; /* bounds unknown */
    return p && p >= d->map_lo && p <= d->map_hi && v->mv_size <= (size_t)(d->map_hi - p);
}

/* The address range of data.mdb's mapping, from /proc/self/maps (LMDB does not
 * export its map address). Without /proc nothing is range-checked. */
static void record_map_bounds(dump_t *d)
{
    char file[4200], line[4600];
    struct stat st;
    d->map_lo = d->map_hi = NULL;
    snprintf(file, sizeof(file), "%s/data.mdb", d->env.path);
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps || stat(file, &st) != 0) {
        if (maps)
            fclose(maps);
        return;
    }
    while (fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi, off, inode;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &inode) != 6)
            continue;
        if (inode != (unsigned long)st.st_ino || maj != major(st.st_dev) ||
            min != minor(st.st_dev) || off != 0)
            continue;
        /* bytes past the end of the file are mapped but not readable */
        unsigned long end = lo + (unsigned long)st.st_size;
        d->map_lo = (const uint8_t *)lo;
        d->map_hi = (const uint8_t *)(end < hi ? end : hi);
        break;
    }
    fclose(maps);
}

static void row_bad(dump_t *d, const MDB_val *k, int rc)
{
    char key[600], reason[128];
    if (in_map(d, k))
        escape_bytes(k->mv_data, k->mv_size, key, sizeof(key));
    else
        snprintf(key, sizeof(key), "<damaged key>");
    snprintf(reason, sizeof(reason), "<undecodable: %s>", gslb_strerror(rc));
    row_begin(d);
    row_t *r = cur_row(d);
    if (r)
        r->bad = true;
    cell_add(d, "key", key, json_string(key), false);
    cell_add(d, "error", reason, json_string(reason), false);
    row_end(d);
    d->undecodable++;
}

/* ---- text output ----------------------------------------------------------------- */

static void free_table(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t j = 0; j < t->rows[i].n; j++) {
            free(t->rows[i].cells[j].name);
            free(t->rows[i].cells[j].text);
        }
        free(t->rows[i].cells);
    }
    free(t->rows);
    memset(t, 0, sizeof(*t));
}

static void upper(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 32) : in[i];
    out[i] = '\0';
}

static const row_t *first_good_row(const table_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->rows[i].bad)
            return &t->rows[i];
    return NULL;
}

static void print_vertical(FILE *out, const table_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->rows[i].n; j++)
            fprintf(out, "  %-14s %s\n", t->rows[i].cells[j].name, t->rows[i].cells[j].text);
}

static void print_columns(FILE *out, const table_t *t)
{
    const row_t *proto = first_good_row(t);
    size_t ncol = 0, width[64] = {0};
    char head[64];
    for (size_t j = 0; proto && j < proto->n && ncol < 64; j++)
        if (!proto->cells[j].detail)
            width[ncol++] = strlen(proto->cells[j].name);
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0, c = 0; !t->rows[i].bad && j < t->rows[i].n && c < ncol; j++)
            if (!t->rows[i].cells[j].detail) {
                size_t l = strlen(t->rows[i].cells[j].text);
                width[c] = l > width[c] ? l : width[c];
                c++;
            }
    if (proto) {
        fputs(" ", out);
        for (size_t j = 0, c = 0; j < proto->n && c < ncol; j++)
            if (!proto->cells[j].detail) {
                upper(proto->cells[j].name, head, sizeof(head));
                fprintf(out, " %-*s", c + 1 < ncol ? (int)width[c] : 0, head);
                c++;
            }
        fputs("\n", out);
    }
    for (size_t i = 0; i < t->n; i++) {
        const row_t *r = &t->rows[i];
        if (r->bad) {
            fprintf(out, "  %s  %s\n", r->cells[0].text, r->n > 1 ? r->cells[1].text : "");
            continue;
        }
        fputs(" ", out);
        for (size_t j = 0, c = 0; j < r->n && c < ncol; j++)
            if (!r->cells[j].detail) {
                fprintf(out, " %-*s", c + 1 < ncol ? (int)width[c] : 0, r->cells[j].text);
                c++;
            }
        fputs("\n", out);
        for (size_t j = 0; j < r->n; j++)
            if (r->cells[j].detail)
                fprintf(out, "      %s: %s\n", r->cells[j].name, r->cells[j].text);
    }
}

static void table_begin(dump_t *d, const char *name, bool vertical)
{
    free_table(&d->tab);
    d->tab.name = name;
    d->tab.vertical = vertical;
    d->jrows = vertical ? json_object() : json_array();
    json_object_set_new(d->root, name, d->jrows);
}

static void table_end(dump_t *d)
{
    if (!d->opts->json) {
        if (d->tab.vertical)
            fprintf(d->out, "%s\n", d->tab.name);
        else
            fprintf(d->out, "%s (%zu)\n", d->tab.name, d->tab.n);
        if (d->tab.n == 0)
            fputs("  (none)\n", d->out);
        else if (d->tab.vertical)
            print_vertical(d->out, &d->tab);
        else
            print_columns(d->out, &d->tab);
        fputs("\n", d->out);
    }
    free_table(&d->tab);
}

/* ---- tables ------------------------------------------------------------------------ */

/* ---- records, driven by their layouts (reclayout.h) ----------------------------- */

static void col_time_ms(dump_t *d, const char *name, int64_t time_ms)
{
    char t[48], ms[64];
    format_time(time_ms / 1000, t, sizeof(t));
    if (time_ms > 0 && strlen(t) > 1) {
        t[strlen(t) - 1] = '\0'; /* drop the Z to insert milliseconds */
        snprintf(ms, sizeof(ms), "%s.%03lldZ", t, (long long)(time_ms % 1000));
    } else {
        snprintf(ms, sizeof(ms), "%s", t);
    }
    cell_add(d, name, ms, json_integer(time_ms), false);
}

static const void *member(const void *rec, const gslb_rec_field_t *f, size_t i)
{
    return (const uint8_t *)rec + f->offset + i * f->stride;
}

static long long int_of(const gslb_rec_field_t *f, const void *m)
{
    uint16_t u16;
    uint32_t u32;
    int64_t i64;
    switch (f->type) {
    case GSLB_F_U16:
        memcpy(&u16, m, sizeof(u16));
        return u16;
    case GSLB_F_U32:
        memcpy(&u32, m, sizeof(u32));
        return u32;
    case GSLB_F_U64:
    case GSLB_F_I64:
        memcpy(&i64, m, sizeof(i64));
        return i64;
    default:
        return *(const uint8_t *)m;
    }
}

static void col_number(dump_t *d, const gslb_rec_field_t *f, const void *m)
{
    long long v = int_of(f, m);
    switch (f->show) {
    case GSLB_SHOW_TIME:
        col_time(d, f->name, v);
        break;
    case GSLB_SHOW_AGE:
        col_age(d, f->name, v);
        break;
    case GSLB_SHOW_TIME_MS:
        col_time_ms(d, f->name, v);
        break;
    default:
        col_int(d, f->name, v);
    }
}

/* Text and JSON of one element of a LIST: "first (rest...)" and either the
 * first value (one field) or an object of the non-empty values. */
static json_t *list_elem(const gslb_rec_field_t *l, const void *rec, size_t i, char *text,
                         size_t cap)
{
    json_t *obj = l->nelem > 1 ? json_object() : NULL, *first = NULL;
    size_t o = 0, extra = 0;
    text[0] = '\0';
    for (size_t k = 0; k < l->nelem; k++) {
        const gslb_rec_field_t *e = &l->elem[k];
        const void *m = member(rec, e, i);
        char v[GSLB_NAME_MAX + 64];
        if (e->type == GSLB_F_ADDR) {
            if (!((const gslb_addr_t *)m)->family)
                continue;
            gslb_addr_format(m, v, sizeof(v));
        } else {
            snprintf(v, sizeof(v), "%s", (const char *)m);
        }
        if (obj)
            json_object_set_new(obj, e->name, json_string(v));
        else
            first = json_string(v);
        if (o < cap)
            o += (size_t)snprintf(text + o, cap - o, "%s%s", k == 0 ? "" : extra++ ? " " : " (", v);
    }
    if (extra && o < cap)
        snprintf(text + o, cap - o, ")");
    return obj ? obj : first;
}

static void col_list(dump_t *d, const gslb_rec_field_t *f, const void *rec)
{
    uint8_t count = *(const uint8_t *)member(rec, f, 0);
    char text[4096] = "", elem[1024];
    size_t o = 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++) {
        json_array_append_new(arr, list_elem(f, rec, i, elem, sizeof(elem)));
        if (o < sizeof(text))
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i ? f->sep : "", elem);
    }
    cell_add(d, f->name, text[0] ? text : "-", arr, false);
}

static void col_field(dump_t *d, const gslb_rec_field_t *f, const void *rec)
{
    const void *m = member(rec, f, 0);
    switch (f->type) {
    case GSLB_F_STR:
        col_str(d, f->name, m);
        break;
    case GSLB_F_ENUM: {
        uint8_t v = *(const uint8_t *)m;
        col_str(d, f->name, v >= f->lo && v <= f->hi ? f->names[v] : "?");
        break;
    }
    case GSLB_F_BIT:
        col_bool(d, f->name, *(const bool *)m);
        break;
    case GSLB_F_ADDR:
        col_addr(d, f->name, m);
        break;
    case GSLB_F_LIST:
        col_list(d, f, rec);
        break;
    case GSLB_F_BLOB:
        break; /* key material: shown by the record's own details */
    default:
        col_number(d, f, m);
    }
}

/* The text of value v of the ENUM field called name in l ("?" when unknown). */
static const char *enum_name(const gslb_rec_layout_t *l, const char *name, uint8_t v)
{
    for (size_t k = 0; k < l->nfields; k++) {
        const gslb_rec_field_t *f = &l->fields[k];
        if (f->type == GSLB_F_ENUM && strcmp(f->name, name) == 0)
            return v >= f->lo && v <= f->hi ? f->names[v] : "?";
    }
    return "?";
}

/* A column gslb-dump computes instead of reading it from a field. */
typedef struct computed {
    unsigned col;
    void (*show)(dump_t *d, const void *rec, const void *aux);
} computed_t;

/* The columns of a record in order: fields by their `col`, computed ones in
 * the gaps; stops at the first number that is neither. */
static void record_columns(dump_t *d, const gslb_rec_layout_t *l, const void *rec,
                           const computed_t *extra, size_t nextra, const void *aux)
{
    for (unsigned col = 1;; col++) {
        const gslb_rec_field_t *f = gslb_rec_field_at_col(l, col);
        const computed_t *c = NULL;
        for (size_t i = 0; !f && !c && i < nextra; i++)
            if (extra[i].col == col)
                c = &extra[i];
        if (f)
            col_field(d, f, rec);
        else if (c)
            c->show(d, rec, aux);
        else
            return;
    }
}

/* Any record: the values as decoded into one of these. */
typedef union any_rec {
    gslb_meta_rec_t meta;
    gslb_zone_rec_t zone;
    gslb_domain_rec_t domain;
    gslb_backend_rec_t backend;
    gslb_agent_rec_t agent;
    gslb_dnskey_rec_t dnskey;
    gslb_override_rec_t override;
    gslb_audit_rec_t audit;
} any_rec_t;

/* Decodes v by l into rec; an undecodable value becomes a bad row. */
static bool record_decode(dump_t *d, const gslb_rec_layout_t *l, const MDB_val *k, const MDB_val *v,
                          any_rec_t *rec)
{
    int rc = gslb_rec_decode(l, v->mv_data, v->mv_size, rec);
    if (rc)
        row_bad(d, k, rc);
    return rc == GSLB_OK;
}

/* A table row with nothing but the layout's columns. */
static int plain_row(dump_t *d, const gslb_rec_layout_t *l, const MDB_val *k, const MDB_val *v)
{
    any_rec_t rec;
    if (record_decode(d, l, k, v, &rec)) {
        row_begin(d);
        record_columns(d, l, &rec, NULL, 0, NULL);
        row_end(d);
    }
    return 0;
}

static int zone_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    return plain_row(ctx, &gslb_zone_layout, k, v);
}

static int domain_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    return plain_row(ctx, &gslb_domain_layout, k, v);
}

static int agent_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    return plain_row(ctx, &gslb_agent_layout, k, v);
}

static int override_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    return plain_row(ctx, &gslb_override_layout, k, v);
}

static int audit_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    return plain_row(ctx, &gslb_audit_layout, k, v);
}

/* The override of a backend, read with the same bounds check as the rows. */
static bool get_override(dump_t *d, const gslb_backend_rec_t *b, gslb_override_rec_t *ov)
{
    uint8_t key[GSLB_BACKEND_KEY_MAX];
    int klen = gslb_store_override_key(b->domain, &b->addr, key, sizeof(key));
    if (klen < 0)
        return false;
    MDB_val k = {(size_t)klen, key}, v;
    return mdb_get(d->txn, d->env.dbi[GSLB_DBI_OVERRIDES], &k, &v) == 0 && in_map(d, &v) &&
           gslb_override_decode(v.mv_data, v.mv_size, ov) == GSLB_OK;
}

static void col_status(dump_t *d, const void *rec, const void *ov)
{
    col_str(d, "status", gslb_backend_status_name(rec, ov));
}

static void col_servable(dump_t *d, const void *rec, const void *ov)
{
    col_bool(d, "servable", gslb_backend_servable(rec, ov));
}

/* Backends: the effective status, from the record and its override. */
static const computed_t BACKEND_COMPUTED[] = {{4, col_status}, {5, col_servable}};

static int backend_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    dump_t *d = ctx;
    any_rec_t rec;
    gslb_override_rec_t ov;
    if (!record_decode(d, &gslb_backend_layout, k, v, &rec))
        return 0;
    bool has_ov = get_override(d, &rec.backend, &ov);
    row_begin(d);
    record_columns(d, &gslb_backend_layout, &rec, BACKEND_COMPUTED,
                   sizeof(BACKEND_COMPUTED) / sizeof(BACKEND_COMPUTED[0]), has_ov ? &ov : NULL);
    row_end(d);
    return 0;
}

static char *base64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* The DNSKEY RR of k built with ldns; NULL on failure. */
static ldns_rr *dnskey_rr(const gslb_dnskey_rec_t *k)
{
    ldns_rr *rr = ldns_rr_new();
    ldns_rdf *owner = ldns_dname_new_frm_str(k->zone[0] ? k->zone : ".");
    if (!rr || !owner) {
        ldns_rr_free(rr);
        ldns_rdf_deep_free(owner);
        return NULL;
    }
    ldns_rr_set_owner(rr, owner);
    ldns_rr_set_type(rr, LDNS_RR_TYPE_DNSKEY);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, 3600);
    ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, k->flags));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, 3));
    ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_ALG, k->algorithm));
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_B64, k->pub_len, k->pub));
    return rr;
}

/* "tag alg 2 DIGEST" of the SHA-256 DS, into buf; false when ldns fails. */
static bool ds_text(const gslb_dnskey_rec_t *k, char *buf, size_t cap, uint16_t *calc_tag)
{
    ldns_rr *key = dnskey_rr(k);
    ldns_rr *ds = key && k->pub_len ? ldns_key_rr2ds(key, LDNS_SHA256) : NULL;
    bool ok = false;
    if (key)
        *calc_tag = ldns_calc_keytag(key);
    if (ds && ldns_rr_rd_count(ds) == 4) {
        char *digest = ldns_rdf2str(ldns_rr_rdf(ds, 3));
        if (digest) {
            snprintf(buf, cap, "%u %u 2 %s", ldns_rdf2native_int16(ldns_rr_rdf(ds, 0)),
                     k->algorithm, digest);
            ok = true;
        }
        free(digest);
    }
    ldns_rr_free(ds);
    ldns_rr_free(key);
    return ok;
}

/* The key material of a DNSSEC key, under its row: a tag check, the public
 * key, the DS, and the private key only with --secrets. */
static void dnskey_details(dump_t *d, const gslb_dnskey_rec_t *key)
{
    char ds[256], line[600];
    uint16_t calc_tag = 0;
    bool have_ds = ds_text(key, ds, sizeof(ds), &calc_tag);
    if (calc_tag != key->key_tag)
        detail(d, "warning", "stored key tag does not match the public key",
               json_string("stored key tag does not match the public key"));
    char *pub = base64(key->pub, key->pub_len);
    detail(d, "public_key", pub ? pub : "-", json_string(pub ? pub : ""));
    free(pub);
    if (have_ds) {
        snprintf(line, sizeof(line), "%s. IN DS %s", key->zone, ds);
        detail(d, "ds", line, json_string(ds));
    } else {
        detail(d, "ds", "-", json_null());
    }
    if (d->opts->secrets) {
        char *priv = base64(key->priv_der, key->priv_len);
        detail(d, "private_key", priv ? priv : "-", json_string(priv ? priv : ""));
        if (priv)
            explicit_bzero(priv, strlen(priv));
        free(priv);
    } else {
        detail(d, "private_key", key->priv_len ? "(hidden; --secrets shows it)" : "(none)", NULL);
        if (d->jrow)
            json_object_set_new(d->jrow, "private_key_present", json_boolean(key->priv_len > 0));
    }
}

static int dnskey_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    dump_t *d = ctx;
    any_rec_t rec;
    if (!record_decode(d, &gslb_dnskey_layout, k, v, &rec))
        return 0;
    row_begin(d);
    record_columns(d, &gslb_dnskey_layout, &rec, NULL, 0, NULL);
    dnskey_details(d, &rec.dnskey);
    explicit_bzero(&rec, sizeof(rec));
    row_end(d);
    return 0;
}

/* The key sync's record (only when a round ever succeeded). */
static void dump_keysync_meta(dump_t *d)
{
    gslb_keysync_meta_rec_t ks;
    MDB_val k = {strlen(GSLB_META_KEYSYNC_KEY), GSLB_META_KEYSYNC_KEY}, v;
    if (mdb_get(d->txn, d->env.dbi[GSLB_DBI_META], &k, &v) != 0)
        return;
    if (in_map(d, &v) && gslb_keysync_meta_decode(v.mv_data, v.mv_size, &ks) == GSLB_OK) {
        record_columns(d, &gslb_keysync_meta_layout, &ks, NULL, 0, NULL);
    } else {
        col_str(d, "dnssec_last_sync", "<undecodable>");
        d->undecodable++;
    }
}

static void dump_meta(dump_t *d)
{
    gslb_meta_rec_t m;
    MDB_envinfo info;
    MDB_stat st;
    table_begin(d, "meta", true);
    row_begin(d);
    col_str(d, "data_dir", d->env.path);
    MDB_val k = {strlen(GSLB_META_KEY), GSLB_META_KEY}, v;
    int rc = mdb_get(d->txn, d->env.dbi[GSLB_DBI_META], &k, &v);
    rc = rc              ? gslb_env_map_err(&d->env, rc, "read schema record")
         : in_map(d, &v) ? gslb_meta_decode(v.mv_data, v.mv_size, &m)
                         : GSLB_ECORRUPT;
    if (rc == GSLB_OK) {
        record_columns(d, &gslb_meta_layout, &m, NULL, 0, NULL);
        dump_keysync_meta(d);
    } else {
        char reason[96];
        snprintf(reason, sizeof(reason), "<undecodable: %s>", gslb_strerror(rc));
        col_str(d, "schema", reason);
        d->undecodable++;
    }
    if (mdb_env_info(d->env.env, &info) == 0 && mdb_env_stat(d->env.env, &st) == 0) {
        col_int(d, "map_size", (long long)info.me_mapsize);
        col_int(d, "used_bytes", (long long)(((uint64_t)info.me_last_pgno + 1) * st.ms_psize));
        col_int(d, "last_txnid", (long long)info.me_last_txnid);
        col_int(d, "max_readers", info.me_maxreaders);
        col_int(d, "readers_used", info.me_numreaders);
    }
    row_end(d);
    table_end(d);
}

/* ---- answers --------------------------------------------------------------------- */

static const char *qtype_name(uint16_t t, char *buf, size_t cap)
{
    switch (t) {
    case GSLB_ANS_NODE:
        return "NODE";
    case GSLB_ANS_SIGNING_KEYS:
        return "SIGNING_KEYS";
    case 1:
        return "A";
    case 2:
        return "NS";
    case 6:
        return "SOA";
    case 28:
        return "AAAA";
    default:
        snprintf(buf, cap, "TYPE%u", t);
        return buf;
    }
}

/* Length of the wire name at p (at most max bytes), or 0 when malformed. */
static size_t wire_len(const uint8_t *p, size_t max)
{
    size_t pos = 0;
    while (pos < max && p[pos] != 0) {
        if (p[pos] > 63)
            return 0;
        pos += 1u + p[pos];
    }
    return pos < max ? pos + 1 : 0;
}

static void rdata_text(uint16_t qtype, const uint8_t *rd, size_t len, char *out, size_t cap)
{
    char n1[GSLB_NAME_MAX], n2[GSLB_NAME_MAX];
    size_t l1, l2;
    snprintf(out, cap, "<%zu bytes>", len);
    if ((qtype == 1 && len == 4) || (qtype == 28 && len == 16)) {
        inet_ntop(qtype == 1 ? AF_INET : AF_INET6, rd, out, (socklen_t)cap);
    } else if (qtype == 2 && wire_len(rd, len) == len &&
               gslb_ans_wire_to_text(rd, len, n1, sizeof(n1)) >= 0) {
        snprintf(out, cap, "%s.", n1);
    } else if (qtype == 6 && (l1 = wire_len(rd, len)) && (l2 = wire_len(rd + l1, len - l1)) &&
               l1 + l2 + GSLB_SOA_FIXED_LEN == len &&
               gslb_ans_wire_to_text(rd, l1, n1, sizeof(n1)) >= 0 &&
               gslb_ans_wire_to_text(rd + l1, l2, n2, sizeof(n2)) >= 0) {
        const uint8_t *p = rd + l1 + l2;
        uint32_t f[5];
        for (int i = 0; i < 5; i++)
            f[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                   (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        snprintf(out, cap, "%s. %s. %u %u %u %u %u", n1, n2, f[0], f[1], f[2], f[3], f[4]);
    }
}

static void answer_node(dump_t *d, const uint8_t *val)
{
    gslb_ans_node_t n;
    char flags[64] = "";
    memcpy(&n, val, sizeof(n));
    json_t *arr = json_array();
    const char *names[] = {"apex", "domain", "ent", "host"};
    for (int i = 0; i < 4; i++)
        if (n.flags & (1 << i)) {
            strcat(flags, flags[0] ? "," : "");
            strcat(flags, names[i]);
            json_array_append_new(arr, json_string(names[i]));
        }
    col_str(d, "kind", "node");
    cell_add(d, "info", flags, arr, false);
    if (d->jrow)
        json_object_set_new(d->jrow, "zone_offset", json_integer(n.zone_offset));
}

static void answer_static(dump_t *d, uint16_t qtype, const uint8_t *val)
{
    gslb_ans_static_t h;
    char info[96], rd[600];
    memcpy(&h, val, sizeof(h));
    snprintf(info, sizeof(info), "ttl=%u count=%u neg_ttl=%u", le32toh(h.ttl), le16toh(h.count),
             le32toh(h.neg_ttl));
    col_str(d, "kind", "static");
    cell_add(d, "info", info, NULL, false);
    if (d->jrow) {
        json_object_set_new(d->jrow, "ttl", json_integer(le32toh(h.ttl)));
        json_object_set_new(d->jrow, "neg_ttl", json_integer(le32toh(h.neg_ttl)));
    }
    json_t *arr = json_array();
    const uint8_t *p = val + sizeof(h);
    for (unsigned i = 0; i < le16toh(h.count); i++) {
        uint16_t len = gslb_get_le16(p);
        rdata_text(qtype, p + 2, len, rd, sizeof(rd));
        json_array_append_new(arr, json_string(rd));
        detail(d, "rdata", rd, NULL);
        p += 2 + len;
    }
    if (d->jrow)
        json_object_set_new(d->jrow, "rdata", arr);
    else
        json_decref(arr);
}

static void answer_set(dump_t *d, uint16_t qtype, const uint8_t *val)
{
    gslb_ans_set_t h;
    char info[160], line[160], addr[64];
    memcpy(&h, val, sizeof(h));
    snprintf(info, sizeof(info), "policy=%s ttl=%u healthy=%u/%u max=%u unhealthy=%s gen=%u",
             enum_name(&gslb_domain_layout, "policy", h.policy), le32toh(h.ttl),
             le16toh(h.healthy_count), le16toh(h.count), le16toh(h.max_records),
             enum_name(&gslb_domain_layout, "unhealthy", h.unhealthy_mode), le32toh(h.generation));
    col_str(d, "kind", "gslb");
    cell_add(d, "info", info, NULL, false);
    if (d->jrow) {
        json_object_set_new(d->jrow, "policy",
                            json_string(enum_name(&gslb_domain_layout, "policy", h.policy)));
        json_object_set_new(d->jrow, "ttl", json_integer(le32toh(h.ttl)));
        json_object_set_new(d->jrow, "healthy_count", json_integer(le16toh(h.healthy_count)));
        json_object_set_new(d->jrow, "max_records", json_integer(le16toh(h.max_records)));
        json_object_set_new(
            d->jrow, "unhealthy",
            json_string(enum_name(&gslb_domain_layout, "unhealthy", h.unhealthy_mode)));
        json_object_set_new(d->jrow, "generation", json_integer(le32toh(h.generation)));
    }
    json_t *arr = json_array();
    for (unsigned i = 0; i < le16toh(h.count); i++) {
        gslb_ans_cand_t c;
        memcpy(&c, val + sizeof(h) + i * sizeof(c), sizeof(c));
        inet_ntop(qtype == 1 ? AF_INET : AF_INET6, c.addr, addr, sizeof(addr));
        snprintf(line, sizeof(line), "%s weight=%u priority=%u latency_us=%u%s%s%s", addr,
                 le32toh(c.weight), c.priority, le32toh(c.latency_us),
                 (c.flags & GSLB_CAND_HEALTHY) ? " healthy" : "",
                 (c.flags & GSLB_CAND_LAST_HEALTHY) ? " last_healthy" : "",
                 (c.flags & GSLB_CAND_OPERATOR_DOWN) ? " operator_down" : "");
        detail(d, "candidate", line, NULL);
        json_t *o = json_object();
        json_object_set_new(o, "address", json_string(addr));
        json_object_set_new(o, "weight", json_integer(le32toh(c.weight)));
        json_object_set_new(o, "priority", json_integer(c.priority));
        json_object_set_new(o, "latency_us", json_integer(le32toh(c.latency_us)));
        json_object_set_new(o, "healthy", json_boolean(c.flags & GSLB_CAND_HEALTHY));
        json_object_set_new(o, "last_healthy", json_boolean(c.flags & GSLB_CAND_LAST_HEALTHY));
        json_object_set_new(o, "operator_down", json_boolean(c.flags & GSLB_CAND_OPERATOR_DOWN));
        json_array_append_new(arr, o);
    }
    if (d->jrow)
        json_object_set_new(d->jrow, "candidates", arr);
    else
        json_decref(arr);
}

/* A private key: shown only with --secrets (as in dnssec_keys). */
static void private_key_cell(dump_t *d, json_t *o, const uint8_t *der, size_t len)
{
    if (d->opts->secrets) {
        char *priv = base64(der, len);
        detail(d, "private_key", priv ? priv : "-", NULL);
        json_object_set_new(o, "private_key", json_string(priv ? priv : ""));
        if (priv)
            explicit_bzero(priv, strlen(priv));
        free(priv);
    } else {
        detail(d, "private_key", len ? "(hidden; --secrets shows it)" : "(none)", NULL);
        json_object_set_new(o, "private_key_present", json_boolean(len > 0));
    }
}

/* The zone's compiled signing keys (answers.h GSLB_ANS_SIGNING_KEYS). */
static void answer_keys(dump_t *d, const MDB_val *v)
{
    gslb_ans_keys_t h;
    char info[32], line[128];
    memcpy(&h, v->mv_data, sizeof(h));
    snprintf(info, sizeof(info), "count=%u", le16toh(h.count));
    col_str(d, "kind", "signing_keys");
    cell_add(d, "info", info, NULL, false);
    json_t *arr = json_array();
    size_t pos = 0;
    gslb_ans_key_view_t k;
    while (gslb_ans_keys_next(v, &pos, &k)) {
        snprintf(line, sizeof(line), "key_tag=%u algorithm=%u flags=%u role=%s", k.key_tag,
                 k.algorithm, k.flags, gslb_key_role_name(k.role));
        detail(d, "key", line, NULL);
        json_t *o = json_object();
        json_object_set_new(o, "key_tag", json_integer(k.key_tag));
        json_object_set_new(o, "algorithm", json_integer(k.algorithm));
        json_object_set_new(o, "flags", json_integer(k.flags));
        json_object_set_new(o, "role", json_string(gslb_key_role_name(k.role)));
        char *pub = base64(k.pub, k.pub_len);
        detail(d, "public_key", pub ? pub : "-", NULL);
        json_object_set_new(o, "public_key", json_string(pub ? pub : ""));
        free(pub);
        private_key_cell(d, o, k.priv, k.priv_len);
        json_array_append_new(arr, o);
    }
    if (d->jrow)
        json_object_set_new(d->jrow, "keys", arr);
    else
        json_decref(arr);
}

static int answer_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    dump_t *d = ctx;
    char name[GSLB_NAME_MAX], tbuf[16];
    int kind = gslb_ans_check(v->mv_data, v->mv_size);
    if (k->mv_size < 3 || gslb_ans_wire_to_text(k->mv_data, k->mv_size - 2, name, sizeof(name)) < 0)
        kind = GSLB_ECORRUPT;
    if (kind < 0) {
        row_bad(d, k, kind);
        return 0;
    }
    const uint8_t *kp = k->mv_data;
    uint16_t qtype = (uint16_t)(kp[k->mv_size - 2] << 8 | kp[k->mv_size - 1]);
    row_begin(d);
    col_str(d, "name", name[0] ? name : ".");
    col_str(d, "qtype", qtype_name(qtype, tbuf, sizeof(tbuf)));
    if (kind == GSLB_ANS_KIND_NODE)
        answer_node(d, v->mv_data);
    else if (kind == GSLB_ANS_KIND_STATIC)
        answer_static(d, qtype, v->mv_data);
    else if (kind == GSLB_ANS_KIND_KEYS)
        answer_keys(d, v);
    else if (kind == GSLB_ANS_KIND_GSLB)
        answer_set(d, qtype, v->mv_data);
    row_end(d);
    return 0;
}

/* ---- driver ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned bit;
    enum gslb_dbi dbi;
    gslb_raw_cb row;
} tables[] = {
    {"meta", GSLB_DUMP_META, GSLB_DBI_META, NULL},
    {"zones", GSLB_DUMP_ZONES, GSLB_DBI_ZONES, zone_row},
    {"domains", GSLB_DUMP_DOMAINS, GSLB_DBI_DOMAINS, domain_row},
    {"backends", GSLB_DUMP_BACKENDS, GSLB_DBI_BACKENDS, backend_row},
    {"agents", GSLB_DUMP_AGENTS, GSLB_DBI_AGENTS, agent_row},
    {"dnssec_keys", GSLB_DUMP_DNSSEC_KEYS, GSLB_DBI_DNSSEC_KEYS, dnskey_row},
    {"overrides", GSLB_DUMP_OVERRIDES, GSLB_DBI_OVERRIDES, override_row},
    {"audit", GSLB_DUMP_AUDIT, GSLB_DBI_AUDIT, audit_row},
    {"answers", GSLB_DUMP_ANSWERS, GSLB_DBI_ANSWERS, answer_row},
};

static int checked_row(const MDB_val *k, const MDB_val *v, void *ctx)
{
    dump_t *d = ctx;
    if (!in_map(d, k) || !in_map(d, v)) {
        row_bad(d, k, GSLB_ECORRUPT);
        return 0;
    }
    return d->row(k, v, ctx);
}

unsigned gslb_dump_table_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        if (strcmp(tables[i].name, name) == 0)
            return tables[i].bit;
    return 0;
}

static int dump_table(dump_t *d, size_t i)
{
    if (!tables[i].row) {
        dump_meta(d);
        return GSLB_OK;
    }
    table_begin(d, tables[i].name, false);
    d->row = tables[i].row;
    int rc = gslb_store_foreach_raw(&d->env, d->txn, tables[i].dbi, NULL, 0, checked_row, d);
    if (rc)
        fprintf(d->err, "gslb-dump: reading table %s failed: %s\n", tables[i].name,
                gslb_strerror(rc));
    table_end(d);
    return rc;
}

static int dump_all(dump_t *d, unsigned want)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        if ((want & tables[i].bit) && dump_table(d, i) != GSLB_OK)
            failed++;
    if (d->opts->json) {
        char *s = json_dumps(d->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            fprintf(d->out, "%s\n", s);
        else
            d->oom = true;
        free(s);
    }
    if (d->oom) {
        fprintf(d->err, "gslb-dump: out of memory\n");
        return GSLB_DUMP_ERROR;
    }
    if (failed)
        return GSLB_DUMP_ERROR;
    if (d->undecodable) {
        fprintf(d->err, "gslb-dump: %d record(s) could not be decoded\n", d->undecodable);
        return GSLB_DUMP_UNDECODABLE;
    }
    return GSLB_DUMP_OK;
}

int gslb_dump_run(const gslb_dump_opts_t *opts, FILE *out, FILE *err)
{
    dump_t d = {.opts = opts, .out = out, .err = err, .now = gslb_wall_s()};
    gslb_errbuf_t eb = {{0}};
    gslb_env_opts_t eo = {.data_dir = opts->data_dir, .readonly = true};
    int rc = gslb_env_open(&d.env, &eo, &eb);
    if (rc) {
        fprintf(err, "gslb-dump: cannot open the environment in %s: %s\n", opts->data_dir,
                eb.msg[0] ? eb.msg : gslb_strerror(rc));
        return GSLB_DUMP_ERROR;
    }
    rc = gslb_env_read_begin(&d.env, &d.txn);
    if (rc) {
        fprintf(err, "gslb-dump: cannot start a read transaction: %s\n", gslb_strerror(rc));
        gslb_env_close(&d.env);
        return GSLB_DUMP_ERROR;
    }
    record_map_bounds(&d);
    d.root = json_object();
    int code = dump_all(&d, opts->tables ? opts->tables : GSLB_DUMP_DEFAULT_TABLES);
    json_decref(d.root);
    free_table(&d.tab);
    mdb_txn_abort(d.txn);
    gslb_env_close(&d.env);
    return code;
}
