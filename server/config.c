/*
 * config.c: sealpostd's configuration (see config.h).
 *
 * One table describes every option: its section, key, type, where it lives
 * in struct config and its allowed range. The INI file is parsed by libinih
 * through our own line reader, which (a) counts lines, so every error names
 * file:line:key (Debian's libinih is built without line numbers in the
 * handler), (b) sees every section header, so an unknown or empty unknown
 * section is an error too, and (c) turns an over-long line or a read error
 * into an error instead of a silently truncated configuration.
 *
 * Strictness is deliberate: a typo in a security setting must stop the
 * daemon, never fall back to a default. Unknown keys, unknown sections,
 * duplicate keys, keys outside a section, signs, spaces, trailing junk and
 * overflow in numbers are all errors.
 *
 * Not thread-safe while loading; read-only afterwards.
 */
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type {
    OPT_STR,      /* char * (heap, non-empty) */
    OPT_TLSVER,   /* char *, "1.2" or "1.3" */
    OPT_HOST,     /* char *, IPv4 or IPv6 literal */
    OPT_LOGLEVEL, /* enum sp_log_level */
    OPT_SYNC,     /* bool db_sync_full: "full" | "normal" */
    OPT_U16,
    OPT_UINT,
    OPT_U32,
    OPT_U64,
};

struct opt {
    const char *section;
    const char *key;
    enum opt_type type;
    size_t offset;
    uint64_t min, max; /* numbers only */
};

#define F(field) offsetof(struct config, field)
#define L(field) (offsetof(struct config, limits) + offsetof(struct sp_limits, field))
#define DAY      (24u * 3600u)

/* Ranges here are type-level sanity bounds; the limits' semantic ranges live
 * in sp_limits_validate() and are applied after the whole file is read. */
