/*
 * testutil.h: small helpers shared by the Check suites.
 */
#ifndef SEALPOST_TESTS_TESTUTIL_H
#define SEALPOST_TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Create a fresh private directory under $TMPDIR (or /tmp); returns a
 * malloc'd path. Aborts the test on failure. */
char *tu_tmpdir(const char *tag);
/* rm -rf equivalent for a directory made by tu_tmpdir. NULL-safe. */
void tu_rmtree(const char *path);
/* malloc'd "dir/name". */
char *tu_path(const char *dir, const char *name);
/* Run a suite with CK_NORMAL output; returns the process exit code. */
int tu_run(Suite *s);

#endif
