#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check.py HIST - the checker of a nemesis run (tests/nemesis/run.sh).

Reads the history run.sh left in HIST and checks, over the whole run:

  acked      every acknowledged key (a line of pgbench's per-transaction
             log: run r from the file name, client id, transaction number)
             is a row on the final master and on its standby; each client's
             logged transaction numbers are 1..k (the key scheme holds);
  samples    no sample of the sampler saw both servers primary;
  timelines  PostgreSQL's own history: a promotion is the line "selected new
             timeline ID: N" of a server's log (stamped by the server); no
             row of the final table was written by a server after the other
             was promoted on a newer timeline (the row's server and
             clock_timestamp()), and no key was acknowledged (pgbench's
             completion time) by a server after that;
  audit      every member's audit chain verifies (duetctl log --verify) and
             the members' chains tell the same story: the entries of every
             index two members both hold are the same.

Prints the figures (one "name=value" a line): nemesis_events, failovers
(MASTER entries with reason failover in the final master's log),
switchovers, acked_writes, acked_writes_lost, acked_writes_lost_standby,
dual_writable_ms, max_unavailable_ms (the longest time between two
consecutive acknowledgements through the FIP), acked_writes_haproxy and
max_unavailable_haproxy_ms (the same through HAProxy), promotions. Exit status: 0 every invariant
held, 1 one did not (each failure on its own line, "FAIL: ..."), 2 the
history cannot be read.
"""
import calendar
import glob
import json
import os
import re
import sys
import time

SHOWN = 10
HAPROXY_RUNS = 1000000  # run.sh numbers the runs through HAProxy from here on


def die(msg):
    print("check.py: " + msg, file=sys.stderr)
    sys.exit(2)


def read_rows(path):
    """rows.NODE: 'r c n srv epoch' (COPY text format) -> {(r, c, n): (srv, ts)}"""
    rows = {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) != 5:
                die("%s: not 'r c n srv ts': %r" % (path, line))
            rows[(int(p[0]), int(p[1]), int(p[2]))] = (p[3], float(p[4]))
    return rows


def read_acks(hist):
    """pgbench logs pgb/rR.PID[.T]: 'client txn latency script epoch usec'
    -> {(r, c, n): ack time (s)}, and the key scheme's problems"""
    acks = {}
    problems = []
    per_client = {}
    for path in sorted(glob.glob(os.path.join(hist, "pgb", "r*"))):
        m = re.match(r"r(\d+)\.", os.path.basename(path))
        if not m:
            continue
        r = int(m.group(1))
        with open(path, errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) < 6 or not p[2].isdigit():
                    continue  # a failed or skipped transaction: not acknowledged
                c, n = int(p[0]), int(p[1])
                acks[(r, c, n)] = int(p[4]) + int(p[5]) / 1e6
                per_client.setdefault((r, c), []).append(n)
    for (r, c), ns in sorted(per_client.items()):
        if sorted(ns) != list(range(1, len(ns) + 1)):
            problems.append("run %d client %d: logged transaction numbers are not 1..%d: %s"
                            % (r, c, len(ns), sorted(ns)[:SHOWN]))
    return acks, problems


PROMO = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) (\S+) \[\d+\].*"
                   r"selected new timeline ID: (\d+)")


def read_promotions(hist):
    """[(time s, node, timeline)] from both servers' logs, in time order"""
    out = []
    for node in ("node-a", "node-b"):
        path = os.path.join(hist, node + ".pg.log")
        if not os.path.exists(path):
            continue
        with open(path, errors="replace") as f:
            for line in f:
                m = PROMO.match(line)
                if not m:
                    continue
                if m.group(3) not in ("UTC", "GMT"):
                    die("%s: log time zone %s (the rig's servers log in UTC)"
                        % (path, m.group(3)))
                t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
                out.append((t + int(m.group(2)) / 1000.0, node, int(m.group(4))))
    out.sort()
    return out


def newest_at(promos, t):
    """the server promoted last before t (node-a, initdb's timeline 1, first)"""
    best = ("node-a", 1, 0.0)
    for pt, node, tli in promos:
        if pt < t and tli > best[1]:
            best = (node, tli, pt)
    return best


def read_samples(path):
    """pgprobe sample: 'mono_ns A B' -> (samples, both, dual_writable_ms)"""
    lines = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0].isdigit():
                lines.append((int(p[0]), p[1], p[2]))
    both = 0
    ms = 0.0
    for i, (t, a, b) in enumerate(lines):
        if a == "primary" and b == "primary":
            both += 1
            nxt = lines[i + 1][0] if i + 1 < len(lines) else t + 50_000_000
            ms += min(nxt - t, 200_000_000) / 1e6
    return len(lines), both, int(ms)


