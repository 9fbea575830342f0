#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""status_keys.py - the key paths of a status document (duetctl status --json).

  status_keys.py paths < DOC          one "path<TAB>type" line per key path,
                                      sorted; array items are "[]"
  status_keys.py check KEYS < DOC     every path of KEYS (a "paths" output,
                                      recorded from an older duetd) is in DOC
                                      with the same type; null on either side
                                      matches any type (a value not known at
                                      that moment). New paths are fine.
                                      Prints what is missing; exit 1 then.
"""
import json
import sys


def walk(v, path, out):
    if isinstance(v, dict):
        out.add((path, "object"))
        for k, x in v.items():
            walk(x, path + "." + k if path else k, out)
    elif isinstance(v, list):
        out.add((path, "array"))
        for x in v:
            walk(x, path + "[]", out)
    else:
        t = ("null" if v is None else "boolean" if isinstance(v, bool)
             else "number" if isinstance(v, (int, float)) else "string")
        out.add((path, t))


def paths(doc):
    out = set()
    walk(doc, "", out)
    return out


def main():
    doc = json.load(sys.stdin)
    have = paths(doc)
    if sys.argv[1] == "paths":
        for p, t in sorted(have):
            print(f"{p}\t{t}")
        return 0
    types = {}
    for p, t in have:
        types.setdefault(p, set()).add(t)
    missing = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            p, t = line.rstrip("\n").split("\t")
            got = types.get(p)
            if got is None:
                missing.append(f"{p} ({t}): absent")
            elif t != "null" and t not in got and "null" not in got:
                missing.append(f"{p}: {t} before, {'/'.join(sorted(got))} now")
    for m in missing:
        print(m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
