/*
 * router.c: the route table of the relay API and its lookup (see router.h).
 *
 * Invariants: the table is the single list of endpoints (docs/PROTOCOL.md
 * mirrors it); a path matched by no pattern is 404, a path matched with
 * another method is 405 with the accepted methods. Stateless and const, so
 * thread-safe.
 */
#include "server/api/router.h"

#include <stdio.h>
#include <string.h>

#include "server/api/handlers.h"

static const struct route routes[] = {
    {API_POST, "/v1/register", handle_register, false, "register"},
    {API_POST, "/v1/token", handle_token, false, "token"},
    {API_PUT, "/v1/prekeys", handle_prekeys_upload, true, "prekeys_upload"},
    {API_GET, "/v1/prekeys/count", handle_prekeys_count, true, "prekeys_count"},
    {API_PUT, "/v1/signed-prekey", handle_signed_prekey, true, "signed_prekey"},
    {API_GET, "/v1/bundle/{address}", handle_bundle, true, "bundle"},
    {API_POST, "/v1/messages", handle_send, true, "send"},
    {API_GET, "/v1/messages", handle_fetch, true, "fetch"},
    {API_POST, "/v1/messages/ack", handle_ack, true, "ack"},
    {API_GET, "/v1/limits", handle_limits, false, "limits"},
    {API_GET, "/v1/health", handle_health, false, "health"},
    {API_GET, "/v1/ready", handle_ready, false, "ready"},
    {API_GET, "/metrics", handle_metrics, false, "metrics"},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Does `path` match `pattern`? For "{...}" patterns *param points at the
 * matched segment. */
static bool match(const char *pattern, const char *path, const char **param)
{
    const char *brace = strchr(pattern, '{');
    *param = NULL;
    if (brace == NULL)
        return strcmp(pattern, path) == 0;
    size_t plen = (size_t)(brace - pattern);
    if (strncmp(pattern, path, plen) != 0)
        return false;
    const char *seg = path + plen;
    if (*seg == '\0' || strchr(seg, '/') != NULL)
        return false;
    *param = seg;
    return true;
}

const char *router_method_name(enum api_method m)
{
    switch (m) {
    case API_GET:
        return "GET";
    case API_POST:
        return "POST";
    case API_PUT:
        return "PUT";
    case API_DELETE:
        return "DELETE";
    case API_HEAD:
        return "HEAD";
    case API_OTHER:
        break;
    }
    return "OTHER";
}

enum router_result router_find(enum api_method method, const char *path, const struct route **out,
                               const char **param, char *allow, size_t allow_size)
{
    bool path_known = false;
    size_t used = 0;
    *out = NULL;
    *param = NULL;
    if (allow_size > 0)
        allow[0] = '\0';
    if (path == NULL)
        return ROUTER_NOT_FOUND;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const char *p = NULL;
        if (!match(routes[i].pattern, path, &p))
            continue;
        if (routes[i].method == method) {
            *out = &routes[i];
            *param = p;
            return ROUTER_FOUND;
        }
        path_known = true;
        if (allow_size > used) {
            int n = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
                             router_method_name(routes[i].method));
            if (n > 0)
                used += (size_t)n < allow_size - used ? (size_t)n : allow_size - used - 1;
        }
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

size_t router_count(void)
{
    return N_ROUTES;
}

const struct route *router_at(size_t i)
{
    return i < N_ROUTES ? &routes[i] : NULL;
}

size_t router_index(const struct route *r)
{
    return (size_t)(r - routes);
}