static const struct opt options[] = {
    {"server", "listen_host", OPT_HOST, F(listen_host), 0, 0},
    {"server", "listen_port", OPT_U16, F(listen_port), 1, 65535},
    {"server", "tls_cert", OPT_STR, F(tls_cert), 0, 0},
    {"server", "tls_key", OPT_STR, F(tls_key), 0, 0},
    {"server", "tls_min_version", OPT_TLSVER, F(tls_min_version), 0, 0},
    {"server", "threads", OPT_UINT, F(threads), 1, 256},
    {"server", "max_connections", OPT_UINT, F(max_connections), 1, 1000000},
    {"server", "max_connections_per_ip", OPT_UINT, F(max_connections_per_ip), 1, 1000000},
    {"server", "connection_timeout_s", OPT_UINT, F(connection_timeout_s), 1, 3600},
    {"server", "connection_memory", OPT_UINT, F(connection_memory), 16384, 16u * 1024 * 1024},
    {"server", "log_level", OPT_LOGLEVEL, F(log_level), 0, 0},

    {"database", "path", OPT_STR, F(db_path), 0, 0},
    {"database", "sync", OPT_SYNC, F(db_sync_full), 0, 0},
    {"database", "pool_size", OPT_UINT, F(db_pool_size), 2, 256},

    {"limits", "max_body_bytes", OPT_U32, L(max_body_bytes), 0, UINT32_MAX},
    {"limits", "max_envelope_bytes", OPT_U32, L(max_envelope_bytes), 0, UINT32_MAX},
    {"limits", "max_envelopes_per_request", OPT_U32, L(max_envelopes_per_request), 0, UINT32_MAX},
    {"limits", "max_prekeys_per_upload", OPT_U32, L(max_prekeys_per_upload), 0, UINT32_MAX},
    {"limits", "max_prekeys_per_account", OPT_U32, L(max_prekeys_per_account), 0, UINT32_MAX},
    {"limits", "mailbox_max_messages", OPT_U32, L(mailbox_max_messages), 0, UINT32_MAX},
    {"limits", "mailbox_max_bytes", OPT_U64, L(mailbox_max_bytes), 0, UINT64_MAX},
    {"limits", "fetch_max_envelopes", OPT_U32, L(fetch_max_envelopes), 0, UINT32_MAX},
    {"limits", "max_wait_s", OPT_U32, L(max_wait_s), 0, UINT32_MAX},
    {"limits", "max_ack_ids", OPT_U32, L(max_ack_ids), 0, UINT32_MAX},
    {"limits", "token_ttl_s", OPT_U32, L(token_ttl_s), 0, UINT32_MAX},
    {"limits", "proof_window_s", OPT_U32, L(proof_window_s), 0, UINT32_MAX},
    {"limits", "bundle_fetches_per_target", OPT_U32, L(bundle_fetches_per_target), 0, UINT32_MAX},
    {"limits", "bundle_fetch_window_s", OPT_U32, L(bundle_fetch_window_s), 0, UINT32_MAX},
    {"limits", "envelope_ttl_s", OPT_U32, L(envelope_ttl_s), 0, UINT32_MAX},
    {"limits", "auth_rate_per_minute", OPT_UINT, F(auth_rate_per_minute), 1, 1000000},

    {"retention", "prune_interval_s", OPT_UINT, F(prune_interval_s), 1, DAY},
    {"retention", "prune_batch", OPT_UINT, F(prune_batch), 1, 1000000},
    {"retention", "signed_prekey_grace_s", OPT_UINT, F(signed_prekey_grace_s), 0, 365u * DAY},
    {"retention", "account_idle_s", OPT_UINT, F(account_idle_s), 0, 3650u * DAY},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static const char *const sections[] = {"server", "database", "limits", "retention"};

static char *dup_or_null(const char *s)
{
    return strdup(s); /* NULL on OOM: config_validate reports the unset field */
}

void config_defaults(struct config *c)
{
    *c = (struct config){
        .listen_host = dup_or_null("127.0.0.1"),
        .listen_port = 8443,
        .tls_cert = dup_or_null("state/tls/cert.pem"),
        .tls_key = dup_or_null("state/tls/key.pem"),
        .tls_min_version = dup_or_null("1.3"),
        .threads = 4,
        .max_connections = 1024,
        .max_connections_per_ip = 64,
        .connection_timeout_s = 30,
        .connection_memory = 64u * 1024,
        .log_level = SP_LOG_INFO,
        .db_path = dup_or_null("state/sealpostd.db"),
        .db_sync_full = true,
        .db_pool_size = 8,
        .auth_rate_per_minute = 60,
        .prune_interval_s = 300,
        .prune_batch = 500,
        .signed_prekey_grace_s = 30u * DAY,
        .account_idle_s = 0,
    };
    sp_limits_defaults(&c->limits);
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    free(c->listen_host);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_min_version);
    free(c->db_path);
    c->listen_host = c->tls_cert = c->tls_key = c->tls_min_version = c->db_path = NULL;
}

/* ---- value parsing */

/* Strict unsigned decimal: digits only (no sign, space, base prefix or
 * trailing junk), no overflow, within [min, max]. */
static sp_status parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
                           const char **why)
{
    if (*s < '0' || *s > '9') {
        *why = "not an unsigned decimal number";
        return SP_ERR_USAGE;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE) {
        *why = "number too large";
        return SP_ERR_USAGE;
    }
    if (end == s || *end != '\0') {
        *why = "not an unsigned decimal number";
        return SP_ERR_USAGE;
    }
    if (v < min || v > max) {
        *why = "out of range";
        return SP_ERR_USAGE;
    }
    *out = (uint64_t)v;
    return SP_OK;
}

static bool is_ip_literal(const char *s)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static bool tls_version_ok(const char *s)
{
    return strcmp(s, "1.2") == 0 || strcmp(s, "1.3") == 0;
}

static sp_status set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return SP_ERR_NOMEM;
    free(*field);
    *field = copy;
    return SP_OK;
}

