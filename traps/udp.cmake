# SPDX-License-Identifier: MIT
# traps/udp: the UDP receiver of syslog and SNMP traps (include/duet/traps_udp.h):
# recvmmsg batches on the libuv loop, a 16 MiB receive buffer, kernel drops read back.
pkg_check_modules(TRAPS_UDP_UV REQUIRED IMPORTED_TARGET libuv)
add_library(duet_traps_udp STATIC ${CMAKE_CURRENT_LIST_DIR}/udp.c)
target_link_libraries(duet_traps_udp PUBLIC duet_addr duet_raftlog PkgConfig::TRAPS_UDP_UV)
