/*
 * audit.c: the `sealpostd audit` report (see audit.h).
 *
 * Reads through store_audit() and store_audit_detail() on one pooled
 * connection outside any transaction, plus stat() of the database files.
 * Prints only numbers and schema names.
 */
#include "server/audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const audit_age_labels[STORE_AGE_BUCKETS] = {"< 1 hour", "< 1 day", "< 7 days",
                                                          "< 30 days", ">= 30 days"};

static void print_file(FILE *out, const char *db_path, const char *suffix)
{
    size_t n = strlen(db_path) + strlen(suffix) + 1;
    char *p = malloc(n);
    struct stat sb;
    if (p == NULL)
        return;
    snprintf(p, n, "%s%s", db_path, suffix);
    if (stat(p, &sb) == 0)
        fprintf(out, "  %-12s %12llu bytes, mode %04o\n", *suffix ? suffix + 1 : "database",
                (unsigned long long)sb.st_size, (unsigned)(sb.st_mode & 07777));
    else if (errno == ENOENT)
        fprintf(out, "  %-12s absent\n", *suffix ? suffix + 1 : "database");
    free(p);
}

static void print_ages(FILE *out, const char *what, const uint64_t *h)
{
    fprintf(out, "%s\n", what);
    for (size_t i = 0; i < STORE_AGE_BUCKETS; i++)
        fprintf(out, "  %-12s %12llu\n", audit_age_labels[i], (unsigned long long)h[i]);
}

sp_status audit_print(FILE *out, struct store *s, const char *db_path, uint64_t now)
{
    sp_status st = SP_OK;
    struct store_conn *c = NULL;
    struct store_audit a;
    struct store_audit_detail *d = NULL;

    d = calloc(1, sizeof *d);
    ENSURE(d != NULL, SP_ERR_NOMEM);
    TRY(store_conn_get(s, &c));
    TRY(store_audit(c, &a));
    TRY(store_audit_detail(c, now, d));

    fprintf(out, "schema version %d\n\nrows\n", store_schema_version(s));
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {
        {"accounts", a.accounts},
        {"prekeys", a.prekeys},
        {"signed_prekeys", a.signed_prekeys},
        {"  superseded", a.superseded_signed_prekeys},
        {"tokens", a.tokens},
        {"replay", a.replay},
        {"mail", a.mail},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(out, "  %-16s %12llu\n", rows[i].name, (unsigned long long)rows[i].v);
    fprintf(out, "  %-16s %12llu bytes of sealed envelopes\n", "mail content",
            (unsigned long long)a.mail_bytes);

    fprintf(out, "\nenvelope sizes (bytes: count)\n");
    if (d->n_sizes == 0)
        fprintf(out, "  none\n");
    for (size_t i = 0; i < d->n_sizes; i++)
        fprintf(out, "  %12llu: %llu\n", (unsigned long long)d->sizes[i].bytes,
                (unsigned long long)d->sizes[i].count);
    if (d->sizes_truncated)
        fprintf(out, "  (more sizes not shown)\n");

    fprintf(out, "\n");
    print_ages(out, "mail age (since the received hour)", d->mail_age);
    fprintf(out, "\n");
    print_ages(out, "account idle time (since the last-activity hour)", d->account_idle);

    fprintf(out, "\nfiles\n");
    print_file(out, db_path, "");
    print_file(out, db_path, "-wal");
    print_file(out, db_path, "-shm");
    print_file(out, db_path, "-journal");
    fprintf(out, "  page size %llu, pages %llu, free pages %llu\n",
            (unsigned long long)d->page_size, (unsigned long long)d->page_count,
            (unsigned long long)d->freelist_count);

    fprintf(out, "\ntables and indexes (pages, bytes, row data bytes)\n");
    if (!d->have_objects)
        fprintf(out, "  not available (SQLite without the dbstat table)\n");
    for (size_t i = 0; i < d->n_objects; i++)
        fprintf(out, "  %-34s %8llu %12llu %12llu\n", d->objects[i].name,
                (unsigned long long)d->objects[i].pages, (unsigned long long)d->objects[i].bytes,
                (unsigned long long)d->objects[i].payload);
out:
    store_conn_put(s, c);
    free(d);
    return st;
}
