/*
 * dnsdef.h - DNS protocol numbers shared by every layer that reads or writes
 * DNS data (RFC 1035, RFC 6891, IANA registries): message limits, RR types and
 * classes, RCODEs and header flag bits.
 *
 * Contract: constants only; no code, no allocation.
 */
#pragma once

#define GSLB_DNS_HDR_LEN 12
#define GSLB_DNS_NAME_MAX 255
#define GSLB_DNS_LABELS_MAX 128
#define GSLB_DNS_UDP_MIN 512
#define GSLB_DNS_MSG_MAX 65535
#define GSLB_DNS_OPT_LEN 11 /* an OPT RR without options */
/* The fixed part of an RR after its owner name: type, class, TTL, rdlength. */
#define GSLB_RR_HDR_LEN 10
/* SOA rdata after its two names: serial, refresh, retry, expire, minimum. */
#define GSLB_SOA_FIXED_LEN 20

/* RR types and classes used by the server. */
enum gslb_rrtype {
    GSLB_RR_A = 1,
    GSLB_RR_NS = 2,
    GSLB_RR_CNAME = 5,
    GSLB_RR_SOA = 6,
    GSLB_RR_PTR = 12,
    GSLB_RR_HINFO = 13,
    GSLB_RR_MX = 15,
    GSLB_RR_TXT = 16,
    GSLB_RR_AAAA = 28,
    GSLB_RR_SRV = 33,
    GSLB_RR_OPT = 41,
    GSLB_RR_DS = 43,
    GSLB_RR_RRSIG = 46,
    GSLB_RR_NSEC = 47,
    GSLB_RR_DNSKEY = 48,
    GSLB_RR_NSEC3 = 50,
    GSLB_RR_SVCB = 64,
    GSLB_RR_HTTPS = 65,
    GSLB_RR_TKEY = 249,
    GSLB_RR_TSIG = 250,
    GSLB_RR_IXFR = 251,
    GSLB_RR_AXFR = 252,
    GSLB_RR_MAILB = 253,
    GSLB_RR_MAILA = 254,
    GSLB_RR_ANY = 255,
    GSLB_RR_CAA = 257,
};
enum gslb_rrclass { GSLB_CLASS_IN = 1, GSLB_CLASS_CH = 3, GSLB_CLASS_ANY = 255 };

enum gslb_rcode {
    GSLB_RCODE_NOERROR = 0,
    GSLB_RCODE_FORMERR = 1,
    GSLB_RCODE_SERVFAIL = 2,
    GSLB_RCODE_NXDOMAIN = 3,
    GSLB_RCODE_NOTIMP = 4,
    GSLB_RCODE_REFUSED = 5,
    GSLB_RCODE_BADVERS = 16, /* extended (RFC 6891): upper 8 bits in OPT */
};

/* Header flag bits (second 16-bit word). */
#define GSLB_FLAG_QR 0x8000u
#define GSLB_FLAG_AA 0x0400u
#define GSLB_FLAG_TC 0x0200u
#define GSLB_FLAG_RD 0x0100u
#define GSLB_FLAG_RA 0x0080u
#define GSLB_FLAG_AD 0x0020u
#define GSLB_FLAG_CD 0x0010u
#define GSLB_OPCODE(flags) (((flags) >> 11) & 0xFu)
#define GSLB_EDNS_DO 0x8000u
