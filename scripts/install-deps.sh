#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what duet needs to build and test, from Debian's archive only.
# Idempotent: packages already present are skipped, so both README commands
# can call it on every run. Needs root (apt-get).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git   # toolchain
  clang libclang-rt-14-dev clang-format  # libFuzzer, sanitizer runtimes, formatting
  liblmdb-dev                            # storage: the log, meta and snapshots
  libuv1-dev                             # event loop (daemon, transport)
  libssl-dev                             # mutual TLS, SHA-256 audit chain
  libpq-dev                              # PostgreSQL actions (duetd only)
  libmnl-dev                             # netlink: FIP add/remove/check (actions/fip)
  postgresql-15                          # failover tests and demo: two real servers
  iproute2 iptables curl                 # netns rig: veth, bridge, partitions, manager check
  snmp                                   # trap tests: snmptrap / snmpinform as real senders
  rsyslog rsyslog-relp                   # RELP sink tests: a real rsyslogd with imrelp
  libjansson-dev                         # custom traps: JSON validation and canonical form
  libhttp-parser-dev                     # custom traps: HTTP/1.1 request parser on the libuv loop
  libsystemd-dev                         # sd_notify: Type=notify units (READY, STATUS, the watchdog keepalive)
  libcriterion-dev                       # unit tests
  jq python3                             # integration tests read duetctl --json, send raw bytes
  stress-ng                              # bench-cluster --stress-minutes: both cores saturated
  libfaketime                            # fault matrix clock_jump: the master's wall clock stepped
  mount e2fsprogs                        # fault matrix slow_disk: a loop-mounted ext4 where /tmp is not a block device
  fence-agents                           # [fence] method = agent; tests fence with its real fence_dummy
  systemd                                # install test: systemd-analyze verify; systemd.pc names the unit dir
  systemd-container                      # systemd_units test: boots systemd as PID 1 (systemd-nspawn) to run the installed units
  scdoc                                  # man pages: duetd(8), duet-witness(8), duetctl(8), duet.ini(5) built from scdoc source
  man-db bsdextrautils                   # man_pages test: man -l renders each page (groff warnings), col -b
  haproxy                                # http_roles test: a real HAProxy with the example's checks
  prometheus                             # metrics test: promtool check metrics on each member's exposition
  debhelper dpkg-dev                     # the Debian packages: dpkg-buildpackage with dh (debian/), package_deb test
  lintian                                # package_deb test: the packages lintian clean
  chromium                               # status_page test only: the status page in headless Chromium (not a build or run dependency)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (apt-get) or install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
