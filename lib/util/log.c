/* SPDX-License-Identifier: MIT */
/*
 * Library logging: one process-wide level and sink.
 *
 * The level is an atomic int read on every call (a message above the level
 * costs one load and a branch, no formatting). It is taken from $PGDAX_LOG
 * the first time anything asks for it (pthread_once), unless the caller set
 * it first. The sink (fn, arg) pair is protected by sink_lock; it is copied
 * out under the lock and called outside it, so a sink may itself log or call
 * pgdax_log_set_fn() without deadlocking. A caller that replaces the sink
 * must keep the old arg valid until in-flight messages are done (in practice:
 * set the sink before starting threads, as the daemon does).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static int log_level = LOG_ERR;		/* atomic (__atomic builtins) */
static int level_set_by_caller;		/* atomic */

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static pgdax_log_fn sink_fn;		/* sink_lock */
static void *sink_arg;			/* sink_lock */

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int pgdax_log_parse_level(const char *s)
{
	char *end;
	long v;
	int i;

	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || *end || v < LOG_EMERG || v > LOG_DEBUG)
			return -EINVAL;
		return (int)v;
	}
	for (i = 0; i <= LOG_DEBUG; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	if (!strcasecmp(s, "warn"))
		return LOG_WARNING;
	if (!strcasecmp(s, "error"))
		return LOG_ERR;
	return -EINVAL;
}

static void level_from_env(void)
{
	const char *env = getenv("PGDAX_LOG");
	int lvl;

	if (!env || __atomic_load_n(&level_set_by_caller, __ATOMIC_ACQUIRE))
		return;
	lvl = pgdax_log_parse_level(env);
	if (lvl < 0) {
		fprintf(stderr, "%s: ignoring PGDAX_LOG=%s: use err, warn, notice, info, debug or 0-7\n",
			program_invocation_short_name, env);
		return;
	}
	__atomic_store_n(&log_level, lvl, __ATOMIC_RELEASE);
}

void pgdax_log_set_level(int priority)
{
	if (priority < LOG_EMERG)
		priority = LOG_EMERG;
	if (priority > LOG_DEBUG)
		priority = LOG_DEBUG;
	__atomic_store_n(&level_set_by_caller, 1, __ATOMIC_RELEASE);
	/* Run the env parse now so it cannot overwrite this value later. */
	pthread_once(&level_once, level_from_env);
	__atomic_store_n(&log_level, priority, __ATOMIC_RELEASE);
}

int pgdax_log_get_level(void)
{
	pthread_once(&level_once, level_from_env);
	return __atomic_load_n(&log_level, __ATOMIC_ACQUIRE);
}

void pgdax_log_set_fn(pgdax_log_fn fn, void *arg)
{
	pthread_mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_arg = fn ? arg : NULL;
	pthread_mutex_unlock(&sink_lock);
}

void pgdax_log(int priority, const char *func, const char *fmt, ...)
{
	char msg[1024];
	pgdax_log_fn fn;
	va_list ap;
	void *arg;
	int saved_errno = errno;	/* callers log, then look at errno */
	size_t n;

	if (priority > pgdax_log_get_level())
		return;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';

	pthread_mutex_lock(&sink_lock);
	fn = sink_fn;
	arg = sink_arg;
	pthread_mutex_unlock(&sink_lock);

	if (fn)
		fn(priority, msg, arg);
	else if (priority >= LOG_DEBUG && func)
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, func, msg);
	else
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg);
	errno = saved_errno;
}
