#!/usr/bin/env python3
"""Medians and ratios of the vs-redis-*.sh scripts' rounds.

usage: ratios.py RESULTS ROUNDS [DIRECT]
RESULTS has one line per test per round, "WHO TEST RPS", WHO being cairn or redis (and
cairn-direct, redis-direct when DIRECT is 1). Prints one line per test: test, cairn rps,
redis rps, ratio (medians over the rounds), then "min ratio: X"; exits 1 when a round is
missing.
"""
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    who, test, rps = line.split()
    rows[(who, test)].append(float(rps))
rounds = int(sys.argv[2])
direct = len(sys.argv) > 3 and sys.argv[3] == "1"
tests = sorted({t for _, t in rows})
ok = True
def table(c_who, r_who, title=None):
    global ok
    if title:
        print(title)
    print(f"{'test':<12}{'cairn rps':>14}{'redis rps':>14}{'ratio':>8}")
    ratios, medians = [], {}
    for t in tests:
        c, r = rows.get((c_who, t), []), rows.get((r_who, t), [])
        if len(c) < rounds or len(r) < rounds:
            print(f"{t:<12} missing rounds: cairn {len(c)}, redis {len(r)}"); ok = False; continue
        cm, rm = statistics.median(c), statistics.median(r)
        medians[t] = (cm, rm)
        ratios.append(cm / rm)
        print(f"{t:<12}{cm:>14.0f}{rm:>14.0f}{cm/rm:>8.2f}")
    return ratios, medians
ratios, proxied = table("cairn", "redis")
if direct:
    _, straight = table("cairn-direct", "redis-direct", "direct (one server, no proxy):")
    print("proxy / direct:")
    for t in tests:
        if t in proxied and t in straight:
            (cp, rp), (cd, rd) = proxied[t], straight[t]
            print(f"{t:<12}{cp/cd:>14.2f}{rp/rd:>14.2f}")
if not ratios: ok = False
print(f"min ratio: {min(ratios):.2f}" if ratios else "min ratio: none")
sys.exit(0 if ok else 1)
