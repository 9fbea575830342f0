#!/bin/sh
# SPDX-License-Identifier: MIT
# find-master.sh - prints the address of the duet data node that is master,
# for an agent that must reach the manager without the FIP: it is given the
# list of manager addresses (the data nodes' own addresses) and asks each
# GET /master in turn. The master answers 200, every other node 503; a node
# that is down does not answer within the timeout.
#
# usage: find-master.sh ADDR...      e.g. find-master.sh 10.0.0.1 10.0.0.2
#        (an IPv6 address in brackets: [fd00::1])
# prints the first ADDR whose /master answered 200 and exits 0; exits 1 when
# none did (mid-failover, for a second or two: ask again).
#
# environment:
#   DUET_HTTP_PORT     the data nodes' [http] listen port (default 8008)
#   DUET_HTTP_SCHEME   http or https (default http)
#   DUET_HTTP_TIMEOUT  seconds to wait for each node (default 2)
#   DUET_CURL_OPTS     more curl options, e.g. "--cacert /etc/duet/tls/ca.pem"
#
# In an agent:
#   master=$(find-master.sh 10.0.0.1 10.0.0.2) || { sleep 1; retry; }
#   connect to "$master" on the manager's port; on an error, find it again.
set -u

if [ $# -eq 0 ]; then
	echo "usage: find-master.sh ADDR..." >&2
	exit 2
fi
port=${DUET_HTTP_PORT:-8008}
scheme=${DUET_HTTP_SCHEME:-http}
timeout=${DUET_HTTP_TIMEOUT:-2}

for addr in "$@"; do
	# -f: any status but 2xx is a failure; -sS: quiet, but say why
	# shellcheck disable=SC2086 # DUET_CURL_OPTS is split on purpose
	if curl -fsS -m "$timeout" -o /dev/null ${DUET_CURL_OPTS:-} \
		"$scheme://$addr:$port/master" 2>/dev/null; then
		echo "$addr"
		exit 0
	fi
done
echo "find-master.sh: none of $* answered 200 on /master (port $port)" >&2
exit 1
