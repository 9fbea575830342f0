# SPDX-License-Identifier: MIT
# Runs bench-cluster at tiny sizes and checks that it exits 0 and prints each
# of its six figure lines ("name: number"). The values are not judged.
# Usage: cmake -DBENCH=path/to/bench-cluster -P bench_cluster_smoke.cmake
execute_process(COMMAND ${BENCH} --runs 1 --latency-n 20 --entries 2000
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-cluster exited with ${rc}")
endif()
foreach(name commit_latency_p50_us commit_latency_p99_us throughput_entries_per_s
             election_after_kill_ms_p50 election_after_kill_ms_p99 witness_rss_kib)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+(\\.[0-9]+)?\n")
    message(FATAL_ERROR "bench-cluster did not print a '${name}: N' line")
  endif()
endforeach()
