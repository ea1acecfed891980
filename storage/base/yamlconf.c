/*
 * yamlconf.c - YAML documents as position-carrying trees (libyaml event API),
 * ${VAR} expansion and the typed scalar readers of yamlconf.h.
 */
#include "yamlconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YC_MAX_EXPANDED (64u << 10)

/* ---- errors and paths ---------------------------------------------------- */

static const char *doc_name(const yc_doc_t *d)
{
    return d && d->file ? d->file : "<config>";
}

static int vformat_error(const yc_doc_t *d, unsigned line, unsigned col, const char *path,
                         gslb_errbuf_t *eb, const char *fmt, va_list ap)
{
    if (!eb)
        return GSLB_ECONFIG;
    char problem[384];
    vsnprintf(problem, sizeof(problem), fmt, ap);
    const char *p = path && *path ? path : "(document)";
    snprintf(eb->msg, sizeof(eb->msg), "%s:%u:%u: %s: %s", doc_name(d), line, col, p, problem);
    return GSLB_ECONFIG;
}

int yc_error_at(const yc_doc_t *d, unsigned line, unsigned col, const char *path, gslb_errbuf_t *eb,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vformat_error(d, line, col, path, eb, fmt, ap);
    va_end(ap);
    return rc;
}

int yc_error(const yc_doc_t *d, const yc_node_t *n, const char *path, gslb_errbuf_t *eb,
             const char *fmt, ...)
{
    unsigned line = n ? n->line : 1, col = n ? n->col : 1;
    va_list ap;
    va_start(ap, fmt);
    int rc = vformat_error(d, line, col, path, eb, fmt, ap);
    va_end(ap);
    return rc;
}

const char *yc_path_key(char *out, size_t cap, const char *base, const char *key)
{
    if (base && *base)
        snprintf(out, cap, "%s.%s", base, key);
    else
        snprintf(out, cap, "%s", key);
    return out;
}

const char *yc_path_index(char *out, size_t cap, const char *base, size_t i)
{
    snprintf(out, cap, "%s[%zu]", base ? base : "", i);
    return out;
}

static const char *type_name(const yc_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YC_MAP:
        return "a mapping";
    case YC_SEQ:
        return "a sequence";
    case YC_SCALAR:
        return yc_is_null(n) ? "null" : "a scalar";
    }
    return "an unknown node";
}

int yc_expect(const yc_doc_t *d, const yc_node_t *n, enum yc_type t, const char *path,
              gslb_errbuf_t *eb)
{
    if (n && n->type == t && !(t == YC_SCALAR && yc_is_null(n)))
        return 0;
    const char *want = t == YC_MAP ? "a mapping" : t == YC_SEQ ? "a sequence" : "a value";
    return yc_error(d, n, path, eb, "expected %s, got %s", want, type_name(n));
}

/* ---- ${VAR} expansion ---------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > YC_MAX_EXPANDED)
        return GSLB_ERANGE;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return GSLB_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static bool valid_env_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    }
    return true;
}

/* Append the value of ${NAME} starting at text (which points at '$'); *used = bytes eaten. */
static int expand_one(const char *text, struct sbuf *b, size_t *used, char *why, size_t why_cap)
{
    const char *close = strchr(text + 2, '}');
    if (!close) {
        snprintf(why, why_cap, "unterminated \"${\" (write \"$${\" for a literal \"${\")");
        return GSLB_ECONFIG;
    }
    size_t n = (size_t)(close - (text + 2));
    if (!valid_env_name(text + 2, n)) {
        snprintf(why, why_cap, "invalid environment variable name \"${%.*s}\"",
                 (int)(n > 64 ? 64 : n), text + 2);
        return GSLB_ECONFIG;
    }
    char name[256];
    if (n >= sizeof(name)) {
        snprintf(why, why_cap, "environment variable name too long");
        return GSLB_ECONFIG;
    }
    memcpy(name, text + 2, n);
    name[n] = '\0';
    const char *val = getenv(name);
    if (!val) {
        snprintf(why, why_cap, "environment variable %s is not set", name);
        return GSLB_ECONFIG;
    }
    *used = n + 3;
    if (sbuf_add(b, val, strlen(val)) != 0) {
        snprintf(why, why_cap, "value too long after expanding ${%s}", name);
        return GSLB_ECONFIG;
    }
    return 0;
}

