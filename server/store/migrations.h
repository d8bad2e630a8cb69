/*
 * migrations.h: the relay's schema migrations, embedded at build time.
 *
 * migrations/NNNN_name.sql are compiled into the sealpost_migrations library
 * by migrations/embed.cmake, so sealpostd never reads the source tree at run
 * time. store_migrations[i].version == i + 1 (the build checks there are no
 * gaps). A backend applies every version newer than the one its database
 * records, in order, in one transaction; it never goes down.
 */
#ifndef SEALPOST_SERVER_STORE_MIGRATIONS_H
#define SEALPOST_SERVER_STORE_MIGRATIONS_H

struct store_migration {
    int version;      /* NNNN */
    const char *name; /* "init" */
    const char *sql;  /* NUL-terminated script, without BEGIN/COMMIT */
};

extern const struct store_migration store_migrations[];
extern const int store_migrations_count;

#endif
