/*
 * main.c: the sealpostd command line.
 *
 *   sealpostd [OPTIONS] [COMMAND [ARGS]]
 *
 * Options come before the command and apply to every command. Commands are
 * one table (which also prints the help); "serve" is the default. Settings
 * are merged as: built-in defaults, then the -c file, then flags; flags are
 * parsed first into `struct flags` and applied last.
 *
 * Exit codes (sysexits-like): 0 ok, 64 usage, 66 configuration or
 * certificate file problem, 70 runtime failure.
 *
 * serve: load and validate the configuration, check the TLS files, block
 * SIGTERM/SIGINT/SIGHUP in every thread (before any thread exists), open and
 * migrate the store, start the API and the HTTPS server, then wait in
 * sigwait() for SIGTERM or SIGINT. Shutdown: stop accepting, api_shutdown()
 * (wakes parked long-polls), stop HTTP, free the API, close the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/audit.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/pruner.h"
#include "server/store/store.h"

#ifndef SEALPOST_VERSION
#define SEALPOST_VERSION "unknown"
#endif

enum {
    EXIT_OK = 0,
    EXIT_USAGE = 64,
    EXIT_NOINPUT = 66,
    EXIT_SOFTWARE = 70,
};

#define STORE_BUSY_TIMEOUT_MS 5000

/* Command-line overrides; NULL / 0 = not given. Strings point into argv. */
struct flags {
    const char *config_path;
    const char *listen_host; /* without brackets; lives in listen_buf */
    uint16_t listen_port;
    const char *tls_cert;
    const char *tls_key;
    const char *db_path;
    int log_level; /* -1 = not given */
    char listen_buf[64];
};

struct command {
    const char *name;
    int (*run)(const struct flags *f, int argc, char **argv);
    const char *help;
};

static int cmd_serve(const struct flags *f, int argc, char **argv);
static int cmd_prune(const struct flags *f, int argc, char **argv);
static int cmd_audit(const struct flags *f, int argc, char **argv);

static const struct command commands[] = {
    {"serve", cmd_serve, "run the relay in the foreground (default)"},
    {"prune", cmd_prune, "delete what the retention policy no longer allows, once (for cron)"},
    {"audit", cmd_audit, "report what the database holds: counts, ages, sizes; no identities"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: sealpostd [OPTIONS] [COMMAND]\n"
                 "\n"
                 "sealpost relay: stores sealed envelopes for offline agents (HTTPS).\n"
                 "\n"
                 "Options:\n"
                 "  -c, --config FILE        INI configuration (see sealpostd.conf.example)\n"
                 "      --listen HOST:PORT   listen address, e.g. 127.0.0.1:8443 or [::1]:8443\n"
                 "      --tls-cert FILE      PEM certificate chain\n"
                 "      --tls-key FILE       PEM private key (mode 0600)\n"
                 "      --db FILE            SQLite database file\n"
                 "      --log-level LEVEL    error, warn, info or debug\n"
                 "  -h, --help               show this help\n"
                 "  -V, --version            show the version\n"
                 "\n"
                 "Flags override the configuration file, which overrides the defaults.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\nExit status: 0 ok, 64 usage error, 66 configuration or certificate file\n"
                 "problem, 70 runtime failure.\n");
}

/* Strict port: 1..65535, digits only. */
static bool parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    if (*s == '\0' || strlen(s) > 5)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "1.2.3.4:443" or "[::1]:443"; the host must be an address literal. */
static bool parse_listen(struct flags *f, const char *arg)
{
    const char *host = arg, *colon;
    size_t host_len;
    if (*arg == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':')
            return false;
        host = arg + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL || memchr(arg, ':', (size_t)(colon - arg)) != NULL)
            return false; /* IPv6 needs brackets */
        host_len = (size_t)(colon - arg);
    }
    if (host_len == 0 || host_len >= sizeof f->listen_buf)
        return false;
    if (!parse_port(colon + 1, &f->listen_port))
        return false;
    memcpy(f->listen_buf, host, host_len);
    f->listen_buf[host_len] = '\0';
    unsigned char tmp[sizeof(struct in6_addr)];
    int family = *arg == '[' ? AF_INET6 : AF_INET;
    if (inet_pton(family, f->listen_buf, tmp) != 1)
        return false;
    f->listen_host = f->listen_buf;
    return true;
}

