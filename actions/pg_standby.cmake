# SPDX-License-Identifier: MIT
# duet_pg_standby: making the local data directory a streaming standby of a
# primary (include/duet/pg_standby.h): pg_rewind / pg_basebackup on the loop
# with progress, standby.signal and primary_conninfo. Included by
# actions/CMakeLists.txt; pg_standby*.c are kept out of duet_pg (pg.cmake).
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)

add_library(duet_pg_standby STATIC ${CMAKE_CURRENT_SOURCE_DIR}/pg_standby.c
  ${CMAKE_CURRENT_SOURCE_DIR}/pg_standby_files.c)
target_link_libraries(duet_pg_standby PUBLIC PkgConfig::UV PRIVATE PkgConfig::PQ)
