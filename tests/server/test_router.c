/*
 * test_router.c: the route table: exact paths, the {address} segment, 404
 * vs 405 with the Allow list, and that every route has a handler and a
 * metrics name.
 */
#include <string.h>

#include "server/api/router.h"
#include "testutil.h"

static enum router_result find(enum api_method m, const char *path, const struct route **r,
                               const char **param, char *allow)
{
    return router_find(m, path, r, param, allow, 48);
}

START_TEST(test_exact_routes)
{
    static const struct {
        enum api_method m;
        const char *path, *name;
        bool auth;
    } ok[] = {
        {API_POST, "/v1/register", "register", false},
        {API_POST, "/v1/token", "token", false},
        {API_PUT, "/v1/prekeys", "prekeys_upload", true},
        {API_GET, "/v1/prekeys/count", "prekeys_count", true},
        {API_PUT, "/v1/signed-prekey", "signed_prekey", true},
        {API_POST, "/v1/messages", "send", true},
        {API_GET, "/v1/messages", "fetch", true},
        {API_POST, "/v1/messages/ack", "ack", true},
        {API_GET, "/v1/limits", "limits", false},
        {API_GET, "/v1/health", "health", false},
        {API_GET, "/v1/ready", "ready", false},
        {API_GET, "/metrics", "metrics", false},
    };
    char allow[48];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const struct route *r = NULL;
        const char *param = "x";
        ck_assert_int_eq(find(ok[i].m, ok[i].path, &r, &param, allow), ROUTER_FOUND);
        ck_assert_str_eq(r->name, ok[i].name);
        ck_assert_int_eq(r->needs_auth, ok[i].auth);
        ck_assert_ptr_null(param);
        ck_assert_ptr_eq(router_at(router_index(r)), r);
    }
    ck_assert_uint_eq(router_count(), sizeof ok / sizeof ok[0] + 1);
    for (size_t i = 0; i < router_count(); i++) {
        ck_assert(router_at(i)->handler != NULL);
        ck_assert_ptr_nonnull(router_at(i)->name);
    }
    ck_assert_ptr_null(router_at(router_count()));
}
END_TEST

START_TEST(test_param_route)
{
    const struct route *r = NULL;
    const char *param = NULL;
    char allow[48];
    ck_assert_int_eq(find(API_GET, "/v1/bundle/abcdef", &r, &param, allow), ROUTER_FOUND);
    ck_assert_str_eq(r->name, "bundle");
    ck_assert(r->needs_auth);
    ck_assert_str_eq(param, "abcdef");
    const char *missing[] = {"/v1/bundle/",    "/v1/bundle",    "/v1/bundle/a/",
                             "/v1/bundle/a/b", "/v1/bundlex/a", "/v1/bundle//a"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        ck_assert_msg(find(API_GET, missing[i], &r, &param, allow) == ROUTER_NOT_FOUND, "%s",
                      missing[i]);
    ck_assert_int_eq(find(API_POST, "/v1/bundle/abc", &r, &param, allow), ROUTER_BAD_METHOD);
    ck_assert_str_eq(allow, "GET");
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_not_found_and_method)
{
    const struct route *r = NULL;
    const char *param = NULL;
    char allow[48];
    const char *missing[] = {"",
                             "/",
                             "/v1",
                             "/v1/",
                             "/V1/health",
                             "/v1/health/",
                             "/v1//health",
                             "/v1/health?x",
                             "/v1/messages/",
                             "/v1/prekeys/"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        ck_assert_msg(find(API_GET, missing[i], &r, &param, allow) == ROUTER_NOT_FOUND, "%s",
                      missing[i]);
    ck_assert_int_eq(router_find(API_GET, NULL, &r, &param, allow, sizeof allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(find(API_PUT, "/v1/messages", &r, &param, allow), ROUTER_BAD_METHOD);
    ck_assert_str_eq(allow, "POST, GET");
    ck_assert_int_eq(find(API_OTHER, "/v1/prekeys", &r, &param, allow), ROUTER_BAD_METHOD);
    ck_assert_str_eq(allow, "PUT");
    ck_assert_int_eq(find(API_HEAD, "/metrics", &r, &param, allow), ROUTER_BAD_METHOD);
    ck_assert_str_eq(allow, "GET");
    /* a tiny Allow buffer truncates, never overflows */
    char tiny[6];
    ck_assert_int_eq(router_find(API_PUT, "/v1/messages", &r, &param, tiny, sizeof tiny),
                     ROUTER_BAD_METHOD);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, test_exact_routes);
    tcase_add_test(tc, test_param_route);
    tcase_add_test(tc, test_not_found_and_method);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(router_suite());
}
