# SPDX-License-Identifier: MIT
# traps/syslog_tcp: the syslog-over-TCP trap receiver
# (include/duet/traps_syslog_tcp.h): a libuv server whose connections are
# cut into messages by the RFC 6587 framer of duet_traps_syslog.
# Included from traps/CMakeLists.txt, after syslog.cmake.
pkg_check_modules(TRAPS_SYSLOG_TCP_UV REQUIRED IMPORTED_TARGET libuv)

add_library(duet_traps_syslog_tcp STATIC ${CMAKE_CURRENT_LIST_DIR}/syslog_tcp.c)
# duet_raftlog for duet_strerror()
target_link_libraries(duet_traps_syslog_tcp PUBLIC duet_traps_syslog duet_addr duet_raftlog
                      PkgConfig::TRAPS_SYSLOG_TCP_UV)