int yc_expand_env(const char *text, char **out, char *why, size_t why_cap)
{
    struct sbuf b = {0};
    int rc = sbuf_add(&b, "", 0);
    for (size_t i = 0; rc == 0 && text[i];) {
        if (text[i] == '$' && text[i + 1] == '$' && text[i + 2] == '{') {
            rc = sbuf_add(&b, "${", 2);
            i += 3;
        } else if (text[i] == '$' && text[i + 1] == '{') {
            size_t used = 0;
            rc = expand_one(text + i, &b, &used, why, why_cap);
            i += used;
        } else {
            rc = sbuf_add(&b, text + i, 1);
            i++;
        }
    }
    if (rc != 0) {
        if (rc != GSLB_ECONFIG)
            snprintf(why, why_cap, "value too long after expansion");
        free(b.p);
        return GSLB_ECONFIG;
    }
    *out = b.p;
    return 0;
}

/* ---- tree building ------------------------------------------------------- */

typedef struct builder {
    yaml_parser_t parser;
    yc_doc_t *doc;
    gslb_errbuf_t *eb;
} builder_t;

static void node_free(yc_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->count; i++) {
        if (n->keys)
            free(n->keys[i]);
        if (n->items)
            node_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_lines);
    free(n->key_cols);
    free(n->items);
    free(n->value);
    free(n);
}

static int syntax_error(builder_t *b, const char *path)
{
    const yaml_parser_t *p = &b->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return gslb_errf(b->eb, GSLB_ENOMEM, "%s: out of memory while parsing", doc_name(b->doc));
    if (p->context)
        return yc_error_at(b->doc, (unsigned)p->problem_mark.line + 1,
                           (unsigned)p->problem_mark.column + 1, path, b->eb,
                           "YAML syntax error: %s %s", p->context, problem);
    return yc_error_at(b->doc, (unsigned)p->problem_mark.line + 1,
                       (unsigned)p->problem_mark.column + 1, path, b->eb, "YAML syntax error: %s",
                       problem);
}

static int next_event(builder_t *b, yaml_event_t *ev, const char *path)
{
    if (!yaml_parser_parse(&b->parser, ev))
        return syntax_error(b, path);
    return 0;
}

static int mark_error(builder_t *b, const yaml_mark_t *m, const char *path, const char *what)
{
    return yc_error_at(b->doc, (unsigned)m->line + 1, (unsigned)m->column + 1, path, b->eb, "%s",
                       what);
}

/* Reject anchors and tags on a node-start event. */
static int check_node_props(builder_t *b, const yaml_event_t *ev, const char *path)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_ALIAS_EVENT:
        anchor = ev->data.alias.anchor;
        break;
    default:
        break;
    }
    if (anchor)
        return mark_error(b, &ev->start_mark, path, "YAML anchors and aliases are not supported");
    if (tag)
        return mark_error(b, &ev->start_mark, path, "YAML tags are not supported");
    return 0;
}

static yc_node_t *node_new(enum yc_type t, const yaml_event_t *ev)
{
    yc_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = t;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->col = (unsigned)ev->start_mark.column + 1;
    return n;
}

static int build_node(builder_t *b, yaml_event_t *ev, const char *path, int depth, yc_node_t **out);