/* Apply one value to *c. On failure *why says what is wrong with it. */
static sp_status apply(struct config *c, const struct opt *o, const char *value, const char **why)
{
    uint8_t *base = (uint8_t *)c;
    void *field = base + o->offset;
    uint64_t v = 0;
    sp_status st = SP_OK;

    switch (o->type) {
    case OPT_STR:
    case OPT_HOST:
    case OPT_TLSVER:
        if (*value == '\0') {
            *why = "empty value";
            return SP_ERR_USAGE;
        }
        if (o->type == OPT_HOST && !is_ip_literal(value)) {
            *why = "not an IPv4 or IPv6 address literal";
            return SP_ERR_USAGE;
        }
        if (o->type == OPT_TLSVER && !tls_version_ok(value)) {
            *why = "must be \"1.2\" or \"1.3\"";
            return SP_ERR_USAGE;
        }
        st = set_string((char **)field, value);
        if (st != SP_OK)
            *why = "out of memory";
        return st;
    case OPT_LOGLEVEL: {
        int lv = sp_log_level_parse(value);
        if (lv < 0) {
            *why = "must be error, warn, info or debug";
            return SP_ERR_USAGE;
        }
        *(enum sp_log_level *)field = (enum sp_log_level)lv;
        return SP_OK;
    }
    case OPT_SYNC:
        if (strcmp(value, "full") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "normal") == 0)
            *(bool *)field = false;
        else {
            *why = "must be full or normal";
            return SP_ERR_USAGE;
        }
        return SP_OK;
    case OPT_U16:
        TRY(parse_u64(value, o->min, o->max, &v, why));
        *(uint16_t *)field = (uint16_t)v;
        return SP_OK;
    case OPT_UINT:
        TRY(parse_u64(value, o->min, o->max, &v, why));
        *(unsigned *)field = (unsigned)v;
        return SP_OK;
    case OPT_U32:
        TRY(parse_u64(value, o->min, o->max, &v, why));
        *(uint32_t *)field = (uint32_t)v;
        return SP_OK;
    case OPT_U64:
        TRY(parse_u64(value, o->min, o->max, &v, why));
        *(uint64_t *)field = v;
        return SP_OK;
    }
    *why = "internal: unknown option type";
    return SP_ERR_INTERNAL;
out:
    return st;
}

/* ---- file parsing */

struct parse_ctx {
    struct config *c;
    const char *path;
    FILE *f;
    char *line; /* getline buffer */
    size_t line_alloc;
    int lineno;      /* line most recently handed to inih */
    bool section_ok; /* current section header is known */
    bool read_error;
    sp_status st;            /* first error */
    int set_line[N_OPTIONS]; /* line where each option was set, 0 = not in file */
};

static void fail(struct parse_ctx *p, sp_status st, const char *key, const char *why)
{
    if (p->st != SP_OK)
        return; /* report the first error only */
    p->st = st;
    if (key != NULL)
        SP_LOG_E("%s:%d: %s: %s", p->path, p->lineno, key, why);
    else
        SP_LOG_E("%s:%d: %s", p->path, p->lineno, why);
}

static bool known_section(const char *name)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(sections[i], name) == 0)
            return true;
    return false;
}

/* Look at a section header line ourselves: inih only reports sections
 * through their keys, so an unknown section with no keys would pass. */
static void check_section_header(struct parse_ctx *p, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '[')
        return;
    const char *end = strchr(line, ']');
    if (end == NULL) {
        fail(p, SP_ERR_USAGE, NULL, "section header without ']'");
        return;
    }
    char name[64];
    size_t n = (size_t)(end - line - 1);
    if (n >= sizeof name) {
        fail(p, SP_ERR_USAGE, NULL, "unknown section");
        return;
    }
    memcpy(name, line + 1, n);
    name[n] = '\0';
    if (!known_section(name)) {
        char msg[96];
        snprintf(msg, sizeof msg, "unknown section [%s]", name);
        fail(p, SP_ERR_USAGE, NULL, msg);
    }
}

