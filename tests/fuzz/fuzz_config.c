/*
 * fuzz_config.c: libFuzzer harness for config_load_file (server/config),
 * the INI parser for sealpostd's configuration file.
 *
 * The operator writes this file, so the risk is lower than for network
 * input, but it is a parser of bytes we do not control (libinih plus our
 * own line reader and value checks). config_load_file only takes a path,
 * so each input is written to one temp file per process and loaded over the
 * defaults. Properties: no crash, no leak; a failed load leaves the config
 * bit-for-bit unchanged (same pointers, same strings); a successful one
 * leaves limits that pass sp_limits_validate and string options that are
 * set and non-empty.
 *
 * The parser reports errors through SP_LOG_E on stderr: expect one line per
 * rejected input.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_harness.h"
#include "server/config.h"

static char tmp_path[4096];

static void tmp_remove(void)
{
    unlink(tmp_path);
}

static const char *tmp_file(void)
{
    if (tmp_path[0] == '\0') {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/sealpost-fuzz-config-XXXXXX",
                 dir != NULL && *dir != '\0' ? dir : "/tmp");
        int fd = mkstemp(tmp_path);
        FUZZ_REQUIRE(fd >= 0);
        close(fd);
        atexit(tmp_remove);
    }
    return tmp_path;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int nonempty(const char *s)
{
    return s != NULL && *s != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = tmp_file();
    struct config c, before;
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f != NULL);
    FUZZ_REQUIRE(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_REQUIRE(fclose(f) == 0);

    /* memset first: the snapshot below compares padding bytes too */
    memset(&c, 0, sizeof c);
    config_defaults(&c);
    memcpy(&before, &c, sizeof c);
    /* Copies of the strings, to see that none was modified in place. */
    char *s_host = strdup(c.listen_host), *s_cert = strdup(c.tls_cert);
    char *s_db = strdup(c.db_path);
    FUZZ_REQUIRE(s_host != NULL && s_cert != NULL && s_db != NULL);

    sp_status st = config_load_file(&c, path);
    if (st != SP_OK) {
        FUZZ_REQUIRE(st == SP_ERR_USAGE || st == SP_ERR_IO || st == SP_ERR_NOMEM);
        FUZZ_REQUIRE(memcmp(&before, &c, sizeof c) == 0);
        FUZZ_REQUIRE(same_str(c.listen_host, s_host) && same_str(c.tls_cert, s_cert) &&
                     same_str(c.db_path, s_db));
    } else {
        FUZZ_REQUIRE(sp_limits_validate(&c.limits, NULL) == SP_OK);
        FUZZ_REQUIRE(nonempty(c.listen_host) && nonempty(c.tls_cert) && nonempty(c.tls_key) &&
                     nonempty(c.db_path));
        FUZZ_REQUIRE(same_str(c.tls_min_version, "1.2") || same_str(c.tls_min_version, "1.3"));
        FUZZ_REQUIRE(c.listen_port >= 1 && c.threads >= 1 && c.db_pool_size >= 2);
    }
    free(s_host);
    free(s_cert);
    free(s_db);
    config_free(&c);
    return 0;
}

/* ---- seeds */

static const char *const config_seed_texts[] = {
    "[server]\nlisten_host = 127.0.0.1\nlisten_port = 8443\ntls_cert = state/tls/cert.pem\n"
    "tls_key = state/tls/key.pem\ntls_min_version = 1.3\nthreads = 4\n"
    "max_connections = 1024\nmax_connections_per_ip = 64\nconnection_timeout_s = 30\n"
    "connection_memory = 65536\nlog_level = info\n",
    "[database]\npath = state/sealpostd.db\nsync = normal\npool_size = 8\n",
    "; limits\n[limits]\nmax_body_bytes = 1048576\nmax_envelope_bytes = 65600\n"
    "max_envelopes_per_request = 64\nmax_prekeys_per_upload = 100\n"
    "max_prekeys_per_account = 200\nmailbox_max_messages = 10000\n"
    "mailbox_max_bytes = 104857600\nfetch_max_envelopes = 100\nmax_wait_s = 30\n"
    "max_ack_ids = 500\ntoken_ttl_s = 86400\nproof_window_s = 300\n"
    "bundle_fetches_per_target = 10\nbundle_fetch_window_s = 3600\n"
    "envelope_ttl_s = 2592000\nauth_rate_per_minute = 60\n",
    "[retention]\nprune_interval_s = 300\nprune_batch = 500\n"
    "signed_prekey_grace_s = 2592000\naccount_idle_s = 0\n",
    "# ipv6, tls 1.2\n[server]\nlisten_host = ::1\ntls_min_version = 1.2\n"
    "log_level = debug\n\n[database]\nsync = full\n",
    "[server]\nthreads = 99999999999999999999999\n",
    "[nosuch]\nkey = value\n",
    "[server]\nlisten_port = 1\n  continued\n",
    "",
};

static void config_seeds(struct fuzz_seeds *s)
{
    for (size_t i = 0; i < sizeof config_seed_texts / sizeof config_seed_texts[0]; i++)
        fuzz_seed_add(s, config_seed_texts[i], strlen(config_seed_texts[i]));
#ifdef FUZZ_SOURCE_DIR
    /* The documented example file, whatever it holds today. */
    FILE *f = fopen(FUZZ_SOURCE_DIR "/deploy/sealpostd.conf.example", "rb");
    if (f != NULL) {
        static uint8_t text[64 * 1024];
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        fuzz_seed_add(s, text, n);
    }
#endif
}

static const uint8_t config_interesting[] = {'[',  ']', '=', ':', ';', '#', '\n', '\r', ' ',
                                             '\t', '0', '9', '-', '.', 0,   0xef, 0xbb, 0xbf};

const struct fuzz_target fuzz_target = {
    .name = "config",
    .seeds = config_seeds,
    .iterations = 30000,
    .selectors = 0,
    .interesting = config_interesting,
    .n_interesting = sizeof config_interesting,
    .max_len = 8192,
};
