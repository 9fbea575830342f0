/* SPDX-License-Identifier: MIT */
/*
 * duet_witness.c - the witness daemon (DESIGN.md 1): votes and stores the
 * log, never master. Same node.c as duetd; refuses a config whose [node] is
 * a data member. Links no libpq.
 */
#include "node_internal.h"

int main(int argc, char **argv)
{
	return node_main(argc, argv, "duet-witness", DUET_MEMBER_WITNESS);
}
