/*
 * audit.h: the `sealpostd audit` report: what the relay database holds.
 *
 * Counts per table, bytes of mail, envelope sizes, age histograms of mail
 * (by received hour) and of accounts (by last-activity hour), the database,
 * WAL and shared-memory file sizes, and pages per table and index. Never an
 * address, key, id, hash or content: an operator can run it and paste the
 * output into a bug report.
 */
#ifndef SEALPOST_SERVER_AUDIT_H
#define SEALPOST_SERVER_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "common/status.h"
#include "server/store/store.h"

/* Labels of the STORE_AGE_BUCKETS age buckets ("< 1h", ...). */
extern const char *const audit_age_labels[STORE_AGE_BUCKETS];

/* Print the report for the open store `s` (whose file is db_path) at `now`. */
SP_WARN_UNUSED sp_status audit_print(FILE *out, struct store *s, const char *db_path,
                                     uint64_t now);

#endif
