/*
 * sealpost: command-line agent on top of the public SDK header only.
 *
 * Subcommands come from one table (`commands` below) that also prints the
 * help, so the two cannot drift apart. Exit codes are distinct per failure
 * class so scripts can react (see exit_code_for()):
 *   0 ok, 64 usage, 65 input rejected, 69 relay unreachable,
 *   74 local state error, 76 TLS/protocol error, 70 anything else.
 *
 * Output hygiene: message text is printed with control characters escaped,
 * so a peer cannot drive the user's terminal with escape sequences.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sealpost/sealpost.h>

enum {
    EXIT_OK = 0,
    EXIT_USAGE = 64,       /* EX_USAGE */
    EXIT_REJECTED = 65,    /* EX_DATAERR: the relay or the SDK refused the input */
    EXIT_UNREACHABLE = 69, /* EX_UNAVAILABLE: relay unreachable */
    EXIT_SOFTWARE = 70,    /* EX_SOFTWARE */
    EXIT_STATE = 74,       /* EX_IOERR: local state */
    EXIT_PROTOCOL = 76,    /* EX_PROTOCOL: TLS or protocol failure */
};

struct cli {
    const char *state_dir;
    sealpost_client *client;
};

struct command {
    const char *name;
    const char *args;
    const char *help;
    int (*run)(struct cli *cli, int argc, char **argv);
};

static int exit_code_for(sealpost_status st)
{
    switch (st) {
    case SEALPOST_OK:
        return EXIT_OK;
    case SEALPOST_ERR_USAGE:
        return EXIT_USAGE;
    case SEALPOST_ERR_NETWORK:
    case SEALPOST_ERR_UNAVAILABLE:
    case SEALPOST_ERR_RATE_LIMITED:
        return EXIT_UNREACHABLE;
    case SEALPOST_ERR_IO:
    case SEALPOST_ERR_NOMEM:
        return EXIT_STATE;
    case SEALPOST_ERR_TLS:
    case SEALPOST_ERR_PROTOCOL:
        return EXIT_PROTOCOL;
    case SEALPOST_ERR_INTERNAL:
        return EXIT_SOFTWARE;
    default:
        return EXIT_REJECTED;
    }
}

static int fail(sealpost_status st, const char *what)
{
    fprintf(stderr, "sealpost: %s: %s\n", what, sealpost_strerror(st));
    return exit_code_for(st);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sealpost: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'sealpost --help')\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int open_client(struct cli *cli, const sealpost_options *opts)
{
    sealpost_status st = sealpost_open(&cli->client, cli->state_dir, opts);
    if (st != SEALPOST_OK)
        return fail(st, cli->state_dir);
    return EXIT_OK;
}

/* Parse a non-negative decimal integer no larger than max. */
static int parse_uint(const char *s, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int cmd_init(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca-file", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    sealpost_options opts = {.struct_size = sizeof opts};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 's')
            opts.server_url = optarg;
        else if (ch == 'c')
            opts.ca_file = optarg;
        else
            return EXIT_USAGE;
    }
    if (optind != argc)
        return usage_error("init: unexpected argument '%s'", argv[optind]);
    if (opts.server_url == NULL)
        return usage_error("init: %s", "--server URL is required");
    int rc = open_client(cli, &opts);
    if (rc != EXIT_OK)
        return rc;
    sealpost_status st = sealpost_init(cli->client, opts.server_url);
    if (st != SEALPOST_OK)
        return fail(st, "init");
    char addr[SEALPOST_ADDRESS_LEN + 1];
    st = sealpost_address(cli->client, addr);
    if (st != SEALPOST_OK)
        return fail(st, "address");
    printf("%s\n", addr);
    return EXIT_OK;
}

static int cmd_address(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("address: %s", "takes no arguments");
    int rc = open_client(cli, NULL);
    if (rc != EXIT_OK)
        return rc;
    char addr[SEALPOST_ADDRESS_LEN + 1];
    sealpost_status st = sealpost_address(cli->client, addr);
    if (st != SEALPOST_OK)
        return fail(st, "address (run 'sealpost init' first)");
    printf("%s\n", addr);
    return EXIT_OK;
}

