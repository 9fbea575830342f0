# SPDX-License-Identifier: MIT
# traps/pipeline: the dedup of DESIGN.md section 5 (include/duet/traps_pipe.h):
# committed keys, live items (outbox, in flight, pending), undelivered entries.
add_library(duet_traps_pipe STATIC ${CMAKE_CURRENT_LIST_DIR}/pipeline.c)
target_link_libraries(duet_traps_pipe PUBLIC duet_traps_window duet_raftlog)
