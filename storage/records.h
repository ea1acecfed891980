/*
 * records.h - the typed records stored in the LMDB environment, and their
 * versioned binary encodings.
 *
 * Contract:
 *  - Every encoded value starts with a version byte (GSLB_REC_V1). Decoders
 *    reject empty, truncated, over-long, unknown-version or otherwise garbage
 *    values with GSLB_ECORRUPT / GSLB_EVERSION and never read out of bounds.
 *  - Encoders write into a caller buffer and return the encoded length (> 0) or
 *    GSLB_ERANGE when the buffer is too small. GSLB_REC_MAX bounds every value.
 *  - Decoders fill a caller-provided struct: no allocation.
 *  - Text names (zones, domains, services) are stored lower-case, without the
 *    trailing dot. Strings are NUL-terminated inside their fixed arrays.
 *  - Addresses are stored as gslb_addr_t (family + 16 bytes).
 *  - Times are unix seconds (int64) or milliseconds where the field says _ms.
 *  - Each kind's encoding is declared once, as a field table (reclayout.h);
 *    the typed encode/decode functions below walk it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_REC_V1 1
#define GSLB_REC_MAX 4096

#define GSLB_NAME_MAX 254 /* presentation name without trailing dot + NUL */
#define GSLB_LABEL_MAX 64 /* short identifiers: region, node id, agent id, token name */
#define GSLB_MAX_NS 8
#define GSLB_MAX_REGIONS 16
#define GSLB_REASON_MAX 128

typedef struct gslb_addr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
} gslb_addr_t;

/** A listen address from a configuration (API, metrics, DNS, gossip). */
typedef struct gslb_hostport {
    char host[GSLB_NAME_MAX]; /* IP literal, no brackets ("" = any) */
    uint16_t port;
} gslb_hostport_t;

/* ---- meta ---------------------------------------------------------------- */
#define GSLB_SCHEMA_VERSION 1
typedef struct gslb_meta_rec {
    uint32_t schema_version;
    char node_id[GSLB_LABEL_MAX];
    int64_t created_at;
} gslb_meta_rec_t;

/* ---- meta "keysync": what the DNSSEC key sync must remember across restarts - */
typedef struct gslb_keysync_meta_rec {
    int64_t last_sync; /* unix s of the last successful key sync round, 0 = never */
} gslb_keysync_meta_rec_t;

/* ---- zones (key: zone name) ---------------------------------------------- */
typedef struct gslb_zone_rec {
    char name[GSLB_NAME_MAX];
    char mname[GSLB_NAME_MAX]; /* SOA primary NS */
    char rname[GSLB_NAME_MAX]; /* SOA mailbox, as a domain name */
    uint32_t serial, refresh, retry, expire, minimum;
    uint32_t soa_ttl, ns_ttl, default_ttl;
    uint8_t ns_count;
    char ns[GSLB_MAX_NS][GSLB_NAME_MAX];
    /* in-zone NS host addresses (glue), up to one v4 and one v6 per NS */
    gslb_addr_t ns_addr4[GSLB_MAX_NS];
    gslb_addr_t ns_addr6[GSLB_MAX_NS];
} gslb_zone_rec_t;

/* ---- domains (key: FQDN) ------------------------------------------------- */
enum gslb_policy {
    GSLB_POLICY_ROUND_ROBIN = 0,
    GSLB_POLICY_WEIGHTED = 1,
    GSLB_POLICY_FAILOVER = 2,
    GSLB_POLICY_GEO = 3,
    GSLB_POLICY_LATENCY = 4,
};
/* What to answer when no backend of a family is healthy. */
enum gslb_unhealthy_mode {
    GSLB_UNHEALTHY_RETURN_LAST_HEALTHY = 0, /* serve the last healthy set (default) */
    GSLB_UNHEALTHY_NODATA = 1,
    GSLB_UNHEALTHY_SERVFAIL = 2,
};
typedef struct gslb_domain_rec {
    char name[GSLB_NAME_MAX];
    char zone[GSLB_NAME_MAX];
    char service[GSLB_LABEL_MAX]; /* agents' service name mapped here (default: first label) */
    uint8_t policy;               /* enum gslb_policy */
    uint8_t unhealthy_mode;       /* enum gslb_unhealthy_mode */
    uint16_t max_records;         /* cap per answer, 0 = unlimited */
    uint32_t ttl;
    uint8_t region_count;
    char regions[GSLB_MAX_REGIONS][GSLB_LABEL_MAX]; /* order = failover priority */
} gslb_domain_rec_t;

