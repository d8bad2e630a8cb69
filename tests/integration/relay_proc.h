/*
 * relay_proc.h: process-level helpers shared by the integration harness and
 * the load generator (no Check dependency): free loopback ports, a test
 * certificate made with the openssl CLI, spawning sealpostd and waiting for
 * GET /v1/health over verified TLS, stopping it.
 *
 * Thread rules: call from one thread. Functions return 0 on success and -1
 * with a message on stderr on failure.
 */
#ifndef SEALPOST_TESTS_RELAY_PROC_H
#define SEALPOST_TESTS_RELAY_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Find a free loopback TCP port by binding port 0, then closing it. 0 on error. */
uint16_t rp_free_port(void);

/* Write dir/cert.pem and dir/key.pem: a self-signed P-256 certificate for
 * CN=localhost with subjectAltName IP:127.0.0.1 and DNS:localhost. */
int rp_make_cert(const char *dir);

/* Start `binary` listening on 127.0.0.1:port with the given files; `conf` may
 * be NULL. stdout+stderr go to log_path (appended). Waits up to timeout_ms
 * for health. Returns 0 with *pid_out set; -1 if the process exited early
 * (e.g. the port was taken: the caller picks another) or never got healthy
 * (then it has been killed and reaped). */
int rp_spawn(pid_t *pid_out, const char *binary, uint16_t port, const char *cert,
             const char *key, const char *db, const char *conf, const char *log_path,
             unsigned timeout_ms);

/* GET https://127.0.0.1:port/v1/health once, verifying with `cafile`;
 * true on 200 with body "ok\n". */
bool rp_health(uint16_t port, const char *cafile);

/* SIGTERM then wait up to timeout_ms; returns the wait status, or -1 if the
 * process had to be killed with SIGKILL after the timeout. */
int rp_stop(pid_t pid, unsigned timeout_ms);

/* Milliseconds from a monotonic clock. */
uint64_t rp_now_ms(void);

#endif
