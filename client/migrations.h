/*
 * migrations.h: the SDK's client-state schema migrations, embedded at build
 * time from client/migrations/NNNN_name.sql by migrations/embed.cmake (the
 * same generator the relay uses, with PREFIX=client), so libsealpost never
 * reads files at run time. client_migrations[i].version == i + 1.
 * client/keystore.c applies every version newer than the one the state file
 * records, in order, in one transaction; it never goes down.
 */
#ifndef SEALPOST_CLIENT_MIGRATIONS_H
#define SEALPOST_CLIENT_MIGRATIONS_H

struct client_migration {
    int version;      /* NNNN */
    const char *name; /* "init" */
    const char *sql;  /* NUL-terminated script, without BEGIN/COMMIT */
};

extern const struct client_migration client_migrations[];
extern const int client_migrations_count;

#endif