/* ---- backends (key: domain FQDN + address + port) ----------------------- */
enum gslb_source { GSLB_SOURCE_CONFIG = 0, GSLB_SOURCE_AGENT = 1 };
enum gslb_tristate { GSLB_UNKNOWN = 0, GSLB_HEALTHY = 1, GSLB_UNHEALTHY = 2 };
typedef struct gslb_backend_rec {
    char domain[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint16_t port;
    uint32_t weight;
    char region[GSLB_LABEL_MAX];
    uint8_t source;                /* enum gslb_source */
    char agent_id[GSLB_LABEL_MAX]; /* empty for config backends */
    uint8_t agent_health;          /* enum gslb_tristate: as reported */
    uint8_t validation_health;     /* enum gslb_tristate: our own probe */
    bool stale;                    /* agent silent past stale.threshold */
    bool draining;                 /* agent said goodbye / drain requested */
    int64_t last_seen;             /* unix s of last agent report, 0 = never */
    int64_t last_change;           /* unix s of last effective state change */
    uint32_t latency_us;           /* last probe latency, 0 = unknown */
} gslb_backend_rec_t;

/* ---- agents (key: agent id) ---------------------------------------------- */
typedef struct gslb_agent_rec {
    char agent_id[GSLB_LABEL_MAX];
    char region[GSLB_LABEL_MAX];
    char token_name[GSLB_LABEL_MAX];
    int64_t first_seen;
    int64_t last_heartbeat;
    uint64_t last_seq;
    gslb_addr_t source_addr;
    bool stale;
    bool goodbye; /* sent a goodbye (SIGTERM) */
} gslb_agent_rec_t;

/* ---- dnssec_keys (key: zone + key tag) ----------------------------------- */
enum gslb_key_role { GSLB_KEY_CSK = 0, GSLB_KEY_KSK = 1, GSLB_KEY_ZSK = 2 };
enum gslb_key_state { GSLB_KEY_ACTIVE = 0, GSLB_KEY_PUBLISHED = 1, GSLB_KEY_RETIRED = 2 };
#define GSLB_KEY_DER_MAX 512
#define GSLB_KEY_PUB_MAX 128
typedef struct gslb_dnskey_rec {
    char zone[GSLB_NAME_MAX];
    uint16_t key_tag;
    uint8_t algorithm; /* 13 = ECDSAP256SHA256, 15 = ED25519 */
    uint8_t role;      /* enum gslb_key_role */
    uint8_t state;     /* enum gslb_key_state */
    uint16_t flags;    /* DNSKEY flags: 257 KSK/CSK, 256 ZSK */
    uint16_t pub_len;
    uint8_t pub[GSLB_KEY_PUB_MAX]; /* DNSKEY public key field (RFC 6605 / 8080 format) */
    uint16_t priv_len;
    uint8_t priv_der[GSLB_KEY_DER_MAX]; /* PKCS#8 DER private key; never logged */
    int64_t created;
    char origin_node[GSLB_LABEL_MAX];
} gslb_dnskey_rec_t;

/* ---- overrides (key: service/domain + address) --------------------------- */
enum gslb_override_state { GSLB_OVERRIDE_UP = 1, GSLB_OVERRIDE_DOWN = 2, GSLB_OVERRIDE_DRAIN = 3 };
typedef struct gslb_override_rec {
    char domain[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint8_t state; /* enum gslb_override_state */
    char reason[GSLB_REASON_MAX];
    char who[GSLB_LABEL_MAX];
    int64_t when;
} gslb_override_rec_t;

/* ---- audit (key: time_ms + seq, big-endian) ------------------------------ */
typedef struct gslb_audit_rec {
    int64_t time_ms;
    uint32_t seq;
    char actor[GSLB_LABEL_MAX];  /* token name or client address */
    char action[GSLB_LABEL_MAX]; /* e.g. "override.put" */
    char target[GSLB_NAME_MAX + 48];
    char detail[256];
} gslb_audit_rec_t;

/* Encoders: return length > 0 or GSLB_ERANGE. Decoders: 0 or negative code. */
int gslb_meta_encode(const gslb_meta_rec_t *r, uint8_t *buf, size_t cap);
int gslb_meta_decode(const uint8_t *buf, size_t len, gslb_meta_rec_t *out);
int gslb_keysync_meta_encode(const gslb_keysync_meta_rec_t *r, uint8_t *buf, size_t cap);
int gslb_keysync_meta_decode(const uint8_t *buf, size_t len, gslb_keysync_meta_rec_t *out);
int gslb_zone_encode(const gslb_zone_rec_t *r, uint8_t *buf, size_t cap);
int gslb_zone_decode(const uint8_t *buf, size_t len, gslb_zone_rec_t *out);
int gslb_domain_encode(const gslb_domain_rec_t *r, uint8_t *buf, size_t cap);
int gslb_domain_decode(const uint8_t *buf, size_t len, gslb_domain_rec_t *out);
int gslb_backend_encode(const gslb_backend_rec_t *r, uint8_t *buf, size_t cap);
int gslb_backend_decode(const uint8_t *buf, size_t len, gslb_backend_rec_t *out);
int gslb_agent_encode(const gslb_agent_rec_t *r, uint8_t *buf, size_t cap);
int gslb_agent_decode(const uint8_t *buf, size_t len, gslb_agent_rec_t *out);
int gslb_dnskey_encode(const gslb_dnskey_rec_t *r, uint8_t *buf, size_t cap);
int gslb_dnskey_decode(const uint8_t *buf, size_t len, gslb_dnskey_rec_t *out);
int gslb_override_encode(const gslb_override_rec_t *r, uint8_t *buf, size_t cap);
int gslb_override_decode(const uint8_t *buf, size_t len, gslb_override_rec_t *out);
int gslb_audit_encode(const gslb_audit_rec_t *r, uint8_t *buf, size_t cap);
int gslb_audit_decode(const uint8_t *buf, size_t len, gslb_audit_rec_t *out);

/* Helpers shared by every module. */
/** Parse an IPv4/IPv6 literal (no brackets) into *out: 0 or GSLB_EINVAL. */
int gslb_addr_parse(const char *text, gslb_addr_t *out);
/** Format an address (no brackets). buf >= 46 bytes. Returns buf. */
const char *gslb_addr_format(const gslb_addr_t *a, char *buf, size_t len);
bool gslb_addr_equal(const gslb_addr_t *a, const gslb_addr_t *b);
/** Lower-case a presentation name and strip one trailing dot into out (cap bytes). */
int gslb_name_normalize(const char *in, char *out, size_t cap);
/** Effective status of a backend, in the documented order of authority:
 *  override > drain > validation > staleness > agent claim (docs/storage.md,
 *  "Effective backend status").
 *  ov may be NULL. Returns true when the backend may be served. */
bool gslb_backend_servable(const gslb_backend_rec_t *b, const gslb_override_rec_t *ov);
/** Name of the effective status: "healthy", "unhealthy", "stale", "draining",
 *  "override_up", "override_down" (used by API and gslb-dump). */
const char *gslb_backend_status_name(const gslb_backend_rec_t *b, const gslb_override_rec_t *ov);
/** Names of a DNSSEC key's role ("CSK", "KSK", "ZSK") and state ("active",
 *  "published", "retired"), as the API and gslb-dump show them. */
const char *gslb_key_role_name(uint8_t role);
const char *gslb_key_state_name(uint8_t state);
