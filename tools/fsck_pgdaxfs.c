/* SPDX-License-Identifier: MIT */
/*
 * fsck.pgdaxfs: check and repair a pgdaxfs volume. A thin CLI over
 * lib/fsck/fsck.c; exit codes are fsck(8)'s, combined by bitwise OR.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "util/log.h"
#include "util/util.h"

static volatile sig_atomic_t cancelled;

static void on_sigint(int sig)
{
	(void)sig;
	cancelled = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fsck.pgdaxfs [-n | -y | -p] [-f] [-v] [--align 4K|2M|1G] DEVICE\n"
		"Check (and repair) the pgdaxfs volume on DEVICE: /dev/daxX.Y, daxX.Y,\n"
		"namespaceX.Y or an emulated device file. The volume must not be mounted:\n"
		"fsck takes the device's exclusive lock and refuses a device a daemon holds.\n"
		"\n"
		"  -n, --no          check only; open the device read-only, change nothing\n"
		"  -y, --yes         repair every problem found\n"
		"  -p, -a, --preen   repair automatically what is safe to repair; when any\n"
		"                    problem needs -y, repair nothing (a pending journal\n"
		"                    transaction is still rolled back, as mount does), record\n"
		"                    the error state and exit 4\n"
		"  -f, --force       check even if the volume was cleanly unmounted\n"
		"  -v, --verbose     print each phase and statistics\n"
		"      --align A     accepted for compatibility (4K, 2M or 1G); the volume\n"
		"                    records its alignment\n"
		"  -h, --help        this text\n"
		"  -V, --version     print the version\n"
		"\n"
		"Exit status (OR of): 0 no errors, 1 errors corrected, 4 errors left\n"
		"uncorrected, 8 operational error, 16 usage error, 32 cancelled (SIGINT).\n");
}

struct progress_state {
	const char *last_phase;
	int last_pct;
};

static void progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct progress_state *p = arg;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (phase == p->last_phase && pct == p->last_pct)
		return;
	p->last_phase = phase;
	p->last_pct = pct;
	printf("\r%-32s %3d%%", phase, pct);
	if (pct >= 100)
		putchar('\n');
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "preen", no_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "align", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdax_fsck_opts opts = { 0 };
	struct pgdax_fsck_result res;
	struct progress_state ps = { 0 };
	struct sigaction sa;
	uint64_t align = 0;
	int mode = 0, c, rc;

	while ((c = getopt_long(argc, argv, "nypafvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 'y':
		case 'p':
		case 'a':
			if (c == 'a')
				c = 'p';
			if (mode && mode != c) {
				fprintf(stderr, "fsck.pgdaxfs: -n, -y and -p are mutually exclusive\n");
				return PGDAX_FSCK_EXIT_USAGE;
			}
			mode = c;
			break;
		case 'f':
			opts.flags |= PGDAX_FSCK_FORCE;
			break;
		case 'v':
			opts.flags |= PGDAX_FSCK_VERBOSE;
			break;
		case 'A':
			if (pgdax_align_parse(optarg, &align)) {
				fprintf(stderr, "fsck.pgdaxfs: bad --align '%s': use 4K, 2M or 1G\n",
					optarg);
				return PGDAX_FSCK_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fsck.pgdaxfs %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return PGDAX_FSCK_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "fsck.pgdaxfs: %s\n",
			optind >= argc ? "no device given" : "more than one device given");
		usage(stderr);
		return PGDAX_FSCK_EXIT_USAGE;
	}
	if (mode == 'y')
		opts.flags |= PGDAX_FSCK_REPAIR;
	else if (mode == 'p')
		opts.flags |= PGDAX_FSCK_REPAIR | PGDAX_FSCK_PREEN;
	else if (mode == 0 && !isatty(STDIN_FILENO)) {
		/* no interactive questions: without a mode, only check */
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	opts.cancel = &cancelled;
	opts.out = stdout;
	if (isatty(STDOUT_FILENO)) {
		opts.progress = progress;
		opts.progress_arg = &ps;
	}
	rc = pgdax_fsck_device(argv[optind], align, &opts, &res);
	fflush(stdout);
	return rc;
}
