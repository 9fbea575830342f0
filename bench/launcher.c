/* SPDX-License-Identifier: MIT */
/*
 * launcher.c - build/bin/bench-cluster and build/bin/bench-failover: the
 * drivers proper are scripts (processes, namespaces, JSON and kill -9 are
 * simpler there: bench_cluster.py, bench_failover.sh); this program runs
 * one with its interpreter so that the benchmark is a program in build/bin,
 * passing "--bin DIR" (the directory of its own executable, where duetd,
 * duet-witness and duetctl are built), "--tests DIR" when built with
 * BENCH_TESTS_DIR (pgprobe), then its own arguments. See each one's --help.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(BENCH_NAME) || !defined(BENCH_INTERP) || !defined(BENCH_SCRIPT)
#error "BENCH_NAME, BENCH_INTERP and BENCH_SCRIPT must be defined"
#endif

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0) {
		perror(BENCH_NAME ": readlink /proc/self/exe");
		return 1;
	}
	self[len] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	char **args = calloc((size_t)argc + 7, sizeof *args);
	if (!args)
		return 1;
	int k = 0;
	args[k++] = BENCH_INTERP;
	args[k++] = BENCH_SCRIPT;
	args[k++] = "--bin";
	args[k++] = self;
#ifdef BENCH_TESTS_DIR
	args[k++] = "--tests";
	args[k++] = BENCH_TESTS_DIR;
#endif
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	execvp(BENCH_INTERP, args);
	perror(BENCH_NAME ": cannot run " BENCH_INTERP);
	return 1;
}
