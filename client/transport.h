/*
 * transport.h: HTTPS to the relay, the only SDK module that uses libcurl.
 *
 * A struct transport owns one CURL easy handle (so one keep-alive TLS
 * connection to the relay), configured once: certificate verification always
 * on (VERIFYPEER=1, VERIFYHOST=2), TLS >= 1.2, HTTP/1.1, optional CA file and
 * public-key pin, connect and total timeouts, https only (no redirects, no
 * other protocols). Response bodies accumulate in a capped struct buf, so a
 * hostile or broken relay cannot make the SDK allocate without bound.
 *
 * Failure mapping:
 *   could not resolve / connect / timed out / connection dropped -> SP_ERR_NETWORK
 *   any TLS or certificate or pin failure                        -> SP_ERR_TLS
 *   HTTP >= 400 with a protobuf Error body                       -> its code
 *                                                                  (+ retry_after_s)
 *   HTTP >= 400 without one, or an unexpected status             -> SP_ERR_PROTOCOL
 *   body over the cap                                            -> SP_ERR_TOO_LARGE
 * Never logs URLs, tokens, bodies or addresses.
 *
 * Threads: one thread at a time per transport (the SDK handle mutex).
 */
#ifndef SEALPOST_CLIENT_TRANSPORT_H
#define SEALPOST_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

struct transport;

struct transport_config {
    const char *base_url;      /* "https://host:port", no trailing slash needed */
    const char *ca_file;       /* NULL: system trust store */
    const char *pinned_pubkey; /* NULL or curl "sha256//..." */
    long timeout_ms;           /* per request; 0 = 30000 */
    size_t max_response;       /* 0 = SP_HARD_MAX_BODY_BYTES */
};

/* Strings are copied. SP_ERR_USAGE unless base_url starts with "https://". */
SP_WARN_UNUSED sp_status transport_new(struct transport **out, const struct transport_config *cfg);
void transport_free(struct transport *t);

struct transport_result {
    long http_status;       /* 0 if no HTTP answer */
    uint32_t retry_after_s; /* from an Error body or Retry-After, 0 if none */
};

/* One request. `path` starts with '/'. bearer: 43-char token text or NULL.
 * body may be NULL (then no Content-Type). On SP_OK, `resp` (caller-owned,
 * reset first) holds a 2xx body. extra_timeout_s extends the timeout for
 * long-polls. */
SP_WARN_UNUSED sp_status transport_request(struct transport *t, const char *method,
                                           const char *path, const char *bearer,
                                           const uint8_t *body, size_t len, long extra_timeout_s,
                                           struct buf *resp, struct transport_result *res);

#endif
