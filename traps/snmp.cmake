# SPDX-License-Identifier: MIT
# traps/snmp: SNMP notification decoding for the trap receivers
# (include/duet/traps_snmp.h): BER, v1/v2c/v3 USM, identity content, JSON,
# inform Response-PDU. Pure: no sockets, no clock. libcrypto for USM (HMAC,
# DES through the legacy provider in a private library context, AES).
# Included from traps/CMakeLists.txt.
find_package(OpenSSL REQUIRED)
file(GLOB DUET_TRAPS_SNMP_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/snmp*.c)
add_library(duet_traps_snmp STATIC ${DUET_TRAPS_SNMP_SOURCES})
target_link_libraries(duet_traps_snmp PUBLIC OpenSSL::Crypto)
