/*
 * relay_harness.c: see relay_harness.h.
 */
#include "relay_harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay_client.h"
#include "testutil.h"

#ifndef SEALPOSTD_PATH
#error "SEALPOSTD_PATH must be defined by tests/integration/CMakeLists.txt"
#endif
#ifndef SEALPOST_SOURCE_DIR_DEF
#error "SEALPOST_SOURCE_DIR_DEF must be defined by tests/integration/CMakeLists.txt"
#endif

/* ASan builds start slower; be generous, the wait ends as soon as health answers. */
#define RH_START_TIMEOUT_MS 20000u
#define RH_STOP_TIMEOUT_MS 15000u

static char *g_certdir;   /* relay cert + key */
static char *g_otherdir;  /* an unrelated CA */
static char *g_cert, *g_key, *g_other;

const char *rh_sealpostd_path(void)
{
    return SEALPOSTD_PATH;
}

const char *rh_source_dir(void)
{
    return SEALPOST_SOURCE_DIR_DEF;
}

void rh_global_init(void)
{
    if (rc_global_init() != 0) {
        fprintf(stderr, "harness: rc_global_init failed\n");
        exit(2);
    }
    g_certdir = tu_tmpdir("it-cert");
    g_otherdir = tu_tmpdir("it-otherca");
    if (rp_make_cert(g_certdir) != 0 || rp_make_cert(g_otherdir) != 0) {
        fprintf(stderr, "harness: cannot make test certificates (openssl CLI)\n");
        exit(2);
    }
    g_cert = tu_path(g_certdir, "cert.pem");
    g_key = tu_path(g_certdir, "key.pem");
    g_other = tu_path(g_otherdir, "cert.pem");
}

void rh_global_cleanup(void)
{
    tu_rmtree(g_certdir);
    tu_rmtree(g_otherdir);
    free(g_certdir);
    free(g_otherdir);
    free(g_cert);
    free(g_key);
    free(g_other);
    g_certdir = g_otherdir = g_cert = g_key = g_other = NULL;
    rc_global_cleanup();
}

const char *rh_cert_path(void)
{
    return g_cert;
}

const char *rh_other_ca_path(void)
{
    return g_other;
}

void rh_dump_log(const struct relay *r, size_t max)
{
    char chunk[4096];
    if (r == NULL || r->log_path == NULL)
        return;
    int fd = open(r->log_path, O_RDONLY);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)max ? size - (off_t)max : 0;
    lseek(fd, from, SEEK_SET);
    fprintf(stderr, "---- sealpostd stderr (last %zu bytes) ----\n", max);
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        fwrite(chunk, 1, (size_t)n, stderr);
    fprintf(stderr, "---- end of sealpostd stderr ----\n");
    close(fd);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Start on r->port, or on fresh ports when `pick_port` (retrying if taken). */
static void start_process(struct relay *r, bool pick_port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        if (pick_port) {
            r->port = rp_free_port();
            ck_assert_msg(r->port != 0, "no free port");
        }
        pid_t pid = 0;
        if (rp_spawn(&pid, SEALPOSTD_PATH, r->port, g_cert, g_key, r->db_path, r->conf_path,
                     r->log_path, RH_START_TIMEOUT_MS) == 0) {
            r->pid = pid;
            snprintf(r->base_url, sizeof r->base_url, "https://127.0.0.1:%u", (unsigned)r->port);
            return;
        }
        if (!pick_port) {
            /* Same port after a stop: the old socket may linger briefly. */
            usleep(200 * 1000);
        }
    }
    rh_dump_log(r, 4096);
    ck_abort_msg("sealpostd (%s) did not become healthy on 127.0.0.1:%u", SEALPOSTD_PATH,
                 (unsigned)r->port);
}

void rh_start(struct relay *r, const char *config_ini)
{
    memset(r, 0, sizeof *r);
    r->dir = tu_tmpdir("it-relay");
    r->db_path = tu_path(r->dir, "relay.db");
    r->log_path = tu_path(r->dir, "relay.log");
    if (config_ini != NULL) {
        r->conf_path = tu_path(r->dir, "relay.conf");
        write_file(r->conf_path, config_ini);
    }
    start_process(r, true);
}

void rh_restart(struct relay *r)
{
    ck_assert_msg(r->pid == 0, "rh_restart: relay still running");
    start_process(r, false);
}

void rh_stop(struct relay *r)
{
    ck_assert_msg(r->pid != 0, "rh_stop: relay not running");
    int status = rp_stop(r->pid, RH_STOP_TIMEOUT_MS);
    r->pid = 0;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rh_dump_log(r, 8192);
        if (status == -1)
            ck_abort_msg("sealpostd did not exit within %u ms of SIGTERM", RH_STOP_TIMEOUT_MS);
        if (WIFSIGNALED(status))
            ck_abort_msg("sealpostd died of signal %d after SIGTERM", WTERMSIG(status));
        ck_abort_msg("sealpostd exited with status %d after SIGTERM", WEXITSTATUS(status));
    }
}

void rh_kill9(struct relay *r)
{
    int status = 0;
    ck_assert_msg(r->pid != 0, "rh_kill9: relay not running");
    ck_assert_int_eq(kill(r->pid, SIGKILL), 0);
    while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR) {
    }
    r->pid = 0;
}

void rh_destroy(struct relay *r)
{
    if (r == NULL)
        return;
    if (r->pid != 0) {
        (void)rp_stop(r->pid, RH_STOP_TIMEOUT_MS);
        r->pid = 0;
    }
    if (r->dir != NULL && getenv("SEALPOST_KEEP_STATE") == NULL)
        tu_rmtree(r->dir);
    free(r->dir);
    free(r->db_path);
    free(r->log_path);
    free(r->conf_path);
    memset(r, 0, sizeof *r);
}

void rh_client(struct rc_client *c, const struct relay *r)
{
    ck_assert_msg(rc_client_init(c, r->base_url, g_cert) == 0, "curl_easy_init");
}

void rh_account(struct rc_client *c, struct rc_identity *id, size_t n_prekeys)
{
    ck_assert_int_eq(rc_identity_new(id), 0);
    long st = rc_register(c, id, n_prekeys, NULL);
    ck_assert_msg(st == 200, "register: HTTP %ld (%s)", st, c->err);
    st = rc_get_token(c, id);
    ck_assert_msg(st == 200, "token: HTTP %ld (%s)", st, c->err);
}

unsigned rh_prekey_count(struct rc_client *c, const struct rc_identity *id)
{
    uint32_t n = 0;
    long st = rc_prekey_count(c, id, &n);
    ck_assert_msg(st == 200, "prekey count: HTTP %ld", st);
    return n;
}