def read_audit(path):
    """duetctl log --json -> {index: entry}"""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            e = rec.get("entry", {})
            if "index" in e:
                out[e["index"]] = e
    return out


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    hist = sys.argv[1]
    fails = []
    fig = {}
    try:
        master = open(os.path.join(hist, "final_master")).read().strip()
        standby = "node-b" if master == "node-a" else "node-a"
        rows_m = read_rows(os.path.join(hist, "rows." + master))
        rows_s = read_rows(os.path.join(hist, "rows." + standby))
        acks, problems = read_acks(hist)
        promos = read_promotions(hist)
        nsamples, both, dual_ms = read_samples(os.path.join(hist, "samples.log"))
        events = int(open(os.path.join(hist, "nemesis_events")).read().strip() or 0)
    except (OSError, ValueError) as e:
        die(str(e))
    fails += problems

    # acknowledged keys on both servers
    lost = sorted(k for k in acks if k not in rows_m)
    lost_s = sorted(k for k in acks if k not in rows_s)
    if lost:
        fails.append("%d acknowledged writes missing on the final master %s, first: %s"
                     % (len(lost), master, lost[:SHOWN]))
    if lost_s:
        fails.append("%d acknowledged writes missing on the standby %s, first: %s"
                     % (len(lost_s), standby, lost_s[:SHOWN]))
    if not acks:
        fails.append("no write was acknowledged")

    # two writable servers
    if both:
        fails.append("%d samples saw both servers primary (%d ms)" % (both, dual_ms))

    # timelines: rows and acknowledgements against the promotions
    bad_rows = []
    for k, (srv, ts) in sorted(rows_m.items()):
        node, tli, pt = newest_at(promos, ts)
        if srv != node:
            bad_rows.append("%s written by %s at %.3f, after %s's promotion to timeline %d at %.3f"
                            % (k, srv, ts, node, tli, pt))
    if bad_rows:
        fails.append("%d rows written by a server after the other's newer timeline, first: %s"
                     % (len(bad_rows), bad_rows[:3]))
    bad_acks = []
    for k, t in sorted(acks.items()):
        if k not in rows_m:
            continue
        srv = rows_m[k][0]
        node, tli, pt = newest_at(promos, t)
        if srv != node:
            bad_acks.append("%s acknowledged by %s at %.3f, after %s's promotion to timeline %d "
                            "at %.3f" % (k, srv, t, node, tli, pt))
    if bad_acks:
        fails.append("%d writes acknowledged by a server after the other's newer timeline, "
                     "first: %s" % (len(bad_acks), bad_acks[:3]))

    # audit chains
    audits = {}
    for n in ("node-a", "node-b", "witness"):
        try:
            rc = open(os.path.join(hist, "verify.%s.rc" % n)).read().strip()
        except OSError:
            rc = "?"
        if rc != "0":
            fails.append("the audit chain of %s does not verify (exit %s): %s" % (
                n, rc, open(os.path.join(hist, "verify." + n), errors="replace").read().strip()
                [-300:] if os.path.exists(os.path.join(hist, "verify." + n)) else ""))
        try:
            audits[n] = read_audit(os.path.join(hist, "audit.%s.json" % n))
        except (OSError, ValueError) as e:
            fails.append("the audit log of %s cannot be read: %s" % (n, e))
    names = sorted(audits)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = sorted(set(audits[a]) & set(audits[b]))
            diff = [x for x in common if audits[a][x] != audits[b][x]]
            if diff:
                fails.append("the audit logs of %s and %s differ at %d of %d common indexes, "
                             "first %d: %s / %s" % (a, b, len(diff), len(common), diff[0],
                                                    json.dumps(audits[a][diff[0]]),
                                                    json.dumps(audits[b][diff[0]])))
            fig["audit_common_%s_%s" % (a, b)] = len(common)
    masters = [e for e in audits.get(master, {}).values() if e.get("type") == "MASTER"]
    reasons = [e.get("payload", {}).get("reason") for e in masters]

    # unavailability: the longest time between two acknowledgements, on
    # each path (runs above HAPROXY_RUNS went through HAProxy)
    def longest_gap(keys):
        times = sorted(acks[k] for k in keys)
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)
    via_fip = [k for k in acks if k[0] <= HAPROXY_RUNS]
    via_haproxy = [k for k in acks if k[0] > HAPROXY_RUNS]

    fig["nemesis_events"] = events
    fig["failovers"] = reasons.count("failover")
    fig["switchovers"] = reasons.count("switchover")
    fig["promotions"] = len(promos)
    fig["acked_writes"] = len(acks)
    fig["acked_writes_lost"] = len(lost)
    fig["acked_writes_lost_standby"] = len(lost_s)
    fig["rows_final_master"] = len(rows_m)
    fig["samples"] = nsamples
    fig["dual_writable_ms"] = dual_ms
    fig["max_unavailable_ms"] = int(longest_gap(via_fip) * 1000)
    fig["acked_writes_haproxy"] = len(via_haproxy)
    fig["max_unavailable_haproxy_ms"] = int(longest_gap(via_haproxy) * 1000)
    for k in ("nemesis_events", "failovers", "switchovers", "promotions", "acked_writes",
              "acked_writes_lost", "acked_writes_lost_standby", "rows_final_master",
              "samples", "dual_writable_ms", "max_unavailable_ms", "acked_writes_haproxy",
              "max_unavailable_haproxy_ms"):
        print("%s=%s" % (k, fig[k]))
    for k in sorted(x for x in fig if x.startswith("audit_common_")):
        print("%s=%s" % (k, fig[k]))
    for p in promos:
        print("promotion: %s timeline %d at %s" % (p[1], p[2], time.strftime(
            "%H:%M:%S", time.gmtime(p[0]))))
    for f in fails:
        print("FAIL: " + f)
    if fails:
        return 1
    print("every invariant held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
