# SPDX-License-Identifier: MIT
# duet_actions: commands with deadlines (cmd), the floating IP over netlink
# and gratuitous ARP (fip, garp), fencing (fence) and the manager's commands
# (manager). pg*.c belong to duet_pg (pg.cmake).
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(MNL REQUIRED IMPORTED_TARGET libmnl)

add_library(duet_actions STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/cmd.c ${CMAKE_CURRENT_SOURCE_DIR}/fip.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fip_netlink.c ${CMAKE_CURRENT_SOURCE_DIR}/garp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fence.c ${CMAKE_CURRENT_SOURCE_DIR}/manager.c
  ${CMAKE_CURRENT_SOURCE_DIR}/watchdog.c)
# duet_raftlog for duet_strerror().
target_link_libraries(duet_actions PUBLIC duet_raftlog PkgConfig::UV PRIVATE PkgConfig::MNL)
