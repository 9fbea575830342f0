/* SPDX-License-Identifier: MIT */
/*
 * fuzz_trap_pipe.c - libFuzzer target for what the trap dedup takes from
 * the network and the log (traps_pipe.h): a standby's forwarded batch, the
 * leader's answer, and committed TRAPS entries, in an order the input
 * chooses, on a leader pipe and a standby pipe.
 *
 * Input: records of [u8 op][u16 LE length][bytes]. op % 4: 0 forwarded to
 * the leader (its answer goes to the standby), 1 an answer to the standby,
 * 2 a committed entry on both, 3 a received copy on both (identity from
 * the first 32 bytes). The standby counts committed keys received before
 * its start (2^40 ms) in its ordinal window. After each step: the leader's next batch decodes
 * and commits without error on both pipes, the standby's forward is taken
 * by the leader, the leader's answer by the standby, and the compaction
 * floor never passes the last index. ASan/UBSan watch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/traps_pipe.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ans[1 << 22], batch[1 << 21];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct duet_trap_pipe_config c;
	struct duet_trap_pipe *lead, *stand;
	duet_trap_pipe_config_default(&c, 1);
	c.window_ms = 1000;
	c.live_max = 4096;
	c.backlog_max = 4096;
	FUZZ_CHECK(duet_trap_pipe_new(&c, &lead) == 0);
	c.self_id = 2;
	/* the standby rebuilds its ordinal window from the committed keys
	 * (a window longer than the seed margin, or nothing is seeded) */
	c.window_ms = 5000;
	FUZZ_CHECK(duet_trap_pipe_new(&c, &stand) == 0);
	duet_trap_pipe_clock(stand, (uint64_t)1 << 40, 1);
	struct duet_trap_pipe_role r = {.leader = true, .term = 1};
	duet_trap_pipe_set_role(lead, &r, 0);
	r.leader = false;
	duet_trap_pipe_set_role(stand, &r, 0);
	uint64_t index = 0, now = 1;
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		now += 7;
		switch (op % 4) {
		case 0: {
			long a = duet_trap_pipe_forwarded(lead, data, len, now, ans, sizeof ans);
			if (a > 0)
				FUZZ_CHECK(duet_trap_pipe_ack(stand, ans, (size_t)a) == 0);
			break;
		}
		case 1:
			(void)duet_trap_pipe_ack(stand, data, len);
			break;
		case 2:
			index++;
			(void)duet_trap_pipe_committed(lead, index, data, len);
			(void)duet_trap_pipe_committed(stand, index, data, len);
			if (op & 0x80)
				duet_trap_pipe_delivered(lead, index - (op & 3));
			break;
		default:
			if (len >= 32) {
				(void)duet_trap_pipe_receive(lead, DUET_TRAP_SYSLOG, "10.0.0.1",
							     data, data + 32, (uint32_t)(len - 32),
							     now, now, NULL);
				(void)duet_trap_pipe_receive(stand, DUET_TRAP_SYSLOG, "10.0.0.1",
							     data, data + 32, (uint32_t)(len - 32),
							     now, now, NULL);
			}
			break;
		}
		data += len;
		size -= len;
		/* what the leader proposes and the standby forwards decodes */
		long b = duet_trap_pipe_take_batch(lead, batch, sizeof batch);
		FUZZ_CHECK(b >= 0);
		if (b > 0) {
			struct duet_traps_iter it;
			FUZZ_CHECK(duet_traps_iter_init(&it, batch, (size_t)b, NULL) == 0);
			index++;
			FUZZ_CHECK(duet_trap_pipe_committed(lead, index, batch, (size_t)b) == 0);
			FUZZ_CHECK(duet_trap_pipe_committed(stand, index, batch, (size_t)b) == 0);
		}
		long f = duet_trap_pipe_take_forward(stand, now + 10000, batch, sizeof batch);
		FUZZ_CHECK(f >= 0);
		if (f > 0) {
			long a =
			    duet_trap_pipe_forwarded(lead, batch, (size_t)f, now, ans, sizeof ans);
			FUZZ_CHECK(a >= 0);
			if (a > 0)
				FUZZ_CHECK(duet_trap_pipe_ack(stand, ans, (size_t)a) == 0);
		}
		FUZZ_CHECK(duet_trap_pipe_compact_floor(lead, index) <= index);
	}
	duet_trap_pipe_free(lead);
	duet_trap_pipe_free(stand);
	return 0;
}
