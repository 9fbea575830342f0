# SPDX-License-Identifier: MIT
# duet_pg: the local PostgreSQL over libpq, asynchronous on the loop (include/duet/pg.h).
# Included by actions/CMakeLists.txt. pkg_check_modules creates each imported
# target once per directory, so sharing UV with actions.cmake is harmless.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)

file(GLOB DUET_PG_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/pg*.c)
# pg_standby*.c are duet_pg_standby's (pg_standby.cmake).
list(FILTER DUET_PG_SOURCES EXCLUDE REGEX "/pg_standby[^/]*\\.c$")
add_library(duet_pg STATIC ${DUET_PG_SOURCES})
target_link_libraries(duet_pg PUBLIC PkgConfig::PQ PkgConfig::UV)