/* inih's fgets-style reader: exactly one file line per call, so our line
 * count equals inih's. An over-long line or a read error ends the parse
 * (returning NULL) and is recorded as an error. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_ctx *p = stream;
    if (p->st != SP_OK)
        return NULL;
    errno = 0;
    ssize_t n = getline(&p->line, &p->line_alloc, p->f);
    if (n < 0) {
        if (ferror(p->f)) {
            p->read_error = true;
            p->lineno++;
            char msg[128];
            snprintf(msg, sizeof msg, "read error: %s", strerror(errno ? errno : EIO));
            fail(p, SP_ERR_IO, NULL, msg);
        }
        return NULL;
    }
    p->lineno++;
    if (num < 1 || (size_t)n + 1 > (size_t)num) {
        /* the line (with its '\n') and a NUL must fit inih's buffer */
        fail(p, SP_ERR_USAGE, NULL, "line too long");
        return NULL;
    }
    if (memchr(p->line, '\0', (size_t)n) != NULL) {
        fail(p, SP_ERR_USAGE, NULL, "NUL byte in line");
        return NULL;
    }
    check_section_header(p, p->line);
    memcpy(str, p->line, (size_t)n + 1);
    return str;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct parse_ctx *p = user;
    if (p->st != SP_OK)
        return 1; /* already failed; stay quiet */
    if (*section == '\0') {
        fail(p, SP_ERR_USAGE, name, "key outside a section");
        return 0;
    }
    if (!known_section(section))
        return 0; /* already reported at the header line */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct opt *o = &options[i];
        if (strcmp(o->section, section) != 0 || strcmp(o->key, name) != 0)
            continue;
        if (p->set_line[i] != 0) {
            char msg[96];
            /* inih treats an indented line as the continuation of the
             * previous value, which lands here too. */
            snprintf(msg, sizeof msg, "set twice (first on line %d; indented lines continue it)",
                     p->set_line[i]);
            fail(p, SP_ERR_USAGE, name, msg);
            return 0;
        }
        const char *why = "invalid value";
        sp_status st = apply(p->c, o, value, &why);
        if (st != SP_OK) {
            fail(p, st, name, why);
            return 0;
        }
        p->set_line[i] = p->lineno;
        return 1;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "unknown key in [%s]", section);
    fail(p, SP_ERR_USAGE, name, msg);
    return 0;
}

static int option_line(const struct parse_ctx *p, const char *section, const char *key)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].section, section) == 0 && strcmp(options[i].key, key) == 0)
            return p->set_line[i];
    return 0;
}

