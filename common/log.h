/*
 * log.h: levelled logging to stderr (journald adds its own timestamps).
 *
 * The rule for every caller (STYLE.md §8): never log secrets, plaintext,
 * tokens, agent addresses or client IP addresses. Log counts, statuses and
 * durations. The level is process-wide and set once at start-up.
 */
#ifndef SEALPOST_COMMON_LOG_H
#define SEALPOST_COMMON_LOG_H

enum sp_log_level { SP_LOG_ERROR = 0, SP_LOG_WARN = 1, SP_LOG_INFO = 2, SP_LOG_DEBUG = 3 };

void sp_log_set_level(enum sp_log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int sp_log_level_parse(const char *s);
void sp_log(enum sp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SP_LOG_E(...) sp_log(SP_LOG_ERROR, __VA_ARGS__)
#define SP_LOG_W(...) sp_log(SP_LOG_WARN, __VA_ARGS__)
#define SP_LOG_I(...) sp_log(SP_LOG_INFO, __VA_ARGS__)
#define SP_LOG_D(...) sp_log(SP_LOG_DEBUG, __VA_ARGS__)

#endif
