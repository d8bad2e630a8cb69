/*
 * limits.h: every size, count and time limit of sealpost, in one place.
 *
 * Two tiers:
 *  - SP_* constants are protocol facts (key lengths) or hard ceilings that no
 *    configuration may exceed; wire decoding enforces them.
 *  - struct sp_limits holds the operator-tunable values a relay enforces and
 *    publishes at GET /v1/limits. Each has a SP_DEFAULT_* and must stay within
 *    its hard ceiling (sp_limits_validate()).
 */
#ifndef SEALPOST_COMMON_LIMITS_H
#define SEALPOST_COMMON_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* ---- protocol facts */
#define SP_PROTOCOL_VERSION  1
#define SP_PUBKEY_LEN        33 /* 0x05 || X25519 public key (libsignal serialisation) */
#define SP_PUBKEY_TYPE       0x05
#define SP_SIGNATURE_LEN     64 /* XEdDSA */
#define SP_ADDRESS_LEN       20 /* raw address bytes */
#define SP_ADDRESS_TEXT_LEN  32 /* base32 text form, no padding */
#define SP_NONCE_LEN         16
#define SP_MESSAGE_ID_LEN    16
#define SP_TOKEN_LEN         32
#define SP_TOKEN_TEXT_LEN    43 /* base64url, no padding */
#define SP_MAX_KEY_ID        0xFFFFFFu /* prekey ids are 1 .. 2^24-1 */
#define SP_MAX_REGISTRATION_ID 0x7FFFFFFEu
#define SP_DEVICE_ID         1  /* one device per identity in v1 */

/* ---- sealed envelope (docs/PROTOCOL.md, "Sealed envelope") */
#define SP_SEAL_VERSION      1
#define SP_SEAL_EPHEMERAL_LEN 32
#define SP_SEAL_TAG_LEN      16
#define SP_SEAL_OVERHEAD     (1 + SP_SEAL_EPHEMERAL_LEN + SP_SEAL_TAG_LEN)
#define SP_SEAL_MIN_BUCKET   256u   /* padded plaintext sizes are powers of two ... */
#define SP_SEAL_MAX_BUCKET   65536u /* ... from 256 to 64 KiB */

/* ---- hard ceilings (configuration may lower, never raise) */
#define SP_HARD_MAX_BODY_BYTES          (8u * 1024 * 1024)
#define SP_HARD_MAX_ENVELOPE_BYTES      (SP_SEAL_OVERHEAD + SP_SEAL_MAX_BUCKET)
#define SP_HARD_MAX_ENVELOPES_PER_REQ   1000u
#define SP_HARD_MAX_PREKEYS_PER_UPLOAD  100u
#define SP_HARD_MAX_ACK_IDS             1000u
#define SP_HARD_MAX_FETCH_ENVELOPES     1000u
#define SP_HARD_MAX_WAIT_S              300u

/* ---- defaults of the tunable limits */
#define SP_DEFAULT_MAX_BODY_BYTES         (4u * 1024 * 1024)
#define SP_DEFAULT_MAX_ENVELOPE_BYTES     SP_HARD_MAX_ENVELOPE_BYTES
#define SP_DEFAULT_MAX_ENVELOPES_PER_REQ  100u
#define SP_DEFAULT_MAX_PREKEYS_PER_UPLOAD 100u
#define SP_DEFAULT_MAX_PREKEYS_PER_ACCOUNT 1000u
#define SP_DEFAULT_MAILBOX_MAX_MESSAGES   10000u
#define SP_DEFAULT_MAILBOX_MAX_BYTES      (64ull * 1024 * 1024)
#define SP_DEFAULT_FETCH_MAX_ENVELOPES    100u
#define SP_DEFAULT_MAX_WAIT_S             60u
#define SP_DEFAULT_MAX_ACK_IDS            1000u
#define SP_DEFAULT_TOKEN_TTL_S            3600u
#define SP_DEFAULT_PROOF_WINDOW_S         300u
#define SP_DEFAULT_BUNDLE_FETCHES         10u   /* per (requester, target) ... */
#define SP_DEFAULT_BUNDLE_WINDOW_S        3600u /* ... per hour */
#define SP_DEFAULT_ENVELOPE_TTL_S         (30u * 24 * 3600)

struct sp_limits {
    uint32_t max_body_bytes;
    uint32_t max_envelope_bytes;
    uint32_t max_envelopes_per_request;
    uint32_t max_prekeys_per_upload;
    uint32_t max_prekeys_per_account;
    uint32_t mailbox_max_messages;
    uint64_t mailbox_max_bytes;
    uint32_t fetch_max_envelopes;
    uint32_t max_wait_s;
    uint32_t max_ack_ids;
    uint32_t token_ttl_s;
    uint32_t proof_window_s;
    uint32_t bundle_fetches_per_target;
    uint32_t bundle_fetch_window_s;
    uint32_t envelope_ttl_s;
};

/* Fill *l with the SP_DEFAULT_* values. */
void sp_limits_defaults(struct sp_limits *l);

/* SP_OK if every value is non-zero and within its hard ceiling; otherwise
 * SP_ERR_USAGE and, if `what` is non-NULL, *what names the offending field. */
SP_WARN_UNUSED sp_status sp_limits_validate(const struct sp_limits *l, const char **what);

#endif
