/*
 * bench_failover.c - build/bin/bench-failover: failover figures on the netns
 * rig (detect, promote, FIP, first acknowledged write on the new master,
 * lost acknowledged writes), one "name: value" a line. The driver proper is
 * bench_failover.sh (namespaces, PostgreSQL and kill -9 are shell work);
 * this program runs it with bash, passing the directory of its own
 * executable (duetd, duet-witness, duetctl) and of the test tools
 * (pgprobe). Needs root. See --help.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BENCH_FAILOVER_SCRIPT
#error "BENCH_FAILOVER_SCRIPT must name bench_failover.sh"
#endif
#ifndef BENCH_TESTS_DIR
#error "BENCH_TESTS_DIR must name the directory of pgprobe"
#endif

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0) {
		perror("bench-failover: readlink /proc/self/exe");
		return 1;
	}
	self[len] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	char **args = calloc((size_t)argc + 5, sizeof *args);
	if (!args)
		return 1;
	int k = 0;
	args[k++] = "bash";
	args[k++] = BENCH_FAILOVER_SCRIPT;
	args[k++] = self;
	args[k++] = BENCH_TESTS_DIR;
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	execvp("bash", args);
	perror("bench-failover: cannot run bash");
	return 1;
}
