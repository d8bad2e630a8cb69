/*
 * test_tls_http.c: the transport as a client sees it: TLS 1.3 only by
 * default (a TLS 1.2-only client is refused unless the operator allows 1.2),
 * certificate verification (a client trusting another CA fails), keep-alive
 * reuse, no plaintext HTTP, and a listener bound to 127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

static struct relay g_relay;

static void setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE);
}

static void teardown(void)
{
    rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

static CURLcode health_with(struct rc_client *c, long *status)
{
    struct rc_response r;
    rc_response_init(&r);
    CURLcode cc = rc_request(c, &r, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL);
    *status = r.status;
    rc_response_free(&r);
    return cc;
}

START_TEST(test_tls12_refused_by_default)
{
    struct rc_client c;
    long st = 0;
    rh_client(&c, &g_relay);
    curl_easy_setopt(c.h, CURLOPT_SSLVERSION,
                     (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    CURLcode cc = health_with(&c, &st);
    ck_assert_msg(cc != CURLE_OK, "a TLS 1.2-only client got HTTP %ld", st);
    rc_client_free(&c);

    rh_client(&c, &g_relay);
    curl_easy_setopt(c.h, CURLOPT_SSLVERSION,
                     (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    cc = health_with(&c, &st);
    ck_assert_msg(cc == CURLE_OK, "TLS 1.3: curl %d %s", cc, c.err);
    ck_assert_int_eq(st, 200);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_tls12_allowed_when_configured)
{
    /* Positive control: the refusal above is the relay's policy, not the client. */
    struct relay r;
    struct rc_client c;
    long st = 0;
    rh_start(&r, RH_CONF_BASE "[server]\ntls_min_version = 1.2\n");
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    curl_easy_setopt(c.h, CURLOPT_SSLVERSION,
                     (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    CURLcode cc = health_with(&c, &st);
    ck_assert_msg(cc == CURLE_OK, "TLS 1.2 with tls_min_version=1.2: curl %d %s", cc, c.err);
    ck_assert_int_eq(st, 200);
    rc_client_free(&c);
    rh_stop(&r);
    rh_destroy(&r);
}
END_TEST

START_TEST(test_keepalive_reuse)
{
    struct rc_client c;
    struct rc_response r;
    struct rc_identity id;
    rh_client(&c, &g_relay);
    rc_response_init(&r);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.num_connects, 1);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.num_connects, 0);
    ck_assert_str_eq(r.content_type[0] != '\0' ? "set" : "unset", "set");
    /* Requests with bodies and errors keep the connection too. */
    rh_account(&c, &id, 1);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/nope", NULL, NULL, 0, NULL, NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(r.num_connects, 0);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/prekeys/count", NULL, NULL, 0, id.bearer, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.num_connects, 0);
    rc_identity_free(&id);
    rc_response_free(&r);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_other_ca_fails_verification)
{
    struct rc_client c;
    long st = 0;
    ck_assert_int_eq(rc_client_init(&c, g_relay.base_url, rh_other_ca_path()), 0);
    CURLcode cc = health_with(&c, &st);
    ck_assert_msg(cc == CURLE_PEER_FAILED_VERIFICATION, "want curl 60, got %d (%s), HTTP %ld", cc,
                  c.err, st);
    rc_client_free(&c);
    /* Control: the right CA on the same relay works. */
    rh_client(&c, &g_relay);
    ck_assert_int_eq(health_with(&c, &st), CURLE_OK);
    ck_assert_int_eq(st, 200);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_no_plaintext_http)
{
    struct rc_client c;
    char url[64];
    long st = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)g_relay.port);
    ck_assert_int_eq(rc_client_init(&c, url, rh_cert_path()), 0);
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT, 5L);
    CURLcode cc = health_with(&c, &st);
    ck_assert_msg(cc != CURLE_OK || st != 200, "plaintext HTTP answered 200");
    rc_client_free(&c);
}
END_TEST

/* 0 if a TCP connect to addr:port is refused (or times out), 1 if accepted. */
static int can_connect(int family, const void *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        memcpy(&sa->sin_addr, addr, sizeof sa->sin_addr);
        len = sizeof *sa;
    } else {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        memcpy(&sa->sin6_addr, addr, sizeof sa->sin6_addr);
        len = sizeof *sa;
    }
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok;
}

START_TEST(test_loopback_only)
{
    struct in_addr a4;
    struct in6_addr a6;
    uint16_t port = g_relay.port;
    ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &a4), 1);
    ck_assert_int_eq(can_connect(AF_INET, &a4, port), 1); /* control */
    ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.2", &a4), 1);
    ck_assert_int_eq(can_connect(AF_INET, &a4, port), 0);
    ck_assert_int_eq(inet_pton(AF_INET6, "::1", &a6), 1);
    ck_assert_int_eq(can_connect(AF_INET6, &a6, port), 0);
    /* Every non-loopback address of this host. */
    struct ifaddrs *ifs = NULL, *i;
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i != NULL; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
                continue;
            const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127)
                continue;
            char txt[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &sa->sin_addr, txt, sizeof txt);
            ck_assert_msg(can_connect(AF_INET, &sa->sin_addr, port) == 0,
                          "relay reachable on %s", txt);
        }
        freeifaddrs(ifs);
    }
}
END_TEST

START_TEST(test_metrics_aggregate_only)
{
    struct rc_client c;
    struct rc_response r;
    struct rc_identity id;
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 1);
    rc_response_init(&r);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/metrics", NULL, NULL, 0, NULL, NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strncmp(r.content_type, "text/plain", 10) == 0, "Content-Type %s",
                  r.content_type);
    ck_assert_int_eq(buf_append_u8(&r.body, 0), SP_OK);
    const char *text = (const char *)r.body.data;
    ck_assert_ptr_null(strstr(text, id.address_text));
    ck_assert_ptr_null(strstr(text, id.bearer));
    ck_assert_ptr_null(strstr(text, "127.0.0.1"));
    rc_identity_free(&id);
    rc_response_free(&r);
    rc_client_free(&c);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("integration_tls_http");
    TCase *tc = tcase_create("tls_http");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tls12_refused_by_default);
    tcase_add_test(tc, test_tls12_allowed_when_configured);
    tcase_add_test(tc, test_keepalive_reuse);
    tcase_add_test(tc, test_other_ca_fails_verification);
    tcase_add_test(tc, test_no_plaintext_http);
    tcase_add_test(tc, test_loopback_only);
    tcase_add_test(tc, test_metrics_aggregate_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(tls_suite());
    rh_global_cleanup();
    return rc;
}
