/*
 * sealpost.h: the public C API of libsealpost, the sealpost client SDK.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An agent opens one handle per state directory. The handle owns a SQLite
 * state file (identity, sessions, prekeys, inbox, outbox; mode 0600) and an
 * HTTPS connection to one relay. Messages are end-to-end encrypted with X3DH +
 * Double Ratchet (libsignal-protocol-c) and sealed so the relay never learns
 * the sender.
 *
 * Delivery guarantees:
 *  - sealpost_send() puts the sealed envelope in a durable outbox in the same
 *    transaction as the ratchet step, then tries to upload it. If the relay is
 *    unreachable the message stays queued and the next sealpost_sync()
 *    uploads it. A message is never lost and the recipient never sees it twice.
 *  - sealpost_sync() fetches, decrypts and stores each message in the local
 *    inbox in one transaction with the ratchet state, and only then
 *    acknowledges it to the relay. A crash at any point loses nothing and
 *    never shows a message twice.
 *  - The application reads the inbox with sealpost_inbox_next() and removes a
 *    message with sealpost_inbox_done() once it has handled it.
 *
 * Conventions:
 *  - Every fallible function returns a sealpost_status; results come back
 *    through out-parameters, which are left untouched on failure.
 *  - Strings are NUL-terminated UTF-8. Addresses are 32-character base32 text.
 *  - Memory returned to the caller names its free function.
 *  - Threads: a handle may be used from any thread but by one thread at a time
 *    (calls on one handle are serialised by an internal lock). Different
 *    handles are independent. Two processes must not open the same state
 *    directory at once (the second open fails with SEALPOST_ERR_IO).
 *  - TLS certificate verification is always on. A CA file and a pinned
 *    public key can be configured; verification cannot be switched off.
 */
#ifndef SEALPOST_SEALPOST_H
#define SEALPOST_SEALPOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEALPOST_VERSION_MAJOR 0
#define SEALPOST_VERSION_MINOR 1
#define SEALPOST_VERSION_PATCH 0
#define SEALPOST_VERSION_NUM                                                                       \
    ((SEALPOST_VERSION_MAJOR << 16) | (SEALPOST_VERSION_MINOR << 8) | SEALPOST_VERSION_PATCH)

#if defined(SEALPOST_BUILDING_LIBRARY)
#define SEALPOST_API __attribute__((visibility("default")))
#else
#define SEALPOST_API
#endif
#define SEALPOST_NODISCARD __attribute__((warn_unused_result))

/* Length of an address in text form, without the NUL. */
#define SEALPOST_ADDRESS_LEN 32
/* Length of a message id (random, chosen by the sender). */
#define SEALPOST_MESSAGE_ID_LEN 16
/* Largest message body sealpost_send() accepts, in bytes. */
#define SEALPOST_MAX_MESSAGE_LEN 60000

/* Status codes. The values equal the relay's wire error codes
 * (docs/PROTOCOL.md); they are only ever appended. */
typedef enum sealpost_status {
    SEALPOST_OK = 0,
    SEALPOST_ERR_NOMEM = 1,
    SEALPOST_ERR_INTERNAL = 2,
    SEALPOST_ERR_MALFORMED = 3,
    SEALPOST_ERR_INVALID_FIELD = 4,
    SEALPOST_ERR_UNSUPPORTED_VERSION = 5,
    SEALPOST_ERR_TOO_LARGE = 6,
    SEALPOST_ERR_TOO_MANY = 7,
    SEALPOST_ERR_BAD_SIGNATURE = 8,
    SEALPOST_ERR_UNAUTHENTICATED = 9,
    SEALPOST_ERR_STALE_PROOF = 10,
    SEALPOST_ERR_REPLAY = 11,
    SEALPOST_ERR_NOT_FOUND = 12,
    SEALPOST_ERR_METHOD_NOT_ALLOWED = 13,
    SEALPOST_ERR_CONFLICT = 14,
    SEALPOST_ERR_MAILBOX_FULL = 15,
    SEALPOST_ERR_RATE_LIMITED = 16,
    SEALPOST_ERR_PREKEY_LIMIT = 17,
    SEALPOST_ERR_UNSUPPORTED_MEDIA = 18,
    SEALPOST_ERR_UNAVAILABLE = 19,
    SEALPOST_ERR_IO = 20,
    SEALPOST_ERR_NETWORK = 21,
    SEALPOST_ERR_TLS = 22,
    SEALPOST_ERR_PROTOCOL = 23,
    SEALPOST_ERR_DECRYPT = 24,
    SEALPOST_ERR_IDENTITY_MISMATCH = 25,
    SEALPOST_ERR_UNTRUSTED_IDENTITY = 26,
    SEALPOST_ERR_DUPLICATE = 27,
    SEALPOST_ERR_NO_SESSION = 28,
    SEALPOST_ERR_USAGE = 29,
    SEALPOST_ERR_INVALID_KEY_ID = 30,
} sealpost_status;

