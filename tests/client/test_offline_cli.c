/*
 * test_offline_cli.c: the `sealpost` command-line agent end to end (E2E: the
 * real binary as a child process, its state in a temp dir, the real
 * sealpostd on loopback over verified TLS).
 *
 *   roundtrip            init/address/send (argument and stdin)/sync/inbox/status;
 *                        inbox marks read (a second call prints nothing)
 *   usage_exit_codes     64 for every malformed command line
 *   rejected_exit_codes  65 for input the SDK or relay refuses (unknown
 *                        recipient, oversized stdin)
 *   bad_address_is_65    a malformed address is rejected input (65)
 *   unreachable_69       69 when the relay cannot be reached; a send is
 *                        queued (0) and delivered by a later sync
 *   escapes_c0_del       control characters in a message are printed escaped
 *   escapes_c1           C1 controls (raw 0x9b, UTF-8 U+009B) escaped too
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "offline_fixture.h"
#include "testutil.h"

#ifndef SEALPOST_CLI_PATH
#error "SEALPOST_CLI_PATH must be defined by tests/client/CMakeLists.txt"
#endif

static struct relay g_relay;
static char *g_tmp;

static void relay_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE);
    g_tmp = tu_tmpdir("cli");
}

static void relay_teardown(void)
{
    if (g_relay.pid != 0)
        rh_stop(&g_relay);
    rh_destroy(&g_relay);
    tu_rmtree(g_tmp);
    free(g_tmp);
}

struct run {
    int code;
    char *out, *err; /* NUL-terminated, may contain other NULs */
    size_t out_len;
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = 0;
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return p;
}

/* Run the CLI with argv (NULL-terminated, without argv[0]) and stdin bytes. */
static void run_cli(struct run *r, const uint8_t *in, size_t in_len, const char *const *args)
{
    char *pin = tu_path(g_tmp, "stdin"), *pout = tu_path(g_tmp, "stdout"),
         *perr = tu_path(g_tmp, "stderr");
    FILE *f = fopen(pin, "wb");
    ck_assert_ptr_nonnull(f);
    if (in_len > 0)
        ck_assert_uint_eq(fwrite(in, 1, in_len, f), in_len);
    fclose(f);
    char *argv[16];
    size_t n = 0;
    argv[n++] = strdup("sealpost");
    for (size_t i = 0; args[i] != NULL; i++) {
        ck_assert_uint_lt(n, 15);
        argv[n++] = strdup(args[i]);
    }
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fi = open(pin, O_RDONLY), fo = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            fe = open(perr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fi < 0 || fo < 0 || fe < 0)
            _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        unsetenv("SEALPOST_DIR");
        execv(SEALPOST_CLI_PATH, argv);
        _exit(127);
    }
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "sealpost died (signal %d)",
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r->code = WEXITSTATUS(status);
    r->out = slurp(pout, &r->out_len);
    r->err = slurp(perr, NULL);
    free(pin);
    free(pout);
    free(perr);
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

#define CLI(r, in, len, ...)                                                                       \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        run_cli((r), (in), (len), a_);                                                             \
    } while (0)

/* `init` an agent in dir; returns its address (static storage per slot). */
static void cli_init(const char *dir, const char *url, char addr[SEALPOST_ADDRESS_LEN + 1])
{
    struct run r;
    CLI(&r, NULL, 0, "-d", dir, "init", "--server", url, "--ca-file", rh_cert_path());
    ck_assert_msg(r.code == 0, "init exit %d: %s", r.code, r.err);
    ck_assert_uint_eq(strlen(r.out), SEALPOST_ADDRESS_LEN + 1);
    ck_assert_int_eq(r.out[SEALPOST_ADDRESS_LEN], '\n');
    memcpy(addr, r.out, SEALPOST_ADDRESS_LEN);
    addr[SEALPOST_ADDRESS_LEN] = 0;
    run_free(&r);
}

static char *agent_dir(const char *name)
{
    return tu_path(g_tmp, name);
}

