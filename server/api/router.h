/*
 * router.h: the relay's one route table, (method, path pattern) -> handler.
 *
 * Patterns are literal paths, except that a last segment written "{name}"
 * matches one non-empty path segment (no '/'), handed to the handler as
 * `param`. The table is const and the lookup has no state, so any thread may
 * call it.
 */
#ifndef SEALPOST_SERVER_API_ROUTER_H
#define SEALPOST_SERVER_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "server/api/api.h"

struct call_state;

typedef enum api_result (*api_handler_fn)(struct api *api, struct api_call *call,
                                          struct call_state *cs);

struct route {
    enum api_method method;
    const char *pattern;
    api_handler_fn handler;
    bool needs_auth;  /* bearer token required */
    const char *name; /* metrics label, [a-z_] */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* Look up (method, path). ROUTER_FOUND: *out and *param (NULL unless the
 * pattern has a parameter) are set. ROUTER_BAD_METHOD: `allow` receives the
 * methods the path does accept, e.g. "GET, PUT" (NUL-terminated, truncated
 * to allow_size). */
enum router_result router_find(enum api_method method, const char *path, const struct route **out,
                               const char **param, char *allow, size_t allow_size);

/* The table, for metrics labels: routes are numbered 0 .. router_count()-1. */
size_t router_count(void);
const struct route *router_at(size_t i);
size_t router_index(const struct route *r);

const char *router_method_name(enum api_method m);

#endif
