# SPDX-License-Identifier: MIT
# traps/sink: where committed traps go (include/duet/traps_sink.h): a TCP
# sink of JSON lines, a PostgreSQL table or RELP into rsyslog, batches confirmed in order,
# resent after any failure. Included from traps/CMakeLists.txt.
#
#   sink.c         queue, in-order confirmation, backoff, logging, stats
#   sink_format.c  one trap as one JSON line (pure)
#   sink_stream.c  the connection lifecycle of the TCP and RELP transports (libuv)
#   sink_tcp.c     the TCP transport (libuv)
#   sink_pg.c      the PostgreSQL transport (asynchronous libpq on libuv)
#   sink_pg_text.c its SQL, the JSON parameter, the target for messages
#   sink_pg_resolve.c its host names resolved off the loop (uv_getaddrinfo)
#   sink_relp.c    the RELP transport into rsyslog's imrelp (libuv; not librelp)
#   sink_relp_text.c its open offers and syslog messages (pure)
#   relp_frame.c   the RELP wire format, pure (traps_relp_frame.h), for the RELP sink
#
# duet_raftlog for struct duet_trap and duet_strerror(); duet_addr for the
# address parser; jansson (libjansson-dev) for the id of a dead letter.
pkg_check_modules(TRAPS_SINK_UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(TRAPS_SINK_PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(TRAPS_SINK_JANSSON REQUIRED IMPORTED_TARGET jansson)
add_library(duet_traps_sink STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sink.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_format.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_stream.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_tcp.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_pg.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_pg_text.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_pg_resolve.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_relp.c
  ${CMAKE_CURRENT_LIST_DIR}/sink_relp_text.c
  ${CMAKE_CURRENT_LIST_DIR}/relp_frame.c)
target_link_libraries(duet_traps_sink PUBLIC duet_raftlog duet_addr PkgConfig::TRAPS_SINK_UV
                      PkgConfig::TRAPS_SINK_PQ PkgConfig::TRAPS_SINK_JANSSON)
# relp_software in the RELP open offer names this version
target_compile_definitions(duet_traps_sink PRIVATE DUET_VERSION="${PROJECT_VERSION}")
