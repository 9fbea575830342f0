# SPDX-License-Identifier: MIT
# traps/http: the HTTP(S) custom-trap receiver (include/duet/traps_http.h)
# and the custom-trap JSON validator (include/duet/traps_custom.h).
# Included from traps/CMakeLists.txt. Debian packages: libjansson-dev,
# libhttp-parser-dev, libuv1-dev, libssl-dev.
#
#   duet_traps_custom  pure: validation and canonical form (Jansson)
#   duet_traps_http    router, per-connection session (http-parser), libuv
#                      server with optional TLS (OpenSSL)
pkg_check_modules(TRAPS_HTTP_JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(TRAPS_HTTP_UV REQUIRED IMPORTED_TARGET libuv)
find_package(OpenSSL REQUIRED)
# http-parser ships no pkg-config file
find_path(TRAPS_HTTP_PARSER_INCLUDE_DIR http_parser.h)
find_library(TRAPS_HTTP_PARSER_LIBRARY http_parser)
if(NOT TRAPS_HTTP_PARSER_INCLUDE_DIR OR NOT TRAPS_HTTP_PARSER_LIBRARY)
  message(FATAL_ERROR "http_parser.h or libhttp_parser not found: apt-get install libhttp-parser-dev")
endif()

add_library(duet_traps_custom STATIC ${CMAKE_CURRENT_LIST_DIR}/custom.c)
target_link_libraries(duet_traps_custom PUBLIC PkgConfig::TRAPS_HTTP_JANSSON m)

add_library(duet_traps_http STATIC
  ${CMAKE_CURRENT_LIST_DIR}/http.c
  ${CMAKE_CURRENT_LIST_DIR}/http_routes.c
  ${CMAKE_CURRENT_LIST_DIR}/http_session.c)
target_include_directories(duet_traps_http PUBLIC ${TRAPS_HTTP_PARSER_INCLUDE_DIR})
# duet_raftlog for duet_strerror()
target_link_libraries(duet_traps_http PUBLIC duet_traps_custom duet_raftlog duet_addr PkgConfig::TRAPS_HTTP_UV
                      ${TRAPS_HTTP_PARSER_LIBRARY} OpenSSL::SSL OpenSSL::Crypto)
