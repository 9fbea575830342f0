/* SPDX-License-Identifier: MIT */
/*
 * duetd.c - the data-node daemon (DESIGN.md 1): a consensus member that may
 * become master. Everything is in node.c; this file only says which kind of
 * member it runs (a config naming the witness is refused).
 */
#include "node_internal.h"

int main(int argc, char **argv)
{
	return node_main(argc, argv, "duetd", DUET_MEMBER_DATA);
}
