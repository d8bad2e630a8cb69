/*
 * status_http.c: the one table that maps sp_status to an HTTP status. Every
 * error response of the relay goes through api_http_status(); handlers never
 * pick HTTP codes themselves.
 */
#include "api.h"

static const unsigned http_of_status[SP_STATUS_COUNT] = {
    [SP_OK] = 200,
    [SP_ERR_NOMEM] = 503,
    [SP_ERR_INTERNAL] = 500,
    [SP_ERR_MALFORMED] = 400,
    [SP_ERR_INVALID_FIELD] = 400,
    [SP_ERR_UNSUPPORTED_VERSION] = 400,
    [SP_ERR_TOO_LARGE] = 413,
    [SP_ERR_TOO_MANY] = 413,
    [SP_ERR_BAD_SIGNATURE] = 401,
    [SP_ERR_UNAUTHENTICATED] = 401,
    [SP_ERR_STALE_PROOF] = 401,
    [SP_ERR_REPLAY] = 401,
    [SP_ERR_NOT_FOUND] = 404,
    [SP_ERR_METHOD_NOT_ALLOWED] = 405,
    [SP_ERR_CONFLICT] = 409,
    [SP_ERR_MAILBOX_FULL] = 507,
    [SP_ERR_RATE_LIMITED] = 429,
    [SP_ERR_PREKEY_LIMIT] = 409,
    [SP_ERR_UNSUPPORTED_MEDIA] = 415,
    [SP_ERR_UNAVAILABLE] = 503,
    [SP_ERR_IO] = 500,
    /* Client-side statuses never leave a relay; map them to 500 if they do. */
    [SP_ERR_NETWORK] = 500,
    [SP_ERR_TLS] = 500,
    [SP_ERR_PROTOCOL] = 500,
    [SP_ERR_DECRYPT] = 500,
    [SP_ERR_IDENTITY_MISMATCH] = 500,
    [SP_ERR_UNTRUSTED_IDENTITY] = 500,
    [SP_ERR_DUPLICATE] = 500,
    [SP_ERR_NO_SESSION] = 500,
    [SP_ERR_USAGE] = 500,
    [SP_ERR_INVALID_KEY_ID] = 500,
};

unsigned api_http_status(sp_status st)
{
    if ((unsigned)st >= SP_STATUS_COUNT || http_of_status[st] == 0)
        return 500;
    return http_of_status[st];
}