/* Static English description of any status value (total). */
SEALPOST_API const char *sealpost_strerror(sealpost_status st);
/* Runtime library version, "MAJOR.MINOR.PATCH". */
SEALPOST_API const char *sealpost_version(void);

typedef struct sealpost_client sealpost_client;

/* Options for sealpost_open(). Zero-initialise, set struct_size, then the
 * fields you need; unset fields take the defaults shown. */
typedef struct sealpost_options {
    size_t struct_size;        /* sizeof(sealpost_options): lets the struct grow */
    const char *server_url;    /* "https://host:port"; stored at sealpost_init() */
    const char *ca_file;       /* PEM bundle to verify the relay; default: system CAs */
    const char *pinned_pubkey; /* curl-style "sha256//BASE64" pin, optional */
    long timeout_ms;           /* per HTTP request, default 30000 */
} sealpost_options;

/* Open (creating if needed, mode 0700 dir / 0600 file) the state in
 * `state_dir`. Does not contact the relay. `opts` may be NULL. On success
 * *out is owned by the caller and freed with sealpost_close().
 * Errors: USAGE, IO (cannot create/lock the state), NOMEM. */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_open(sealpost_client **out,
                                                              const char *state_dir,
                                                              const sealpost_options *opts);
/* Close and free. NULL-safe. Wipes secrets held in memory. */
SEALPOST_API void sealpost_close(sealpost_client *c);

/* Create this agent's identity (once; later calls keep it), registration id,
 * signed prekey and 100 one-time prekeys, and register them with the relay at
 * `server_url` (NULL: the URL given in the options or stored before). The
 * URL and CA file are remembered in the state. Idempotent.
 * Errors: USAGE, NETWORK, TLS, any relay error, IO. */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_init(sealpost_client *c,
                                                              const char *server_url);

/* This agent's address, written as SEALPOST_ADDRESS_LEN chars + NUL.
 * Errors: USAGE (no identity yet: call sealpost_init). */
SEALPOST_API SEALPOST_NODISCARD sealpost_status
sealpost_address(sealpost_client *c, char out[SEALPOST_ADDRESS_LEN + 1]);

/* Send `len` bytes to address `to`. The message is durably queued before
 * this returns OK, then uploaded at once if the relay is reachable:
 *  - with a session (or a bundle that can be fetched now) it is encrypted,
 *    sealed and written to the outbox in the same transaction as the ratchet
 *    step, then uploaded;
 *  - if the relay is unreachable, it waits locally (encrypted if a session
 *    exists, otherwise as plaintext in the 0600 state file until a bundle can
 *    be fetched) and the next sealpost_sync() finishes the job.
 * *queued (optional) is 1 if the message still waits locally, 0 if the relay
 * has it. message_id (optional) receives its id. A message is never sent
 * twice: uploads are idempotent by message id.
 * "Unreachable" means NETWORK (cannot resolve/connect, timeout) or a relay
 * answering UNAVAILABLE; a TLS failure is never treated as unreachable: it is
 * reported and nothing is queued.
 * Errors (nothing queued): USAGE (NULL arguments, no identity or no relay
 * URL yet), INVALID_FIELD (`to` is not a 32-character address), TOO_LARGE, NOT_FOUND (the relay knows no such address),
 * IDENTITY_MISMATCH (the relay returned a bundle whose key does not hash to
 * `to`), UNTRUSTED_IDENTITY (the peer's key changed), BAD_SIGNATURE (the
 * bundle's signed prekey signature is invalid), TLS, RATE_LIMITED and other
 * relay errors while fetching the bundle, IO. Once the message is queued,
 * upload failures are not errors (*queued = 1), except a permanent rejection
 * of this very envelope by the relay (e.g. NOT_FOUND), returned as such. */
