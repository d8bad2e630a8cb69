/*
 * config.h: sealpostd's configuration: defaults, INI file (libinih), then
 * command-line flags, in that order of precedence. Every option is documented
 * in deploy/sealpostd.conf.example.
 *
 * Owns its strings (config_free). Read-only after start-up, so any thread may
 * read it without locking.
 */
#ifndef SEALPOST_SERVER_CONFIG_H
#define SEALPOST_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/status.h"

struct config {
    /* [server] */
    char *listen_host;             /* "127.0.0.1" */
    uint16_t listen_port;          /* 8443 */
    char *tls_cert;                /* PEM file */
    char *tls_key;                 /* PEM file */
    char *tls_min_version;         /* "1.3" (default) or "1.2" */
    unsigned threads;              /* MHD thread pool size */
    unsigned max_connections;      /* total */
    unsigned max_connections_per_ip;
    unsigned connection_timeout_s; /* idle connection timeout */
    unsigned connection_memory;    /* per-connection MHD memory pool, bytes */
    enum sp_log_level log_level;

    /* [database] */
    char *db_path;                 /* "state/sealpostd.db" */
    bool db_sync_full;             /* synchronous=FULL (default) or NORMAL */
    unsigned db_pool_size;

    /* [limits] */
    struct sp_limits limits;
    unsigned auth_rate_per_minute; /* token/register requests per client IP (kept in memory only) */

    /* [retention] (used by the pruner) */
    unsigned prune_interval_s;
    unsigned prune_batch;
    unsigned signed_prekey_grace_s;
    unsigned account_idle_s;       /* 0 = never expire idle accounts */
};

void config_defaults(struct config *c);
/* Merge an INI file over *c. SP_ERR_USAGE with a message on stderr naming the
 * file, line and key for unknown sections/keys or bad values; SP_ERR_IO if
 * the file cannot be read. */
SP_WARN_UNUSED sp_status config_load_file(struct config *c, const char *path);
/* Check cross-field constraints (limits within hard ceilings, files set). */
SP_WARN_UNUSED sp_status config_validate(const struct config *c);
void config_free(struct config *c);

#endif