static int build_scalar(builder_t *b, yaml_event_t *ev, const char *path, yc_node_t **out)
{
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(text, '\0', len))
        return mark_error(b, &ev->start_mark, path, "NUL character in value");
    yc_node_t *n = node_new(YC_SCALAR, ev);
    if (!n)
        return gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    char why[256];
    if (yc_expand_env(text, &n->value, why, sizeof(why)) != 0) {
        int rc = yc_error(b->doc, n, path, b->eb, "%s", why);
        node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int grow_items(yc_node_t *n, size_t *cap, bool with_keys)
{
    if (n->count < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    yc_node_t **items = realloc(n->items, nc * sizeof(*items));
    if (!items)
        return GSLB_ENOMEM;
    n->items = items;
    if (with_keys) {
        char **keys = realloc(n->keys, nc * sizeof(*keys));
        if (!keys)
            return GSLB_ENOMEM;
        n->keys = keys;
        unsigned *kl = realloc(n->key_lines, nc * sizeof(*kl));
        if (!kl)
            return GSLB_ENOMEM;
        n->key_lines = kl;
        unsigned *kc = realloc(n->key_cols, nc * sizeof(*kc));
        if (!kc)
            return GSLB_ENOMEM;
        n->key_cols = kc;
    }
    *cap = nc;
    return 0;
}

static int build_seq(builder_t *b, yaml_event_t *start, const char *path, int depth,
                     yc_node_t **out)
{
    yc_node_t *n = node_new(YC_SEQ, start);
    if (!n)
        return gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        char ipath[512];
        yc_path_index(ipath, sizeof(ipath), path, n->count);
        yaml_event_t ev;
        rc = next_event(b, &ev, ipath);
        if (rc != 0)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (grow_items(n, &cap, false) != 0) {
            yaml_event_delete(&ev);
            rc = gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
            break;
        }
        yc_node_t *item = NULL;
        rc = build_node(b, &ev, ipath, depth + 1, &item);
        if (rc != 0)
            break;
        n->items[n->count++] = item;
    }
    if (rc != 0) {
        node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int map_add_key(builder_t *b, yc_node_t *n, yaml_event_t *kev, const char *path, size_t *cap)
{
    char kpath[512];
    if (kev->type != YAML_SCALAR_EVENT) {
        return mark_error(b, &kev->start_mark, path, "mapping keys must be plain scalars");
    }
    const char *key = (const char *)kev->data.scalar.value;
    size_t klen = kev->data.scalar.length;
    unsigned line = (unsigned)kev->start_mark.line + 1, col = (unsigned)kev->start_mark.column + 1;
    if (klen == 0 || memchr(key, '\0', klen))
        return yc_error_at(b->doc, line, col, path, b->eb, "empty or invalid mapping key");
    yc_path_key(kpath, sizeof(kpath), path, key);
    long prev = yc_index(n, key);
    if (prev >= 0)
        return yc_error_at(b->doc, line, col, kpath, b->eb,
                           "duplicate key (first defined at line %u)", n->key_lines[prev]);
    if (grow_items(n, cap, true) != 0)
        return gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
    n->keys[n->count] = strdup(key);
    if (!n->keys[n->count])
        return gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
    n->key_lines[n->count] = line;
    n->key_cols[n->count] = col;
    n->items[n->count] = NULL;
    return 0;
}

static int build_map_pair(builder_t *b, yc_node_t *n, yaml_event_t *kev, const char *path,
                          int depth, size_t *cap)
{
    int rc = check_node_props(b, kev, path);
    if (rc == 0)
        rc = map_add_key(b, n, kev, path, cap);
    yaml_event_delete(kev);
    if (rc != 0)
        return rc;
    char vpath[512];
    yc_path_key(vpath, sizeof(vpath), path, n->keys[n->count]);
    /* Count the key now so node_free() releases it if the value fails. */
    n->count++;
    yaml_event_t vev;
    rc = next_event(b, &vev, vpath);
    if (rc != 0)
        return rc;
    return build_node(b, &vev, vpath, depth + 1, &n->items[n->count - 1]);
}

static int build_map(builder_t *b, yaml_event_t *start, const char *path, int depth,
                     yc_node_t **out)
{
    yc_node_t *n = node_new(YC_MAP, start);
    if (!n)
        return gslb_errf(b->eb, GSLB_ENOMEM, "out of memory");
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        yaml_event_t kev;
        rc = next_event(b, &kev, path);
        if (rc != 0)
            break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        rc = build_map_pair(b, n, &kev, path, depth, &cap);
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* Consumes *ev. */
static int build_node(builder_t *b, yaml_event_t *ev, const char *path, int depth, yc_node_t **out)
{
    int rc = 0;
    if (depth > YC_MAX_DEPTH) {
        rc = mark_error(b, &ev->start_mark, path, "nesting too deep");
    } else if (ev->type == YAML_ALIAS_EVENT) {
        rc = mark_error(b, &ev->start_mark, path, "YAML anchors and aliases are not supported");
    } else {
        rc = check_node_props(b, ev, path);
    }
    if (rc == 0) {
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
            rc = build_scalar(b, ev, path, out);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = build_seq(b, ev, path, depth, out);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = build_map(b, ev, path, depth, out);
            break;
        default:
            rc = mark_error(b, &ev->start_mark, path, "unexpected YAML event");
            break;
        }
    }
    yaml_event_delete(ev);
    return rc;
}

/* Expect `want`; anything else is an error at its mark. */
static int expect_event(builder_t *b, yaml_event_type_t want, const char *what)
{
    yaml_event_t ev;
    int rc = next_event(b, &ev, "");
    if (rc != 0)
        return rc;
    if (ev.type != want)
        rc = mark_error(b, &ev.start_mark, "", what);
    yaml_event_delete(&ev);
    return rc;
}

static int build_document(builder_t *b)
{
    int rc = expect_event(b, YAML_STREAM_START_EVENT, "expected the start of a YAML stream");
    if (rc != 0)
        return rc;
    yaml_event_t ev;
    rc = next_event(b, &ev, "");
    if (rc != 0)
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty input: root stays NULL */
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */
    rc = next_event(b, &ev, "");
    if (rc != 0)
        return rc;
    rc = build_node(b, &ev, "", 0, &b->doc->root);
    if (rc != 0)
        return rc;
    rc = expect_event(b, YAML_DOCUMENT_END_EVENT, "expected the end of the document");
    if (rc != 0)
        return rc;
    return expect_event(b, YAML_STREAM_END_EVENT, "only one YAML document is supported");
}

int yc_load_string(const char *name, const char *text, size_t len, yc_doc_t *doc, gslb_errbuf_t *eb)
{
    memset(doc, 0, sizeof(*doc));
    doc->file = strdup(name ? name : "<string>");
    if (!doc->file)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    if (len > YC_MAX_INPUT) {
        int rc = gslb_errf(eb, GSLB_ECONFIG, "%s: file too large (%zu bytes, max %u)", doc->file,
                           len, YC_MAX_INPUT);
        yc_free(doc);
        return rc;
    }
    builder_t b = {.doc = doc, .eb = eb};
    if (!yaml_parser_initialize(&b.parser)) {
        yc_free(doc);
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    int rc = build_document(&b);
    yaml_parser_delete(&b.parser);
    if (rc != 0)
        yc_free(doc);
    return rc;
}

static int read_whole_file(const char *path, char **out, size_t *len, gslb_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gslb_errf(eb, GSLB_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(YC_MAX_INPUT + 1);
    if (!buf) {
        fclose(f);
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, YC_MAX_INPUT + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return gslb_errf(eb, GSLB_ECONFIG, "%s: read error", path);
    }
    if (n > YC_MAX_INPUT) {
        free(buf);
        return gslb_errf(eb, GSLB_ECONFIG, "%s: file too large (max %u bytes)", path, YC_MAX_INPUT);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int yc_load_file(const char *path, yc_doc_t *doc, gslb_errbuf_t *eb)
{
    memset(doc, 0, sizeof(*doc));
    char *text = NULL;
    size_t len = 0;
    int rc = read_whole_file(path, &text, &len, eb);
    if (rc != 0)
        return rc;
    rc = yc_load_string(path, text, len, doc, eb);
    free(text);
    return rc;
}

void yc_free(yc_doc_t *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->file);
    doc->root = NULL;
    doc->file = NULL;
}

/* ---- lookups --------------------------------------------------------------- */

long yc_index(const yc_node_t *map, const char *key)
{
    if (!map || map->type != YC_MAP)
        return -1;
    for (size_t i = 0; i < map->count; i++) {
        if (map->keys[i] && strcmp(map->keys[i], key) == 0)
            return (long)i;
    }
    return -1;
}

const yc_node_t *yc_get(const yc_node_t *map, const char *key)
{
    long i = yc_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

bool yc_is_null(const yc_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YC_SCALAR || n->quoted)
        return false;
    const char *v = n->value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

int yc_check_keys(const yc_doc_t *d, const yc_node_t *map, const char *path,
                  const char *const *allowed, gslb_errbuf_t *eb)
{
    int rc = yc_expect(d, map, YC_MAP, path, eb);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < map->count; i++) {
        bool ok = false;
        for (size_t j = 0; allowed[j] && !ok; j++)
            ok = strcmp(allowed[j], map->keys[i]) == 0;
        if (ok)
            continue;
        char list[256] = "";
        size_t used = 0;
        for (size_t j = 0; allowed[j] && used < sizeof(list); j++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", j ? ", " : "",
                                     allowed[j]);
        char kpath[512];
        yc_path_key(kpath, sizeof(kpath), path, map->keys[i]);
        return yc_error_at(d, map->key_lines[i], map->key_cols[i], kpath, eb,
                           "unknown key (expected one of: %s)", list);
    }
    return 0;
}

/* ---- typed scalars ---------------------------------------------------------- */

static int expect_scalar(const yc_doc_t *d, const yc_node_t *n, const char *path, const char *want,
                         gslb_errbuf_t *eb)
{
    if (n && n->type == YC_SCALAR && !yc_is_null(n))
        return 0;
    return yc_error(d, n, path, eb, "expected %s, got %s", want, type_name(n));
}

int yc_str(const yc_doc_t *d, const yc_node_t *n, const char *path, char *out, size_t cap,
           gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "a string", eb);
    if (rc != 0)
        return rc;
    size_t len = strlen(n->value);
    if (len >= cap)
        return yc_error(d, n, path, eb, "value too long (%zu characters, max %zu)", len, cap - 1);
    memcpy(out, n->value, len + 1);
    return 0;
}

int yc_bool(const yc_doc_t *d, const yc_node_t *n, const char *path, bool *out, gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "a boolean (true or false)", eb);
    if (rc != 0)
        return rc;
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(n->value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return yc_error(d, n, path, eb, "expected a boolean (true or false), got \"%.64s\"", n->value);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

int yc_u32(const yc_doc_t *d, const yc_node_t *n, const char *path, uint32_t min, uint32_t max,
           uint32_t *out, gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "an integer", eb);
    if (rc != 0)
        return rc;
    uint64_t v = 0;
    if (!parse_u64(n->value, &v))
        return yc_error(d, n, path, eb, "expected an integer, got \"%.64s\"", n->value);
    if (v < min || v > max)
        return yc_error(d, n, path, eb, "%llu is out of range (%u..%u)", (unsigned long long)v, min,
                        max);
    *out = (uint32_t)v;
    return 0;
}

/* ---- durations --------------------------------------------------------------- */

struct dur_unit {
    const char *name;
    uint64_t ms;
};
/* Order matters: "ms" before "m"; ranks decrease from d to ms. */
static const struct dur_unit dur_units[] = {
    {"ms", 1}, {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL},
};

static const struct dur_unit *match_unit(const char *s, size_t *len)
{
    for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
        size_t n = strlen(dur_units[i].name);
        if (strncmp(s, dur_units[i].name, n) == 0) {
            *len = n;
            return &dur_units[i];
        }
    }
    return NULL;
}

int yc_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    uint64_t secs = 0;
    if (parse_u64(s, &secs)) {
        if (secs > UINT64_MAX / 1000)
            return GSLB_EINVAL;
        *out_ms = secs * 1000;
        return 0;
    }
    uint64_t total = 0, last_unit = UINT64_MAX;
    if (!*s)
        return GSLB_EINVAL;
    while (*s) {
        uint64_t v = 0;
        size_t digits = 0;
        for (; s[digits] >= '0' && s[digits] <= '9'; digits++) {
            if (v > (UINT64_MAX - 9) / 10)
                return GSLB_EINVAL;
            v = v * 10 + (uint64_t)(s[digits] - '0');
        }
        size_t ulen = 0;
        const struct dur_unit *u = digits ? match_unit(s + digits, &ulen) : NULL;
        if (!u || u->ms >= last_unit) /* units must strictly decrease: 1h30m, not 30m1h */
            return GSLB_EINVAL;
        if (v > (UINT64_MAX - total) / u->ms)
            return GSLB_EINVAL;
        total += v * u->ms;
        last_unit = u->ms;
        s += digits + ulen;
    }
    *out_ms = total;
    return 0;
}

int yc_duration_ms(const yc_doc_t *d, const yc_node_t *n, const char *path, uint64_t *out_ms,
                   gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "a duration", eb);
    if (rc != 0)
        return rc;
    if (yc_parse_duration_ms(n->value, out_ms) != 0)
        return yc_error(d, n, path, eb,
                        "invalid duration \"%.64s\" (use e.g. 500ms, 30s, 5m, 1h, 2d or 1h30m; "
                        "a bare number means seconds)",
                        n->value);
    return 0;
}

/* ---- host:port ------------------------------------------------------------- */

bool yc_valid_hostname(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

static bool parse_port(const char *s, uint16_t *port)
{
    uint64_t v = 0;
    if (strlen(s) > 5 || !parse_u64(s, &v) || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static int copy_host(const char *h, size_t n, char *host, size_t cap, const char **problem)
{
    if (n >= cap) {
        *problem = "host name too long";
        return GSLB_EINVAL;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

static int split_bracketed(const char *s, char *host, size_t cap, const char **port_text,
                           const char **problem)
{
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') {
        *problem = "expected \"[ipv6]:port\"";
        return GSLB_EINVAL;
    }
    if (copy_host(s + 1, (size_t)(close - s - 1), host, cap, problem) != 0)
        return GSLB_EINVAL;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) != 1) {
        *problem = "the address in brackets is not an IPv6 address";
        return GSLB_EINVAL;
    }
    *port_text = close + 2;
    return 0;
}

static int check_plain_host(const char *host, bool allow_hostname, const char **problem)
{
    struct in_addr a4;
    if (!*host || inet_pton(AF_INET, host, &a4) == 1)
        return 0;
    if (allow_hostname && yc_valid_hostname(host))
        return 0;
    *problem = allow_hostname ? "host is neither an IP address nor a valid host name"
                              : "host must be an IP address (IPv6 in brackets)";
    return GSLB_EINVAL;
}

int yc_parse_hostport(const char *s, bool allow_hostname, char *host, size_t host_cap,
                      uint16_t *port, const char **problem)
{
    const char *port_text = NULL;
    if (s[0] == '[') {
        if (split_bracketed(s, host, host_cap, &port_text, problem) != 0)
            return GSLB_EINVAL;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) {
            *problem = "missing \":port\"";
            return GSLB_EINVAL;
        }
        if (memchr(s, ':', (size_t)(colon - s))) {
            *problem = "IPv6 addresses must be written in brackets, e.g. \"[::1]:53\"";
            return GSLB_EINVAL;
        }
        if (copy_host(s, (size_t)(colon - s), host, host_cap, problem) != 0 ||
            check_plain_host(host, allow_hostname, problem) != 0)
            return GSLB_EINVAL;
        port_text = colon + 1;
    }
    if (!parse_port(port_text, port)) {
        *problem = "port must be a number from 0 to 65535";
        return GSLB_EINVAL;
    }
    return 0;
}

int yc_hostport(const yc_doc_t *d, const yc_node_t *n, const char *path, bool allow_hostname,
                char *host, size_t host_cap, uint16_t *port, gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "an address \"host:port\"", eb);
    if (rc != 0)
        return rc;
    const char *problem = "invalid address";
    if (yc_parse_hostport(n->value, allow_hostname, host, host_cap, port, &problem) != 0)
        return yc_error(d, n, path, eb, "bad address \"%.128s\": %s", n->value, problem);
    return 0;
}

/* ---- base64 keys ------------------------------------------------------------- */

static bool b64_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '/';
}

int yc_parse_b64key(const char *s, uint8_t *out, size_t *out_len, const char **problem)
{
    size_t n = strlen(s), data = 0;
    while (data < n && b64_char(s[data]))
        data++;
    size_t pad = n - data;
    if (n == 0) {
        *problem = "empty key";
        return GSLB_EINVAL;
    }
    if (pad > 2 || strspn(s + data, "=") != pad) {
        *problem = "not valid base64 (standard alphabet A-Z a-z 0-9 + / with = padding)";
        return GSLB_EINVAL;
    }
    if (data % 4 == 1 || (pad && (data + pad) % 4 != 0)) {
        *problem = "not valid base64 (wrong length or padding)";
        return GSLB_EINVAL;
    }
    if (data > 44) {
        *out_len = data * 3 / 4;
        *problem = "wrong key length";
        return GSLB_ERANGE;
    }
    char padded[52];
    memcpy(padded, s, data);
    size_t plen = data;
    while (plen % 4)
        padded[plen++] = '=';
    padded[plen] = '\0';
    uint8_t tmp[40];
    int got = EVP_DecodeBlock(tmp, (const unsigned char *)padded, (int)plen);
    if (got < 0) {
        *problem = "not valid base64";
        return GSLB_EINVAL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes: subtract it. */
    size_t len = (size_t)got - (plen - data);
    if (len != 16 && len != 24 && len != 32) {
        *out_len = len;
        *problem = "wrong key length";
        OPENSSL_cleanse(tmp, sizeof(tmp));
        return GSLB_ERANGE;
    }
    memcpy(out, tmp, len);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    *out_len = len;
    return 0;
}

int yc_b64key(const yc_doc_t *d, const yc_node_t *n, const char *path, uint8_t *out,
              size_t *out_len, gslb_errbuf_t *eb)
{
    int rc = expect_scalar(d, n, path, "a base64 key", eb);
    if (rc != 0)
        return rc;
    const char *problem = "invalid key";
    size_t len = 0;
    rc = yc_parse_b64key(n->value, out, &len, &problem);
    if (rc == GSLB_ERANGE)
        return yc_error(d, n, path, eb,
                        "key decodes to %zu bytes; it must be base64 of 16, 24 or 32 bytes "
                        "(AES-128/192/256)",
                        len);
    if (rc != 0)
        return yc_error(d, n, path, eb, "%s", problem);
    *out_len = len;
    return 0;
}
