/*
 * test_privacy_e2e.c: the real sealpostd at log level debug, every endpoint
 * exercised over TLS including error paths, then its captured stderr is
 * searched: no agent address (base32 either case, hex), no identity key, no
 * bearer token, and the client IP 127.0.0.1 only in the operator's
 * "listening on" line. Then `sealpostd prune` and `sealpostd audit` run on
 * the stopped relay's database and their output is searched the same way.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/crypto.h"
#include "common/encoding.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot read %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, fp), (size_t)n);
    p[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void assert_absent(const char *text, size_t n, const void *needle, size_t len,
                          const char *what)
{
    ck_assert_msg(memmem(text, n, needle, len) == NULL, "%s found in the relay's output", what);
}

static void assert_no_identity(const char *text, size_t n, const struct rc_identity *id)
{
    char up[SP_ADDRESS_TEXT_LEN + 1], hex[80];
    assert_absent(text, n, id->address_text, SP_ADDRESS_TEXT_LEN, "address (base32)");
    for (size_t i = 0; i < SP_ADDRESS_TEXT_LEN; i++) {
        char ch = id->address_text[i];
        up[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    assert_absent(text, n, up, SP_ADDRESS_TEXT_LEN, "address (upper-case base32)");
    ck_assert_int_eq(hex_encode(hex, sizeof hex, id->address, SP_ADDRESS_LEN), SP_OK);
    assert_absent(text, n, hex, 16, "address (hex)");
    ck_assert_int_eq(hex_encode(hex, sizeof hex, id->identity_key, 16), SP_OK);
    assert_absent(text, n, hex, 16, "identity key (hex)");
    if (id->bearer[0] != '\0')
        assert_absent(text, n, id->bearer, 16, "bearer token");
}

/* Every line containing 127.0.0.1 is the "listening on" line. */
static void assert_ip_only_in_listen_line(const char *log)
{
    int listen_lines = 0;
    for (const char *p = log; (p = strstr(p, "127.0.0.1")) != NULL; p++) {
        const char *bol = p;
        while (bol > log && bol[-1] != '\n')
            bol--;
        const char *eol = strchr(p, '\n');
        size_t len = eol != NULL ? (size_t)(eol - bol) : strlen(bol);
        ck_assert_msg(memmem(bol, len, "listening on 127.0.0.1:", 23) != NULL,
                      "client IP in a log line: %.*s", (int)len, bol);
        listen_lines++;
    }
    ck_assert_int_eq(listen_lines, 1); /* control: the scan sees the log */
}

/* Run sealpostd COMMAND on the relay's database; returns its stdout+stderr. */
static char *run_command(const struct relay *r, const char *cmd, size_t *len)
{
    char *out = tu_path(r->dir, "cmd.out");
    char line[2048];
    snprintf(line, sizeof line, "'%s' --log-level debug --db '%s' %s > '%s' 2>&1",
             rh_sealpostd_path(), r->db_path, cmd, out);
    int rc = system(line);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "sealpostd %s failed", cmd);
    char *text = slurp(out, len);
    free(out);
    return text;
}

