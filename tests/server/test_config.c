/*
 * test_config.c: sealpostd configuration: defaults, the shipped example file,
 * and every way a file can be wrong (each must fail, name file:line:key on
 * stderr and leave the configuration untouched).
 */
#include "server/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir("config");
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
    dir = NULL;
}

static char *write_file(const char *name, const char *text)
{
    char *path = tu_path(dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* Run config_load_file with stderr captured; returns the status and puts
 * what was logged (malloc'd) in *log. */
static sp_status load_capture(struct config *c, const char *path, char **log)
{
    char *logpath = tu_path(dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    FILE *lf = fopen(logpath, "w+");
    ck_assert_ptr_nonnull(lf);
    ck_assert_int_ge(dup2(fileno(lf), 2), 0);
    sp_status st = config_load_file(c, path);
    fflush(stderr);
    ck_assert_int_ge(dup2(saved, 2), 0);
    close(saved);
    rewind(lf);
    char *text = calloc(1, 4096);
    ck_assert_ptr_nonnull(text);
    size_t n = fread(text, 1, 4095, lf);
    text[n] = '\0';
    fclose(lf);
    unlink(logpath);
    free(logpath);
    *log = text;
    return st;
}

/* Load `text`; it must fail with `want`, the log must name "file:LINE:" and
 * (if non-NULL) contain `key`, and the config must keep its defaults. */
static void expect_bad(const char *text, sp_status want, int line, const char *key)
{
    struct config c, ref;
    config_defaults(&c);
    config_defaults(&ref);
    char *path = write_file("bad.conf", text);
    char *log = NULL;
    sp_status st = load_capture(&c, path, &log);
    ck_assert_msg(st == want, "status %d (%s), want %d for:\n%s\nlog: %s", st, sp_status_name(st),
                  want, text, log);
    if (line > 0) {
        char needle[512];
        snprintf(needle, sizeof needle, "%s:%d:", path, line);
        ck_assert_msg(strstr(log, needle) != NULL, "log does not name %s: %s", needle, log);
    }
    if (key != NULL)
        ck_assert_msg(strstr(log, key) != NULL, "log does not name %s: %s", key, log);
    /* nothing changed */
    ck_assert_uint_eq(c.threads, ref.threads);
    ck_assert_uint_eq(c.listen_port, ref.listen_port);
    ck_assert_str_eq(c.listen_host, ref.listen_host);
    ck_assert_str_eq(c.tls_min_version, ref.tls_min_version);
    ck_assert_uint_eq(c.limits.max_body_bytes, ref.limits.max_body_bytes);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    free(log);
    free(path);
    config_free(&c);
    config_free(&ref);
}

START_TEST(defaults_validate)
{
    struct config c;
    config_defaults(&c);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_uint_eq(c.listen_port, 8443);
    ck_assert_str_eq(c.tls_cert, "state/tls/cert.pem");
    ck_assert_str_eq(c.tls_key, "state/tls/key.pem");
    ck_assert_str_eq(c.tls_min_version, "1.3");
    ck_assert_uint_eq(c.threads, 4);
    ck_assert_uint_eq(c.max_connections, 1024);
    ck_assert_uint_eq(c.max_connections_per_ip, 64);
    ck_assert_uint_eq(c.connection_timeout_s, 30);
    ck_assert_uint_eq(c.connection_memory, 65536);
    ck_assert_int_eq(c.log_level, SP_LOG_INFO);
    ck_assert_str_eq(c.db_path, "state/sealpostd.db");
    ck_assert(c.db_sync_full);
    ck_assert_uint_eq(c.db_pool_size, 8);
    ck_assert_uint_eq(c.auth_rate_per_minute, 60);
    ck_assert_uint_eq(c.prune_interval_s, 300);
    ck_assert_uint_eq(c.prune_batch, 500);
    ck_assert_uint_eq(c.signed_prekey_grace_s, 30u * 24 * 3600);
    ck_assert_uint_eq(c.account_idle_s, 0);
    struct sp_limits l;
    sp_limits_defaults(&l);
    ck_assert_int_eq(memcmp(&l, &c.limits, sizeof l), 0);
    config_free(&c);
    config_free(&c); /* idempotent */
    config_free(NULL);
}
END_TEST

static char *example_path(void)
{
    const char *src = getenv("SEALPOST_SOURCE_DIR");
    ck_assert_msg(src != NULL, "SEALPOST_SOURCE_DIR not set (run through ctest)");
    return tu_path(src, "deploy/sealpostd.conf.example");
}

START_TEST(example_loads_and_matches_defaults)
{
    struct config c, d;
    config_defaults(&c);
    config_defaults(&d);
    char *path = example_path();
    ck_assert_int_eq(config_load_file(&c, path), SP_OK);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    /* The example documents the defaults: everything but the paths equal. */
    ck_assert_str_eq(c.listen_host, d.listen_host);
    ck_assert_uint_eq(c.listen_port, d.listen_port);
    ck_assert_str_eq(c.tls_cert, "/etc/sealpostd/tls/cert.pem");
    ck_assert_str_eq(c.tls_key, "/etc/sealpostd/tls/key.pem");
    ck_assert_str_eq(c.db_path, "/var/lib/sealpostd/sealpostd.db");
    ck_assert_str_eq(c.tls_min_version, d.tls_min_version);
    ck_assert_uint_eq(c.threads, d.threads);
    ck_assert_uint_eq(c.max_connections, d.max_connections);
    ck_assert_uint_eq(c.max_connections_per_ip, d.max_connections_per_ip);
    ck_assert_uint_eq(c.connection_timeout_s, d.connection_timeout_s);
    ck_assert_uint_eq(c.connection_memory, d.connection_memory);
    ck_assert_int_eq(c.log_level, d.log_level);
    ck_assert_int_eq(c.db_sync_full, d.db_sync_full);
    ck_assert_uint_eq(c.db_pool_size, d.db_pool_size);
    ck_assert_int_eq(memcmp(&c.limits, &d.limits, sizeof c.limits), 0);
    ck_assert_uint_eq(c.auth_rate_per_minute, d.auth_rate_per_minute);
    ck_assert_uint_eq(c.prune_interval_s, d.prune_interval_s);
    ck_assert_uint_eq(c.prune_batch, d.prune_batch);
    ck_assert_uint_eq(c.signed_prekey_grace_s, d.signed_prekey_grace_s);
    ck_assert_uint_eq(c.account_idle_s, d.account_idle_s);
    free(path);
    config_free(&c);
    config_free(&d);
}
END_TEST

/* Every option must be documented (set) in the example. */
START_TEST(example_documents_every_key)
{
    static const char *keys[] = {"listen_host",
                                 "listen_port",
                                 "tls_cert",
                                 "tls_key",
                                 "tls_min_version",
                                 "threads",
                                 "max_connections",
                                 "max_connections_per_ip",
                                 "connection_timeout_s",
                                 "connection_memory",
                                 "log_level",
                                 "path",
                                 "sync",
                                 "pool_size",
                                 "max_body_bytes",
                                 "max_envelope_bytes",
                                 "max_envelopes_per_request",
                                 "max_prekeys_per_upload",
                                 "max_prekeys_per_account",
                                 "mailbox_max_messages",
                                 "mailbox_max_bytes",
                                 "fetch_max_envelopes",
                                 "max_wait_s",
                                 "max_ack_ids",
                                 "token_ttl_s",
                                 "proof_window_s",
                                 "bundle_fetches_per_target",
                                 "bundle_fetch_window_s",
                                 "envelope_ttl_s",
                                 "auth_rate_per_minute",
                                 "prune_interval_s",
                                 "prune_batch",
                                 "signed_prekey_grace_s",
                                 "account_idle_s"};
    char *path = example_path();
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char needle[96];
        snprintf(needle, sizeof needle, "\n%s = ", keys[i]);
        ck_assert_msg(strstr(text, needle) != NULL, "example lacks %s", keys[i]);
    }
    free(path);
}
END_TEST

START_TEST(good_values_apply)
{
    struct config c;
    config_defaults(&c);
    char *path = write_file("good.conf", "# comment\n"
                                         "; other comment\n"
                                         "[server]\n"
                                         "listen_host = ::1\n"
                                         "listen_port=9443\n"
                                         "tls_min_version = 1.2 ; inline comment\n"
                                         "threads = 2\n"
                                         "log_level = debug\n"
                                         "[database]\n"
                                         "sync = normal\n"
                                         "path = /tmp/x.db\n"
                                         "[limits]\n"
                                         "max_body_bytes = 1048576\n"
                                         "mailbox_max_bytes = 17179869184\n"
                                         "max_wait_s = 0\n"
                                         "[retention]\n"
                                         "account_idle_s = 7776000\n"
                                         "[server]\n"
                                         "connection_timeout_s = 5\n");
    ck_assert_int_eq(config_load_file(&c, path), SP_OK);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    ck_assert_str_eq(c.listen_host, "::1");
    ck_assert_uint_eq(c.listen_port, 9443);
    ck_assert_str_eq(c.tls_min_version, "1.2");
    ck_assert_uint_eq(c.threads, 2);
    ck_assert_int_eq(c.log_level, SP_LOG_DEBUG);
    ck_assert(!c.db_sync_full);
    ck_assert_str_eq(c.db_path, "/tmp/x.db");
    ck_assert_uint_eq(c.limits.max_body_bytes, 1048576);
    ck_assert(c.limits.mailbox_max_bytes == 17179869184ull);
    ck_assert_uint_eq(c.limits.max_wait_s, 0);
    ck_assert_uint_eq(c.account_idle_s, 7776000);
    ck_assert_uint_eq(c.connection_timeout_s, 5);
    /* untouched keys keep their defaults */
    ck_assert_uint_eq(c.max_connections, 1024);
    ck_assert_str_eq(c.tls_cert, "state/tls/cert.pem");
    free(path);
    config_free(&c);
}
END_TEST

START_TEST(empty_file_keeps_defaults)
{
    struct config c;
    config_defaults(&c);
    char *path = write_file("empty.conf", "");
    ck_assert_int_eq(config_load_file(&c, path), SP_OK);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    ck_assert_uint_eq(c.listen_port, 8443);
    free(path);
    config_free(&c);
}
END_TEST

START_TEST(bad_unknown_section)
{
    expect_bad("[server]\nthreads = 2\n\n[serverr]\nthreads = 3\n", SP_ERR_USAGE, 4, "serverr");
    /* an unknown section with no keys is caught too */
    expect_bad("[server]\nthreads = 2\n[bogus]\n", SP_ERR_USAGE, 3, "bogus");
}
END_TEST

START_TEST(bad_unknown_key)
{
    expect_bad("[server]\nthreads = 2\nthread = 3\n", SP_ERR_USAGE, 3, "thread");
    /* a key that exists, but in another section */
    expect_bad("[database]\nthreads = 2\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[limits]\nmax_body_byte = 2000000\n", SP_ERR_USAGE, 2, "max_body_byte");
}
END_TEST

START_TEST(bad_key_outside_section)
{
    expect_bad("threads = 2\n", SP_ERR_USAGE, 1, "threads");
}
END_TEST

START_TEST(bad_duplicate_key)
{
    expect_bad("[server]\nthreads = 2\n\nthreads = 3\n", SP_ERR_USAGE, 4, "threads");
    /* an indented line continues the previous value: refused, not merged */
    expect_bad("[server]\nthreads = 2\n  listen_port = 1\n", SP_ERR_USAGE, 3, "threads");
}
END_TEST

START_TEST(bad_not_a_number)
{
    expect_bad("[server]\nthreads = four\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads = 4x\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads = 0x4\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads = 4.0\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads = 4 4\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads =\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[limits]\nmax_body_bytes = 4MiB\n", SP_ERR_USAGE, 2, "max_body_bytes");
}
END_TEST

START_TEST(bad_negative)
{
    expect_bad("[server]\nthreads = -1\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nthreads = +1\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[limits]\nmailbox_max_bytes = -1\n", SP_ERR_USAGE, 2, "mailbox_max_bytes");
}
END_TEST

START_TEST(bad_out_of_range)
{
    expect_bad("[server]\nthreads = 0\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[server]\nlisten_port = 0\n", SP_ERR_USAGE, 2, "listen_port");
    expect_bad("[server]\nlisten_port = 65536\n", SP_ERR_USAGE, 2, "listen_port");
    expect_bad("[server]\nconnection_timeout_s = 0\n", SP_ERR_USAGE, 2, "connection_timeout_s");
    expect_bad("[database]\npool_size = 1\n", SP_ERR_USAGE, 2, "pool_size");
    expect_bad("[limits]\nmax_body_bytes = 4294967296\n", SP_ERR_USAGE, 2, "max_body_bytes");
    /* limits: semantic ranges checked after the file, still naming the line */
    expect_bad("[limits]\n# a comment\nmax_wait_s = 301\n", SP_ERR_USAGE, 3, "max_wait_s");
    expect_bad("[limits]\nmax_body_bytes = 9000000\n", SP_ERR_USAGE, 2, "max_body_bytes");
    expect_bad("[limits]\nmax_envelopes_per_request = 0\n", SP_ERR_USAGE, 2,
               "max_envelopes_per_request");
    /* cross-field: a body must hold one maximal envelope */
    expect_bad("[limits]\nmax_body_bytes = 65000\n", SP_ERR_USAGE, 2, "max_body_bytes");
}
END_TEST

START_TEST(bad_overflow)
{
    expect_bad("[server]\nthreads = 99999999999999999999999\n", SP_ERR_USAGE, 2, "threads");
    expect_bad("[limits]\nmailbox_max_bytes = 18446744073709551616\n", SP_ERR_USAGE, 2,
               "mailbox_max_bytes");
    /* fits u64 but not the field */
    expect_bad("[server]\nthreads = 4294967297\n", SP_ERR_USAGE, 2, "threads");
}
END_TEST

START_TEST(bad_strings)
{
    expect_bad("[server]\ntls_min_version = 1.1\n", SP_ERR_USAGE, 2, "tls_min_version");
    expect_bad("[server]\ntls_min_version = 1.3.0\n", SP_ERR_USAGE, 2, "tls_min_version");
    expect_bad("[server]\ntls_min_version = \n", SP_ERR_USAGE, 2, "tls_min_version");
    expect_bad("[server]\nlisten_host = localhost\n", SP_ERR_USAGE, 2, "listen_host");
    expect_bad("[server]\nlisten_host = [::1]\n", SP_ERR_USAGE, 2, "listen_host");
    expect_bad("[server]\nlog_level = verbose\n", SP_ERR_USAGE, 2, "log_level");
    expect_bad("[server]\ntls_cert =\n", SP_ERR_USAGE, 2, "tls_cert");
    expect_bad("[database]\nsync = yes\n", SP_ERR_USAGE, 2, "sync");
}
END_TEST

START_TEST(bad_syntax)
{
    expect_bad("[server]\nthreads 4\n", SP_ERR_USAGE, 2, NULL);
    expect_bad("[server\nthreads = 4\n", SP_ERR_USAGE, 1, NULL);
    char longline[400];
    memset(longline, 0, sizeof longline);
    strcpy(longline, "[server]\ntls_cert = /");
    memset(longline + strlen(longline), 'a', 250);
    strcat(longline, "\n");
    expect_bad(longline, SP_ERR_USAGE, 2, "too long");
    /* a NUL byte inside a line */
    struct config c;
    config_defaults(&c);
    char *path = tu_path(dir, "nul.conf");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite("[server]\nthreads = 4\0junk\n", 1, 26, f);
    fclose(f);
    char *log = NULL;
    ck_assert_int_eq(load_capture(&c, path, &log), SP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(log, ":2:"));
    free(log);
    free(path);
    config_free(&c);
}
END_TEST

START_TEST(bad_unreadable_file)
{
    struct config c;
    config_defaults(&c);
    char *log = NULL;
    char *missing = tu_path(dir, "does-not-exist.conf");
    ck_assert_int_eq(load_capture(&c, missing, &log), SP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(log, missing));
    free(log);
    /* a directory opens but cannot be read: an error, not an empty config */
    ck_assert_int_eq(load_capture(&c, dir, &log), SP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(log, dir));
    free(log);
    free(missing);
    ck_assert_int_eq(config_validate(&c), SP_OK);
    config_free(&c);
}
END_TEST

START_TEST(validate_catches_flag_overrides)
{
    /* main.c writes flag values straight into the struct; validate must
     * catch what the file parser would have refused. */
    struct config c;
    config_defaults(&c);
    c.threads = 0;
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    c.threads = 4;
    free(c.listen_host);
    c.listen_host = strdup("example.org");
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    free(c.listen_host);
    c.listen_host = strdup("::");
    ck_assert_int_eq(config_validate(&c), SP_OK);
    free(c.tls_min_version);
    c.tls_min_version = strdup("1.0");
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    free(c.tls_min_version);
    c.tls_min_version = strdup("1.2");
    ck_assert_int_eq(config_validate(&c), SP_OK);
    free(c.db_path);
    c.db_path = NULL;
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    c.db_path = strdup("x.db");
    c.listen_port = 0;
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    c.listen_port = 1;
    c.max_connections_per_ip = c.max_connections + 1;
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    c.max_connections_per_ip = 1;
    c.limits.max_envelope_bytes = 10;
    ck_assert_int_eq(config_validate(&c), SP_ERR_USAGE);
    config_free(&c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_validate);
    tcase_add_test(tc, example_loads_and_matches_defaults);
    tcase_add_test(tc, example_documents_every_key);
    tcase_add_test(tc, good_values_apply);
    tcase_add_test(tc, empty_file_keeps_defaults);
    tcase_add_test(tc, bad_unknown_section);
    tcase_add_test(tc, bad_unknown_key);
    tcase_add_test(tc, bad_key_outside_section);
    tcase_add_test(tc, bad_duplicate_key);
    tcase_add_test(tc, bad_not_a_number);
    tcase_add_test(tc, bad_negative);
    tcase_add_test(tc, bad_out_of_range);
    tcase_add_test(tc, bad_overflow);
    tcase_add_test(tc, bad_strings);
    tcase_add_test(tc, bad_syntax);
    tcase_add_test(tc, bad_unreadable_file);
    tcase_add_test(tc, validate_catches_flag_overrides);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(config_suite());
}