/* Read all of stdin, refusing more than `max` bytes. *out is malloc'd. */
static int read_stdin(uint8_t **out, size_t *len, size_t max)
{
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);
    if (p == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(p);
                return -2;
            }
            uint8_t *q = realloc(p, cap * 2);
            if (q == NULL) {
                free(p);
                return -1;
            }
            p = q;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(stdin)) {
        free(p);
        return -1;
    }
    if (n > max) {
        free(p);
        return -2;
    }
    *out = p;
    *len = n;
    return 0;
}

static int cmd_send(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return usage_error("send: %s", "usage: send ADDRESS [TEXT]");
    const char *to = argv[1];
    uint8_t *body = NULL;
    size_t len = 0;
    if (argc == 3) {
        len = strlen(argv[2]);
        if (len > SEALPOST_MAX_MESSAGE_LEN)
            return fail(SEALPOST_ERR_TOO_LARGE, "send");
    } else {
        int r = read_stdin(&body, &len, SEALPOST_MAX_MESSAGE_LEN);
        if (r == -2)
            return fail(SEALPOST_ERR_TOO_LARGE, "send");
        if (r != 0)
            return fail(SEALPOST_ERR_IO, "reading stdin");
    }
    int rc = open_client(cli, NULL);
    if (rc == EXIT_OK) {
        int queued = 0;
        const uint8_t *msg = body != NULL ? body : (const uint8_t *)argv[2];
        sealpost_status st = sealpost_send(cli->client, to, msg, len, &queued, NULL);
        if (st != SEALPOST_OK)
            rc = fail(st, "send");
        else if (queued)
            fprintf(stderr, "sealpost: relay unreachable; message queued, "
                            "'sealpost sync' will deliver it\n");
    }
    free(body);
    return rc;
}

static int cmd_sync(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"wait", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    long wait_s = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch != 'w')
            return EXIT_USAGE;
        if (parse_uint(optarg, 3600, &wait_s) != 0)
            return usage_error("sync: --wait wants 0..3600 seconds, not '%s'", optarg);
    }
    if (optind != argc)
        return usage_error("sync: unexpected argument '%s'", argv[optind]);
    int rc = open_client(cli, NULL);
    if (rc != EXIT_OK)
        return rc;
    sealpost_sync_stats stats = {0};
    sealpost_status st = sealpost_sync(cli->client, (int)wait_s, &stats);
    if (st != SEALPOST_OK)
        return fail(st, "sync");
    printf("uploaded %zu, received %zu, dropped %zu, still queued %zu, failed %zu\n",
           stats.uploaded, stats.received, stats.dropped, stats.queued, stats.failed);
    return EXIT_OK;
}

