# SPDX-License-Identifier: MIT
# Runs bench-failover once and checks that it exits 0 and prints each figure
# line ("name: number"). The values are not judged (tests never judge speed).
# Usage: cmake -DBENCH=path/to/bench-failover -P bench_failover_smoke.cmake
execute_process(COMMAND ${BENCH} --runs 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-failover exited with ${rc}")
endif()
foreach(name detect_ms_p50 promote_ms_p50 fip_ms_p50 total_ms_p50 total_ms_p99 lost_acked_writes)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+(\\.[0-9]+)?\n")
    message(FATAL_ERROR "bench-failover did not print a '${name}: N' line")
  endif()
endforeach()