START_TEST(roundtrip)
{
    char a[SEALPOST_ADDRESS_LEN + 1], b[SEALPOST_ADDRESS_LEN + 1];
    char *da = agent_dir("a"), *db = agent_dir("b");
    struct run r;

    cli_init(da, g_relay.base_url, a);
    cli_init(db, g_relay.base_url, b);
    ck_assert_str_ne(a, b);
    CLI(&r, NULL, 0, "-d", da, "address");
    ck_assert_int_eq(r.code, 0);
    ck_assert(strncmp(r.out, a, SEALPOST_ADDRESS_LEN) == 0 && r.out[SEALPOST_ADDRESS_LEN] == '\n');
    run_free(&r);
    /* init again: idempotent, same address */
    CLI(&r, NULL, 0, "-d", da, "init", "--server", g_relay.base_url, "--ca-file", rh_cert_path());
    ck_assert_int_eq(r.code, 0);
    ck_assert(strncmp(r.out, a, SEALPOST_ADDRESS_LEN) == 0);
    run_free(&r);

    CLI(&r, NULL, 0, "-d", da, "send", b, "hello from argv");
    ck_assert_msg(r.code == 0, "send: %d %s", r.code, r.err);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    static const char body[] = "line one\nline two";
    CLI(&r, (const uint8_t *)body, strlen(body), "-d", da, "send", b);
    ck_assert_msg(r.code == 0, "send stdin: %d %s", r.code, r.err);
    run_free(&r);

    CLI(&r, NULL, 0, "-d", db, "sync");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "received 2"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "status");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "registered: yes"));
    ck_assert_ptr_nonnull(strstr(r.out, "inbox unread: 2"));
    ck_assert_ptr_nonnull(strstr(r.out, "sessions: 1"));
    ck_assert_ptr_nonnull(strstr(r.out, "prekeys on relay: "));
    ck_assert_ptr_null(strstr(r.out, "unknown"));
    run_free(&r);

    CLI(&r, NULL, 0, "-d", db, "inbox");
    ck_assert_int_eq(r.code, 0);
    /* "<sender> <time> <text>\n" twice, oldest first, newline escaped */
    char *l1 = r.out, *l2 = strchr(r.out, '\n');
    ck_assert_ptr_nonnull(l2);
    l2++;
    ck_assert(strncmp(l1, a, SEALPOST_ADDRESS_LEN) == 0 && l1[SEALPOST_ADDRESS_LEN] == ' ');
    ck_assert(strncmp(l2, a, SEALPOST_ADDRESS_LEN) == 0);
    ck_assert_ptr_nonnull(strstr(l1, " hello from argv\n"));
    ck_assert_ptr_nonnull(strstr(l2, " line one\\nline two\n"));
    size_t lines = 0;
    for (size_t i = 0; i < r.out_len; i++)
        lines += r.out[i] == '\n';
    ck_assert_uint_eq(lines, 2);
    run_free(&r);
    /* marked read: a second call prints nothing */
    CLI(&r, NULL, 0, "-d", db, "inbox");
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "status");
    ck_assert_ptr_nonnull(strstr(r.out, "inbox unread: 0"));
    run_free(&r);

    /* reply from stdin, picked up by a's sync */
    CLI(&r, (const uint8_t *)"pong", 4, "-d", db, "send", a);
    ck_assert_int_eq(r.code, 0);
    run_free(&r);
    CLI(&r, NULL, 0, "-d", da, "sync");
    ck_assert_ptr_nonnull(strstr(r.out, "received 1"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", da, "inbox");
    ck_assert(strncmp(r.out, b, SEALPOST_ADDRESS_LEN) == 0);
    ck_assert_ptr_nonnull(strstr(r.out, " pong\n"));
    run_free(&r);
    free(da);
    free(db);
}
END_TEST

START_TEST(usage_exit_codes)
{
    char *d = agent_dir("u");
    struct run r;
    static const char *const cases[][8] = {
        {"--bogus-flag", NULL},
        {"-d", "DIR", "frobnicate", NULL},
        {"-d", "DIR", "send", NULL},
        {"-d", "DIR", "send", "a", "b", "c", NULL},
        {"-d", "DIR", "sync", "--wait", "abc", NULL},
        {"-d", "DIR", "sync", "--wait", "99999", NULL},
        {"-d", "DIR", "sync", "extra", NULL},
        {"-d", "DIR", "init", NULL},
        {"-d", "DIR", "init", "--server", "http://127.0.0.1:1", NULL},
        {"-d", "DIR", "address", "x", NULL},
        {"-d", "DIR", "inbox", "x", NULL},
        {"-d", "DIR", "address", NULL}, /* before init: no identity */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[8];
        size_t k = 0;
        for (; cases[i][k] != NULL; k++)
            args[k] = strcmp(cases[i][k], "DIR") == 0 ? d : cases[i][k];
        args[k] = NULL;
        run_cli(&r, NULL, 0, args);
        ck_assert_msg(r.code == 64, "case %zu (%s %s): exit %d, want 64", i, cases[i][0],
                      cases[i][2] != NULL ? cases[i][2] : "", r.code);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_ne(r.err, "");
        run_free(&r);
    }
    const char *none[] = {NULL};
    run_cli(&r, NULL, 0, none);
    ck_assert_int_eq(r.code, 64);
    run_free(&r);
    CLI(&r, NULL, 0, "--help");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "inbox"));
    run_free(&r);
    free(d);
}
END_TEST