/* Length of the well-formed UTF-8 sequence at p (1..4) and its code point,
 * or 0 if the bytes are not one (overlong, surrogate, past U+10FFFF, cut). */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    static const uint32_t min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t v;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        v = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        v = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        v = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min_of_len[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Code points a peer must not be able to send to the user's terminal: C0 and
 * C1 controls (escape sequences, CSI), DEL, and the bidirectional overrides
 * that make text display differently from what it says. */
static int dangerous(uint32_t cp)
{
    return (cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
           cp == 0x200f || cp == 0x061c;
}

/* Print a message body as one line of text. Well-formed UTF-8 passes
 * through; a newline prints as \n, a backslash as \\, dangerous ASCII
 * controls and non-UTF-8 bytes as \xNN, other dangerous code points
 * as \u{XXXX}. */
static void print_escaped(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t len = utf8_decode(p + i, n - i, &cp);
        if (len == 0) {
            printf("\\x%02x", p[i]);
            i++;
            continue;
        }
        if (cp == '\\')
            fputs("\\\\", stdout);
        else if (cp == '\n')
            fputs("\\n", stdout);
        else if (dangerous(cp) && len == 1)
            printf("\\x%02x", (unsigned)cp);
        else if (dangerous(cp))
            printf("\\u{%04x}", (unsigned)cp);
        else
            fwrite(p + i, 1, len, stdout);
        i += len;
    }
}

static int cmd_inbox(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("inbox: %s", "takes no arguments");
    int rc = open_client(cli, NULL);
    if (rc != EXIT_OK)
        return rc;
    for (;;) {
        sealpost_message *m = NULL;
        sealpost_status st = sealpost_inbox_next(cli->client, &m);
        if (st != SEALPOST_OK)
            return fail(st, "inbox");
        if (m == NULL)
            break;
        char when[32] = "?";
        time_t t = (time_t)m->received_at;
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s %s ", m->sender, when);
        print_escaped(m->body, m->body_len);
        putchar('\n');
        /* Mark read only once the line has really been written out. */
        int write_failed = fflush(stdout) != 0 || ferror(stdout);
        int64_t id = m->id;
        sealpost_message_free(m);
        if (write_failed)
            return fail(SEALPOST_ERR_IO, "writing to stdout");
        st = sealpost_inbox_done(cli->client, id);
        if (st != SEALPOST_OK)
            return fail(st, "inbox");
    }
    return EXIT_OK;
}

static int cmd_status(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage_error("status: %s", "takes no arguments");
    int rc = open_client(cli, NULL);
    if (rc != EXIT_OK)
        return rc;
    sealpost_info info = {0};
    sealpost_status st = sealpost_info_get(cli->client, 1, &info);
    if (st != SEALPOST_OK)
        return fail(st, "status");
    printf("registered: %s\n", info.registered ? "yes" : "no");
    if (info.relay_prekeys >= 0)
        printf("prekeys on relay: %ld\n", info.relay_prekeys);
    else
        printf("prekeys on relay: unknown (relay unreachable)\n");
    printf("outbox queued: %zu\n", info.outbox_queued);
    printf("inbox unread: %zu\n", info.inbox_unread);
    printf("sessions: %zu\n", info.sessions);
    return EXIT_OK;
}

static const struct command commands[] = {
    {"init", "--server URL [--ca-file PEM]", "create identity, register with the relay", cmd_init},
    {"address", "", "print this agent's address", cmd_address},
    {"send", "ADDRESS [TEXT]", "TEXT or stdin; queued, then uploaded", cmd_send},
    {"sync", "[--wait SECONDS]", "flush outbox, fetch, decrypt, ack", cmd_sync},
    {"inbox", "", "print unread messages (sender, time, text), mark read", cmd_inbox},
    {"status", "", "prekeys left on relay, queued outbox, sessions", cmd_status},
};

static void print_help(FILE *f)
{
    fprintf(f, "usage: sealpost [-d STATE_DIR] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-40s %s\n", left, commands[i].help);
    }
    fprintf(f, "\nSTATE_DIR defaults to $SEALPOST_DIR, then ~/.sealpost.\n"
               "exit codes: 0 ok, 64 usage, 65 rejected input, 69 relay unreachable,\n"
               "            74 local state error, 76 TLS/protocol error, 70 other\n");
}

/* $SEALPOST_DIR, else $HOME/.sealpost. Returns malloc'd string or NULL. */
static char *default_state_dir(void)
{
    const char *env = getenv("SEALPOST_DIR");
    if (env != NULL && *env != '\0')
        return strdup(env);
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    size_t n = strlen(home) + sizeof "/.sealpost";
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/.sealpost", home);
    return p;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli = {0};
    char *dir_owned = NULL;
    int ch;
    /* '+': stop at the first non-option so subcommands parse their own flags. */
    while ((ch = getopt_long(argc, argv, "+d:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            cli.state_dir = optarg;
            break;
        case 'h':
            print_help(stdout);
            return EXIT_OK;
        case 'V':
            printf("sealpost %s\n", sealpost_version());
            return EXIT_OK;
        default:
            print_help(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL)
        return usage_error("unknown command '%s'", argv[optind]);
    if (cli.state_dir == NULL) {
        dir_owned = default_state_dir();
        if (dir_owned == NULL)
            return usage_error("%s", "no state directory: use -d, $SEALPOST_DIR or $HOME");
        cli.state_dir = dir_owned;
    }
    int rc = cmd->run(&cli, argc - optind, argv + optind);
    sealpost_close(cli.client);
    free(dir_owned);
    return rc;
}