sp_status config_load_file(struct config *c, const char *path)
{
    sp_status st = SP_OK;
    struct parse_ctx p = {.c = c, .path = path, .st = SP_OK};
    struct config work = *c;

    /* Parse into a copy so a failed load leaves *c as it was. */
    ENSURE(path != NULL, SP_ERR_USAGE);
    work.listen_host = work.tls_cert = work.tls_key = work.tls_min_version = work.db_path = NULL;
    ENSURE((c->listen_host == NULL || (work.listen_host = strdup(c->listen_host)) != NULL) &&
               (c->tls_cert == NULL || (work.tls_cert = strdup(c->tls_cert)) != NULL) &&
               (c->tls_key == NULL || (work.tls_key = strdup(c->tls_key)) != NULL) &&
               (c->tls_min_version == NULL ||
                (work.tls_min_version = strdup(c->tls_min_version)) != NULL) &&
               (c->db_path == NULL || (work.db_path = strdup(c->db_path)) != NULL),
           SP_ERR_NOMEM);
    p.c = &work;

    p.f = fopen(path, "r");
    if (p.f == NULL) {
        SP_LOG_E("%s: cannot open: %s", path, strerror(errno));
        st = SP_ERR_IO;
        goto out;
    }
    int rc = ini_parse_stream(read_line, &p, on_value, &p);
    if (p.st != SP_OK) {
        st = p.st;
        goto out;
    }
    if (rc != 0) {
        /* A syntax error inih found itself (no '=', unterminated section). */
        p.lineno = rc > 0 ? rc : p.lineno;
        fail(&p, SP_ERR_USAGE, NULL, rc > 0 ? "syntax error" : "parse failed");
        st = p.st;
        goto out;
    }

    /* Limits are checked as a set once the file is read, naming the line of
     * the offending key when this file set it. */
    const char *what = NULL;
    if (sp_limits_validate(&work.limits, &what) != SP_OK) {
        int line = what != NULL ? option_line(&p, "limits", what) : 0;
        if (line > 0)
            SP_LOG_E("%s:%d: %s: out of range or inconsistent with other limits", path, line, what);
        else
            SP_LOG_E("%s: [limits] %s: out of range or inconsistent with other limits", path,
                     what != NULL ? what : "?");
        st = SP_ERR_USAGE;
        goto out;
    }

    config_free(c);
    *c = work;
    work.listen_host = work.tls_cert = work.tls_key = work.tls_min_version = work.db_path = NULL;
    st = SP_OK;
out:
    if (p.f != NULL)
        fclose(p.f);
    free(p.line);
    config_free(&work);
    return st;
}

sp_status config_validate(const struct config *c)
{
    const char *what = NULL;
    if (c->listen_host == NULL || !is_ip_literal(c->listen_host)) {
        SP_LOG_E("config: listen_host must be an IPv4 or IPv6 address literal");
        return SP_ERR_USAGE;
    }
    if (c->listen_port == 0) {
        SP_LOG_E("config: listen_port must be 1..65535");
        return SP_ERR_USAGE;
    }
    if (c->tls_cert == NULL || *c->tls_cert == '\0' || c->tls_key == NULL || *c->tls_key == '\0') {
        SP_LOG_E("config: tls_cert and tls_key must be set");
        return SP_ERR_USAGE;
    }
    if (c->tls_min_version == NULL || !tls_version_ok(c->tls_min_version)) {
        SP_LOG_E("config: tls_min_version must be \"1.2\" or \"1.3\"");
        return SP_ERR_USAGE;
    }
    if (c->db_path == NULL || *c->db_path == '\0') {
        SP_LOG_E("config: database path must be set");
        return SP_ERR_USAGE;
    }
    if ((unsigned)c->log_level > SP_LOG_DEBUG) {
        SP_LOG_E("config: log_level out of range");
        return SP_ERR_USAGE;
    }
    /* Numeric ranges: the same table the file parser uses. */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct opt *o = &options[i];
        const uint8_t *base = (const uint8_t *)c;
        const void *field = base + o->offset;
        uint64_t v;
        switch (o->type) {
        case OPT_U16:
            v = *(const uint16_t *)field;
            break;
        case OPT_UINT:
            v = *(const unsigned *)field;
            break;
        default:
            continue; /* strings checked above, limits below */
        }
        if (v < o->min || v > o->max) {
            SP_LOG_E("config: %s: out of range (%llu..%llu)", o->key, (unsigned long long)o->min,
                     (unsigned long long)o->max);
            return SP_ERR_USAGE;
        }
    }
    if (c->max_connections_per_ip > c->max_connections) {
        SP_LOG_E("config: max_connections_per_ip exceeds max_connections");
        return SP_ERR_USAGE;
    }
    if (c->threads > c->max_connections) {
        SP_LOG_E("config: threads exceeds max_connections");
        return SP_ERR_USAGE;
    }
    if (sp_limits_validate(&c->limits, &what) != SP_OK) {
        SP_LOG_E("config: [limits] %s: out of range or inconsistent with other limits",
                 what != NULL ? what : "?");
        return SP_ERR_USAGE;
    }
    return SP_OK;
}
