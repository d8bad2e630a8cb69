/*
 * status.c: names and messages for sp_status. One table, indexed by value, so
 * adding a status is one line here and one in status.h.
 */
#include "status.h"

#include <stddef.h>

static const struct {
    const char *name;
    const char *message;
} status_table[SP_STATUS_COUNT] = {
    [SP_OK] = {"OK", "success"},
    [SP_ERR_NOMEM] = {"NOMEM", "out of memory"},
    [SP_ERR_INTERNAL] = {"INTERNAL", "internal error"},
    [SP_ERR_MALFORMED] = {"MALFORMED", "malformed or truncated message"},
    [SP_ERR_INVALID_FIELD] = {"INVALID_FIELD", "missing or invalid field"},
    [SP_ERR_UNSUPPORTED_VERSION] = {"UNSUPPORTED_VERSION", "unsupported version"},
    [SP_ERR_TOO_LARGE] = {"TOO_LARGE", "too large"},
    [SP_ERR_TOO_MANY] = {"TOO_MANY", "too many items"},
    [SP_ERR_BAD_SIGNATURE] = {"BAD_SIGNATURE", "signature does not verify"},
    [SP_ERR_UNAUTHENTICATED] = {"UNAUTHENTICATED", "missing, unknown or expired credentials"},
    [SP_ERR_STALE_PROOF] = {"STALE_PROOF", "proof timestamp outside the allowed window"},
    [SP_ERR_REPLAY] = {"REPLAY", "proof already used"},
    [SP_ERR_NOT_FOUND] = {"NOT_FOUND", "not found"},
    [SP_ERR_METHOD_NOT_ALLOWED] = {"METHOD_NOT_ALLOWED", "method not allowed"},
    [SP_ERR_CONFLICT] = {"CONFLICT", "id already used with different content"},
    [SP_ERR_MAILBOX_FULL] = {"MAILBOX_FULL", "recipient mailbox is full"},
    [SP_ERR_RATE_LIMITED] = {"RATE_LIMITED", "rate limited"},
    [SP_ERR_PREKEY_LIMIT] = {"PREKEY_LIMIT", "too many prekeys stored"},
    [SP_ERR_UNSUPPORTED_MEDIA] = {"UNSUPPORTED_MEDIA", "unsupported content type"},
    [SP_ERR_UNAVAILABLE] = {"UNAVAILABLE", "service unavailable"},
    [SP_ERR_IO] = {"IO", "local storage error"},
    [SP_ERR_NETWORK] = {"NETWORK", "relay unreachable"},
    [SP_ERR_TLS] = {"TLS", "TLS handshake or certificate verification failed"},
    [SP_ERR_PROTOCOL] = {"PROTOCOL", "protocol violation by peer"},
    [SP_ERR_DECRYPT] = {"DECRYPT", "decryption or authentication failed"},
    [SP_ERR_IDENTITY_MISMATCH] = {"IDENTITY_MISMATCH", "identity key does not match address"},
    [SP_ERR_UNTRUSTED_IDENTITY] = {"UNTRUSTED_IDENTITY", "peer identity key changed"},
    [SP_ERR_DUPLICATE] = {"DUPLICATE", "duplicate message"},
    [SP_ERR_NO_SESSION] = {"NO_SESSION", "no session with peer"},
    [SP_ERR_USAGE] = {"USAGE", "invalid arguments"},
    [SP_ERR_INVALID_KEY_ID] = {"INVALID_KEY_ID", "unknown prekey id"},
};

const char *sp_strerror(sp_status st)
{
    if ((unsigned)st >= SP_STATUS_COUNT || status_table[st].message == NULL)
        return "unknown status";
    return status_table[st].message;
}

const char *sp_status_name(sp_status st)
{
    if ((unsigned)st >= SP_STATUS_COUNT || status_table[st].name == NULL)
        return "UNKNOWN";
    return status_table[st].name;
}
