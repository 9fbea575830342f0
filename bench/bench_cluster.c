/*
 * bench_cluster.c - build/bin/bench-cluster: figures of three real processes
 * (two duetd, one duet-witness) on 127.0.0.1 with mutual TLS, one
 * "name: value" a line. The driver proper is bench_cluster.py (processes,
 * admin sockets, JSON and kill -9 are simpler there); this program runs it
 * with python3, passing the directory of its own executable (where duetd,
 * duet-witness and duetctl are built) and its arguments. See --help.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BENCH_CLUSTER_SCRIPT
#error "BENCH_CLUSTER_SCRIPT must name bench_cluster.py"
#endif

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0) {
		perror("bench-cluster: readlink /proc/self/exe");
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
	args[k++] = "python3";
	args[k++] = BENCH_CLUSTER_SCRIPT;
	args[k++] = "--bin";
	args[k++] = self;
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	execvp("python3", args);
	perror("bench-cluster: cannot run python3");
	return 1;
}
