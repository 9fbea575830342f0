# SPDX-License-Identifier: MIT
# traps/syslog: syslog decoding for the trap receivers (include/duet/traps_syslog.h):
# RFC 6587 stream framing, RFC 5424 / 3164 parsing, identity content, JSON.
# Pure: no sockets, no clock. Included from traps/CMakeLists.txt.
add_library(duet_traps_syslog STATIC
            ${CMAKE_CURRENT_LIST_DIR}/syslog_parse.c ${CMAKE_CURRENT_LIST_DIR}/syslog_stream.c
            ${CMAKE_CURRENT_LIST_DIR}/syslog_json.c ${CMAKE_CURRENT_LIST_DIR}/syslog_identity.c
            ${CMAKE_CURRENT_LIST_DIR}/syslog_sd.c)
# duet_raftlog for duet_strerror(), which callers use on the DUET_E* codes
target_link_libraries(duet_traps_syslog PUBLIC duet_raftlog)