SEALPOST_API SEALPOST_NODISCARD sealpost_status
sealpost_send(sealpost_client *c, const char *to, const uint8_t *msg, size_t len, int *queued,
              uint8_t message_id[SEALPOST_MESSAGE_ID_LEN]);

typedef struct sealpost_sync_stats {
    size_t uploaded;  /* outbox envelopes uploaded (including ones queued without a session) */
    size_t received;  /* new messages stored in the inbox */
    size_t dropped;   /* duplicates, replays and undecryptable envelopes, acked and dropped */
    size_t queued;    /* messages still waiting locally (relay unreachable) */
    size_t failed;    /* queued messages given up on (recipient unknown or key mismatch) */
} sealpost_sync_stats;

/* Finish messages queued without a session (fetch bundle, encrypt, seal),
 * upload the outbox, then fetch, unseal, authenticate, decrypt and store every
 * pending message, acknowledging each only after it is stored. If wait_s > 0
 * and nothing is pending, wait up to wait_s seconds for mail (long-poll).
 * Also refills one-time prekeys on the relay (below 25 left, back to 100) and
 * rotates the signed prekey when due (every 7 days; old ones are kept 30
 * days). stats may be NULL; on error it holds the counts up to that point.
 * Errors: NETWORK, TLS, relay errors, IO. Envelopes that fail to decrypt are
 * not errors: they are counted in stats->dropped and acked. A message that
 * fails to decrypt never changes local state: it is unauthenticated, so it
 * must not be able to tear down a real session (a peer that lost its state
 * recovers by sending a new PreKeySignalMessage). */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_sync(sealpost_client *c, int wait_s,
                                                              sealpost_sync_stats *stats);

typedef struct sealpost_message {
    int64_t id;                                /* local inbox id, for sealpost_inbox_done */
    char sender[SEALPOST_ADDRESS_LEN + 1];     /* authenticated sender address */
    uint8_t message_id[SEALPOST_MESSAGE_ID_LEN];
    int64_t received_at;                       /* unix seconds, local clock */
    uint8_t *body;                             /* plaintext */
    size_t body_len;
} sealpost_message;

/* The oldest message not yet marked done, or *out = NULL if the inbox is
 * empty (returns OK). Free *out with sealpost_message_free().
 * Errors: USAGE, IO, NOMEM. */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_inbox_next(sealpost_client *c,
                                                                    sealpost_message **out);
/* Fetch up to `max` messages after local id `after_id` (0 = from the start);
 * *out is an array of *n pointers, freed with sealpost_messages_free(). */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_inbox_list(sealpost_client *c,
                                                                    int64_t after_id, size_t max,
                                                                    sealpost_message ***out,
                                                                    size_t *n);
/* Remove a message from the inbox (wiping its plaintext). Unknown ids: OK. */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_inbox_done(sealpost_client *c,
                                                                    int64_t id);
/* Wipe and free. NULL-safe. */
SEALPOST_API void sealpost_message_free(sealpost_message *m);
SEALPOST_API void sealpost_messages_free(sealpost_message **v, size_t n);

typedef struct sealpost_info {
    int registered;          /* 1 after a successful sealpost_init */
    long relay_prekeys;      /* one-time prekeys left on the relay, -1 if unknown */
    size_t outbox_queued;    /* messages waiting locally: sealed envelopes not yet uploaded
                                plus plaintext waiting for a bundle */
    size_t inbox_unread;     /* messages not yet marked done */
    size_t sessions;         /* peers with an established session */
} sealpost_info;

/* Local state plus, if `ask_relay` is non-zero, the relay's prekey count
 * (a NETWORK error there leaves relay_prekeys = -1 and still returns OK). */
SEALPOST_API SEALPOST_NODISCARD sealpost_status sealpost_info_get(sealpost_client *c, int ask_relay,
                                                                  sealpost_info *out);

#ifdef __cplusplus
}
#endif

#endif
