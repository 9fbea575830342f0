# SPDX-License-Identifier: MIT
# Smoke tests of the trap tools (label "bench"), one per tool, all driven by
# traps_tools_smoke.sh (bash + python3, loopback only, ephemeral ports, so
# they run in parallel with anything). Unlike the figure benches these judge
# behaviour exactly (a sink that miscounts a duplicate must fail), but never
# speed. Included from bench/CMakeLists.txt.
set(TRAPS_TOOLS_SMOKE ${CMAKE_CURRENT_LIST_DIR}/traps_tools_smoke.sh)
if(TARGET duet-trapsink)
  add_test(NAME traps_tools_trapsink_smoke
           COMMAND bash ${TRAPS_TOOLS_SMOKE} trapsink $<TARGET_FILE:duet-trapsink>)
  set_tests_properties(traps_tools_trapsink_smoke PROPERTIES LABELS bench TIMEOUT 60)
endif()
if(TARGET duet-trapgen)
  add_test(NAME traps_tools_trapgen_smoke
           COMMAND bash ${TRAPS_TOOLS_SMOKE} trapgen $<TARGET_FILE:duet-trapgen>)
  set_tests_properties(traps_tools_trapgen_smoke PROPERTIES LABELS bench TIMEOUT 60)
endif()
if(TARGET bench-snmp-decode)
  add_test(NAME traps_tools_snmp_decode_smoke
           COMMAND bash ${TRAPS_TOOLS_SMOKE} snmp-decode $<TARGET_FILE:bench-snmp-decode>)
  set_tests_properties(traps_tools_snmp_decode_smoke PROPERTIES LABELS bench TIMEOUT 60)
endif()
