#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grafana-dashboard.py - writes examples/grafana/duet.json, the Grafana
# dashboard of the /metrics families (docs/metrics.md), from the panel list
# below: edit here, run it, commit both. `--check` only compares (the
# monitoring_dashboard test runs it) and `--exprs` prints every PromQL
# expression, one a line (the test checks each with promtool).
#
# Every member's series carry the scrape's job and instance; duet_info
# names the member (node) and its cluster, so each query joins on
# (job, instance) to select the cluster chosen in the dashboard's variable.
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "examples", "grafana", "duet.json")

JOIN = ' * on (job, instance) group_left (node) duet_info{cluster="$cluster"}'


def per_node(expr):
    """expr for each member of the chosen cluster, labelled by node."""
    return "(" + expr + ")" + JOIN


# (title, type, unit, [(expr, legend)], width, height, description)
PANELS = [
    ("Master (data nodes answering 200 on /master)", "stat", "none",
     [("sum(" + per_node("duet_is_master") + ")", "masters")], 6, 4,
     "1 is right: 0 means no master (writes fail), 2 is impossible within one lease."),
    ("Role of each member", "state-timeline", "none",
     [("max by (node) (" + per_node("duet_is_master") + ")", "{{node}} master"),
      ("max by (node) (" + per_node('duet_raft_role{role="leader"}') + ")", "{{node}} leader")], 18, 6,
     "1 while the member is master (PostgreSQL primary, FIP) / raft leader."),
    ("SYNC standby (promotable)", "state-timeline", "none",
     [('max by (member) (duet_member_sync * on (job, instance) group_left () '
       'duet_info{cluster="$cluster",kind="data"})', "{{member}}")], 12, 5,
     "1 while the applied log records the data node as the synchronous standby a failover may promote."),
    ("Lease held", "state-timeline", "none",
     [("max by (node) (" + per_node("duet_lease_valid") + ")", "{{node}}")], 12, 5,
     "The leader's master lease: a master acts only while it holds it."),
    ("Raft term", "timeseries", "none",
     [("max by (node) (" + per_node("duet_raft_term") + ")", "{{node}}")], 12, 7,
     "Each step is an election or a leadership transfer."),
    ("Term changes (10 min)", "timeseries", "none",
     [("max by (node) (" + per_node("changes(duet_raft_term[10m])") + ")", "{{node}}")], 12, 7,
     "Leadership flapping: more than 3 in 10 minutes raises DuetLeaseFlapping."),
    ("Last takeover, by phase", "bargauge", "s",
     [("max by (node, phase) (" + per_node("duet_last_takeover_duration_seconds") + ")",
       "{{node}} {{phase}}")], 12, 8,
     "detect: the old master's last message to leading; commit, promote, fip, total: from leading."),
    ("Failovers, switchovers, forced promotions", "stat", "none",
     [("max(" + per_node("duet_failovers_total") + ")", "failovers"),
      ("max(" + per_node("duet_switchovers_total") + ")", "switchovers"),
      ("max(" + per_node("duet_forced_promotions_total") + ")", "forced")], 12, 8,
     "Replicated counts: the same on every member."),
    ("PostgreSQL replication lag", "timeseries", "bytes",
     [("max by (node, standby) (" + per_node("duet_pg_replication_replay_lag_bytes") + ")",
       "replay {{standby}}"),
      ("max by (node, standby) (" + per_node("duet_pg_replication_flush_lag_bytes") + ")",
       "flush {{standby}}")], 12, 7,
     "On the primary, from pg_stat_replication."),
    ("PostgreSQL up / primary", "state-timeline", "none",
     [("max by (node) (" + per_node("duet_pg_up") + ")", "{{node}} up"),
      ("max by (node) (" + per_node("duet_pg_primary") + ")", "{{node}} primary")], 12, 7,
     "The last probe of each data node's local PostgreSQL."),
    ("Critical checks failing", "state-timeline", "none",
     [("max by (node, check) (" + per_node(
         'duet_check_failing and on (job, instance, check) duet_check_critical == 1') + ")",
       "{{node}} {{check}}")], 24, 6,
     "A failing critical check on the master hands over to the SYNC standby."),
    ("Traps received, committed, delivered (per second)", "timeseries", "ops",
     [("sum by (receiver) (" + per_node("rate(duet_traps_received_total[1m])") + ")",
       "received {{receiver}}"),
      ("max(" + per_node("rate(duet_traps_committed_total[1m])") + ")", "committed"),
      ("sum(" + per_node("rate(duet_traps_delivered_total[1m])") + ")", "delivered")], 12, 8,
     "Both data nodes receive every trap; each is committed and delivered once."),
    ("Traps dropped, by reason (per second)", "timeseries", "ops",
     [("sum by (node, receiver, reason) (" + per_node("rate(duet_traps_dropped_total[5m])") +
       ") > 0", "{{node}} {{receiver}} {{reason}}")], 12, 8,
     "Refused or lost before the log: malformed input, limits, kernel receive drops."),
    ("Sink backlog", "timeseries", "none",
     [("max by (node) (" + per_node("duet_traps_undelivered") + ")", "{{node}} undelivered"),
      ("max by (node) (" + per_node("duet_trap_sink_connected") + ")", "{{node}} sink connected")],
     12, 7, "Committed traps waiting for the sink, on the node that delivers."),
    ("Links up to each peer", "timeseries", "none",
     [("max by (node, peer) (" + per_node("duet_peer_links_up") + ")", "{{node}} -> {{peer}}")],
     12, 7, "Transport links (redundant links count each)."),
]


def dashboard():
    panels, x, y, row_h = [], 0, 0, 0
    for i, (title, kind, unit, targets, w, h, desc) in enumerate(PANELS):
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panels.append({
            "id": i + 1,
            "title": title,
            "description": desc,
            "type": kind,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
            "targets": [{"refId": chr(ord("A") + k), "expr": e, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                        for k, (e, legend) in enumerate(targets)],
        })
        x += w
        row_h = max(row_h, h)
    return {
        "title": "duet",
        "uid": "duet-cluster",
        "description": "A duet cluster: roles, lease, SYNC, failovers, replication, traps (docs/metrics.md).",
        "tags": ["duet", "postgresql", "failover"],
        "schemaVersion": 36,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource",
             "query": "prometheus"},
            {"name": "cluster", "label": "cluster", "type": "query",
             "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": "label_values(duet_info, cluster)", "refId": "cluster"},
             "definition": "label_values(duet_info, cluster)", "refresh": 2},
        ]},
        "panels": panels,
    }


def main():
    text = json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"
    if "--exprs" in sys.argv:
        for p in dashboard()["panels"]:
            for t in p["targets"]:
                print(t["expr"].replace("$cluster", "c1"))
        return 0
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{OUT} is not what {sys.argv[0]} makes: run it", file=sys.stderr)
                return 1
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
