/*
 * limits.c: defaults and validation of the tunable limits.
 */
#include "limits.h"

void sp_limits_defaults(struct sp_limits *l)
{
    *l = (struct sp_limits){
        .max_body_bytes = SP_DEFAULT_MAX_BODY_BYTES,
        .max_envelope_bytes = SP_DEFAULT_MAX_ENVELOPE_BYTES,
        .max_envelopes_per_request = SP_DEFAULT_MAX_ENVELOPES_PER_REQ,
        .max_prekeys_per_upload = SP_DEFAULT_MAX_PREKEYS_PER_UPLOAD,
        .max_prekeys_per_account = SP_DEFAULT_MAX_PREKEYS_PER_ACCOUNT,
        .mailbox_max_messages = SP_DEFAULT_MAILBOX_MAX_MESSAGES,
        .mailbox_max_bytes = SP_DEFAULT_MAILBOX_MAX_BYTES,
        .fetch_max_envelopes = SP_DEFAULT_FETCH_MAX_ENVELOPES,
        .max_wait_s = SP_DEFAULT_MAX_WAIT_S,
        .max_ack_ids = SP_DEFAULT_MAX_ACK_IDS,
        .token_ttl_s = SP_DEFAULT_TOKEN_TTL_S,
        .proof_window_s = SP_DEFAULT_PROOF_WINDOW_S,
        .bundle_fetches_per_target = SP_DEFAULT_BUNDLE_FETCHES,
        .bundle_fetch_window_s = SP_DEFAULT_BUNDLE_WINDOW_S,
        .envelope_ttl_s = SP_DEFAULT_ENVELOPE_TTL_S,
    };
}

sp_status sp_limits_validate(const struct sp_limits *l, const char **what)
{
    static const char *unused;
    const char **name = what ? what : &unused;
    const struct {
        const char *name;
        uint64_t value, min, max;
    } checks[] = {
        {"max_body_bytes", l->max_body_bytes, 1024, SP_HARD_MAX_BODY_BYTES},
        {"max_envelope_bytes", l->max_envelope_bytes, SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET,
         SP_HARD_MAX_ENVELOPE_BYTES},
        {"max_envelopes_per_request", l->max_envelopes_per_request, 1,
         SP_HARD_MAX_ENVELOPES_PER_REQ},
        {"max_prekeys_per_upload", l->max_prekeys_per_upload, 1, SP_HARD_MAX_PREKEYS_PER_UPLOAD},
        {"max_prekeys_per_account", l->max_prekeys_per_account, 1, 100000},
        {"mailbox_max_messages", l->mailbox_max_messages, 1, 10000000},
        {"mailbox_max_bytes", l->mailbox_max_bytes, SP_HARD_MAX_ENVELOPE_BYTES,
         64ull * 1024 * 1024 * 1024},
        {"fetch_max_envelopes", l->fetch_max_envelopes, 1, SP_HARD_MAX_FETCH_ENVELOPES},
        {"max_wait_s", l->max_wait_s, 0, SP_HARD_MAX_WAIT_S},
        {"max_ack_ids", l->max_ack_ids, 1, SP_HARD_MAX_ACK_IDS},
        {"token_ttl_s", l->token_ttl_s, 60, 7 * 24 * 3600},
        {"proof_window_s", l->proof_window_s, 10, 3600},
        {"bundle_fetches_per_target", l->bundle_fetches_per_target, 1, 100000},
        {"bundle_fetch_window_s", l->bundle_fetch_window_s, 1, 7 * 24 * 3600},
        {"envelope_ttl_s", l->envelope_ttl_s, 3600, 365u * 24 * 3600},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i].value < checks[i].min || checks[i].value > checks[i].max) {
            *name = checks[i].name;
            return SP_ERR_USAGE;
        }
    }
    /* A body must be able to carry at least one maximal envelope. */
    if (l->max_body_bytes < l->max_envelope_bytes + 64) {
        *name = "max_body_bytes";
        return SP_ERR_USAGE;
    }
    *name = NULL;
    return SP_OK;
}
