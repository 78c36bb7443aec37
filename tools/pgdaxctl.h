/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl: one table of subcommands (tools/pgdaxctl.c), one handler per
 * verb, each in its own tools/pgdaxctl_<verb>.c. A handler gets argv with
 * argv[0] = the verb, parses its own options (--help on every one) and
 * returns the process exit status (0 ok, 1 failure, 2 usage error).
 *
 * Adding a subcommand: declare cmd_<verb> here, add one line to the table
 * in tools/pgdaxctl.c, and add tools/pgdaxctl_<verb>.c to
 * tools_pgdaxctl_SOURCES (tools/pgdaxctl.am, or your own fragment with +=).
 */
#ifndef PGDAXCTL_H
#define PGDAXCTL_H

#include <stdbool.h>
#include <stdio.h>

#define PGDAXCTL_EXIT_OK	0
#define PGDAXCTL_EXIT_FAIL	1
#define PGDAXCTL_EXIT_USAGE	2

int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_remount(int argc, char **argv);	/* tools/pgdaxctl_remount.c */
int cmd_status(int argc, char **argv);	/* tools/pgdaxctl_status.c */
int cmd_unmount(int argc, char **argv);	/* tools/pgdaxctl_unmount.c */
int cmd_tune(int argc, char **argv);	/* tools/pgdaxctl_tune.c */
int cmd_udev_links(int argc, char **argv);	/* tools/pgdaxctl_udev.c */
int cmd_find(int argc, char **argv);	/* tools/pgdaxctl_udev.c */

/* Shared helpers (tools/pgdaxctl.c). */
/* Print s as a JSON string literal (quotes and escapes included). */
void pgdaxctl_json_str(FILE *f, const char *s);
/* "2M", "1G", "4K" or the byte count when it is not a round unit. */
const char *pgdaxctl_size_str(unsigned long long v, char *buf, size_t len);

#endif /* PGDAXCTL_H */
