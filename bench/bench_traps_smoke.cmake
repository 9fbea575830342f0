# SPDX-License-Identifier: MIT
# Runs bench-traps at tiny sizes and checks that it exits 0 and prints each
# of its figure lines ("name: value"). The values are not judged.
# Usage: cmake -DBENCH=path/to/bench-traps -P bench_traps_smoke.cmake
execute_process(COMMAND ${BENCH} --steps 1000 2000 --step-seconds 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-traps exited with ${rc}")
endif()
foreach(name max_lossless_traps_per_s traps_per_s_achieved_at_max steps_run
             latency_rate_traps_per_s latency_achieved_traps_per_s latency_p50_ms
             latency_p99_ms latency_max_ms recv_latency_p50_ms recv_latency_p99_ms
             cpu_ms_per_10k cpu_ms_per_10k_node_a cpu_ms_per_10k_node_b
             cpu_ms_per_10k_witness cpu_ms_per_10k_trapgen cpu_ms_per_10k_trapsink
             snmp_v2c_decode_per_s snmp_v3_authpriv_decode_per_s)
  if(NOT out MATCHES "(^|\n)${name}: [0-9]+(\\.[0-9]+)?\n")
    message(FATAL_ERROR "bench-traps did not print a '${name}: N' line")
  endif()
endforeach()
# present on every run, not always a number ("none", "yes"/"no", a list)
foreach(name first_lossy_traps_per_s first_lossy_reason steps_disturbed
             latency_step_lossless)
  if(NOT out MATCHES "(^|\n)${name}: [^\n]+\n")
    message(FATAL_ERROR "bench-traps did not print a '${name}: ...' line")
  endif()
endforeach()
