# SPDX-License-Identifier: MIT
# Runs bench-replay at tiny sizes (2000 entries, a snapshot every 500, so the
# rejoined member takes the snapshot path) and checks that it exits 0 and
# prints replay_1m_entries_s with a positive number, and the lines that say
# what was replayed. The values are not judged.
# Usage: cmake -DBENCH=path/to/bench-replay -P bench_replay_smoke.cmake
execute_process(COMMAND ${BENCH} --entries 2000 --snapshot-every 500
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-replay exited with ${rc}")
endif()
# positive: any digit other than 0 in "N.NN"
if(NOT out MATCHES "(^|\n)replay_1m_entries_s: [0-9]+\\.[0-9][0-9]\n"
   OR NOT out MATCHES "(^|\n)replay_1m_entries_s: [0-9]*[1-9][0-9]*\\.|(^|\n)replay_1m_entries_s: [0-9]+\\.[0-9]*[1-9]")
  message(FATAL_ERROR "bench-replay did not print a 'replay_1m_entries_s: N.NN' line with N > 0")
endif()
foreach(name entries entry_bytes snapshot_bytes log_tail_entries rejoined_snapshots_installed)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+\n")
    message(FATAL_ERROR "bench-replay did not print a '${name}: N' line")
  endif()
endforeach()
if(NOT out MATCHES "(^|\n)rejoined_snapshots_installed: [1-9]")
  message(FATAL_ERROR "the rejoined member did not install a snapshot")
endif()
