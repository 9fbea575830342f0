# SPDX-License-Identifier: MIT
# Runs bench-raftlog at tiny sizes and checks that it exits 0 and prints each
# of its four figure lines ("name: number"). The values are not judged.
# Usage: cmake -DBENCH=path/to/bench-raftlog -P bench_smoke.cmake
execute_process(COMMAND ${BENCH} --entries 20000 --latency-n 50
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-raftlog exited with ${rc}")
endif()
foreach(name fsync_us commit_latency_p50_us commit_latency_p99_us throughput_entries_per_s)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+(\\.[0-9]+)?\n")
    message(FATAL_ERROR "bench-raftlog did not print a '${name}: N' line")
  endif()
endforeach()