START_TEST(rejected_exit_codes)
{
    char a[SEALPOST_ADDRESS_LEN + 1];
    char *da = agent_dir("a");
    struct run r;
    cli_init(da, g_relay.base_url, a);
    /* well-formed address nobody registered */
    char nobody[SEALPOST_ADDRESS_LEN + 1];
    memset(nobody, 'a', SEALPOST_ADDRESS_LEN);
    nobody[SEALPOST_ADDRESS_LEN] = 0;
    CLI(&r, NULL, 0, "-d", da, "send", nobody, "hi");
    ck_assert_msg(r.code == 65, "unknown recipient: exit %d (%s)", r.code, r.err);
    run_free(&r);
    /* one byte over the limit on stdin */
    size_t big = SEALPOST_MAX_MESSAGE_LEN + 1;
    uint8_t *p = malloc(big);
    memset(p, 'x', big);
    CLI(&r, p, big, "-d", da, "send", a);
    ck_assert_msg(r.code == 65, "oversized: exit %d (%s)", r.code, r.err);
    run_free(&r);
    /* exactly the limit is fine (to self) */
    CLI(&r, p, big - 1, "-d", da, "send", a);
    ck_assert_msg(r.code == 0, "max size: exit %d (%s)", r.code, r.err);
    run_free(&r);
    free(p);
    CLI(&r, NULL, 0, "-d", da, "status");
    ck_assert_ptr_nonnull(strstr(r.out, "outbox queued: 0"));
    run_free(&r);
    free(da);
}
END_TEST

START_TEST(bad_address_is_65)
{
    char a[SEALPOST_ADDRESS_LEN + 1];
    char *da = agent_dir("a");
    struct run r;
    cli_init(da, g_relay.base_url, a);
    static const char *const bad[] = {"not-an-address", "AAAA", "0000000000000000000000000000000!",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CLI(&r, NULL, 0, "-d", da, "send", bad[i], "hi");
        ck_assert_msg(r.code == 65, "send to '%s': exit %d, want 65 (rejected input)", bad[i],
                      r.code);
        run_free(&r);
    }
    free(da);
}
END_TEST

