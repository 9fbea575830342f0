# SPDX-License-Identifier: MIT
# traps/window: the trap identity (SHA-256 over kind, sender, content) and
# the per-node ordinal window of DESIGN.md section 5 (include/duet/traps.h).
find_package(OpenSSL REQUIRED)
add_library(duet_traps_window STATIC ${CMAKE_CURRENT_LIST_DIR}/window.c)
target_link_libraries(duet_traps_window PUBLIC OpenSSL::Crypto)
