# SPDX-License-Identifier: MIT
# Runs bench-sim on 20 seeds and checks that it exits 0 and prints each of
# its figures ("name: number"), with no failing seed. The speed is not judged.
# Usage: cmake -DBENCH=path/to/bench-sim -P bench_sim_smoke.cmake
execute_process(COMMAND ${BENCH} --seeds 20
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-sim exited with ${rc}")
endif()
foreach(name sim_seeds sim_failures sim_seeds_per_core_s sim_simulated_s sim_to_real_ratio
             sim_events_per_s)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+(\\.[0-9]+)?\n")
    message(FATAL_ERROR "bench-sim did not print a '${name}: N' line")
  endif()
endforeach()
if(NOT out MATCHES "(^|\n)sim_failures: 0\n")
  message(FATAL_ERROR "bench-sim: a seed failed")
endif()
