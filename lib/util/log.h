/* SPDX-License-Identifier: MIT */
/*
 * Library logging: one process-wide context with a syslog-style level.
 *
 * The level starts from $PGDAX_LOG ("err", "warn", "notice", "info",
 * "debug" or a number 0-7; default "err") and the caller may override it and
 * the sink (the daemon sends messages to syslog once it has daemonized).
 */
#ifndef PGDAX_LOG_H
#define PGDAX_LOG_H

#include <syslog.h>

typedef void (*pgdax_log_fn)(int priority, const char *msg, void *arg);

void pgdax_log_set_level(int priority);
int pgdax_log_get_level(void);
/* Parse "err".."debug" or "0".."7"; returns the level or -EINVAL. */
int pgdax_log_parse_level(const char *s);
/* NULL restores the default sink (stderr, prefixed with the program name). */
void pgdax_log_set_fn(pgdax_log_fn fn, void *arg);
void pgdax_log(int priority, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pgdax_err(...)    pgdax_log(LOG_ERR, __func__, __VA_ARGS__)
#define pgdax_warn(...)   pgdax_log(LOG_WARNING, __func__, __VA_ARGS__)
#define pgdax_notice(...) pgdax_log(LOG_NOTICE, __func__, __VA_ARGS__)
#define pgdax_info(...)   pgdax_log(LOG_INFO, __func__, __VA_ARGS__)
#define pgdax_dbg(...)    pgdax_log(LOG_DEBUG, __func__, __VA_ARGS__)

#endif /* PGDAX_LOG_H */
