"""Prints, per workload, the median ns per weight update of meanfield and of each peer over the rounds given,
the median speed-up (peer / meanfield, from the two medians), the range of each side, and whether issue 8's
target for the workload is met.

usage: compare.py RESULT...   (`meanfield bench --json` arrays and the peers' JSON lines, any number of rounds)"""

import json
import statistics
import sys

# Issue 8's targets: the peer ("best" = the faster peer) and the speed-up meanfield must reach.
TARGETS = {"online-1000": ("numpy", 10), "online-10000": ("numpy", 10), "minibatch-1000": ("torch", 2),
           "ensemble-64": ("best", 20)}


def rows(path):
    text = open(path).read().strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


times = {}  # (workload, side) -> [ns per weight update, one per round]
risks = {}
order = []
for path in sys.argv[1:]:
    for r in rows(path):
        side = r.get("peer", "meanfield")
        if r["workload"] not in order:
            order.append(r["workload"])
        times.setdefault((r["workload"], side), []).append(r["ns_per_weight_update"])
        risks[(r["workload"], side)] = r["final_risk"]

peers = sorted({side for (_, side) in times if side != "meanfield"})
median = {key: statistics.median(values) for key, values in times.items()}
rounds = max(len(v) for v in times.values())
print(f"medians over {rounds} rounds, ns per weight update (range over the rounds); × = peer median / meanfield median")
header = f"{'workload':<16}{'meanfield ns':>22}" + "".join(f"{p + ' ns':>22}{p + ' ×':>9}" for p in peers)
print(header + "  target")
for workload in order:
    ours = times.get((workload, "meanfield"))
    if ours is None:
        continue
    line = f"{workload:<16}{median[(workload, 'meanfield')]:>8.3f} ({min(ours):.3f}–{max(ours):.3f})"
    ratios = {}
    for p in peers:
        theirs = times.get((workload, p))
        if theirs is None:
            line += f"{'-':>22}{'-':>9}"
            continue
        ratios[p] = median[(workload, p)] / median[(workload, "meanfield")]
        line += f"{median[(workload, p)]:>8.3f} ({min(theirs):.3f}–{max(theirs):.3f}){ratios[p]:>9.2f}"
    if workload in TARGETS and ratios:
        peer, factor = TARGETS[workload]
        ratio = min(ratios.values()) if peer == "best" else ratios.get(peer)
        if ratio is not None:
            verdict = "met" if ratio >= factor else "missed"
            line += f"  {factor}× {'the best peer' if peer == 'best' else peer}: {ratio:.1f}×, {verdict}"
    print(line)
print("final risks (the same workload and seed give the same risk every round):")
for workload in order:
    shown = ", ".join(f"{side} {risks[(workload, side)]:.5f}" for side in ["meanfield"] + peers if (workload, side) in risks)
    print(f"  {workload:<16} {shown}")