START_TEST(unreachable_69)
{
    char a[SEALPOST_ADDRESS_LEN + 1], b[SEALPOST_ADDRESS_LEN + 1];
    char *da = agent_dir("a"), *db = agent_dir("b"), *dc = agent_dir("c");
    char dead[64];
    struct run r;
    snprintf(dead, sizeof dead, "https://127.0.0.1:%u", (unsigned)rp_free_port());
    CLI(&r, NULL, 0, "-d", dc, "init", "--server", dead, "--ca-file", rh_cert_path());
    ck_assert_msg(r.code == 69, "init against a closed port: exit %d", r.code);
    run_free(&r);

    cli_init(da, g_relay.base_url, a);
    cli_init(db, g_relay.base_url, b);
    rh_stop(&g_relay);
    CLI(&r, NULL, 0, "-d", da, "sync");
    ck_assert_msg(r.code == 69, "sync, relay down: exit %d", r.code);
    run_free(&r);
    CLI(&r, NULL, 0, "-d", da, "status");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "unknown"));
    run_free(&r);
    /* no session yet, relay down: queued (0) with a notice on stderr */
    CLI(&r, NULL, 0, "-d", da, "send", b, "queued while down");
    ck_assert_msg(r.code == 0, "send, relay down: exit %d (%s)", r.code, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "queued"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", da, "status");
    ck_assert_ptr_nonnull(strstr(r.out, "outbox queued: 1"));
    run_free(&r);
    rh_restart(&g_relay);
    CLI(&r, NULL, 0, "-d", da, "sync");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "uploaded 1"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "sync");
    ck_assert_ptr_nonnull(strstr(r.out, "received 1"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "inbox");
    ck_assert_ptr_nonnull(strstr(r.out, " queued while down\n"));
    run_free(&r);
    free(da);
    free(db);
    free(dc);
}
END_TEST

/* Send `body` from a to b with the CLI, return b's `inbox` stdout. */
static struct run deliver_and_print(const uint8_t *body, size_t len)
{
    char a[SEALPOST_ADDRESS_LEN + 1], b[SEALPOST_ADDRESS_LEN + 1];
    char *da = agent_dir("a"), *db = agent_dir("b");
    struct run r;
    cli_init(da, g_relay.base_url, a);
    cli_init(db, g_relay.base_url, b);
    CLI(&r, body, len, "-d", da, "send", b);
    ck_assert_int_eq(r.code, 0);
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "sync");
    ck_assert_ptr_nonnull(strstr(r.out, "received 1"));
    run_free(&r);
    CLI(&r, NULL, 0, "-d", db, "inbox");
    ck_assert_int_eq(r.code, 0);
    free(da);
    free(db);
    return r;
}

START_TEST(escapes_c0_del)
{
    static const uint8_t body[] = "a\x1b[31mb\x07" "c\rd\be\x7f" "f\\g\nh\x01\x1f";
    struct run r = deliver_and_print(body, sizeof body - 1);
    /* one line: the only raw control byte is the terminating newline */
    for (size_t i = 0; i + 1 < r.out_len; i++)
        ck_assert_msg((uint8_t)r.out[i] >= 0x20 && (uint8_t)r.out[i] != 0x7f,
                      "raw control byte 0x%02x at %zu", (uint8_t)r.out[i], i);
    ck_assert_int_eq(r.out[r.out_len - 1], '\n');
    ck_assert_msg(strstr(r.out, " a\\x1b[31mb\\x07c\\x0dd\\x08e\\x7ff\\\\g\\nh\\x01\\x1f\n") !=
                      NULL,
                  "printed: %s", r.out);
    run_free(&r);
}
END_TEST

START_TEST(escapes_c1)
{
    /* CSI as a raw 8-bit byte (invalid UTF-8; CSI on 8-bit terminals) and as
     * UTF-8 encoded U+009B, each followed by "2J" (clear screen) */
    static const uint8_t body[] = "x\x9b" "2Jy\xc2\x9b" "2Jz";
    struct run r = deliver_and_print(body, sizeof body - 1);
    for (size_t i = 0; i < r.out_len; i++)
        ck_assert_msg((uint8_t)r.out[i] != 0x9b, "raw C1 byte 0x9b printed at %zu", i);
    run_free(&r);
}
END_TEST

static Suite *offline_cli_suite(void)
{
    Suite *s = suite_create("offline_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, relay_setup, relay_teardown);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, usage_exit_codes);
    tcase_add_test(tc, rejected_exit_codes);
    tcase_add_test(tc, bad_address_is_65);
    tcase_add_test(tc, unreachable_69);
    tcase_add_test(tc, escapes_c0_del);
    tcase_add_test(tc, escapes_c1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    of_global_init();
    int rc = tu_run(offline_cli_suite());
    of_global_cleanup();
    return rc;
}
