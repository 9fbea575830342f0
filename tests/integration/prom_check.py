#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""prom_check.py - checks a Prometheus text exposition (format 0.0.4) as
duetd's GET /metrics writes it, and reads series out of it.

usage: prom_check.py FILE             valid? prints the number of series
       prom_check.py FILE SERIES...   valid, then prints each series' value
                                      (SERIES exactly as written, e.g.
                                      'duet_raft_role{role="leader"}');
                                      exit 1 if one is absent
       prom_check.py FILE --label FAMILY LABEL
                                      valid, then prints the value of LABEL
                                      of FAMILY's first series, unescaped,
                                      as UTF-8 bytes without a line feed
                                      added; exit 1 if absent

Checked (written from the format's description, independently of
daemon/http_metrics.c): HELP then TYPE before a family's samples, each
family once with its samples together, metric and label names, label values
with only the three escapes (\\\\ \\" \\n), a float value without timestamp,
no series twice; duet's conventions: duet_ prefix, counters end in _total.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))


def problem(text):
    if not text.endswith("\n"):
        return "no line feed at the end", {}
    series = {}
    described = set()
    family, typ = None, None
    for no, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (no, line[:160])
        if line.startswith("# HELP "):
            m = re.match(r"^# HELP (%s) (.*)$" % NAME, line)
            if not m:
                return "bad HELP, " + where, {}
            if m.group(1) in described:
                return "family described twice, " + where, {}
            if re.search(r"\\[^\\n]", m.group(2)):
                return "bad escape in HELP, " + where, {}
            family, typ = m.group(1), None
            described.add(family)
            if not family.startswith("duet_"):
                return "no duet_ prefix, " + where, {}
            continue
        if line.startswith("# TYPE "):
            m = re.match(r"^# TYPE (%s) (counter|gauge)$" % NAME, line)
            if not m or m.group(1) != family or typ:
                return "TYPE not right after its HELP, " + where, {}
            typ = m.group(2)
            if typ == "counter" and not family.endswith("_total"):
                return "counter without _total, " + where, {}
            continue
        if line.startswith("#"):
            return "unknown comment, " + where, {}
        m = SAMPLE.match(line)
        if not m:
            return "not a sample, " + where, {}
        if m.group(1) != family or not typ:
            return "sample outside its family, " + where, {}
        value = m.group(m.lastindex)
        try:
            v = float(value)
        except ValueError:
            return "value not a float, " + where, {}
        if math.isnan(v) and value != "NaN":
            return "value not a float, " + where, {}
        key = line[: len(line) - len(value) - 1]
        if key in series:
            return "series twice, " + where, {}
        series[key] = value
    return None, series


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    why, series = problem(text)
    if why:
        print("invalid exposition: " + why, file=sys.stderr)
        return 1
    if len(sys.argv) == 2:
        print(len(series))
        return 0
    if sys.argv[2] == "--label":
        family, label = sys.argv[3], sys.argv[4]
        for key in series:
            if key == family or key.startswith(family + "{"):
                for m in re.finditer(LABEL, key[len(family):]):
                    if m.group(1) == label:
                        v = re.sub(r'\\([\\"n])',
                                   lambda e: "\n" if e.group(1) == "n" else e.group(1),
                                   m.group(2))
                        sys.stdout.buffer.write(v.encode("utf-8"))
                        return 0
        print("no label %s in %s" % (label, family), file=sys.stderr)
        return 1
    for s in sys.argv[2:]:
        if s not in series:
            print("no series %s" % s, file=sys.stderr)
            return 1
        print(series[s])
    return 0


if __name__ == "__main__":
    sys.exit(main())
