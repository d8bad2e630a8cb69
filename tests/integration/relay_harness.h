/*
 * relay_harness.h: runs the real sealpostd binary for the integration suites.
 *
 * What it owns: one relay child process at a time per struct relay, its
 * private state directory (database, log, optional config file) and the
 * loopback port it listens on. The test certificate is made once per test
 * executable (rh_global_init) with the openssl CLI and shared by every relay
 * of that run; a second, unrelated CA is made for the "wrong CA" tests.
 *
 * Invariants: a started relay answered GET /v1/health over verified TLS; a
 * stopped relay was reaped (SIGTERM must give exit status 0). Every failure
 * aborts the current Check test with a message that includes the tail of the
 * relay's stderr, so a red test says why.
 *
 * Thread rules: none of this is thread-safe; call it from the test's main
 * thread only. Works with CK_FORK=yes because each test starts and stops its
 * own relay inside the forked child.
 */
#ifndef SEALPOST_TESTS_RELAY_HARNESS_H
#define SEALPOST_TESTS_RELAY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay_proc.h"

struct relay {
    char *dir;         /* private temp dir: relay.db, relay.log, relay.conf */
    char *db_path;
    char *log_path;
    char *conf_path;   /* NULL unless rh_start() was given a config */
    uint16_t port;
    pid_t pid;         /* 0 when not running */
    char base_url[64]; /* "https://127.0.0.1:PORT" */
};

/* Make the test CA/cert (once per process). Call from main() before running
 * the suite; rh_global_cleanup() removes the files. Aborts on failure. */
void rh_global_init(void);
void rh_global_cleanup(void);
/* PEM file of the relay's self-signed certificate (trust anchor for clients). */
const char *rh_cert_path(void);
/* PEM file of a different self-signed certificate (a CA that must not verify). */
const char *rh_other_ca_path(void);

/* Start a fresh relay (new state dir, free port). `config_ini` is NULL or the
 * text of an INI file passed with -c (limits overrides). Waits for health. */
void rh_start(struct relay *r, const char *config_ini);
/* Same state dir, same db, same port: start again after a stop or kill. */
void rh_restart(struct relay *r);
/* SIGTERM, wait (bounded), assert clean exit 0. */
void rh_stop(struct relay *r);
/* SIGKILL and reap: simulates a crash. */
void rh_kill9(struct relay *r);
/* Stop if running, remove the state dir, free strings. NULL-safe. */
void rh_destroy(struct relay *r);
/* Print the last `max` bytes of the relay's stderr to our stderr. */
void rh_dump_log(const struct relay *r, size_t max);

/* Config every suite uses unless it needs more: loopback tests make many
 * register/token calls from one IP, so the per-IP auth budget is raised. */
#define RH_CONF_BASE "[limits]\nauth_rate_per_minute = 1000000\n"

/* Asserting conveniences for the suites. */
struct rc_client;
struct rc_identity;
void rh_client(struct rc_client *c, const struct relay *r);
/* New identity, registered with n_prekeys, with a token. */
void rh_account(struct rc_client *c, struct rc_identity *id, size_t n_prekeys);
/* Prekey count through the API (asserts 200). */
unsigned rh_prekey_count(struct rc_client *c, const struct rc_identity *id);

/* The sealpostd path and the source tree (compile definitions). */
const char *rh_sealpostd_path(void);
const char *rh_source_dir(void);

#endif
