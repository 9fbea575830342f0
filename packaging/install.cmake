# SPDX-License-Identifier: MIT
# install.cmake - the install-time half of packaging/CMakeLists.txt: runs
# inside `cmake --install`, where CMAKE_INSTALL_PREFIX is the prefix being
# installed to (also when given as --prefix), so the paths written into the
# units and the example configs are those of this install. file(INSTALL)
# adds DESTDIR and records every file in install_manifest.txt.
#
# Set before this runs (install(CODE) in packaging/CMakeLists.txt):
# DUET_SOURCE_DIR, DUET_PACKAGING_BINARY_DIR, DUET_SBINDIR_REL,
# DUET_SYSCONFDIR_REL, DUET_DOCDIR_REL (GNUInstallDirs' relative values, or
# absolute ones given on the command line), DUET_SYSTEMD_UNIT_DIR,
# DUET_EXAMPLES_DIR (empty: the config dir's examples/).

# "/usr/" and "/usr" alike; "/" becomes "" so that "${prefix}/sbin" is /sbin
string(REGEX REPLACE "/+$" "" _prefix "${CMAKE_INSTALL_PREFIX}")

# A GNUInstallDirs value as an absolute path for this prefix. Binaries and
# docs: under the prefix, where install() puts them. SYSCONFDIR: GNU's
# special cases (GNUInstallDirs_get_absolute_install_dir), so that the
# prefixes / and /usr use /etc and /opt/X uses /etc/opt/X.
function(duet_abs_dir out rel kind)
  if(IS_ABSOLUTE "${rel}")
    set(dir "${rel}")
  elseif(kind STREQUAL "SYSCONFDIR" AND (_prefix STREQUAL "" OR _prefix STREQUAL "/usr"))
    set(dir "/${rel}")
  elseif(kind STREQUAL "SYSCONFDIR" AND _prefix MATCHES "^/opt/" AND NOT _prefix MATCHES "^/opt/homebrew/")
    set(dir "/${rel}${_prefix}")
  else()
    set(dir "${_prefix}/${rel}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

duet_abs_dir(DUET_SBINDIR "${DUET_SBINDIR_REL}" SBINDIR)
duet_abs_dir(DUET_DOCDIR "${DUET_DOCDIR_REL}" DOCDIR)
duet_abs_dir(_etc "${DUET_SYSCONFDIR_REL}" SYSCONFDIR)
set(DUET_CONFDIR "${_etc}/duet")
duet_abs_dir(_unit_dir "${DUET_SYSTEMD_UNIT_DIR}" UNITDIR)
if(DUET_EXAMPLES_DIR)
  duet_abs_dir(DUET_EXAMPLES "${DUET_EXAMPLES_DIR}" EXAMPLES)
else()
  set(DUET_EXAMPLES "${DUET_CONFDIR}/examples")
endif()

# ---- systemd units ---------------------------------------------------------
set(_gen "${DUET_PACKAGING_BINARY_DIR}/generated")
foreach(unit duetd.service duet-witness.service)
  configure_file("${DUET_SOURCE_DIR}/packaging/systemd/${unit}.in" "${_gen}/${unit}" @ONLY)
  file(INSTALL DESTINATION "${_unit_dir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${_gen}/${unit}")
endforeach()

# ---- example configs -------------------------------------------------------
# examples/production/ as they are. Their [node] data_dir is below the state
# dir: duetctl rejoin moves data_dir aside to data_dir.old-<time> and writes
# data_dir.rejoin next to it, and the daemon removes that marker; under
# ProtectSystem=strict only the state dir is writable, so those siblings must
# live inside it, not in /var/lib. Checked here, since the units depend on it.
# Never /etc/duet/duet.ini itself: the operator's file is never touched.
set(_store "/var/lib/duet/store")
foreach(member node-a node-b witness)
  set(src "${DUET_SOURCE_DIR}/examples/production/${member}.ini")
  file(READ "${src}" text)
  # the first data_dir is [node]'s ([pg] has its own, PostgreSQL's)
  string(REGEX MATCH "\n\\[node\\][^[]*\ndata_dir = [^\n]*" found "\n${text}")
  if(NOT found MATCHES "\ndata_dir = ${_store}$")
    message(FATAL_ERROR "${src}: [node] data_dir is not ${_store} (the units make only "
                        "the state dir /var/lib/duet writable); update packaging/install.cmake")
  endif()
  # where the agent snippets are (a comment names /etc/duet/examples/agent/)
  string(REPLACE "/etc/duet/examples/" "${DUET_EXAMPLES}/" text "${text}")
  string(REPLACE "examples/production/" "${DUET_EXAMPLES}/" text "${text}")
  file(WRITE "${_gen}/${member}.ini"
       "; Installed by `cmake --install` from examples/production/${member}.ini.\n"
       "; Copy it to ${DUET_CONFDIR}/duet.ini and edit addresses, certificates\n"
       "; and commands.\n"
       "${text}")
  file(INSTALL DESTINATION "${DUET_EXAMPLES}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${_gen}/${member}.ini")
endforeach()

# ---- how an agent or HAProxy finds the master -------------------------------
file(INSTALL DESTINATION "${DUET_EXAMPLES}/agent" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${DUET_SOURCE_DIR}/examples/agent/haproxy.cfg")
file(INSTALL DESTINATION "${DUET_EXAMPLES}/agent" TYPE PROGRAM
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE
     FILES "${DUET_SOURCE_DIR}/examples/agent/find-master.sh")

# ---- monitoring: Prometheus rules and the Grafana dashboard (docs/metrics.md)
file(INSTALL DESTINATION "${DUET_EXAMPLES}/prometheus" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${DUET_SOURCE_DIR}/examples/prometheus/duet.rules.yml")
file(INSTALL DESTINATION "${DUET_EXAMPLES}/grafana" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${DUET_SOURCE_DIR}/examples/grafana/duet.json")

# ---- the README, the licence, the changelog and docs/ (the units name ----
# ---- docs/operations.md as their documentation) ----------------------------
file(INSTALL DESTINATION "${DUET_DOCDIR}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${DUET_SOURCE_DIR}/README.md" "${DUET_SOURCE_DIR}/LICENSE"
           "${DUET_SOURCE_DIR}/CHANGELOG.md")
file(GLOB _duet_docs "${DUET_SOURCE_DIR}/docs/*.md")
file(INSTALL DESTINATION "${DUET_DOCDIR}/docs" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES ${_duet_docs})
