/*
 * status.h: the one status enum of sealpost, shared by relay and SDK.
 *
 * The numeric values are part of the wire contract: the relay sends them as
 * Error.code and docs/PROTOCOL.md lists them. Values are only ever appended;
 * none is renumbered or reused. sp_strerror() is total.
 *
 * Also the small control-flow vocabulary every module uses (STYLE.md §3):
 *   TRY(expr)         evaluate a status expression, jump to `out` on failure
 *   ENSURE(cond, st)  set `st` and jump to `out` unless cond holds
 * Both assume a local `sp_status st` and an `out:` label.
 */
#ifndef SEALPOST_COMMON_STATUS_H
#define SEALPOST_COMMON_STATUS_H

typedef enum sp_status {
    SP_OK = 0,
    SP_ERR_NOMEM = 1,              /* allocation failed */
    SP_ERR_INTERNAL = 2,           /* bug or unexpected library failure */
    SP_ERR_MALFORMED = 3,          /* bytes do not decode (truncated, bad protobuf) */
    SP_ERR_INVALID_FIELD = 4,      /* field missing, wrong length or out of range */
    SP_ERR_UNSUPPORTED_VERSION = 5,/* unknown protocol or envelope version */
    SP_ERR_TOO_LARGE = 6,          /* body or item over its size limit */
    SP_ERR_TOO_MANY = 7,           /* more items in a batch than allowed */
    SP_ERR_BAD_SIGNATURE = 8,      /* signature does not verify */
    SP_ERR_UNAUTHENTICATED = 9,    /* missing, unknown or expired bearer token */
    SP_ERR_STALE_PROOF = 10,       /* proof timestamp outside the allowed window */
    SP_ERR_REPLAY = 11,            /* proof nonce already used */
    SP_ERR_NOT_FOUND = 12,         /* unknown path, account or item */
    SP_ERR_METHOD_NOT_ALLOWED = 13,/* path exists, method does not */
    SP_ERR_CONFLICT = 14,          /* same id, different bytes */
    SP_ERR_MAILBOX_FULL = 15,      /* recipient mailbox over its count or byte quota */
    SP_ERR_RATE_LIMITED = 16,      /* try again after Retry-After */
    SP_ERR_PREKEY_LIMIT = 17,      /* account would hold more prekeys than allowed */
    SP_ERR_UNSUPPORTED_MEDIA = 18, /* wrong Content-Type */
    SP_ERR_UNAVAILABLE = 19,       /* relay shutting down or store unavailable */
    SP_ERR_IO = 20,                /* local file or database error */
    SP_ERR_NETWORK = 21,           /* relay unreachable (client side) */
    SP_ERR_TLS = 22,               /* TLS handshake or certificate verification failed */
    SP_ERR_PROTOCOL = 23,          /* peer answered something the protocol does not allow */
    SP_ERR_DECRYPT = 24,           /* authentication tag or MAC did not verify */
    SP_ERR_IDENTITY_MISMATCH = 25, /* identity key does not hash to the expected address */
    SP_ERR_UNTRUSTED_IDENTITY = 26,/* peer identity changed since first use */
    SP_ERR_DUPLICATE = 27,         /* message already processed */
    SP_ERR_NO_SESSION = 28,        /* no usable session with that peer */
    SP_ERR_USAGE = 29,             /* caller passed invalid arguments */
    SP_ERR_INVALID_KEY_ID = 30,    /* message names a prekey we do not have */
} sp_status;

#define SP_STATUS_COUNT 31

/* Total: returns a static string for every value, "unknown status" otherwise. */
const char *sp_strerror(sp_status st);

/* Short stable identifier ("MAILBOX_FULL") for logs, metrics and docs. */
const char *sp_status_name(sp_status st);

#define SP_WARN_UNUSED __attribute__((warn_unused_result))

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != SP_OK)                                                                           \
            goto out;                                                                              \
    } while (0)

#define ENSURE(cond, status)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            st = (status);                                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#endif
