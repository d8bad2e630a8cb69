/*
 * handlers.h: one function per endpoint of the relay API (docs/PROTOCOL.md).
 *
 * A handler runs after routing, the body-size and content-type checks and,
 * for routes that need it, bearer authentication (cs->account is set). It
 * either fills call->resp and returns API_DONE, or submits work to the writer
 * or the long-poll registry, sets cs->resume and returns API_PENDING; see
 * api_internal.h for what it may touch after that.
 *
 * handlers_account.c: register, token, prekeys, signed prekey, bundle.
 * handlers_mail.c:    send, fetch (long-poll), ack.
 * handlers_misc.c:    limits, health, ready, metrics.
 */
#ifndef SEALPOST_SERVER_API_HANDLERS_H
#define SEALPOST_SERVER_API_HANDLERS_H

#include "server/api/api_internal.h"

#define HANDLER(name)                                                                              \
    enum api_result name(struct api *api, struct api_call *call, struct call_state *cs)

HANDLER(handle_register);
HANDLER(handle_token);
HANDLER(handle_prekeys_upload);
HANDLER(handle_prekeys_count);
HANDLER(handle_signed_prekey);
HANDLER(handle_bundle);
HANDLER(handle_send);
HANDLER(handle_fetch);
HANDLER(handle_ack);
HANDLER(handle_limits);
HANDLER(handle_health);
HANDLER(handle_ready);
HANDLER(handle_metrics);

/* Shared by handlers that write: allocate the handler context of `size`
 * bytes (zeroed) and attach it to cs with its destructor (may be NULL for
 * plain free()). NULL on allocation failure. */
void *handler_ctx_new(struct call_state *cs, size_t size, void (*ctx_free)(void *ctx));

#endif