START_TEST(test_relay_logs_hold_no_identities)
{
    struct relay r;
    struct rc_client c;
    struct rc_identity a, b, ghost;
    struct rc_response resp;

    rh_start(&r, RH_CONF_BASE "bundle_fetches_per_target = 1\n"
                              "[server]\nlog_level = debug\n");
    rh_client(&c, &r);
    rh_account(&c, &a, 3);
    rh_account(&c, &b, 3);
    ck_assert_int_eq(rc_identity_new(&ghost), 0);

    /* prekeys, bundle (then 429), bundle of an unknown agent */
    uint32_t count = 0;
    ck_assert_int_eq(rc_upload_prekeys(&c, &a, 2, &count), 200);
    ck_assert_int_eq(rc_prekey_count(&c, &a, &count), 200);
    ck_assert_int_eq(rc_bundle(&c, &a, b.address_text, NULL, NULL), 200);
    ck_assert_int_eq(rc_bundle(&c, &a, b.address_text, NULL, NULL), 429);
    ck_assert_int_eq(rc_bundle(&c, &a, ghost.address_text, NULL, NULL), 404);

    /* send (ok, unknown recipient), fetch, ack */
    struct buf content;
    struct wire_out_envelope env = {0};
    buf_init(&content, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(rc_fake_sealed(&content, 256), 0);
    env.content = content.data;
    env.content_len = content.len;
    memcpy(env.recipient, b.address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(env.message_id, SP_MESSAGE_ID_LEN), SP_OK);
    ck_assert_int_eq(rc_send(&c, &a, &env, 1, NULL, NULL), 200);
    memcpy(env.recipient, ghost.address, SP_ADDRESS_LEN);
    ck_assert_int_eq(rc_send(&c, &a, &env, 1, NULL, NULL), 404);
    struct wire_fetch page;
    ck_assert_int_eq(rc_fetch(&c, &b, -1, -1, -1, &page, NULL), 200);
    ck_assert_uint_eq(page.n, 1);
    wire_fetch_free(&page);
    uint8_t ids[1][SP_MESSAGE_ID_LEN];
    memcpy(ids[0], env.message_id, SP_MESSAGE_ID_LEN);
    uint32_t deleted = 0;
    ck_assert_int_eq(rc_ack(&c, &b, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 1, &deleted), 200);
    ck_assert_uint_eq(deleted, 1);
    buf_free(&content);

    /* authentication failures: token of an unknown agent, bad bearer, bad
     * register signature, wrong content type, unknown path */
    ck_assert_int_eq(rc_get_token(&c, &ghost), 401);
    rc_response_init(&resp);
    rc_request(&c, &resp, "GET", "/v1/messages", NULL, NULL, 0, NULL,
               "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_int_eq(resp.status, 401);
    rc_request(&c, &resp, "POST", "/v1/messages", "text/plain", (const uint8_t *)"x", 1,
               a.bearer, NULL);
    ck_assert_int_eq(resp.status, 415);
    rc_request(&c, &resp, "GET", "/v1/nope", NULL, NULL, 0, NULL, NULL);
    ck_assert_int_eq(resp.status, 404);
    rc_request(&c, &resp, "GET", "/metrics", NULL, NULL, 0, NULL, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_nonnull(memmem(resp.body.data, resp.body.len, "sealpost_pruned_total", 21));
    rc_response_free(&resp);
    struct buf reg;
    buf_init(&reg, 1u << 20);
    struct rc_register_params rp = {.n_prekeys = 1, .corrupt_spk_signature = true};
    ck_assert_int_eq(rc_build_register(&reg, &ghost, &rp), 0);
    rc_response_init(&resp);
    rc_request(&c, &resp, "POST", "/v1/register", "application/x-protobuf", reg.data, reg.len,
               NULL, NULL);
    ck_assert_int_eq(resp.status, 401);
    rc_response_free(&resp);
    buf_free(&reg);

    rh_stop(&r);
    size_t n = 0;
    char *log = slurp(r.log_path, &n);
    /* control: the log was captured, with the pruner running */
    ck_assert_msg(strstr(log, "pruner: every") != NULL, "no pruner start line in the log");
    assert_no_identity(log, n, &a);
    assert_no_identity(log, n, &b);
    assert_no_identity(log, n, &ghost);
    assert_ip_only_in_listen_line(log);
    free(log);

    /* the offline commands on the same database */
    char *out = run_command(&r, "prune", &n);
    ck_assert_msg(strstr(out, "pruned: ") != NULL, "prune output: %s", out);
    assert_no_identity(out, n, &a);
    assert_no_identity(out, n, &b);
    free(out);
    out = run_command(&r, "audit", &n);
    ck_assert_msg(strstr(out, "accounts") != NULL, "audit output: %s", out);
    assert_no_identity(out, n, &a);
    assert_no_identity(out, n, &b);
    ck_assert(strstr(out, "127.0.0.1") == NULL);
    free(out);

    rc_identity_free(&a);
    rc_identity_free(&b);
    rc_identity_free(&ghost);
    rc_client_free(&c);
    rh_destroy(&r);
}
END_TEST

static Suite *privacy_e2e_suite(void)
{
    Suite *s = suite_create("privacy_e2e");
    TCase *tc = tcase_create("logs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_relay_logs_hold_no_identities);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(privacy_e2e_suite());
    rh_global_cleanup();
    return rc;
}
