/*
 * http.h: sealpostd's HTTPS front end (libmicrohttpd over GnuTLS).
 *
 * Accepts TLS connections on the configured address, reads each request with
 * a body capped at limits.max_body_bytes, and hands every request, whatever
 * its path, to api_handle(). Calls the API answers later (API_PENDING) are
 * parked with MHD_suspend_connection, so a long-poll does not hold a worker
 * thread. This module and http.c are the only code that sees libmicrohttpd.
 *
 * Privacy: peer IP addresses never leave this module; the API only sees a
 * keyed hash (per-process random key) for in-memory rate limits. Nothing
 * here logs a client address, a path or a header.
 *
 * Lifecycle (main.c):
 *   http_start -> ... -> http_quiesce (stop accepting) -> api_shutdown (wakes
 *   every pending call) -> http_stop -> api_destroy.
 * The struct api must outlive the server.
 */
#ifndef SEALPOST_SERVER_HTTP_H
#define SEALPOST_SERVER_HTTP_H

#include "common/status.h"

struct api;
struct config;
struct http;

/* Read the certificate and key named by cfg, bind listen_host:listen_port
 * and start the worker threads. cfg and api must stay valid until
 * http_stop(). On success *out is owned by the caller (http_stop frees it).
 * Errors: SP_ERR_IO (certificate or key unreadable, address in use, TLS
 * setup failed; logged with the file or address), SP_ERR_NOMEM. */
SP_WARN_UNUSED sp_status http_start(struct http **out, const struct config *cfg, struct api *api);

/* Stop accepting new connections; requests on open connections still run.
 * Idempotent; NULL-safe. */
void http_quiesce(struct http *h);

/* Stop the server and free it. Call after api_shutdown(): every suspended
 * call must have been woken (waits up to a few seconds for the last wakes).
 * NULL-safe. */
void http_stop(struct http *h);

#endif