static bool set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return false;
    free(*field);
    *field = copy;
    return true;
}

static bool apply_flags(struct config *c, const struct flags *f)
{
    if (f->listen_host != NULL) {
        if (!set_string(&c->listen_host, f->listen_host))
            return false;
        c->listen_port = f->listen_port;
    }
    if (f->tls_cert != NULL && !set_string(&c->tls_cert, f->tls_cert))
        return false;
    if (f->tls_key != NULL && !set_string(&c->tls_key, f->tls_key))
        return false;
    if (f->db_path != NULL && !set_string(&c->db_path, f->db_path))
        return false;
    if (f->log_level >= 0)
        c->log_level = (enum sp_log_level)f->log_level;
    return true;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* The TLS files must be usable now, with an error naming the file (exit 66),
 * rather than a GnuTLS failure after the database was opened: readable
 * regular files, a PEM certificate, an unencrypted PEM key, and the key must
 * belong to the certificate. OpenSSL is only a checker here; serving uses
 * GnuTLS through libmicrohttpd. */
static bool check_tls_files(const char *cert_path, const char *key_path)
{
    bool ok = false;
    FILE *cf = NULL, *kf = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    struct stat sb;

    cf = fopen(cert_path, "re");
    if (cf == NULL || fstat(fileno(cf), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        SP_LOG_E("TLS certificate %s: %s", cert_path,
                 cf == NULL ? strerror(errno) : "not a regular file");
        goto out;
    }
    kf = fopen(key_path, "re");
    if (kf == NULL || fstat(fileno(kf), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        SP_LOG_E("TLS private key %s: %s", key_path,
                 kf == NULL ? strerror(errno) : "not a regular file");
        goto out;
    }
    cert = PEM_read_X509(cf, NULL, NULL, NULL);
    if (cert == NULL) {
        SP_LOG_E("TLS certificate %s: no PEM certificate found", cert_path);
        goto out;
    }
    /* A passphrase callback that gives none: encrypted keys fail instead of
     * prompting on the terminal. */
    key = PEM_read_PrivateKey(kf, NULL, no_passphrase, NULL);
    if (key == NULL) {
        SP_LOG_E("TLS private key %s: no unencrypted PEM private key found", key_path);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        SP_LOG_E("TLS private key %s does not match certificate %s", key_path, cert_path);
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        SP_LOG_W("TLS certificate %s has expired; clients will refuse it", cert_path);
    ok = true;
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    if (kf != NULL)
        fclose(kf);
    if (cf != NULL)
        fclose(cf);
    return ok;
}

static int cmd_serve(const struct flags *f, int argc, char **argv)
{
    struct config cfg;
    struct store *store = NULL;
    struct api *api = NULL;
    struct http *http = NULL;
    struct pruner *pruner = NULL;
    int rc = EXIT_SOFTWARE;
    sp_status st;
    sigset_t sigs;

    (void)argv;
    config_defaults(&cfg);
    if (argc > 1) {
        fprintf(stderr, "sealpostd: serve takes no arguments\n");
        rc = EXIT_USAGE;
        goto out;
    }
    if (f->config_path != NULL) {
        st = config_load_file(&cfg, f->config_path);
        if (st != SP_OK) {
            rc = EXIT_NOINPUT;
            goto out;
        }
    }
    if (!apply_flags(&cfg, f)) {
        SP_LOG_E("out of memory");
        goto out;
    }
    sp_log_set_level(cfg.log_level);
    if (config_validate(&cfg) != SP_OK) {
        rc = EXIT_NOINPUT;
        goto out;
    }
    if (!check_tls_files(cfg.tls_cert, cfg.tls_key)) {
        rc = EXIT_NOINPUT;
        goto out;
    }

    /* Signals: blocked here, before any thread exists, so every thread
     * inherits the mask and only sigwait() below receives them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        SP_LOG_E("pthread_sigmask failed");
        goto out;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);

    struct store_options so = {
        .path = cfg.db_path,
        .sync = cfg.db_sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
        .pool_size = cfg.db_pool_size,
        .busy_timeout_ms = STORE_BUSY_TIMEOUT_MS,
    };
    st = store_open(&store, &so);
    if (st != SP_OK) {
        SP_LOG_E("cannot open database %s: %s", cfg.db_path, sp_strerror(st));
        goto out;
    }
    struct pruner_options po = {.store = store, .clock = sp_clock_system(),
                                .interval_s = cfg.prune_interval_s};
    pruner_retention_from_config(&po.retention, &cfg);
    st = pruner_create(&pruner, &po);
    if (st != SP_OK) {
        SP_LOG_E("cannot create the pruner: %s", sp_strerror(st));
        goto out;
    }
    struct api_options ao = {.config = &cfg, .store = store, .clock = sp_clock_system(),
                             .metrics_extra = pruner_metrics_text, .metrics_extra_ctx = pruner};
    st = api_create(&api, &ao);
    if (st != SP_OK) {
        SP_LOG_E("cannot start the API: %s", sp_strerror(st));
        goto out;
    }
    /* Deleted idle accounts: their cached bearer tokens die at once. */
    pruner_set_accounts_hook(pruner, api_forget_tokens, api);
    st = pruner_start(pruner);
    if (st != SP_OK) {
        SP_LOG_E("cannot start the pruner: %s", sp_strerror(st));
        goto out;
    }
    st = http_start(&http, &cfg, api);
    if (st != SP_OK)
        goto out; /* http_start logged why */

    bool v6 = strchr(cfg.listen_host, ':') != NULL;
    SP_LOG_I("sealpostd %s listening on %s%s%s:%u (TLS >= %s)", SEALPOST_VERSION, v6 ? "[" : "",
             cfg.listen_host, v6 ? "]" : "", (unsigned)cfg.listen_port, cfg.tls_min_version);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            SP_LOG_I("SIGHUP ignored: configuration is read at start-up; restart to apply");
            continue;
        }
        SP_LOG_I("%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    rc = EXIT_OK;

out:
    /* Order matters: no new connections, wake parked calls, stop HTTP
     * (no more api_handle), then the API (writer thread), then the store. */
    http_quiesce(http);
    pruner_stop(pruner); /* returns after the current batch; holds no connection after */
    if (api != NULL)
        api_shutdown(api);
    http_stop(http);
    api_destroy(api);
    pruner_destroy(pruner); /* after the API: /metrics renders its counters */
    store_close(store);
    if (rc == EXIT_OK)
        SP_LOG_I("sealpostd stopped");
    config_free(&cfg);
    return rc;
}

/* Configuration and store for the offline commands (prune, audit): the
 * same defaults, file and flags as serve, without the TLS checks. */
static int open_for_command(const struct flags *f, int argc, const char *name, struct config *cfg,
                            struct store **store)
{
    config_defaults(cfg);
    if (argc > 1) {
        fprintf(stderr, "sealpostd: %s takes no arguments\n", name);
        return EXIT_USAGE;
    }
    if (f->config_path != NULL && config_load_file(cfg, f->config_path) != SP_OK)
        return EXIT_NOINPUT;
    if (!apply_flags(cfg, f)) {
        SP_LOG_E("out of memory");
        return EXIT_SOFTWARE;
    }
    sp_log_set_level(cfg->log_level);
    if (cfg->db_path == NULL || *cfg->db_path == '\0') {
        SP_LOG_E("config: database path must be set");
        return EXIT_NOINPUT;
    }
    struct store_options so = {
        .path = cfg->db_path,
        .sync = cfg->db_sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
        .pool_size = 2,
        .busy_timeout_ms = STORE_BUSY_TIMEOUT_MS,
    };
    sp_status st = store_open(store, &so);
    if (st != SP_OK) {
        SP_LOG_E("cannot open database %s: %s", cfg->db_path, sp_strerror(st));
        return EXIT_SOFTWARE;
    }
    return EXIT_OK;
}

/* One retention pass with the configured policy and the real clock; safe
 * while the relay runs (SQLite serialises the writers). Prints the counts. */
static int cmd_prune(const struct flags *f, int argc, char **argv)
{
    struct config cfg;
    struct store *store = NULL;
    struct store_retention r;
    struct pruner_counts n;
    (void)argv;
    int rc = open_for_command(f, argc, "prune", &cfg, &store);
    if (rc != EXIT_OK)
        goto out;
    pruner_retention_from_config(&r, &cfg);
    sp_status st = pruner_run_once(store, &r, sp_clock_now(sp_clock_system()), &n);
    pruner_log_counts(&n);
    printf("pruned: %llu envelopes, %llu tokens, %llu replay records, %llu signed prekeys, "
           "%llu accounts (%llu batches); WAL checkpoint %s\n",
           (unsigned long long)n.mail, (unsigned long long)n.tokens,
           (unsigned long long)n.replay, (unsigned long long)n.signed_prekeys,
           (unsigned long long)n.accounts, (unsigned long long)n.batches,
           n.checkpoint_complete ? "complete" : "incomplete (readers active; retried next run)");
    if (st != SP_OK) {
        SP_LOG_E("prune failed: %s", sp_strerror(st));
        rc = EXIT_SOFTWARE;
    }
out:
    store_close(store);
    config_free(&cfg);
    return rc;
}

static int cmd_audit(const struct flags *f, int argc, char **argv)
{
    struct config cfg;
    struct store *store = NULL;
    (void)argv;
    int rc = open_for_command(f, argc, "audit", &cfg, &store);
    if (rc != EXIT_OK)
        goto out;
    sp_status st = audit_print(stdout, store, cfg.db_path, sp_clock_now(sp_clock_system()));
    if (st != SP_OK) {
        SP_LOG_E("audit failed: %s", sp_strerror(st));
        rc = EXIT_SOFTWARE;
    }
out:
    store_close(store);
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_LISTEN = 256, OPT_CERT, OPT_KEY, OPT_DB, OPT_LOG };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_CERT},
        {"tls-key", required_argument, NULL, OPT_KEY},
        {"db", required_argument, NULL, OPT_DB},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct flags f = {.log_level = -1};
    int opt;

    umask(077); /* database, WAL and anything else we create: owner only */
    /* '+': stop at the first non-option, which is the command. */
    while ((opt = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            f.config_path = optarg;
            break;
        case OPT_LISTEN:
            if (!parse_listen(&f, optarg)) {
                fprintf(stderr,
                        "sealpostd: --listen wants HOST:PORT (IPv6 as [ADDR]:PORT), "
                        "got \"%s\"\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_CERT:
            f.tls_cert = optarg;
            break;
        case OPT_KEY:
            f.tls_key = optarg;
            break;
        case OPT_DB:
            f.db_path = optarg;
            break;
        case OPT_LOG:
            f.log_level = sp_log_level_parse(optarg);
            if (f.log_level < 0) {
                fprintf(stderr, "sealpostd: --log-level wants error, warn, info or debug\n");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("sealpostd %s\n", SEALPOST_VERSION);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    const char *names[] = {f.config_path, f.tls_cert, f.tls_key, f.db_path};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i] != NULL && *names[i] == '\0') {
            fprintf(stderr, "sealpostd: empty file name\n");
            return EXIT_USAGE;
        }
    }

    const char *name = optind < argc ? argv[optind] : "serve";
    int cargc = optind < argc ? argc - optind : 0;
    char **cargv = argv + optind;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(&f, cargc, cargv);
    fprintf(stderr, "sealpostd: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return EXIT_USAGE;
}
